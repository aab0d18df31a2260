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
export function sortOldestFirst(detections: Detection[], accessor: DetectionAccessor = SIEM_ACCESSOR): Detection[] {
  const keyed = detections.map((d, i) => ({ d, i, t: detectionTime(d, accessor) }));
  keyed.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : a.i - b.i));
  return keyed.map((k) => k.d);
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
): Checkpoint | undefined {
  let highest = previous?.highest;
  let highestKey = highest ? timeKey(highest) : '';
  for (const d of sent) {
    const t = detectionTime(d, accessor);
    if (t > highestKey) {
      highestKey = t;
      highest = String(accessor.time(d));
    }
  }
  if (highest === undefined) return undefined;
  const floorKey = timeKey(new Date(keyToMillis(highestKey, 'floor') - overlapMs).toISOString());
  const keys = new Set<string>();
  for (const key of previous?.keys ?? []) if (keyTime(key) >= floorKey) keys.add(key);
  for (const d of sent) if (detectionTime(d, accessor) >= floorKey) keys.add(accessor.key(d));
  return { version: 1, highest, keys: [...keys] };
}

/** The lower bound the next incremental pull asks for: the checkpoint minus the overlap window. */
export function resumeFrom(checkpoint: Checkpoint, overlapMs: number): number {
  return keyToMillis(timeKey(checkpoint.highest), 'floor') - overlapMs;
}
