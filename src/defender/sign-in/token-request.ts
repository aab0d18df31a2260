import { DefenderError } from '../errors';
import type { HttpResponse, RequestOptions } from '../transport/http';
import { type Message, type MessageValue, message } from '../messages';
import { type Connection, type TokenEndpoint, tokenEndpointOf, tokenScope, tokenUrl } from '../services/regions';
import { serviceErrorText } from '../transport/response';
import { parseRetryAfter, withRetries } from '../transport/retry';
import { type AccessToken, parseTokenResponse } from './token';
import { JWT_BEARER } from './client-assertion';
import type { TokenRequestContext } from './credential';

/** One exchange with a token endpoint: how to send an attempt, and how to speak of its answers. */
export interface TokenExchange {
  /** Sends one attempt. Called again for each retry, so a one-time credential (an assertion's jti) is fresh. */
  send(options: RequestOptions): Promise<HttpResponse>;
  /** The endpoint as errors name it. */
  host: string;
  /** Everything secret sent so far: blanked out of any answer, since an endpoint may quote the request back. */
  secrets(): readonly string[];
  /** What a refusal tells the user to check; absent, the client secret's wording. */
  check?: Message;
  /** Statuses worth another try besides 429 and 5xx. */
  retryStatuses?: readonly number[];
  /** An endpoint that could not be reached at all, in the words of its kind. */
  unreachable?: (detail: MessageValue) => Message;
}

/**
 * A token from an endpoint that answers Azure AD's JSON: 429, 5xx and network faults retried (Retry-After
 * honoured), any other refusal at once with the endpoint's own words, never with a secret in them.
 */
export async function exchangeToken(exchange: TokenExchange, context: TokenRequestContext): Promise<AccessToken> {
  const now = context.now ?? Date.now;
  const { host } = exchange;
  const options: RequestOptions = { timeoutMs: context.timeoutMs, maxResponseBytes: context.maxResponseBytes, signal: context.signal };
  const retryable = (status: number): boolean => status === 429 || status >= 500 || (exchange.retryStatuses ?? []).includes(status);
  let response: HttpResponse;
  try {
    response = await withRetries(
      async () => {
        const res = await exchange.send(options);
        if (retryable(res.status)) {
          const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
          throw new DefenderError('TOKEN_FAILED', message('token.http-said', { host, status: res.status, text: serviceErrorText(res, exchange.secrets()) }), {
            statusCode: res.status,
            retryable: true,
            ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
          });
        }
        return res;
      },
      context.retry,
      context.signal,
    );
  } catch (err) {
    // The token endpoint had its retries here; the detections request that asked for the token must not
    // retry the whole token dance again (retries would multiply).
    if (err instanceof DefenderError && err.retryable) {
      const detail = err.text ?? err.message;
      const text = err.code === 'TOKEN_FAILED' ? detail : (exchange.unreachable?.(detail) ?? message('token.failed', { host, detail }));
      throw new DefenderError(err.code === 'TIMEOUT' ? 'TIMEOUT' : 'TOKEN_FAILED', text, { statusCode: err.statusCode });
    }
    throw err;
  }
  const text = serviceErrorText(response, exchange.secrets());
  if (response.status !== 200) {
    const { status } = response;
    const refusal = exchange.check
      ? message(text ? 'signin.refused-said' : 'signin.refused', { host, status, text, check: exchange.check })
      : message(text ? 'token.refused-said' : 'token.refused', { host, status, text });
    throw new DefenderError('TOKEN_FAILED', refusal, { statusCode: status });
  }
  let body: unknown;
  try {
    body = JSON.parse(response.body.toString('utf8'));
  } catch {
    throw new DefenderError('TOKEN_FAILED', message('token.not-json', { type: response.headers['content-type'] ?? message('http.no-content-type') }), {
      statusCode: 200,
    });
  }
  return parseTokenResponse(body, now());
}

/**
 * The client-credentials form for the connection's target at a token endpoint: v1 names a `resource`; v2.0
 * refuses `resource` and wants a `scope` ending in `/.default` instead. `credential` proves the client: a
 * `client_secret`, or a `client_assertion` and its type.
 */
export function clientCredentialsForm(
  connection: Connection,
  credential: Readonly<Record<string, string>>,
  endpoint: TokenEndpoint = tokenEndpointOf(connection),
): Record<string, string> {
  const target: Record<string, string> = endpoint === 'v2' ? { scope: tokenScope(connection) } : { resource: connection.resource };
  return { ...target, client_id: connection.clientId, ...credential, grant_type: 'client_credentials' };
}

/**
 * POST {authority}/{tenant}/oauth2[/v2.0]/token with client credentials. `credential` is asked again for
 * every attempt; `secrets` names what it sent, to be blanked out of the answers.
 */
export function postClientCredentials(
  connection: Connection,
  credential: () => Readonly<Record<string, string>> | Promise<Readonly<Record<string, string>>>,
  secrets: () => readonly string[],
  check: Message | undefined,
  context: TokenRequestContext,
  endpoint: TokenEndpoint = tokenEndpointOf(connection),
): Promise<AccessToken> {
  const url = tokenUrl(connection, endpoint);
  return exchangeToken(
    {
      send: async (options) => context.transport.postForm(url, clientCredentialsForm(connection, await credential(), endpoint), options),
      host: new URL(url).host,
      secrets,
      ...(check ? { check } : {}),
    },
    context,
  );
}

/**
 * Client credentials proven with a client assertion (RFC 7523): a certificate's signed JWT or a federated
 * token. Always at the v2.0 endpoint with `scope={resource}/.default`, for the SIEM API's resource too:
 * Microsoft documents federated credentials for v2.0, and MSAL asks v2.0 so for certificates. (The secret's
 * sign-in to the SIEM API stays on v1, as the seed documents it.) `assertion` is given the exact token URL
 * the request goes to (a certificate's `aud`) and is asked for every attempt; each one it gives is blanked
 * out of the answers.
 */
export function postClientAssertion(
  connection: Connection,
  assertion: (audience: string) => string | Promise<string>,
  check: Message,
  context: TokenRequestContext,
): Promise<AccessToken> {
  const sent: string[] = [];
  const audience = tokenUrl(connection, 'v2');
  const credential = async (): Promise<Record<string, string>> => {
    const value = await assertion(audience);
    sent.push(value);
    return { client_assertion_type: JWT_BEARER, client_assertion: value };
  };
  return postClientCredentials(connection, credential, () => sent, check, context, 'v2');
}
