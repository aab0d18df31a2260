import { DateTime, Duration } from 'luxon';
import { invalidQuery } from '../errors';
import { message } from '../messages';
import { isDate } from '../realm';

/**
 * The query parameters of GET /api/alerts, validated and normalised, and for Graph's incidents the values
 * of the properties $filter compares. All are optional.
 */
export interface DetectionQuery {
  sinceTimeUtc?: DateTime;
  untilTimeUtc?: DateTime;
  ago?: Duration;
  limit?: number;
  machinegroups?: string[];
  DeviceCreatedMachineTags?: string;
  CloudCreatedMachineTags?: string;
  /** Graph properties by name (incidents: status, severity…), each list the values any of which matches. */
  properties?: Record<string, string[]>;
}

/**
 * Which parameters a query takes: the SIEM API's (the detections node), or a Graph collection's, whose
 * keys besides the time range and limit are properties (`property` reads their values).
 */
export interface QueryDialect {
  keys: readonly string[];
  /** The keys a node's field gives as a list separated by commas ("UKMachines, FranceMachines"). */
  lists: readonly string[];
  /** A property's values, validated: a list, empty when none is given. */
  property?(key: string, value: unknown): string[];
}

export const QUERY_KEYS = [
  'sinceTimeUtc',
  'untilTimeUtc',
  'ago',
  'limit',
  'machinegroups',
  'DeviceCreatedMachineTags',
  'CloudCreatedMachineTags',
] as const;
export type QueryKey = (typeof QUERY_KEYS)[number];

/** The SIEM API's parameters. */
export const SIEM_QUERY: QueryDialect = { keys: QUERY_KEYS, lists: ['machinegroups'] };

/** What every dialect takes: the time range and the limit. */
export const WINDOW_KEYS = ['sinceTimeUtc', 'untilTimeUtc', 'ago', 'limit'] as const;

const TIME_KEYS = ['sinceTimeUtc', 'untilTimeUtc', 'ago'] as const;

/** A value as an error quotes it: a string in quotes, a Date as such, anything else as JSON. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return `"${value}"`;
  if (isDate(value)) return `Date(${String(value)})`;
  try {
    return JSON.stringify(value) ?? String(value);
  } catch {
    return String(value);
  }
}

/** Sent as ISO 8601 UTC with milliseconds, the form of the seed's examples. */
export function formatTime(time: DateTime): string {
  return time.toUTC().toISO({ suppressMilliseconds: false, includeOffset: true }) as string;
}

/**
 * The date-times a query takes as text: a date, optionally a time (hours and minutes at least, fractions
 * to nanoseconds) and with it a zone; no zone means UTC. Luxon alone would also take "10" (10:00 today) or
 * "2026-W44", which nobody means as a window's edge. The editor's dialog checks the same pattern
 * (nodes/defender-detections.html, DATE_TIME; test/editor.test.ts keeps the two alike).
 */
export const ISO_DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})(?:[Tt](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?([Zz]|([+-])(\d{2})(?::?(\d{2}))?)?)?$/;

/** An ISO 8601 string (no zone means UTC), a Date (of any realm), or epoch milliseconds. */
export function parseTime(name: string, value: unknown): DateTime {
  let time: DateTime | undefined;
  // 24:00, which Luxon reads as the next day's start, is refused as the dialog refuses it (write 00:00 of the
  // next day instead).
  const iso = typeof value === 'string' ? ISO_DATE_TIME.exec(value.trim()) : null;
  if (iso && iso[4] !== '24') time = DateTime.fromISO(iso[0], { zone: 'utc' });
  else if (isDate(value)) time = DateTime.fromJSDate(value, { zone: 'utc' });
  else if (typeof value === 'number' && Number.isFinite(value)) time = DateTime.fromMillis(value, { zone: 'utc' });
  if (!time || !time.isValid) {
    throw invalidQuery(message('query.bad-time', { name, value: describeValue(value) }));
  }
  return time;
}

/** An ISO 8601 duration such as PT10M or P1D, longer than zero unless `allowZero`. */
export function parseDuration(name: string, value: unknown, allowZero = false): Duration {
  // ISO 8601 lets a fraction take a comma in any component, Luxon only a dot outside the seconds.
  const text = typeof value === 'string' ? value.trim().toUpperCase().replace(/,/g, '.') : '';
  // At least one number, and a T only before a time component: Luxon reads a bare "P" or "PT" as zero and
  // takes "P1DT", none of which the dialog accepts.
  const duration = /\d/.test(text) && !text.endsWith('T') ? Duration.fromISO(text) : undefined;
  if (!duration || !duration.isValid || duration.toMillis() < 0 || (!allowZero && duration.toMillis() === 0)) {
    throw invalidQuery(message('query.bad-duration', { name, value: describeValue(value) }));
  }
  return duration;
}

function parseLimit(value: unknown): number {
  const n = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 1) {
    throw invalidQuery(message('query.bad-limit', { value: describeValue(value) }));
  }
  return n;
}

