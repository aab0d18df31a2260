import { DefenderError } from './errors';
import type { HttpResponse, HttpTransport, ReaderFor } from './http';
import { message } from './messages';
import { ServiceDescription, statusError } from './response';
import { withRetries } from './retry';
import type { SiemClientOptions } from './siem';
import type { TokenProvider } from './token';

/** What an authorized GET needs of its client: how to send, whose token, which service, which limits. */
export interface AuthorizedClient {
  transport: Pick<HttpTransport, 'get'>;
  tokens: TokenProvider;
  service: ServiceDescription;
  options: SiemClientOptions;
  /** Waits its turn before each request (Graph's rate limit). */
  beforeEach?: () => Promise<void>;
}

/**
 * One GET with a bearer token, as both APIs want it: retries with backoff for 429, 5xx and network faults;
 * one new token and one more try after a 401; redirects refused so the token goes nowhere else; any other
 * status an error with the service's meaning. `read` turns a 200 answer into the result.
 */
export function authorizedGet<T, R = unknown>(
  url: string,
  client: AuthorizedClient,
  read: (response: HttpResponse<R>, token: string) => T,
  reader?: ReaderFor<R>,
): Promise<T> {
  const { transport, tokens, service, options } = client;
  const requestOptions = { timeoutMs: options.timeoutMs, maxResponseBytes: options.maxResponseBytes, signal: options.signal };
  return withRetries(
    async () => {
      let refreshed = false;
      for (;;) {
        await client.beforeEach?.();
        const token = await tokens.get({ timeoutMs: options.timeoutMs, signal: options.signal });
        options.onRequest?.();
        const response = await transport.get<R>(url, { Authorization: `Bearer ${token}`, Accept: 'application/json' }, requestOptions, reader);
        if (response.status === 200) return read(response, token);
        // A token can be revoked or expire early: one new token, one more try, then the 401 stands.
        if (response.status === 401 && !refreshed) {
          tokens.invalidate(token);
          refreshed = true;
          continue;
        }
        if (response.status >= 300 && response.status < 400) {
          throw new DefenderError('REDIRECT', message('http.redirect', { service: service.name, status: response.status }), { statusCode: response.status });
        }
        throw statusError(response, service, [token]);
      }
    },
    options.retry,
    options.signal,
    options.onRetry,
  );
}
