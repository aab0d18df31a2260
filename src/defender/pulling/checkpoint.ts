import { createHash } from 'node:crypto';
import type { DetectionQuery } from './query';
import { Detection, DetectionAccessor, SIEM_ACCESSOR } from '../services/detection';
import { isOwedList, type Owed } from '../delivery/ledger';
import { type AlertMemoryState, isAlertMemoryState } from './lifecycle';
import { keyToMillis, timeKey } from './time-key';

export { keyToMillis, timeKey };

/**
 * Where incremental polling stands, kept in node context so a persistent or shared context store carries
 * it across restarts. `highest` is the newest LastProcessedTimeUtc ever sent; `keys` are the dedupe keys
 * sent inside the overlap window below it, the only ones a later pull can see again.
 */
export interface Checkpoint {
  version: 1;
  highest: string;
  keys: string[];
  /** What the node remembers of the alerts it sent (lifecycle.ts): absent in checkpoints of 0.1.0. */
  alerts?: AlertMemoryState;
  /**
   * With delivery confirmation: the versions sent and not yet confirmed delivered (delivery/ledger.ts). The
   * next pulls read again from the oldest of them, so the checkpoint does not move past it.
   */
  pending?: Owed[];
}

/** The time key of a detection: LastProcessedTimeUtc, or what the accessor names (Graph: lastUpdateDateTime). */
export function detectionTime(d: Detection, accessor: DetectionAccessor = SIEM_ACCESSOR): string {
  return timeKey(accessor.time(d));
}

/** Oldest first, by LastProcessedTimeUtc (or the accessor's time); ties keep the order they arrived in. */
export function sortOldestFirst(detections: Detection[], accessor: DetectionAccessor = SIEM_ACCESSOR, times?: string[]): Detection[] {
  const t = times ?? detections.map((d) => detectionTime(d, accessor));
  return oldestFirstOrder(Array.from({ length: detections.length }, (_, i) => i), t).map((i) => detections[i]);
}

/**
 * The positions `which` ordered oldest first by `times[position]`, ties in the order given. The API answers
 * newest first: walking that backwards is the order wanted, in one pass, without a sort (which would hold
 * the event loop for a large answer). Any other order is sorted.
 */
export function oldestFirstOrder(which: number[], times: readonly string[]): number[] {
  const n = which.length;
  let ascending = true;
  let descending = true;
  for (let k = 1; k < n && (ascending || descending); k++) {
    const a = times[which[k - 1]];
    const b = times[which[k]];
    if (a > b) ascending = false;
    else if (a < b) descending = false;
  }
  if (ascending) return which;
  if (descending) {
    const out: number[] = new Array(n);
    let o = 0;
    // Runs of equal times keep their arrival order.
    for (let end = n; end > 0; ) {
      let start = end - 1;
      while (start > 0 && times[which[start - 1]] === times[which[end - 1]]) start--;
      for (let k = start; k < end; k++) out[o++] = which[k];
      end = start;
    }
    return out;
  }
  return [...which].sort((a, b) => (times[a] < times[b] ? -1 : times[a] > times[b] ? 1 : a - b));
}

export function isCheckpoint(value: unknown): value is Checkpoint {
  if (!value || typeof value !== 'object') return false;
  const c = value as Partial<Checkpoint>;
  return (
    c.version === 1 &&
    typeof c.highest === 'string' &&
    timeKey(c.highest) !== '' &&
    Array.isArray(c.keys) &&
    c.keys.every((k) => typeof k === 'string') &&
    (c.alerts === undefined || isAlertMemoryState(c.alerts)) &&
    (c.pending === undefined || isOwedList(c.pending))
  );
}

/**
 * The context key of the checkpoint for a query's filters. Pulls with different device groups or tags
 * see different detections, so each set of filters keeps its own place: one shared checkpoint would let a
 * pull of group A skip group B's older detections. The key is a digest because Node-RED reads dots and
 * brackets in a context key as a path.
 */
export function checkpointKey(query: Pick<DetectionQuery, 'machinegroups' | 'DeviceCreatedMachineTags' | 'CloudCreatedMachineTags' | 'properties'>): string {
  const groups = [...new Set(query.machinegroups ?? [])].sort();
  const device = query.DeviceCreatedMachineTags ?? '';
  const cloud = query.CloudCreatedMachineTags ?? '';
  // Graph properties (incidents' status, severity…), in a stable order, only when given: the keys of
  // queries without them stay what they were.
  const properties = Object.entries(query.properties ?? {}).map(([name, values]) => [name, [...new Set(values)].sort()] as const).sort(([a], [b]) => (a < b ? -1 : 1));
  if (groups.length === 0 && device === '' && cloud === '' && properties.length === 0) return CHECKPOINT_KEY;
  const parts: unknown[] = [groups, device, cloud];
  if (properties.length > 0) parts.push(properties);
  const digest = createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
  return `${CHECKPOINT_KEY}_${digest}`;
}

export const CHECKPOINT_KEY = 'checkpoint';

/** The time key of a dedupe key ("id|time"). */
export function keyTime(key: string): string {
  return timeKey(key.slice(key.lastIndexOf('|') + 1));
}

