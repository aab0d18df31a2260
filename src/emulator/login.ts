import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { type Reply, jsonReply } from './http';

/**
 * The Azure AD v1 token endpoint's side of the client credentials flow: which form fields it wants, and
 * the errors it answers when they are wrong, in Azure AD's JSON shape. The secret is never echoed.
 */

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
  /**
   * Checks a request that proves the client with a client_assertion (a certificate's JWT or a federated
   * token) instead of a secret: undefined when it holds, else the refusal.
   */
  checkAssertion(form: URLSearchParams, clientId: string): Reply | undefined;
}

export type TokenRequestCheck =
  | { ok: true; clientId: string; resource: string }
  | { ok: false; reply: Reply };

export type TokenRequestCheckV2 =
  | { ok: true; clientId: string; scope: string }
  | { ok: false; reply: Reply };

/** An Azure AD error body: error, error_description starting with the AADSTS code, error_codes… */
export function aadError(status: number, error: string, code: number, description: string, nowMs: number): Reply {
  const traceId = randomUUID();
  const correlationId = randomUUID();
  const timestamp = new Date(nowMs).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
  return jsonReply(status, {
    error,
    error_description: `AADSTS${code}: ${description}\r\nTrace ID: ${traceId}\r\nCorrelation ID: ${correlationId}\r\nTimestamp: ${timestamp}`,
    error_codes: [code],
    timestamp,
    trace_id: traceId,
    correlation_id: correlationId,
    error_uri: `https://login.microsoftonline.com/error?code=${code}`,
  });
}

function sameSecret(given: string, expected: string): boolean {
  // Hashing first gives equal lengths, so the comparison takes the same time whatever was sent.
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** client_secret_basic: "Basic base64(urlencode(id):urlencode(secret))", as RFC 6749 §2.3.1 has it. */
function basicCredentials(authorization: string | undefined): Partial<ClientCredentials> {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(authorization ?? '');
  if (!m) return {};
  const decoded = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return {};
  try {
    return {
      clientId: decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' ')),
      clientSecret: decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' ')),
    };
  } catch {
    return {};
  }
}

/** Why a client_secret does not prove the app, or undefined when it does. */
function secretRefusal(clientId: string, given: string | undefined, expected: string, nowMs: number): Reply | undefined {
  if (!given) {
    return aadError(401, 'invalid_client', 7000218, "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.", nowMs);
  }
  if (!sameSecret(given, expected)) {
    return aadError(
      401,
      'invalid_client',
      7000215,
      `Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '${clientId}'.`,
      nowMs,
    );
  }
  return undefined;
}

/** Checks a token request the way Azure AD does, in the same order: grant, client, secret or assertion, resource. */
export function checkTokenRequest(
  form: URLSearchParams,
  authorization: string | undefined,
  tenant: string,
  expected: ClientCredentials,
  nowMs: number,
): TokenRequestCheck {
  const missing = (name: string): TokenRequestCheck => ({
    ok: false,
    reply: aadError(400, 'invalid_request', 900144, `The request body must contain the following parameter: '${name}'.`, nowMs),
  });
  const grantType = form.get('grant_type');
  if (!grantType) return missing('grant_type');
  if (grantType !== 'client_credentials') {
    return {
      ok: false,
      reply: aadError(400, 'unsupported_grant_type', 70003, `The app requested an unsupported grant type '${grantType}'. This emulator supports 'client_credentials'.`, nowMs),
    };
  }
  const basic = basicCredentials(authorization);
  const clientId = form.get('client_id') ?? basic.clientId;
  const clientSecret = form.get('client_secret') ?? basic.clientSecret;
  if (!clientId) return missing('client_id');
  if (clientId !== expected.clientId) {
    return {
      ok: false,
      reply: aadError(
        400,
        'unauthorized_client',
        700016,
        `Application with identifier '${clientId}' was not found in the directory '${tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.`,
        nowMs,
      ),
    };
  }
  const asserted = form.has('client_assertion') || form.has('client_assertion_type');
  const refusal = asserted ? expected.checkAssertion(form, clientId) : secretRefusal(clientId, clientSecret, expected.clientSecret, nowMs);
  if (refusal) return { ok: false, reply: refusal };
  const resource = form.get('resource');
  if (!resource) return missing('resource');
  return { ok: true, clientId, resource };
}

/**
 * The Microsoft identity platform (v2.0) endpoint's checks for client credentials: the same grant, client
 * and secret checks as v1, then a `scope` that names a resource with "/.default" instead of a `resource`.
 */
export function checkTokenRequestV2(
  form: URLSearchParams,
  authorization: string | undefined,
  tenant: string,
  expected: ClientCredentials,
  nowMs: number,
): TokenRequestCheckV2 {
  if (form.get('resource') !== null && form.get('scope') === null) {
    return {
      ok: false,
      reply: aadError(400, 'invalid_request', 901002, "The 'resource' request parameter is not supported.", nowMs),
    };
  }
  // v1's checks up to the resource; a placeholder resource stands in so only grant, client and secret count.
  const v1 = new URLSearchParams(form);
  v1.set('resource', 'v2-scope-checked-below');
  const client = checkTokenRequest(v1, authorization, tenant, expected, nowMs);
  if (!client.ok) return client;
  const scope = form.get('scope');
  if (!scope) {
    return {
      ok: false,
      reply: aadError(400, 'invalid_request', 900144, "The request body must contain the following parameter: 'scope'.", nowMs),
    };
  }
  if (!/^https?:\/\/[^\s/]+(?:\/[^\s]*)?\/\.default$/i.test(scope.trim()) || scope.trim().split(/\s+/).length > 1) {
    return {
      ok: false,
      reply: aadError(
        400,
        'invalid_scope',
        1002012,
        `The provided value for scope ${scope} is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).`,
        nowMs,
      ),
    };
  }
  return { ok: true, clientId: client.clientId, scope: scope.trim() };
}
