import type { AlertEvent, PreviousValue, Verdict } from '../pulling/lifecycle';

/**
 * Delivery confirmation (SPEC section 11). A detection is owed until the flow confirms it reached its
 * destination (the e-mail server, the webhook). Defender keeps the alerts, so the node holds no queue of
 * messages: it keeps, per version it owes, what it needs to send it again when it reads it again, and the
 * checkpoint does not move past the oldest version owed, so the next pulls read it again.
 */

/** One version of a detection that went out and is not yet confirmed delivered. */
export interface Owed {
  /** Its dedupe key (id|time). */
  key: string;
  /** The alert's id, so a later version of the alert can take over what this one owes. */
  alert: string;
  /** Its time key. */
  time: string;
  /** Deliveries made so far: 1 after the first. */
  attempt: number;
  /** Epoch ms from which it goes out again when a pull reads it: after a failure, or once it timed out. */
  due: number;
  /** What it went out as, so it goes again as the same event. */
  event: AlertEvent;
  changes: string[] | null;
  previous?: Record<string, PreviousValue>;
  /** Full pulls that read its time without meeting it: the service no longer has this version. */
  missed?: number;
}

/** How long to wait for a confirmation, how often to try, and how to back off between tries. */
export interface DeliveryPolicy {
  /** A delivery not confirmed within this is taken as failed. */
  timeoutMs: number;
  /** Deliveries of one version, the first included; then it is given up and reported. */
  maxDeliveries: number;
  /** The wait after the first failed delivery; it doubles with each one after it, up to `maxDelayMs`. */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_DELIVERY_POLICY: DeliveryPolicy = { timeoutMs: 60_000, maxDeliveries: 10, baseDelayMs: 10_000, maxDelayMs: 10 * 60_000 };

/**
 * Deliveries waiting for their confirmation before a pull sends more: the flow's pace sets the pull's, and
 * what Node-RED holds for a slow webhook stays bounded.
 */
export const MAX_IN_FLIGHT = 2000;

/**
 * Versions owed and not on their way (failed, timed out) beyond which a pull takes no new ones: the
 * destination has been failing for a while, and what is owed is read again first.
 */
export const MAX_OWED = 10_000;

/** How a delivery ended, as the flow told it. */
export type DeliveryOutcome = 'delivered' | 'failed' | 'filtered';

/** Why an owed version is no longer owed. */
export type Settled = DeliveryOutcome | 'superseded' | 'gone' | 'given-up';

/** The wait before delivery `attempt + 1`, after delivery `attempt` failed. */
export function backoff(policy: DeliveryPolicy, attempt: number): number {
  return Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.max(0, attempt - 1));
}

/** What a pull does with a version it owes and reads again. */
export type Decision = 'wait' | 'again' | 'give-up';

export function isOwedList(value: unknown): value is Owed[] {
  return (
    Array.isArray(value) &&
    value.every((o) => {
      const e = o as Partial<Owed> | null;
      return (
        !!e &&
        typeof e.key === 'string' &&
        typeof e.alert === 'string' &&
        typeof e.time === 'string' &&
        typeof e.attempt === 'number' &&
        typeof e.due === 'number' &&
        (e.event === 'new' || e.event === 'update') &&
        (e.changes === null || Array.isArray(e.changes))
      );
    })
  );
}

/**
 * What one node owes for one filter (one checkpoint): the versions sent and not yet confirmed, stored with
 * the checkpoint, and which of them are on their way now (known only to this process).
 */
export class DeliveryLedger {
  private readonly owed = new Map<string, Owed>();
  /** Deliveries on their way: key → when it times out (epoch ms). */
  private readonly flying = new Map<string, number>();
  /**
   * Versions first owed since the last commit, stored only once a checkpoint covers them. A list, not a set:
   * one goes in for every message, and it is read only to store and to roll back.
   */
  private uncommitted: string[] = [];
  private waiters: Array<() => void> = [];
  private wake?: ReturnType<typeof setTimeout>;

  constructor(
    stored: readonly Owed[] | undefined,
    readonly policy: DeliveryPolicy,
    /** Called after every change of what is owed, so it can be stored. */
    private readonly changed: () => void = () => undefined,
  ) {
    for (const o of stored ?? []) this.owed.set(o.key, { ...o });
  }

  /** Versions owed. */
  get size(): number {
    return this.owed.size;
  }

  /** Versions owed that are not on their way: their delivery failed or timed out. */
  overdue(now: number): number {
    return this.owed.size - this.inFlight(now);
  }

  /**
   * Deliveries on their way and not yet timed out. Asked before every delivery of a pull, so it costs
   * little: they time out in the order they went (one timeout for all), and a try sent again goes to the end.
   */
  inFlight(now: number): number {
    for (const [key, until] of this.flying) {
      if (until > now) break;
      this.flying.delete(key);
    }
    return this.flying.size;
  }

  /** The oldest time owed: the checkpoint keeps what a pull needs to read it again. */
  lowWater(): string | undefined {
    let low: string | undefined;
    for (const o of this.owed.values()) if (low === undefined || o.time < low) low = o.time;
    return low;
  }

  get(key: string): Owed | undefined {
    return this.owed.get(key);
  }

  /**
   * The versions owed by alert: the newest owed of each. A pull asks it once, at its start: a later version
   * of one of these alerts goes out in its place.
   */
  byAlert(): Map<string, Owed> {
    const out = new Map<string, Owed>();
    for (const o of this.owed.values()) {
      const other = out.get(o.alert);
      if (!other || other.time <= o.time) out.set(o.alert, o);
    }
    return out;
  }

