import { DefenderError } from '../errors';
import { message } from '../messages';

export interface AccessToken {
  value: string;
  /** Epoch ms at which the service stops accepting it. */
  expiresAt: number;
}

/** Seconds as Azure AD v1 and the managed identity endpoints send them: numbers or, usually, strings ("3599"). */
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
