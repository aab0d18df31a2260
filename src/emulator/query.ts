import type { DetectionFilter } from './store';
import { MIN_INSTANT, TICKS_PER_MS, formatTicks, parseDateTime, parseDuration } from './timestamps';

/** A query parameter the API would refuse with 400; the message names the parameter and what was wrong. */
export class QueryError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

/** Without a time parameter the API answers the last two hours. */
export const DEFAULT_WINDOW_MS = 2 * 60 * 60 * 1000;

/** Parameter names as documented; matching is case-insensitive like the service's model binding. */
const PARAMETERS = {
  sincetimeutc: 'sinceTimeUtc',
  untiltimeutc: 'untilTimeUtc',
  ago: 'ago',
  limit: 'limit',
  machinegroups: 'machinegroups',
  devicecreatedmachinetags: 'DeviceCreatedMachineTags',
  cloudcreatedmachinetags: 'CloudCreatedMachineTags',
} as const;
type ParameterKey = keyof typeof PARAMETERS;

function collect(params: URLSearchParams): Map<ParameterKey, string[]> {
  const values = new Map<ParameterKey, string[]>();
  for (const [name, value] of params) {
    const key = name.toLowerCase();
    // Unknown parameters are ignored, as the service does.
    if (!(key in PARAMETERS)) continue;
    const list = values.get(key as ParameterKey) ?? [];
    list.push(value);
    values.set(key as ParameterKey, list);
  }
  return values;
}

function dateTime(key: 'sincetimeutc' | 'untiltimeutc', value: string): string {
  const instant = parseDateTime(value);
  if (instant === undefined) {
    throw new QueryError(
      PARAMETERS[key],
      `${PARAMETERS[key]} must be an ISO 8601 date-time such as 2020-09-30T14:11:44.077Z (no zone means UTC), got ${JSON.stringify(value)}`,
    );
  }
  return instant;
}

/**
 * Turns the query string of GET /api/alerts into a filter. The emulator's clock has millisecond
 * resolution, so a bound taken from it covers its whole millisecond: "now" as an upper bound is the last
 * tick of the current millisecond, and a detection processed during it is not left out.
 */
export function parseAlertsQuery(params: URLSearchParams, nowMs: number): DetectionFilter {
  const values = collect(params);
  // A scalar parameter given twice is bound from its first value.
  const first = (key: ParameterKey): string | undefined => values.get(key)?.[0];
  const nowStart = BigInt(Math.floor(nowMs)) * TICKS_PER_MS;
  const nowEnd = formatTicks(nowStart + TICKS_PER_MS - 1n);

  const sinceText = first('sincetimeutc');
  const untilText = first('untiltimeutc');
  const agoText = first('ago');
  let since: string;
  let until: string;
  if (agoText !== undefined) {
    if (sinceText !== undefined || untilText !== undefined) {
      throw new QueryError('ago', 'ago cannot be combined with sinceTimeUtc or untilTimeUtc: use either a duration or a time range');
    }
    const duration = parseDuration(agoText);
    if (duration === undefined) {
      throw new QueryError('ago', `ago must be an ISO 8601 duration such as PT10M or P1D, got ${JSON.stringify(agoText)}`);
    }
    since = formatTicks(nowStart - duration);
    until = nowEnd;
  } else {
    since = sinceText === undefined ? formatTicks(nowStart - BigInt(DEFAULT_WINDOW_MS) * TICKS_PER_MS) : dateTime('sincetimeutc', sinceText);
    until = untilText === undefined ? nowEnd : dateTime('untiltimeutc', untilText);
  }
  if (since < MIN_INSTANT) since = MIN_INSTANT;

  const filter: DetectionFilter = { since, until, visibleBy: nowMs };

  const limitText = first('limit');
  if (limitText !== undefined) {
    const limit = /^\s*\d+\s*$/.test(limitText) ? Number(limitText) : NaN;
    if (!(limit > 0)) throw new QueryError('limit', `limit must be a positive integer, got ${JSON.stringify(limitText)}`);
    filter.limit = limit;
  }

  const groups = (values.get('machinegroups') ?? []).map((g) => g.trim()).filter((g) => g !== '');
  if (groups.length > 0) filter.machineGroups = groups;

  const deviceTag = first('devicecreatedmachinetags')?.trim();
  if (deviceTag) filter.deviceTag = deviceTag;
  const cloudTag = first('cloudcreatedmachinetags')?.trim();
  if (cloudTag) filter.cloudTag = cloudTag;
  return filter;
}
