import { DateTime, Duration } from 'luxon';
import { advanceCheckpoint, Checkpoint, detectionTime, keyToMillis, resumeFrom, sortOldestFirst } from './checkpoint';
import { Detection, DetectionAccessor, SIEM_ACCESSOR } from './detection';
import { DetectionQuery, describeQuery, formatTime, hasTimeRange, toSearchParams } from './query';
import type { DetectionsSource } from './siem';

/** Detections handled between yields to the event loop. */
const YIELD_EVERY = 5000;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

export interface IncrementalSettings {
  /** How far back the first pull looks. */
  initialAgo: Duration;
  /** How far behind the checkpoint each pull starts again, for detections that arrive late. */
  overlap: Duration;
}

export interface PullResult {
  /** New detections, oldest first by LastProcessedTimeUtc. */
  detections: Detection[];
  /** Detections received again and dropped: overlap repeats and page-boundary repeats. */
  duplicates: number;
  /** The parameters of the first request: the window as asked. */
  query: Record<string, string | string[]>;
  since: string | null;
  until: string | null;
  /** Pages asked for (a page retried counts once here; the HTTP layer counts requests). */
  pages: number;
  /** Whether this pull used and will move the checkpoint. */
  incremental: boolean;
  /** The checkpoint to store once every detection was sent; undefined in explicit mode. */
  nextCheckpoint?: Checkpoint;
}

/**
 * A source of detections, and, when its detections are not SIEM-shaped (Graph's native alerts_v2 objects),
 * how to read their identity and time.
 */
export type PullSource = DetectionsSource & { readonly accessor?: DetectionAccessor };

/** Whether a pull of this query reads and moves the checkpoint: only without an explicit time range. */
export function usesCheckpoint(query: DetectionQuery, incremental: IncrementalSettings | undefined): incremental is IncrementalSettings {
  return incremental !== undefined && !hasTimeRange(query);
}

/**
 * One pull. With an explicit time range it is exactly that query. Otherwise it is incremental: from the
 * checkpoint (less the overlap) up to a pinned `now`, paging backwards while a page is full, and dropping
 * what was already sent.
 */
export async function pullDetections(
  source: PullSource,
  query: DetectionQuery,
  incremental: IncrementalSettings | undefined,
  checkpoint: Checkpoint | undefined,
  now: DateTime = DateTime.utc(),
): Promise<PullResult> {
  const accessor = source.accessor ?? SIEM_ACCESSOR;
  if (!usesCheckpoint(query, incremental)) {
    const params = toSearchParams(query);
    const detections = await source.fetchPage(params);
    const times: string[] = new Array(detections.length);
    for (let i = 0; i < detections.length; i++) {
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToEventLoop();
      times[i] = detectionTime(detections[i], accessor);
    }
    return {
      detections: sortOldestFirst(detections, accessor, times),
      duplicates: 0,
      query: describeQuery(params),
      since: params.get('sinceTimeUtc'),
      until: params.get('untilTimeUtc'),
      pages: 1,
      incremental: false,
    };
  }

  const overlapMs = incremental.overlap.toMillis();
  const since = checkpoint
    ? DateTime.fromMillis(resumeFrom(checkpoint, overlapMs), { zone: 'utc' })
    : now.minus(incremental.initialAgo);
  // `until` is pinned to the start of the pull, so pages and the next pull agree on where this one ended.
  let until = now;
  const seen = new Set<string>(checkpoint?.keys ?? []);
  const fresh: Detection[] = [];
  // Each detection's time is read once and serves dedupe, paging, order and the checkpoint.
  const freshTimes: string[] = [];
  let duplicates = 0;
  let pages = 0;
  let firstParams: URLSearchParams | undefined;
  let limit = query.limit;

  for (;;) {
    const params = toSearchParams({ ...query, limit, sinceTimeUtc: since, untilTimeUtc: until });
    firstParams ??= params;
    const page = await source.fetchPage(params);
    pages++;
    let oldest = '';
    for (let i = 0; i < page.length; i++) {
      // A large page is worked through in slices, so flows and the editor get a turn in between.
      if (i > 0 && i % YIELD_EVERY === 0) await yieldToEventLoop();
      const d = page[i];
      const t = detectionTime(d, accessor);
      if (t !== '' && (oldest === '' || t < oldest)) oldest = t;
      const key = accessor.key(d);
      if (seen.has(key)) {
        duplicates++;
        continue;
      }
      seen.add(key);
      fresh.push(d);
      freshTimes.push(t);
    }
    // The API returns the *most recent* `limit` detections of the window, so a full page means older
    // ones may be waiting: ask again with the window's top moved down to the oldest time received.
    if (limit === undefined || page.length < limit) break;
    // Rounded up: the API compares at 100 ns, we can only send milliseconds; the repeats this brings
    // back are dropped by the dedupe above.
    const nextUntil = oldest === '' ? until : DateTime.fromMillis(keyToMillis(oldest, 'ceil'), { zone: 'utc' });
    if (nextUntil < until) {
      until = nextUntil;
      continue;
    }
    // More than `limit` detections share one millisecond, so the boundary cannot move: ask for the rest
    // of the window without a limit rather than lose them or loop forever.
    limit = undefined;
  }

  return {
    detections: sortOldestFirst(fresh, accessor, freshTimes),
    duplicates,
    query: describeQuery(firstParams),
    since: formatTime(since),
    until: formatTime(now),
    pages,
    incremental: true,
    nextCheckpoint: advanceCheckpoint(checkpoint, fresh, overlapMs, accessor, freshTimes) ?? checkpoint,
  };
}