  /** The keys owed now: a pull notes them at its start, to tell at its end which it never met. */
  keys(): string[] {
    return [...this.owed.keys()];
  }

  decide(o: Owed, now: number): Decision {
    const until = this.flying.get(o.key);
    if ((until !== undefined && until > now) || now < o.due) return 'wait';
    return o.attempt >= this.policy.maxDeliveries ? 'give-up' : 'again';
  }

  /** A version goes out: its first delivery (attempt 1) or another. Made for every message: kept lean. */
  sent(key: string, alert: string, time: string, verdict: Verdict, attempt: number, now: number): void {
    // Not confirmed in time, it is treated as failed then.
    const due = now + this.policy.timeoutMs + backoff(this.policy, attempt);
    const o: Owed = { key, alert, time, attempt, due, event: verdict.event, changes: verdict.changes };
    if (verdict.previous) o.previous = verdict.previous;
    if (!this.remove(key)) this.uncommitted.push(key);
    this.owed.set(key, o);
    this.flying.set(key, now + this.policy.timeoutMs);
    this.changed();
  }

  /**
   * What the flow said of delivery `attempt` of `key`. Delivered by any attempt settles it (a late
   * confirmation of an earlier try is still a delivery); a failure or a drop counts only for the latest.
   */
  outcome(key: string, attempt: number, outcome: DeliveryOutcome, now: number): Settled | undefined {
    const o = this.owed.get(key);
    if (!o || (outcome !== 'delivered' && attempt !== o.attempt)) return undefined;
    if (outcome === 'failed') {
      this.flying.delete(key);
      o.due = now + backoff(this.policy, attempt);
      this.changed();
      this.notify();
      return undefined;
    }
    this.settle(key);
    return outcome;
  }

  /** It is owed no longer: delivered, dropped by the flow, superseded, gone from the service, or given up. */
  settle(key: string): void {
    if (!this.remove(key)) return;
    this.changed();
    this.notify();
  }

  /**
   * A full pull read the window of these keys (owed when it began) and did not meet them: after two such
   * pulls the service no longer has that version (updated outside this filter, or deleted).
   */
  missed(keys: readonly string[]): string[] {
    const gone: string[] = [];
    for (const key of keys) {
      const o = this.owed.get(key);
      if (!o) continue;
      o.missed = (o.missed ?? 0) + 1;
      if (o.missed >= 2) gone.push(key);
    }
    for (const key of gone) this.remove(key);
    if (keys.length > 0) this.changed();
    return gone;
  }

  /** Met again: no longer missed. */
  met(key: string): void {
    const o = this.owed.get(key);
    if (o?.missed) delete o.missed;
  }

  /** The checkpoint now covers what was sent: what is owed for it may be stored. */
  commit(): void {
    this.uncommitted = [];
  }

  /**
   * What was sent since the last commit is forgotten (the node closed before the checkpoint covered it): the
   * next pull reads it again as if it had never gone out, as it does without confirmation.
   */
  rollback(): void {
    const keys = this.uncommitted;
    this.uncommitted = [];
    for (const key of keys) this.remove(key);
    if (keys.length > 0) this.changed();
  }

  /**
   * What is owed and covered by the stored checkpoint, as stored with it (plain JSON). The entries
   * themselves, not copies: stored at every commit of a pull, they are read, not changed, by the store.
   */
  state(): Owed[] {
    const out: Owed[] = [];
    const uncommitted = new Set(this.uncommitted);
    for (const o of this.owed.values()) if (!uncommitted.has(o.key)) out.push(o);
    return out;
  }

  /**
   * Undefined while fewer than MAX_IN_FLIGHT deliveries are on their way; else a promise that settles once
   * one was confirmed, failed or timed out, or `signal` aborts.
   */
  room(now: number, signal?: AbortSignal): Promise<void> | undefined {
    if (this.inFlight(now) < MAX_IN_FLIGHT) return undefined;
    let soonest = Infinity;
    for (const until of this.flying.values()) soonest = Math.min(soonest, until);
    return new Promise((resolve) => {
      const done = (): void => {
        signal?.removeEventListener('abort', done);
        resolve();
      };
      this.waiters.push(done);
      signal?.addEventListener('abort', done);
      // Bounded: Node.js fires a timer of more than 24.8 days at once.
      if (!this.wake) this.wake = setTimeout(() => this.notify(), Math.min(2 ** 31 - 1, Math.max(1, soonest - now)));
    });
  }

  private notify(): void {
    if (this.wake) clearTimeout(this.wake);
    this.wake = undefined;
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }


  private remove(key: string): boolean {
    const o = this.owed.get(key);
    if (!o) return false;
    this.owed.delete(key);
    this.flying.delete(key);
    return true;
  }
}

/**
 * The verdict of a later version of an alert whose earlier version was owed: it goes out in its place,
 * whatever `events` says, as what the owed one was (the flow never got it). For an update, the changes are
 * counted from the version the flow last got: the owed one's and this one's together, with the earlier
 * values of the owed one winning.
 */
export function inherit(o: Owed, verdict: Verdict): Verdict {
  if (o.event === 'new') return { event: 'new', changes: null, send: true };
  if (o.changes === null || verdict.changes === null) return { event: 'update', changes: null, send: true };
  const changes = [...o.changes, ...verdict.changes.filter((c) => !o.changes?.includes(c))];
  return { event: 'update', changes, previous: { ...verdict.previous, ...o.previous }, send: true };
}
