/**
 * Time as the SIEM API sees it. LastProcessedTimeUtc carries 7 fractional digits (100 ns ticks, as .NET
 * writes them) while clients usually send milliseconds; epoch ms × 10^4 no longer fits a double exactly,
 * so instants are compared as fixed-width strings ("2020-09-30T14:11:44.0779765Z") that sort
 * chronologically, and arithmetic on them is done in BigInt ticks.
 */

/** Ticks per millisecond: one tick is 100 ns. */
export const TICKS_PER_MS = 10_000n;

/** .NET ticks (since 0001-01-01) of the Unix epoch; AlertId embeds .NET ticks. */
export const DOTNET_EPOCH_OFFSET_TICKS = 621_355_968_000_000_000n;

/** The earliest instant a .NET DateTime can hold; windows reaching further back are clamped to it. */
export const MIN_INSTANT = '0001-01-01T00:00:00.0000000Z';

const MIN_TICKS = -DOTNET_EPOCH_OFFSET_TICKS;

/** Ticks since the Unix epoch → the fixed-width 7-digit UTC form. */
export function formatTicks(ticks: bigint): string {
  if (ticks < MIN_TICKS) return MIN_INSTANT;
  let ms = ticks / TICKS_PER_MS;
  let sub = ticks % TICKS_PER_MS;
  if (sub < 0n) {
    // BigInt division truncates toward zero; instants before 1970 need the floor.
    sub += TICKS_PER_MS;
    ms -= 1n;
  }
  const iso = new Date(Number(ms)).toISOString();
  if (iso.length !== 24) throw new RangeError(`instant out of range: ${ticks} ticks`);
  return `${iso.slice(0, 23)}${sub.toString().padStart(4, '0')}Z`;
}

/** The fixed-width form → ticks since the Unix epoch. */
export function instantToTicks(instant: string): bigint {
  const ms = Date.parse(`${instant.slice(0, 23)}Z`);
  return BigInt(ms) * TICKS_PER_MS + BigInt(instant.slice(23, 27));
}

/** An epoch-ms instant plus 0–9999 ticks inside that millisecond, in the fixed-width form. */
export function formatMs(ms: number, subTicks = 0): string {
  const iso = new Date(Math.floor(ms)).toISOString();
  // The common case needs no BigInt: a four-digit year and 0–9999 extra ticks just extend the string.
  if (iso.length === 24 && iso.charCodeAt(0) !== 45 && subTicks >= 0 && subTicks <= 9999 && Number.isInteger(subTicks)) {
    return `${iso.slice(0, 23)}${String(subTicks).padStart(4, '0')}Z`;
  }
  return formatTicks(BigInt(Math.floor(ms)) * TICKS_PER_MS + BigInt(Math.trunc(subTicks)));
}

/** Epoch milliseconds of a fixed-width instant (sub-millisecond digits dropped). */
export function instantToMs(instant: string): number {
  return Date.parse(`${instant.slice(0, 23)}Z`);
}

const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,}))?)?)?(?:([Zz])|([+\- ])(\d{2}):?(\d{2}))?$/;

/**
 * Parses an ISO 8601 date-time the way the API binds its DateTime parameters: a value without a zone is
 * UTC, an offset is applied, up to 7 fractional digits are kept (more are truncated: a tick is the
 * smallest unit). A "+" that arrived unencoded in a query string reads as a space and is accepted as "+".
 * Returns the fixed-width instant, or undefined when the text is not such a date-time.
 */
export function parseDateTime(text: string): string | undefined {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const [hour, minute, second] = [Number(m[4] ?? 0), Number(m[5] ?? 0), Number(m[6] ?? 0)];
  if (month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || second > 59) return undefined;
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, 0);
  // setUTCFullYear rolls 31 February over into March; a real date survives the round trip.
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) {
    return undefined;
  }
  let ticks = BigInt(date.getTime()) * TICKS_PER_MS;
  ticks += BigInt((m[7] ?? '').slice(0, 7).padEnd(7, '0'));
  if (m[9] !== undefined) {
    const offsetHours = Number(m[10]);
    const offsetMinutes = Number(m[11]);
    if (offsetHours > 14 || offsetMinutes > 59) return undefined;
    const offsetTicks = BigInt((offsetHours * 60 + offsetMinutes) * 60_000) * TICKS_PER_MS;
    // 10:00+02:00 is 08:00Z: an eastern offset is subtracted.
    ticks += m[9] === '-' ? offsetTicks : -offsetTicks;
  }
  if (ticks < MIN_TICKS) return undefined;
  try {
    return formatTicks(ticks);
  } catch {
    return undefined;
  }
}

const DURATION =
  /^P(?:(\d+(?:[.,]\d+)?)Y)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)W)?(?:(\d+(?:[.,]\d+)?)D)?(?:T(?:(\d+(?:[.,]\d+)?)H)?(?:(\d+(?:[.,]\d+)?)M)?(?:(\d+(?:[.,]\d+)?)S)?)?$/i;

const MS_PER_UNIT = [
  365 * 86_400_000, // Y: .NET's XmlConvert counts a year as 365 days
  30 * 86_400_000, // M: and a month as 30
  7 * 86_400_000,
  86_400_000,
  3_600_000,
  60_000,
  1_000,
];

/**
 * Parses an ISO 8601 duration (PT10M, P1D, P1DT2H30M, PT0.5S) into ticks; undefined when it is not one.
 * Negative durations are refused: `ago` looks back, never forward.
 */
export function parseDuration(text: string): bigint | undefined {
  const value = text.trim();
  const m = DURATION.exec(value);
  // "P" and "P1DT" match the pattern but carry no component after the designator.
  if (!m || /^P$/i.test(value) || /T$/i.test(value)) return undefined;
  let ticks = 0n;
  let any = false;
  for (let i = 0; i < MS_PER_UNIT.length; i++) {
    const part = m[i + 1];
    if (part === undefined) continue;
    any = true;
    const [whole, fraction = ''] = part.split(/[.,]/);
    const unitTicks = BigInt(MS_PER_UNIT[i]) * TICKS_PER_MS;
    ticks += BigInt(whole) * unitTicks;
    if (fraction) ticks += BigInt(Math.round(Number(`0.${fraction}`) * Number(unitTicks)));
  }
  return any ? ticks : undefined;
}
