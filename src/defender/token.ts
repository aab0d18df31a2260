import { DefenderError } from './errors';
import { message } from './messages';
import { HttpTransport, RequestOptions } from './http';
import { Connection, graphScope, tokenUrl } from './regions';
import { parseRetryAfter, RetryPolicy, withRetries } from './retry';
import { serviceErrorText } from './response';

export interface AccessToken {
  value: string;
  /** Epoch ms at which the service stops accepting it. */
  expiresAt: number;
}

/**
 * The client-credentials form: the v1 endpoint (SIEM API) names a `resource`; the v2 endpoint (Graph) refuses
 * `resource` and wants a `scope` ending in `/.default` instead.
 */
export function tokenForm(connection: Connection, clientSecret: string): Record<string, string> {
  const target: Record<string, string> = connection.api === 'graph' ? { scope: graphScope(connection) } : { resource: connection.resource };
  return { ...target, client_id: connection.clientId, client_secret: clientSecret, grant_type: 'client_credentials' };
}

/** Seconds as Azure AD v1 sends them: numbers or, usually, strings ("3599"). */
function seconds(value: unknown): number | undefined {
  const n = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof n === 'number' && Number.isFinite(n) ? n : undefined;
}

export function parseTokenResponse(body: unknown, now: number): AccessToken {
  const b = (body ?? {}) as Record<string, unknown>;
  if (typeof b.access_token !== 'string' || b.access_token === '') {
    throw new DefenderError('TOKEN_FAILED', message('token.no-access-token'));
  }
  const expiresOn = seconds(b.expires_on);
  const expiresIn = seconds(b.expires_in);
  const expiresAt = expiresOn !== undefined ? expiresOn * 1000 : now + (expiresIn ?? 3600) * 1000;
  return { value: b.access_token, expiresAt };
}

/** Asks Azure AD for a client-credentials token: the v1 endpoint for the SIEM API, the v2 endpoint for Graph. */
export async function requestToken(
  transport: HttpTransport,
  connection: Connection,
  clientSecret: string,
  options: RequestOptions & { retry: RetryPolicy; now?: () => number },
): Promise<AccessToken> {
  if (!clientSecret) {
    throw new DefenderError('INVALID_CONFIG', message('config.secret-missing'));
  }
  const now = options.now ?? Date.now;
  const url = tokenUrl(connection);
  const host = new URL(url).host;
  let response;
  try {
    response = await withRetries(
      async () => {
        const res = await transport.postForm(url, tokenForm(connection, clientSecret), options);
        if (res.status === 429 || res.status >= 500) {
          const retryAfterMs = parseRetryAfter(res.headers['retry-after']);
          throw new DefenderError('TOKEN_FAILED', message('token.http-said', { host, status: res.status, text: serviceErrorText(res, [clientSecret]) }), {
            statusCode: res.status,
            retryable: true,
            ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
          });
        }
        return res;
      },
      options.retry,
      options.signal,
    );
  } catch (err) {
    // The token endpoint had its retries here; the detections request that asked for the token must not
    // retry the whole token dance again (retries would multiply).
    if (err instanceof DefenderError && err.retryable) {
      const text = err.code === 'TOKEN_FAILED' ? (err.text ?? err.message) : message('token.failed', { host, detail: err.text ?? err.message });
      throw new DefenderError(err.code === 'TIMEOUT' ? 'TIMEOUT' : 'TOKEN_FAILED', text, { statusCode: err.statusCode });
    }
    throw err;
  }
  const text = serviceErrorText(response, [clientSecret]);
  if (response.status !== 200) {
    throw new DefenderError('TOKEN_FAILED', message(text ? 'token.refused-said' : 'token.refused', { host, status: response.status, text }), {
      statusCode: response.status,
    });
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

/** What a caller of the token provider may set for the request it might cause. */
export interface TokenRequestOptions {
  timeoutMs?: number;
  /** Stops waiting (the caller is closing); the shared request itself goes on for the others. */
  signal?: AbortSignal;
}

/**
 * One token cache per config node. However many nodes and messages ask at once, one request is in flight;
 * the token is reused until shortly before it expires, and a token the API refused (401) is dropped.
 */
export class TokenProvider {
  private current?: AccessToken & { renewAt: number };
  private inflight?: Promise<AccessToken>;
  /** How many tokens were requested, for the tests. */
  requests = 0;

  constructor(
    private readonly fetchToken: (options: TokenRequestOptions) => Promise<AccessToken>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(options: TokenRequestOptions = {}): Promise<string> {
    const token = this.current;
    if (token && this.now() < token.renewAt) return token.value;
    if (!this.inflight) {
      this.requests++;
      this.inflight = this.fetchToken({ timeoutMs: options.timeoutMs }).then(
        (fresh) => {
          // Renew ahead of expiry: five minutes before, or a tenth of a short lifetime before.
          const lifetime = Math.max(0, fresh.expiresAt - this.now());
          this.current = { ...fresh, renewAt: fresh.expiresAt - Math.min(5 * 60_000, lifetime / 10) };
          this.inflight = undefined;
          return fresh;
        },
        (err: unknown) => {
          this.inflight = undefined;
          throw err;
        },
      );
    }
    return (await abortable(this.inflight, options.signal)).value;
  }

  /** Drops the token the API refused, unless a newer one already replaced it. */
  invalidate(value: string): void {
    if (this.current?.value === value) this.current = undefined;
  }

  clear(): void {
    this.current = undefined;
  }
}

function abortable<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(new DefenderError('CANCELLED', message('cancelled')));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new DefenderError('CANCELLED', message('cancelled')));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}
