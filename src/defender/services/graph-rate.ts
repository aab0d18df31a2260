import { sleep } from '../transport/retry';

export interface RateLimitSettings {
  /** Requests per minute, sustained. */
  perMinute: number;
  /** Requests that may go at once before the rate applies. */
  burst: number;
}

/**
 * Microsoft Graph allows 150 requests per minute per app and tenant on the security alerts API. A burst of
 * 10 on top of 140 a minute keeps any 60-second window at 150 or fewer, so the node slows itself down
 * rather than collecting 429s.
 */
export const GRAPH_RATE_LIMIT: RateLimitSettings = { perMinute: 140, burst: 10 };

/**
 * A token bucket shared by every node of one config node (one app in one tenant), kept as the time the
 * next request may go (the "generic cell rate" form): each request reserves its slot when it asks, so
 * requests leave in the order they asked, and a request that gives up (the node closes) only wastes its slot.
 */
export class RateLimiter {
  private readonly intervalMs: number;
  private readonly toleranceMs: number;
  /** When the bucket would be empty again if no request came: the theoretical arrival time. */
  private nextAt = -Infinity;
  /** Requests let through so far, for the tests and the curious. */
  granted = 0;
  /** Of those, how many had to wait. */
  delayed = 0;

  constructor(
    settings: RateLimitSettings = GRAPH_RATE_LIMIT,
    private readonly now: () => number = Date.now,
    private readonly wait: (ms: number, signal?: AbortSignal) => Promise<void> = sleep,
  ) {
    if (!(settings.perMinute > 0) || !Number.isFinite(settings.perMinute)) {
      throw new RangeError(`perMinute must be a number above 0, got ${settings.perMinute}`);
    }
    if (!(Number.isInteger(settings.burst) && settings.burst >= 1)) {
      throw new RangeError(`burst must be a whole number of at least 1, got ${settings.burst}`);
    }
    this.intervalMs = 60_000 / settings.perMinute;
    this.toleranceMs = this.intervalMs * (settings.burst - 1);
  }

  /** How long a request asked for now would wait, without asking. */
  delayNow(): number {
    const t = this.now();
    return Math.max(0, Math.max(this.nextAt, t) - this.toleranceMs - t);
  }

  /** Resolves when the next request may be sent; rejects with CANCELLED when `signal` aborts first. */
  take(signal?: AbortSignal): Promise<void> {
    const t = this.now();
    const at = Math.max(this.nextAt, t);
    const delay = Math.max(0, at - this.toleranceMs - t);
    this.nextAt = at + this.intervalMs;
    this.granted++;
    if (delay <= 0) return signal?.aborted ? this.wait(0, signal) : Promise.resolve();
    this.delayed++;
    return this.wait(delay, signal);
  }
}
