import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { DefenderError } from '../errors';
import { message } from '../messages';
import type { RedisLink } from './redis-link';

/**
 * Takes the lease, or renews it when `ARGV[1]` is the holder's token. A new holder's token carries the next
 * number of the node's fence counter (for a person reading Redis) and a random part, so that tokens never
 * repeat, even after Redis lost its data and its counter with it.
 * KEYS: lease, fence. ARGV: token held ('' for none), ttl ms, replica name, random part. Answers {1, token}
 * or {0, holder}.
 */
const ACQUIRE = `
local holder = redis.call('GET', KEYS[1])
if holder and holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {1, holder}
end
if holder then return {0, holder} end
local token = ARGV[3] .. '#' .. redis.call('INCR', KEYS[2]) .. '#' .. ARGV[4]
redis.call('SET', KEYS[1], token, 'PX', ARGV[2])
return {1, token}
`;

/** Gives the lease up, only if it is still this holder's. KEYS: lease. ARGV: token. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`;

/** This process, as a lease holder's token names it: for a person reading Redis, not for a decision. */
export const REPLICA = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`;

/** The keys one node keeps in Redis. The braces make them one hash slot, so one script may touch them all. */
export function nodeKeys(prefix: string, nodeId: string): { lease: string; fence: string; index: string; checkpoint(key: string): string } {
  const base = `${prefix}{${nodeId}}`;
  return { lease: `${base}:lease`, fence: `${base}:fence`, index: `${base}:checkpoints`, checkpoint: (key) => `${base}:${key}` };
}

export type LeaseTurn = 'leader' | 'new-leader' | 'standby';

/**
 * One node's lease (SPEC section 13, Redis's SET NX PX lock pattern): at most one replica holds it; its
 * holder keeps it from trigger to trigger by renewing it every third of its time, and every write of the
 * node's state checks, inside Redis, that the writer still holds it (the fencing). A holder that cannot
 * renew in time, or finds another holder, has lost it: `signal` aborts, and it takes the lease again only
 * once it is free.
 */
export class Lease {
  private token?: string;
  /** Until when (this clock) the lease is surely still this holder's: a renewal's start plus the ttl. */
  private validUntil = 0;
  private renewal?: ReturnType<typeof setInterval>;
  private lostController = new AbortController();
  private closed = false;

  constructor(
    private readonly link: RedisLink,
    private readonly keys: { lease: string; fence: string },
    private readonly ttlMs: number,
    private readonly replica: string = REPLICA,
    private readonly now: () => number = Date.now,
  ) {}

  /** The token a fenced write presents, while this replica holds the lease. */
  get held(): string | undefined {
    return this.token !== undefined && this.now() < this.validUntil ? this.token : undefined;
  }

  /** Aborts when the lease held is lost (the reason is a LEASE_LOST error). A new one comes with each new lease. */
  get signal(): AbortSignal {
    return this.lostController.signal;
  }

  /**
   * Before a pull: renews the lease held, or takes it when free. `new-leader` means this replica did not hold
   * it a moment ago, so what it has in memory of the node's state may be stale: read it again from Redis.
   * Throws COORDINATION_UNAVAILABLE when Redis does not answer.
   */
  async acquire(): Promise<LeaseTurn> {
    const had = this.held;
    const started = this.now();
    const answer = (await this.link.eval(ACQUIRE, [this.keys.lease, this.keys.fence], [had ?? '', String(this.ttlMs), this.replica, randomBytes(6).toString('hex')])) as [number, string];
    if (Number(answer[0]) !== 1) {
      if (this.token !== undefined) this.lose();
      return 'standby';
    }
    const token = String(answer[1]);
    const fresh = token !== had;
    if (fresh && this.token !== undefined) this.lose();
    this.token = token;
    this.validUntil = started + this.ttlMs;
    this.keepRenewing();
    return fresh ? 'new-leader' : 'leader';
  }

  /** A fenced write found the lease passed to another holder. */
  lost(): DefenderError {
    const error = new DefenderError('LEASE_LOST', message('coordination.lease-lost'));
    if (this.token !== undefined) this.lose(error);
    return error;
  }

  /** Closing: the lease is given up, so another replica takes over at its next trigger, not a lease time later. */
  async release(): Promise<void> {
    this.closed = true;
    this.stopRenewing();
    const token = this.held;
    this.token = undefined;
    if (token !== undefined) await this.link.eval(RELEASE, [this.keys.lease], [token]).catch(() => undefined);
  }

  private keepRenewing(): void {
    if (this.renewal || this.closed) return;
    this.renewal = setInterval(() => void this.renew(), Math.max(250, Math.floor(this.ttlMs / 3)));
    this.renewal.unref?.();
  }

  private async renew(): Promise<void> {
    if (this.token === undefined) return this.stopRenewing();
    try {
      await this.acquire();
    } catch {
      // Redis does not answer: the lease may be another's once its time is up, whatever Redis says later.
      if (this.token !== undefined && this.now() >= this.validUntil) this.lose();
    }
  }

  private lose(reason: DefenderError = new DefenderError('LEASE_LOST', message('coordination.lease-lost'))): void {
    this.token = undefined;
    this.validUntil = 0;
    this.stopRenewing();
    this.lostController.abort(reason);
    this.lostController = new AbortController();
  }

  private stopRenewing(): void {
    if (this.renewal) clearInterval(this.renewal);
    this.renewal = undefined;
  }
}
