import { createHash } from 'node:crypto';
import { DateTime } from 'luxon';
import type { DetectionQuery } from './query';
import { Detection, DetectionAccessor, SIEM_ACCESSOR } from './detection';

/**
 * Where incremental polling stands, kept in node context so a persistent or shared context store carries
 * it across restarts. `highest` is the newest LastProcessedTimeUtc ever sent; `keys` are the dedupe keys
 * sent inside the overlap window below it, the only ones a later pull can see again.
 */
export interface Checkpoint {
  version: 1;
  highest: string;
  keys: string[];
}

const LPT = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:[.,](\d+))?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * A sortable form of a LastProcessedTimeUtc value at the API's full 100 ns precision:
 * "YYYY-MM-DDTHH:mm:ss.fffffff" in UTC. Epoch milliseconds cannot carry the last four digits, and the API
 * compares with them, so ordering and boundaries use this string. Unparseable values give "".
 */
export function timeKey(value: unknown): string {
  if (typeof value !== 'string') return '';
  const m = LPT.exec(value.trim());
  if (!m) return '';
  const fraction = (m[2] ?? '').padEnd(7, '0').slice(0, 7);
  const zone = (m[3] ?? 'Z').toUpperCase();
  if (zone === 'Z' || zone === '+00:00' || zone === '-00:00' || zone === '+0000') return `${m[1]}.${fraction}`;
  const utc = DateTime.fromISO(`${m[1]}${zone}`, { setZone: true }).toUTC();
  if (!utc.isValid) return '';
  return `${utc.toFormat("yyyy-MM-dd'T'HH:mm:ss")}.${fraction}`;
}

/** Epoch milliseconds of a time key, rounded down or up to the millisecond. */
export function keyToMillis(key: string, round: 'floor' | 'ceil'): number {
  const ms = Date.parse(`${key.slice(0, 23)}Z`);
  const rest = key.slice(23);
  return round === 'ceil' && /[1-9]/.test(rest) ? ms + 1 : ms;
}

/** The time key of a detection: LastProcessedTimeUtc, or what the accessor names (Graph: lastUpdateDateTime). */
export function detectionTime(d: Detection, accessor: DetectionAccessor = SIEM_ACCESSOR): string {
  return timeKey(accessor.time(d));
}

/** Oldest first, by LastProcessedTimeUtc (or the accessor's time); ties keep the order they arrived in. */
export function sortOldestFirst(detections: Detection[], accessor: DetectionAccessor = SIEM_ACCESSOR, times?: string[]): Detection[] {
  const t = times ?? detections.map((d) => detectionTime(d, accessor));
  const n = detections.length;
  let ascending = true;
  let descending = true;
  for (let i = 1; i < n && (ascending || descending); i++) {
    if (t[i - 1] > t[i]) ascending = false;
    else if (t[i - 1] < t[i]) descending = false;
  }
  if (ascending) return detections.slice();
  // The API answers newest first: walking it backwards is the order wanted, in one pass, without a sort
  // (which would hold the event loop for a large pull). Runs of equal times keep their arrival order.
  if (descending) {
    const out: Detection[] = new Array(n);
    let o = 0;
    for (let end = n; end > 0; ) {
      let start = end - 1;
      while (start > 0 && t[start - 1] === t[end - 1]) start--;
      for (let i = start; i < end; i++) out[o++] = detections[i];
      end = start;
    }
    return out;
  }
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => (t[a] < t[b] ? -1 : t[a] > t[b] ? 1 : a - b));
  return order.map((i) => detections[i]);
}

export function isCheckpoint(value: unknown): value is Checkpoint {
  if (!value || typeof value !== 'object') return false;
  const c = value as Partial<Checkpoint>;
  return (
    c.version === 1 &&
    typeof c.highest === 'string' &&
    timeKey(c.highest) !== '' &&
    Array.isArray(c.keys) &&
    c.keys.every((k) => typeof k === 'string')
  );
}

/**
 * The context key of the checkpoint for a query's filters. Pulls with different device groups or tags
 * see different detections, so each set of filters keeps its own place: one shared checkpoint would let a
 * pull of group A skip group B's older detections. The key is a digest because Node-RED reads dots and
 * brackets in a context key as a path.
 */
export function checkpointKey(query: Pick<DetectionQuery, 'machinegroups' | 'DeviceCreatedMachineTags' | 'CloudCreatedMachineTags'>): string {
  const groups = [...new Set(query.machinegroups ?? [])].sort();
  const device = query.DeviceCreatedMachineTags ?? '';
  const cloud = query.CloudCreatedMachineTags ?? '';
  if (groups.length === 0 && device === '' && cloud === '') return CHECKPOINT_KEY;
  const digest = createHash('sha256').update(JSON.stringify([groups, device, cloud])).digest('hex').slice(0, 16);
  return `${CHECKPOINT_KEY}_${digest}`;
}

export const CHECKPOINT_KEY = 'checkpoint';

function keyTime(key: string): string {
  return timeKey(key.slice(key.lastIndexOf('|') + 1));
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
  const t = times ?? sent.map((d) => detectionTime(d, accessor));
  let highest = previous?.highest;
  let highestKey = highest ? timeKey(highest) : '';
  for (let i = 0; i < sent.length; i++) {
    if (t[i] > highestKey) {
      highestKey = t[i];
      highest = String(accessor.time(sent[i]));
    }
  }
  if (highest === undefined) return undefined;
  const floorKey = timeKey(new Date(keyToMillis(highestKey, 'floor') - overlapMs).toISOString());
  const keys = new Set<string>();
  for (const key of previous?.keys ?? []) if (keyTime(key) >= floorKey) keys.add(key);
  for (let i = 0; i < sent.length; i++) if (t[i] >= floorKey) keys.add(accessor.key(sent[i]));
  return { version: 1, highest, keys: [...keys] };
}

/** The lower bound the next incremental pull asks for: the checkpoint minus the overlap window. */
export function resumeFrom(checkpoint: Checkpoint, overlapMs: number): number {
  return keyToMillis(timeKey(checkpoint.highest), 'floor') - overlapMs;
}
