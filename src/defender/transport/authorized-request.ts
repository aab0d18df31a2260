import { DefenderError } from '../errors';
import type { HttpResponse, HttpTransport, ReaderFor, RequestOptions } from './http';
import { message } from '../messages';
import { ServiceDescription, statusError } from './response';
import { type RetryPolicy, withRetries } from './retry';
import type { TokenProvider } from '../sign-in/token';

/** The limits and hooks every client of either API, and its requests, go by. */
export interface ClientOptions {
  timeoutMs: number;
  maxResponseBytes: number;
  retry: RetryPolicy;
  signal?: AbortSignal;
  /** Called for every HTTP request sent to the API, retries included. */
  onRequest?: () => void;
  onRetry?: (error: DefenderError, delayMs: number, attempt: number) => void;
}

/** What an authorized request needs of its client: whose token, which service, which limits. */
export interface AuthorizedClient {
  tokens: TokenProvider;
  service: ServiceDescription;
  options: ClientOptions;
  /** Waits its turn before each request (Graph's rate limit). */
  beforeEach?: () => Promise<void>;
  /** Headers the service wants on every request besides the token's (Graph's Prefer). */
  headers?: Readonly<Record<string, string>>;
}

/** Sends the request once with these headers (the token's among them); called again for each try. */
export type SendRequest<R> = (headers: Record<string, string>, options: RequestOptions) => Promise<HttpResponse<R>>;

const isOk = (status: number): boolean => status === 200;

/**
 * One request with a bearer token, as both APIs want it, whatever its method: retries with backoff for
 * 429, 5xx and network faults; one new token and one more try after a 401; redirects refused so the token
 * goes nowhere else; any other status an error with the service's meaning. `read` turns an answer that
 * `succeeded` (default: 200) into the result.
 */
export function authorizedRequest<T, R = unknown>(
  send: SendRequest<R>,
  client: AuthorizedClient,
  read: (response: HttpResponse<R>, token: string) => T,
  succeeded: (status: number) => boolean = isOk,
): Promise<T> {
  const { tokens, service, options } = client;
  const requestOptions = { timeoutMs: options.timeoutMs, maxResponseBytes: options.maxResponseBytes, signal: options.signal };
  return withRetries(
    async () => {
      let refreshed = false;
      for (;;) {
        await client.beforeEach?.();
        const token = await tokens.get({ timeoutMs: options.timeoutMs, signal: options.signal });
        options.onRequest?.();
        const response = await send({ ...client.headers, Authorization: `Bearer ${token}`, Accept: 'application/json' }, requestOptions);
        if (succeeded(response.status)) return read(response, token);
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

/** One authorized GET; `reader` may take a 200 body as it streams in. */
export function authorizedGet<T, R = unknown>(
  url: string,
  client: AuthorizedClient & { transport: Pick<HttpTransport, 'get'> },
  read: (response: HttpResponse<R>, token: string) => T,
  reader?: ReaderFor<R>,
): Promise<T> {
  return authorizedRequest((headers, options) => client.transport.get<R>(url, headers, options, reader), client, read);
}
