import { randomBytes, randomUUID } from 'node:crypto';

/** The Azure AD v1 token response: every number arrives as a string. */
export interface TokenResponse {
  token_type: 'Bearer';
  expires_in: string;
  ext_expires_in: string;
  expires_on: string;
  not_before: string;
  resource: string;
  access_token: string;
}

/** The Microsoft identity platform (v2.0) token response: numbers are numbers, no resource or expires_on. */
export interface TokenResponseV2 {
  token_type: 'Bearer';
  expires_in: number;
  ext_expires_in: number;
  access_token: string;
}

export type TokenState = 'valid' | 'unknown' | 'expired' | 'revoked';

/** The application permission of the SIEM integration's app, which its tokens carry. */
const SIEM_ROLES: readonly string[] = ['Alert.Read.All'];

/** The resource a v2.0 scope names: the scope without "/.default". */
export function scopeResource(scope: string): string {
  return scope.replace(/\/\.default$/i, '');
}

interface IssuedToken {
  readonly expiresAt: number;
  /** v1: from /oauth2/token for a resource (the SIEM API). v2: from /oauth2/v2.0/token for a scope (Graph). */
  readonly version: 'v1' | 'v2';
  readonly tenant: string;
  /** The aud claim: the resource, or the scope without "/.default". */
  readonly audience: string;
  /** The app it was issued to (appid / azp). */
  readonly clientId: string;
  /** The application permissions granted when it was issued (the roles claim). */
  readonly roles: readonly string[];
  revoked: boolean;
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url');
}

/**
 * Issues and checks bearer tokens on the emulator's clock. Tokens look like the JWTs Azure AD hands out
 * (a client that peeks at `exp` finds it) but are opaque to the emulator: only the exact string it issued
 * is accepted, and the signature part is random.
 */
export class TokenIssuer {
  private readonly tokens = new Map<string, IssuedToken>();

  constructor(
    private readonly now: () => number,
    private readonly lifetimeSeconds: number,
  ) {}

  get issued(): number {
    return this.tokens.size;
  }

  /** Every access token issued, oldest first. */
  all(): string[] {
    return [...this.tokens.keys()];
  }

  /** A v1 token for `resource`; `roles` are the application permissions it carries (the SIEM API's by default). */
  issue(tenant: string, clientId: string, resource: string, roles: readonly string[] = SIEM_ROLES): TokenResponse {
    const issuedAt = this.now();
    const iat = Math.floor(issuedAt / 1000);
    const exp = iat + this.lifetimeSeconds;
    const header = { typ: 'JWT', alg: 'RS256', kid: 'emulator' };
    const claims = {
      aud: resource,
      iss: `https://sts.windows.net/${tenant}/`,
      iat,
      nbf: iat,
      exp,
      appid: clientId,
      tid: tenant,
      roles: [...roles],
      jti: randomUUID(),
    };
    const accessToken = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}.${base64url(randomBytes(32))}`;
    this.tokens.set(accessToken, { expiresAt: issuedAt + this.lifetimeSeconds * 1000, version: 'v1', tenant, audience: resource, clientId, roles: claims.roles, revoked: false });
    return {
      token_type: 'Bearer',
      expires_in: String(this.lifetimeSeconds),
      ext_expires_in: String(this.lifetimeSeconds),
      expires_on: String(exp),
      not_before: String(iat),
      resource,
      access_token: accessToken,
    };
  }

  /**
   * A managed identity's token for `resource`, as the instance metadata service or App Service's local
   * endpoint answers it: v1-style, numbers as strings; only IMDS sends expires_in and not_before.
   */
  issueManagedIdentity(tenant: string, clientId: string, resource: string, shape: 'imds' | 'app-service', roles?: readonly string[]): Record<string, string> {
    const v1 = this.issue(tenant, clientId, resource, roles);
    const common = { access_token: v1.access_token, expires_on: v1.expires_on, resource: v1.resource, token_type: v1.token_type, client_id: clientId };
    return shape === 'imds'
      ? { ...common, refresh_token: '', expires_in: v1.expires_in, ext_expires_in: v1.ext_expires_in, not_before: v1.not_before }
      : common;
  }

  /**
   * A v2.0 token for `scope` ("https://graph.microsoft.com/.default", or the SIEM API's
   * "https://graph.windows.net/.default"): aud is the scope's resource, roles the application permissions the
   * app has been granted for that resource (the SIEM API's by default).
   */
  issueV2(tenant: string, clientId: string, scope: string, roles: readonly string[] = SIEM_ROLES): TokenResponseV2 {
    const issuedAt = this.now();
    const iat = Math.floor(issuedAt / 1000);
    const exp = iat + this.lifetimeSeconds;
    const audience = scopeResource(scope);
    const header = { typ: 'JWT', alg: 'RS256', kid: 'emulator' };
    const claims = {
      aud: audience,
      iss: `https://login.microsoftonline.com/${tenant}/v2.0`,
      iat,
      nbf: iat,
      exp,
      azp: clientId,
      tid: tenant,
      roles: [...roles],
      ver: '2.0',
      jti: randomUUID(),
    };
    const accessToken = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}.${base64url(randomBytes(32))}`;
    this.tokens.set(accessToken, { expiresAt: issuedAt + this.lifetimeSeconds * 1000, version: 'v2', tenant, audience, clientId, roles: [...roles], revoked: false });
    return { token_type: 'Bearer', expires_in: this.lifetimeSeconds, ext_expires_in: this.lifetimeSeconds, access_token: accessToken };
  }

  /** Which endpoint issued a token, for which tenant, audience, app and roles; undefined for a token never issued. */
  describe(accessToken: string | undefined): { version: 'v1' | 'v2'; tenant: string; audience: string; clientId: string; roles: readonly string[] } | undefined {
    const token = accessToken === undefined ? undefined : this.tokens.get(accessToken);
    return token && { version: token.version, tenant: token.tenant, audience: token.audience, clientId: token.clientId, roles: token.roles };
  }

  check(accessToken: string | undefined): TokenState {
    const token = accessToken === undefined ? undefined : this.tokens.get(accessToken);
    if (!token) return 'unknown';
    if (token.revoked) return 'revoked';
    return this.now() >= token.expiresAt ? 'expired' : 'valid';
  }

  revoke(accessToken: string): void {
    const token = this.tokens.get(accessToken);
    if (token) token.revoked = true;
  }

  revokeAll(): void {
    for (const token of this.tokens.values()) token.revoked = true;
  }

  clear(): void {
    this.tokens.clear();
  }
}
