/**
 * Scripted misbehaviour: the failures a client of the real service meets (revoked tokens, throttling,
 * outages, slow or cut-off answers, a proxy's sign-in page, redirects, dropped connections, an identity
 * endpoint still starting) and the answers it may get without asking (a write answered 204 with no body),
 * switched on per endpoint and per request count so a test can say "the third call fails, once".
 */

export const FAULT_KINDS = [
  'http204', 'http401', 'http403', 'http404', 'http410', 'http429', 'http500', 'http503', 'delay', 'truncated', 'html', 'redirect', 'reset', 'echo',
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];
export type FaultTarget = 'alerts' | 'token';

export interface Fault {
  kind: FaultKind;
  /** Which endpoint it hits (default 'alerts'). */
  on?: FaultTarget;
  /** Number of further matching requests served normally before it starts (default 0). */
  after?: number;
  /** How many matching requests it affects (default 1; Infinity allowed). */
  times?: number;
  /** http429/http503: Retry-After header value, seconds or an HTTP date (default '1'). */
  retryAfter?: string;
  /** delay: wait this long, then answer normally (default 2000). */
  delayMs?: number;
  /**
   * echo: the status of the answer that quotes the request back (default 400); with 429 or 5xx it carries
   * Retry-After too, as a throttling or failing gateway would.
   */
  status?: number;
}

/** A fault with its defaults filled in. */
export type ResolvedFault = Required<Fault>;

interface ActiveFault {
  readonly fault: ResolvedFault;
  waiting: number;
  remaining: number;
}

function isNonNegativeInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

/** Validates a fault and fills in its defaults; throws a RangeError that says what would be right. */
export function resolveFault(fault: Fault): ResolvedFault {
  if (!(FAULT_KINDS as readonly string[]).includes(fault.kind)) {
    throw new RangeError(`fault kind must be one of ${FAULT_KINDS.join(', ')}, got ${JSON.stringify(fault.kind)}`);
  }
  const on = fault.on ?? 'alerts';
  if (on !== 'alerts' && on !== 'token') throw new RangeError(`fault "on" must be "alerts" or "token", got ${JSON.stringify(on)}`);
  const after = fault.after ?? 0;
  if (!isNonNegativeInteger(after)) throw new RangeError(`fault "after" must be a non-negative integer, got ${JSON.stringify(after)}`);
  const times = fault.times ?? 1;
  if (!(times === Infinity || (isNonNegativeInteger(times) && times > 0))) {
    throw new RangeError(`fault "times" must be a positive integer or Infinity, got ${JSON.stringify(times)}`);
  }
  const retryAfter = fault.retryAfter ?? '1';
  if (typeof retryAfter !== 'string' || retryAfter.trim() === '' || /[\r\n]/.test(retryAfter)) {
    throw new RangeError(`fault "retryAfter" must be a number of seconds or an HTTP date as a string, got ${JSON.stringify(retryAfter)}`);
  }
  const delayMs = fault.delayMs ?? 2000;
  if (!isNonNegativeInteger(delayMs)) throw new RangeError(`fault "delayMs" must be a non-negative integer, got ${JSON.stringify(delayMs)}`);
  const status = fault.status ?? 400;
  if (!(Number.isInteger(status) && status >= 200 && status <= 599)) {
    throw new RangeError(`fault "status" must be an HTTP status from 200 to 599, got ${JSON.stringify(status)}`);
  }
  return { kind: fault.kind, on, after, times, retryAfter, delayMs, status };
}

/**
 * Reads a fault from a JSON body (the admin endpoint). JSON has no Infinity, so `times` may also be the
 * string "Infinity"; retryAfter may be given as a number of seconds.
 */
export function faultFromJson(value: unknown): ResolvedFault {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new RangeError('a fault must be a JSON object such as {"kind":"http429","retryAfter":"5"}');
  }
  const raw = value as Record<string, unknown>;
  const times = raw.times === 'Infinity' ? Infinity : raw.times;
  const retryAfter = typeof raw.retryAfter === 'number' ? String(raw.retryAfter) : raw.retryAfter;
  return resolveFault({
    kind: raw.kind as FaultKind,
    on: raw.on as FaultTarget | undefined,
    after: raw.after as number | undefined,
    times: times as number | undefined,
    retryAfter: retryAfter as string | undefined,
    delayMs: raw.delayMs as number | undefined,
    status: raw.status as number | undefined,
  });
}

/** A fault as JSON can carry it (Infinity spelled as a string). */
export function faultToJson(fault: ResolvedFault): Record<string, string | number> {
  return { ...fault, times: fault.times === Infinity ? 'Infinity' : fault.times };
}

/**
 * The injected faults, in injection order. Each matching request is taken by the earliest fault that is
 * due; a request no fault takes was served normally, and counts down the `after` of every fault still
 * waiting. So faults run like a script: inject a 500 and then a 429, and the next two calls get them in
 * that order.
 */
export class FaultPlan {
  private active: ActiveFault[] = [];

  add(fault: Fault): ResolvedFault {
    const resolved = resolveFault(fault);
    this.active.push({ fault: resolved, waiting: resolved.after, remaining: resolved.times });
    return resolved;
  }

  clear(): void {
    this.active = [];
  }

  /** The faults still to happen, with what is left of their counts. */
  pending(): ResolvedFault[] {
    return this.active.map((a) => ({ ...a.fault, after: a.waiting, times: a.remaining }));
  }

  /** The fault that takes this request, if any; advances the counts either way. */
  take(target: FaultTarget): ResolvedFault | undefined {
    const due = this.active.find((a) => a.fault.on === target && a.waiting === 0 && a.remaining > 0);
    if (due) {
      due.remaining -= 1;
      if (due.remaining <= 0) this.active = this.active.filter((a) => a !== due);
      return due.fault;
    }
    for (const a of this.active) {
      if (a.fault.on === target && a.waiting > 0) a.waiting -= 1;
    }
    return undefined;
  }
}