/**
 * The checkpoint as a pull moves it, detection by detection: the newest time delivered, and the keys of
 * what was delivered inside the overlap below it. Each key's time is read once; the keys are kept in the
 * order delivered (oldest first), so forgetting those that fall out of the overlap is a cursor moving on.
 */
export class CheckpointWindow {
  private highest?: string;
  private highestKey = '';
  /**
   * Only ever added to: a checkpoint handed out reads its part of them later (see current()), so forgetting
   * the front makes new lists rather than changing these.
   */
  private keys: string[] = [];
  private times: string[] = [];
  /** Keys before this index are out of the overlap. */
  private start = 0;

  constructor(
    previous: Checkpoint | undefined,
    private readonly overlapMs: number,
  ) {
    if (!previous) return;
    this.highest = previous.highest;
    this.highestKey = timeKey(previous.highest);
    const kept = previous.keys.map((key) => ({ key, time: keyTime(key) }));
    kept.sort((a, b) => (a.time < b.time ? -1 : a.time > b.time ? 1 : 0));
    for (const { key, time } of kept) {
      this.keys.push(key);
      this.times.push(time);
    }
  }

  /** A detection went out, as the checkpoint keeps it: its dedupe key, its time as sent, its timeKey. */
  addKey(key: string, rawTime: unknown, time: string): void {
    if (time > this.highestKey) {
      this.highestKey = time;
      this.highest = String(rawTime);
    }
    this.keys.push(key);
    this.times.push(time);
  }

  /**
   * The checkpoint now; undefined while nothing was ever delivered. It never moves backwards. `lowWater` is
   * the oldest time still owed a delivery: the keys from the overlap below it on are kept, since the next
   * pulls read from there again (it only ever moves up while a pull goes on).
   */
  current(lowWater?: string): Checkpoint | undefined {
    if (this.highest === undefined) return undefined;
    const low = lowWater !== undefined && lowWater < this.highestKey ? lowWater : this.highestKey;
    const floor = timeKey(new Date(keyToMillis(low, 'floor') - this.overlapMs).toISOString());
    // Delivered oldest first, so the keys out of the overlap are at the front; one delivered out of order
    // behind them stays a little longer, which costs nothing but a key.
    while (this.start < this.times.length && this.times[this.start] < floor) this.start++;
    if (this.start > 4096 && this.start > this.keys.length / 2) {
      this.keys = this.keys.slice(this.start);
      this.times = this.times.slice(this.start);
      this.start = 0;
    }
    // Taken at every commit of a pull, whose overlap may hold tens of thousands of keys: the checkpoint's list
    // is made only when someone reads it (the next pull, a store that writes JSON), not at every commit. The
    // keys are unique already (a pull drops what the checkpoint holds before it sends).
    return withKeys({ version: 1, highest: this.highest } as Checkpoint, this.keys, this.start, this.keys.length);
  }
}

/**
 * A checkpoint whose `keys` are `list[from, to)`, made into their own list the first time they are read.
 * `list` must not change in that range (CheckpointWindow only adds to its lists).
 */
function withKeys(checkpoint: Checkpoint, list: readonly string[], from: number, to: number): Checkpoint {
  let keys: string[] | undefined;
  Object.defineProperty(checkpoint, 'keys', { enumerable: true, configurable: true, get: () => (keys ??= list.slice(from, to)) });
  return checkpoint;
}

/**
 * The checkpoint with other parts set or replaced (the alert memory, what is owed), its keys still not made
 * into a list: a spread would make them, at every commit.
 */
export function withParts(checkpoint: Checkpoint, parts: Partial<Pick<Checkpoint, 'alerts' | 'pending'>>): Checkpoint {
  const out = Object.defineProperties({}, Object.getOwnPropertyDescriptors(checkpoint)) as Checkpoint;
  return Object.assign(out, parts);
}

/**
 * The checkpoint after `sent` went out. It never moves backwards; keys older than the next pull's lower
 * bound (highest - overlap) are forgotten, since no later pull asks for them again.
 */
export function advanceCheckpoint(
  previous: Checkpoint | undefined,
  sent: Detection[],
  overlapMs: number,
  accessor: DetectionAccessor = SIEM_ACCESSOR,
  times?: string[],
): Checkpoint | undefined {
  const window = new CheckpointWindow(previous, overlapMs);
  const t = times ?? sent.map((d) => detectionTime(d, accessor));
  for (let i = 0; i < sent.length; i++) window.addKey(accessor.key(sent[i]), accessor.time(sent[i]), t[i]);
  return window.current();
}

/**
 * The lower bound the next incremental pull asks for: the checkpoint minus the overlap window, or, with
 * versions still owed a delivery, the oldest of them minus the overlap, so that it is read again.
 */
export function resumeFrom(checkpoint: Checkpoint, overlapMs: number): number {
  let low = timeKey(checkpoint.highest);
  for (const owed of checkpoint.pending ?? []) if (owed.time < low) low = owed.time;
  return keyToMillis(low, 'floor') - overlapMs;
}
