import { DateTime } from 'luxon';
import { detectionTime, keyToMillis } from './checkpoint';
import type { Detection, DetectionAccessor } from '../services/detection';
import { DefenderError } from '../errors';
import { type AscendingPage, InstantBeyondPaging, OrderByNotHonoured } from '../services/graph';
import { megabytes } from '../transport/http';
import { message } from '../messages';
import { type DetectionQuery, formatTime, toSearchParams } from './query';
import type { DetectionsSource } from '../services/siem';
import { BudgetMeter, type SliceBudget, SliceOverflow } from './slice-budget';

/**
 * One slice of a pull: detections as the service sent them (not yet deduplicated or ordered), with their
 * time keys, and the part of the window they cover. The next slice starts at this one's `untilMs`.
 */
export interface RawSlice {
  detections: Detection[];
  /** timeKey of each detection's time, in the same order. */
  times: string[];
  /** Epoch ms of the end of the window part covered, inclusive; undefined when the service paged (Graph). */
  untilMs?: number;
  /** Nothing follows in this pull. */
  final: boolean;
}

/** The window of a pull, to the millisecond, both ends inclusive as the API reads them. */
export interface PullWindow {
  sinceMs: number;
  untilMs: number;
}

/** A source that can hand out a window oldest first, page by page (Graph with `$orderby`). */
export interface AscendingSource {
  oldestFirst(params: URLSearchParams, budget: SliceBudget): AsyncIterable<AscendingPage>;
}

export type SlicedSource = DetectionsSource & Partial<AscendingSource>;

export interface SlicerOptions {
  budget: SliceBudget;
  /** maxResponseMB: what one millisecond may hold when it holds more than a slice. */
  maxResponseBytes: number;
  accessor: DetectionAccessor;
  /** Counts every page asked. */
  onPage?: () => void;
}

/** Of a slice's budget, how much the next window part is sized to fill, so most parts fit at the first try. */
const FILL = 0.75;
/** How fast the window parts may grow after a sparse part. */
const MAX_GROWTH = 8;

const MS = (ms: number): DateTime => DateTime.fromMillis(ms, { zone: 'utc' });

/**
 * A window worked through oldest first in slices that each fit the budget, by cutting it in time. The SIEM
 * API answers the most recent `limit` detections of a window, so a part is read newest first and, while a
 * page is full, paged backwards as before. A part whose answers outgrow the budget is not kept: it is asked
 * again narrower, sized from what the overflowing answer showed of the density. A part one millisecond wide
 * cannot be cut: it is read with the whole of maxResponseMB, and only if even that overflows is it an error.
 *
 * `firstParams` is asked first, as it is: an explicit query stays exactly the query the user gave unless its
 * answer outgrows a slice; the window is cut only then.
 */
export async function* timeSlices(
  source: DetectionsSource,
  filters: DetectionQuery,
  window: PullWindow,
  options: SlicerOptions,
  firstParams?: URLSearchParams,
): AsyncGenerator<RawSlice> {
  let lo = window.sinceMs;
  let span = Math.max(1, window.untilMs - lo);
  // Detections per millisecond, as last seen: sizes the next part so that it fills FILL of a slice.
  let density: number | undefined;
  // Bytes per detection, as last seen: what fits a slice is bounded by its bytes as much as by its count.
  let bytesPer: number | undefined;
  const fits = (): number => Math.max(1, Math.min(options.budget.maxCount, bytesPer ? options.budget.maxBytes / bytesPer : Infinity)) * FILL;
  let exact = firstParams;
  for (;;) {
    const hi = Math.min(window.untilMs, lo + span);
    const final = hi >= window.untilMs;
    let part: { detections: Detection[]; times: string[] };
    const meter = new BudgetMeter(options.budget);
    try {
      part = await readPart(source, filters, lo, hi, meter, options, exact);
    } catch (err) {
      const overflow = asOverflow(err);
      if (!overflow) throw err;
      exact = undefined;
      if (hi - lo > 1) {
        density = overflowDensity(overflow, hi - lo) ?? density;
        if (overflow.seen.count > 0 && overflow.seen.bytes > 0) bytesPer = overflow.seen.bytes / overflow.seen.count;
        span = narrower(hi - lo, density, fits());
        continue;
      }
      // One millisecond holds more than a slice: it cannot be cut, so it is read with the user's cap.
      try {
        part = await readPart(source, filters, lo, hi, new BudgetMeter({ maxCount: Infinity, maxBytes: options.maxResponseBytes }), options);
      } catch (inner) {
        if (!asOverflow(inner)) throw inner;
        throw new DefenderError('TOO_LARGE', message('slice.instant-too-large', { time: formatTime(MS(lo)), limit: megabytes(options.maxResponseBytes) }));
      }
    }
    exact = undefined;
    yield { ...part, untilMs: hi, final };
    if (final) return;
    const count = part.detections.length;
    if (count > 0) {
      density = count / (hi - lo);
      if (meter.bytes > 0) bytesPer = meter.bytes / count;
    }
    span = wider(count, hi - lo, density, fits());
    // The API's bounds are inclusive: what sits exactly on `hi` comes again in the next part, and the dedupe drops it.
    lo = hi;
  }
}