function parseGroups(value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  return list.map((group, i) => {
    if (typeof group !== 'string' || group.trim() === '') {
      const where = Array.isArray(value) ? `machinegroups[${i}]` : 'machinegroups';
      throw invalidQuery(message('query.bad-group', { name: where, value: describeValue(group) }));
    }
    return group.trim();
  });
}

function parseTag(name: string, value: unknown): string {
  if (typeof value === 'number') return String(value);
  if (typeof value !== 'string' || value.trim() === '') {
    throw invalidQuery(message('query.bad-tag', { name, value: describeValue(value) }));
  }
  return value.trim();
}

function isAbsent(value: unknown): boolean {
  return value === undefined || value === null || value === '';
}

/**
 * Reads query parameters from a plain object, in a dialect (default the SIEM API's). Keys match the API's
 * names case-insensitively; an unknown key is refused (a typo would otherwise silently widen the query).
 * Empty values count as not given.
 */
export function parseQuery(input: Record<string, unknown>, dialect: QueryDialect = SIEM_QUERY): DetectionQuery {
  const query: DetectionQuery = {};
  for (const [rawKey, value] of Object.entries(input)) {
    const named = dialect.keys.find((k) => k.toLowerCase() === rawKey.toLowerCase());
    if (!named) {
      throw invalidQuery(message('query.unknown-key', { key: rawKey, known: dialect.keys.join(', ') }));
    }
    if (isAbsent(value) || (Array.isArray(value) && value.length === 0)) continue;
    const key = QUERY_KEYS.find((k) => k === named);
    if (key === undefined) {
      const values = dialect.property?.(named, value) ?? [];
      if (values.length > 0) query.properties = { ...query.properties, [named]: values };
      continue;
    }
    switch (key) {
      case 'sinceTimeUtc':
      case 'untilTimeUtc':
        query[key] = parseTime(key, value);
        break;
      case 'ago':
        query.ago = parseDuration('ago', value);
        break;
      case 'limit':
        query.limit = parseLimit(value);
        break;
      case 'machinegroups':
        query.machinegroups = parseGroups(value);
        break;
      case 'DeviceCreatedMachineTags':
      case 'CloudCreatedMachineTags':
        query[key] = parseTag(key, value);
        break;
    }
  }
  return query;
}

/** Whether the query gives a value for `key` (a parameter, or a property of a Graph dialect). */
export function givesKey(query: DetectionQuery, key: string): boolean {
  return (query as Record<string, unknown>)[key] !== undefined || query.properties?.[key] !== undefined;
}

export function hasTimeRange(query: DetectionQuery): boolean {
  return TIME_KEYS.some((k) => query[k] !== undefined);
}

/**
 * A message's values override the node's defaults. A time range is taken whole from one side: a message
 * that gives `ago` must not be combined with a default `sinceTimeUtc`.
 */
export function mergeQuery(defaults: DetectionQuery, message: DetectionQuery): DetectionQuery {
  const merged: DetectionQuery = { ...defaults, ...message };
  // Property by property: a message that gives a status keeps the node's severity.
  if (defaults.properties && message.properties) merged.properties = { ...defaults.properties, ...message.properties };
  if (hasTimeRange(message)) {
    for (const k of TIME_KEYS) if (message[k] === undefined) delete merged[k];
  }
  return checkQuery(merged);
}

/** Rules that span parameters. */
export function checkQuery(query: DetectionQuery): DetectionQuery {
  if (query.ago && (query.sinceTimeUtc || query.untilTimeUtc)) {
    throw invalidQuery(message('query.ago-with-range'));
  }
  if (query.sinceTimeUtc && query.untilTimeUtc && query.sinceTimeUtc > query.untilTimeUtc) {
    throw invalidQuery(message('query.since-after-until', { since: formatTime(query.sinceTimeUtc), until: formatTime(query.untilTimeUtc) }));
  }
  return query;
}

/** The query string as the API expects it; machinegroups repeat, in the order given. */
export function toSearchParams(query: DetectionQuery): URLSearchParams {
  const params = new URLSearchParams();
  if (query.sinceTimeUtc) params.append('sinceTimeUtc', formatTime(query.sinceTimeUtc));
  if (query.untilTimeUtc) params.append('untilTimeUtc', formatTime(query.untilTimeUtc));
  if (query.ago) params.append('ago', query.ago.toISO() as string);
  if (query.limit !== undefined) params.append('limit', String(query.limit));
  for (const group of query.machinegroups ?? []) params.append('machinegroups', group);
  if (query.DeviceCreatedMachineTags) params.append('DeviceCreatedMachineTags', query.DeviceCreatedMachineTags);
  if (query.CloudCreatedMachineTags) params.append('CloudCreatedMachineTags', query.CloudCreatedMachineTags);
  for (const [property, values] of Object.entries(query.properties ?? {})) for (const value of values) params.append(property, value);
  return params;
}

/** The parameters as a plain object for the summary message (machinegroups and `lists` stay lists). */
export function describeQuery(params: URLSearchParams, lists: readonly string[] = []): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const key of new Set(params.keys())) {
    out[key] = key === 'machinegroups' || lists.includes(key) ? params.getAll(key) : (params.get(key) as string);
  }
  return out;
}
