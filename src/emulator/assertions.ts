import { constants, createHash, verify, X509Certificate } from 'node:crypto';
import { type Reply } from './http';
import { aadError } from './login';

/** The client_assertion_type of a JWT client assertion (RFC 7523). */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Microsoft Entra ID allows five minutes of clock skew on an assertion's nbf and exp. */
const SKEW_MS = 5 * 60_000;

interface Jwt {
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  signingInput: Buffer;
  signature: Buffer;
}

function parseJwt(text: string): Jwt | undefined {
  const parts = text.split('.');
  if (parts.length !== 3) return undefined;
  try {
    const header = JSON.parse(Buffer.from(parts[0], 'base64url').toString('utf8')) as unknown;
    const claims = JSON.parse(Buffer.from(parts[1], 'base64url').toString('utf8')) as unknown;
    if (typeof header !== 'object' || header === null || typeof claims !== 'object' || claims === null) return undefined;
    return {
      header: header as Record<string, unknown>,
      claims: claims as Record<string, unknown>,
      signingInput: Buffer.from(`${parts[0]}.${parts[1]}`),
      signature: Buffer.from(parts[2], 'base64url'),
    };
  } catch {
    return undefined;
  }
}

/**
 * The app registration's side of client assertions: the certificates uploaded to it (certificate sign-in)
 * and the federated tokens it trusts (workload identity federation), checked as Microsoft Entra ID checks
 * them: signature against the certificate the header names, audience, issuer and subject, time window,
 * and each jti once.
 */
export class ClientAssertions {
  private certificates: X509Certificate[] = [];
  private federated = new Set<string>();
  /** jti → when the assertion expires (ms): a jti is refused again until then. */
  private readonly used = new Map<string, number>();
  private seen: string[] = [];

  setCertificates(pems: readonly string[]): void {
    this.certificates = pems.map((pem) => new X509Certificate(pem));
  }

  setFederatedTokens(tokens: readonly string[]): void {
    this.federated = new Set(tokens);
  }

  /** Every client_assertion received, oldest first (for leak checks). */
  get received(): string[] {
    return [...this.seen];
  }

  /** Forgets the jtis and assertions seen; the certificates and federated tokens stay, as an app registration's do. */
  reset(): void {
    this.used.clear();
    this.seen = [];
  }

  /**
   * Undefined when the form's assertion proves `clientId` at `audience` (the token URL the request went to),
   * else Azure AD's refusal.
   */
  check(form: URLSearchParams, clientId: string, audience: string, nowMs: number): Reply | undefined {
    const refuse = (code: number, description: string, status = 401, error = 'invalid_client'): Reply => aadError(status, error, code, description, nowMs);
    const type = form.get('client_assertion_type');
    const assertion = form.get('client_assertion') ?? '';
    if (type !== JWT_BEARER) {
      return refuse(50027, `client_assertion_type must be '${JWT_BEARER}', got '${type ?? ''}'.`, 400, 'invalid_request');
    }
    this.seen.push(assertion);
    if (this.federated.has(assertion)) return undefined;
    const jwt = parseJwt(assertion);
    if (!jwt) return refuse(50027, 'JWT token is invalid or malformed.', 400, 'invalid_request');
    const { header, claims } = jwt;
    // A token that another issuer signed for this app is a federated one; the app trusts only those it was told about.
    if (claims.iss !== clientId) {
      return refuse(70021, 'No matching federated identity record found for presented assertion. Assertion Issuer, Subject and Audience must match a federated credential of the application.');
    }
    if (header.alg !== 'PS256') return refuse(50027, `JWT token is invalid or malformed: algorithm '${String(header.alg)}' is not supported for client assertions here; sign with PS256.`);
    const thumbprint = String(header['x5t#S256'] ?? '');
    const certificate = this.certificates.find((c) => createHash('sha256').update(c.raw).digest('base64url') === thumbprint);
    if (!certificate) {
      return refuse(700027, `Client assertion failed signature validation. [Reason - The key was not found., Thumbprint of key used by client: '${thumbprint}']`);
    }
    const valid = verify('sha256', jwt.signingInput, { key: certificate.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, jwt.signature);
    if (!valid) return refuse(700027, 'Client assertion failed signature validation.');
    if (nowMs > Date.parse(certificate.validTo) || nowMs < Date.parse(certificate.validFrom)) {
      return refuse(700027, 'The certificate with identifier used to sign the client assertion is expired on application.');
    }
    if (claims.sub !== clientId) return refuse(700021, "Client assertion application identifier doesn't match 'client_id' parameter.");
    if (claims.aud !== audience) {
      return refuse(700016, `The audience '${String(claims.aud)}' of the client assertion is not the token endpoint '${audience}' the request was sent to.`);
    }
    const nbf = typeof claims.nbf === 'number' ? claims.nbf * 1000 : undefined;
    const exp = typeof claims.exp === 'number' ? claims.exp * 1000 : undefined;
    if (exp === undefined || nowMs >= exp + SKEW_MS || (nbf !== undefined && nowMs < nbf - SKEW_MS)) {
      return refuse(700024, `Client assertion is not within its valid time range. Current time: ${new Date(nowMs).toISOString()}, assertion valid from ${nbf === undefined ? '-' : new Date(nbf).toISOString()} to ${exp === undefined ? '-' : new Date(exp).toISOString()}.`);
    }
    const jti = typeof claims.jti === 'string' ? claims.jti : '';
    if (jti === '') return refuse(50027, 'JWT token is invalid or malformed: the client assertion has no jti.');
    for (const [seen, until] of this.used) if (until + SKEW_MS < nowMs) this.used.delete(seen);
    if (this.used.has(jti)) return refuse(7000274, `The client assertion with jti '${jti}' was already used: an assertion is good for one request.`);
    this.used.set(jti, exp);
    return undefined;
  }
}