/**
 * Graph's pages oldest first, one slice each. When Graph will not order (it refused or ignored `$orderby`)
 * the window is cut in time instead, as for the SIEM API.
 */
export async function* ascendingSlices(
  source: SlicedSource,
  filters: DetectionQuery,
  window: PullWindow,
  options: SlicerOptions,
): AsyncGenerator<RawSlice> {
  let rest = window;
  if (source.oldestFirst) {
    const params = toSearchParams({ ...filters, limit: undefined, sinceTimeUtc: MS(window.sinceMs), untilTimeUtc: MS(window.untilMs) });
    const budget = { ...options.budget, maxCount: Math.min(options.budget.maxCount, filters.limit ?? options.budget.maxCount) };
    try {
      for await (const page of source.oldestFirst(params, budget)) {
        options.onPage?.();
        const times = page.detections.map((d) => detectionTime(d, options.accessor));
        // Later pages are no older than this one's newest: that is where the next slice starts.
        const newest = times.reduce((a, b) => (b > a ? b : a), '');
        const untilMs = newest === '' ? undefined : keyToMillis(newest, 'floor');
        yield { detections: page.detections, times, untilMs, final: page.final };
        if (untilMs !== undefined) rest = { sinceMs: untilMs, untilMs: window.untilMs };
      }
      return;
    } catch (err) {
      // Graph would not order: nothing was handed out yet. A page larger than maxResponseMB: the rest of the
      // window is cut in time, where a part can be made as small as needed. Either way time slices go on
      // from where the pages stopped. An instant Graph will not page through is no narrower in time slices.
      if (err instanceof InstantBeyondPaging) throw err;
      if (!(err instanceof OrderByNotHonoured) && !(err instanceof DefenderError && err.code === 'TOO_LARGE')) throw err;
    }
  }
  yield* timeSlices(source, filters, rest, options);
}

/**
 * The detections of [lo, hi]: one request, paged backwards while a page is full (`limit`), every answer
 * counted against the meter. With `exact`, that request is asked as it is and not paged (an explicit query).
 */
async function readPart(
  source: DetectionsSource,
  filters: DetectionQuery,
  lo: number,
  hi: number,
  meter: BudgetMeter,
  options: SlicerOptions,
  exact?: URLSearchParams,
): Promise<{ detections: Detection[]; times: string[] }> {
  const detections: Detection[] = [];
  const times: string[] = [];
  let top = hi;
  let limit = filters.limit;
  for (;;) {
    const params = exact ?? toSearchParams({ ...filters, limit, sinceTimeUtc: MS(lo), untilTimeUtc: MS(top) });
    const page = await source.fetchPage(params, { meter });
    options.onPage?.();
    let oldest = '';
    for (const d of page) {
      const t = detectionTime(d, options.accessor);
      if (t !== '' && (oldest === '' || t < oldest)) oldest = t;
      detections.push(d);
      times.push(t);
    }
    if (exact || limit === undefined || page.length < limit) return { detections, times };
    // A full page: older detections may be waiting below the oldest one received. Rounded up, since the API
    // compares at 100 ns and we can only send milliseconds; the repeats this brings are dropped by the dedupe.
    const next = oldest === '' ? top : keyToMillis(oldest, 'ceil');
    if (next < top) top = next;
    // More than `limit` detections share one millisecond, so the top cannot move: ask for the rest of the
    // part without a limit rather than lose them or loop forever.
    else limit = undefined;
  }
}

/**
 * An answer past the slice's budget, or past maxResponseMB itself (the transport's cap, when the budget is
 * as large): both say "cut narrower"; only the second says nothing of what it held.
 */
function asOverflow(err: unknown): SliceOverflow | undefined {
  if (err instanceof SliceOverflow) return err;
  // Graph would not page through one instant: no narrower window helps.
  if (err instanceof InstantBeyondPaging) return undefined;
  if (err instanceof DefenderError && err.code === 'TOO_LARGE') return new SliceOverflow({ count: 0, bytes: 0, newest: '', oldest: '' });
  return undefined;
}

/** Detections per millisecond in what an overflowing answer showed; undefined when it showed no times. */
function overflowDensity(overflow: SliceOverflow, span: number): number | undefined {
  const { count, newest, oldest } = overflow.seen;
  if (count === 0) return undefined;
  const seenSpan = newest !== '' && oldest !== '' ? Math.max(1, keyToMillis(newest, 'ceil') - keyToMillis(oldest, 'floor')) : span;
  return count / seenSpan;
}

/** The width of the next try after a part of `span` ms overflowed: at most half of it. */
function narrower(span: number, density: number | undefined, fits: number): number {
  const estimate = density === undefined || !Number.isFinite(density) || density <= 0 ? span / 4 : fits / density;
  return Math.max(1, Math.min(Math.floor(span / 2), Math.floor(estimate)));
}

/** The width of the next part after one of `span` ms held `count` detections. */
function wider(count: number, span: number, density: number | undefined, fits: number): number {
  const most = span * MAX_GROWTH;
  if (density === undefined || !Number.isFinite(density) || density <= 0) return most;
  // An empty part says little: grow, but where an overflow showed how dense the window gets, not straight past that.
  const wanted = count > 0 ? fits / density : Math.max(2 * span, fits / density);
  return Math.max(1, Math.min(most, Math.floor(wanted)));
}
