import { DateTime } from 'luxon';

/* The API's times as sortable text, at its full 100 ns precision. */

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
