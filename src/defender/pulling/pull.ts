import { DateTime, Duration } from 'luxon';
import { Checkpoint, CheckpointWindow, detectionTime, keyTime, keyToMillis, oldestFirstOrder, resumeFrom, timeKey, withParts } from './checkpoint';
import { DeliveryLedger, inherit, MAX_OWED, type Owed } from '../delivery/ledger';
import { Detection, DetectionAccessor, SIEM_ACCESSOR } from '../services/detection';
import { DefenderError } from '../errors';
import { AlertMemory, type EventMode, type Verdict } from './lifecycle';
import { message } from '../messages';
import { DetectionQuery, describeQuery, formatTime, hasTimeRange, toSearchParams } from './query';
import { DEFAULT_SLICE_BUDGET, type SliceBudget } from './slice-budget';
import { ascendingSlices, type PullWindow, type RawSlice, type SlicedSource, timeSlices } from './slicer';

/** Detections handed out between yields to the event loop, so the editor and other flows stay responsive. */
const YIELD_EVERY = 500;
/** …or sooner, once handing out has held the event loop this long (heavy downstream nodes, cold code). */
const YIELD_AFTER_MS = 10;
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** How long a node remembers an alert it sent, by default: 30 days. */
export const DEFAULT_REMEMBER_MS = 30 * 24 * 60 * 60 * 1000;

/** The SIEM API answers the last two hours when a query gives no time; a window cut from it does the same. */
const DEFAULT_WINDOW = Duration.fromObject({ hours: 2 });

export interface IncrementalSettings {
  /** How far back the first pull looks. */
  initialAgo: Duration;
  /** How far behind the checkpoint each pull starts again, for detections that arrive late. */
  overlap: Duration;
}

/** Where the detections of a pull go, one at a time, oldest first. */
export interface PullSink {
  /**
   * One detection. `index` counts from 0 over the whole pull; `count` is the pull's total, given on every
   * detection of a pull that fits one slice and otherwise on its last detection only (the total is not
   * known before). Node-RED's Join node completes a batch from either.
   */
  deliver(detection: Detection, index: number, count: number | undefined, verdict: Verdict, delivery?: Delivery): void;
  /** Incremental pulls: the checkpoint that covers every detection delivered so far, to be stored now. */
  commit?(checkpoint: Checkpoint): Promise<void>;
  /** After each slice of a pull of several: how many detections went out so far. */
  progress?(delivered: number): void;
  /** With delivery confirmation: a version that was never confirmed after `attempts` deliveries, given up. */
  undeliverable?(detection: Detection, attempts: number): void;
}

/** With delivery confirmation: which delivery of which version a detection's message is. */
export interface Delivery {
  key: string;
  /** 1 for the first delivery, 2 for the first redelivery… */
  attempt: number;
}

export interface PullResult {
  /** Detections delivered. */
  count: number;
  /** Detections received again and dropped: overlap repeats and repeats at page and slice boundaries. */
  duplicates: number;
  /** The parameters of the first request: the window as asked. */
  query: Record<string, string | string[]>;
  since: string | null;
  until: string | null;
  /** Pages asked for (a page retried counts once here; the HTTP layer counts requests). */
  pages: number;
  /** Slices the window was worked through in (one for a pull that fits one). */
  slices: number;
  /** First versions sent, later versions sent, and versions not sent because of `events`. */
  events: { new: number; updates: number; suppressed: number };
  /** Whether this pull used and moved the checkpoint. */
  incremental: boolean;
  /** With delivery confirmation: versions sent again, given up (DELIVERY_FAILED), and owed after the pull. */
  delivery?: { redelivered: number; undelivered: number; pending: number };
  /** The checkpoint after the pull; undefined in explicit mode or before anything was ever sent. */
  nextCheckpoint?: Checkpoint;
}

/** A source of detections, and, when they are not SIEM-shaped (Graph's native alerts_v2 objects), how to read them. */
export type PullSource = SlicedSource & { readonly accessor?: DetectionAccessor };

export interface PullOptions {
  /** The answer cap (maxResponseMB); the default slice budget is cut to fit under it. */
  maxResponseBytes: number;
  /** Which versions of an alert go out, and how long the node remembers alerts (default: all, 30 days). */
  lifecycle?: { mode: EventMode; rememberMs: number };
  /** The node is closing: nothing more goes out. */
  signal?: AbortSignal;
  budget?: SliceBudget;
  now?: DateTime;
  /**
   * Delivery confirmation (incremental pulls): what the node owes. Versions owed are read again, sent again
   * when due and given up after the last try; the checkpoint does not move past the oldest one owed.
   */
  ledger?: DeliveryLedger;
  /** The clock of delivery confirmation (epoch ms). */
  clock?: () => number;
}

/** Whether a pull of this query reads and moves the checkpoint: only without an explicit time range. */
export function usesCheckpoint(query: DetectionQuery, incremental: IncrementalSettings | undefined): incremental is IncrementalSettings {
  return incremental !== undefined && !hasTimeRange(query);
}

/**
 * One pull, worked through oldest first in slices that each fit the budget, handed to `sink` detection by
 * detection. With an explicit time range it is that query (cut in time only if its answer outgrows a slice,
 * and not at all when it gives a `limit`: the most recent N cannot be cut). Otherwise it is incremental: from
 * the checkpoint (less the overlap) up to a pinned `now`, dropping what was already sent, and after each slice
 * the checkpoint moves past what went out, so a pull that fails half-way keeps what it delivered.
 *
 * The newest detection of a slice is held back until the next slice shows whether anything follows, so the
 * pull's last detection can carry the total; each commit covers only what was delivered.
 */
export async function pullDetections(
  source: PullSource,
  query: DetectionQuery,
  incremental: IncrementalSettings | undefined,
  checkpoint: Checkpoint | undefined,
  sink: PullSink,
  options: PullOptions,
): Promise<PullResult> {
  const accessor = source.accessor ?? SIEM_ACCESSOR;
  const now = options.now ?? DateTime.utc();
  const budget = options.budget ?? DEFAULT_SLICE_BUDGET;
  let pages = 0;
  const slicerOptions = {
    budget: { maxCount: budget.maxCount, maxBytes: Math.min(budget.maxBytes, options.maxResponseBytes) },
    maxResponseBytes: options.maxResponseBytes,
    accessor,
    onPage: () => pages++,
  };
  const { query: filters, since, until, limit } = splitQuery(query);
  const isIncremental = usesCheckpoint(query, incremental);
  const overlapMs = isIncremental ? incremental.overlap.toMillis() : 0;

  let firstParams: URLSearchParams;
  let slices: AsyncIterable<RawSlice>;
  let window: PullWindow;
  if (isIncremental) {
    const resumed = checkpoint ? DateTime.fromMillis(resumeFrom(checkpoint, overlapMs), { zone: 'utc' }) : now.minus(incremental.initialAgo);
    // A checkpoint ahead of this clock (another host's, or a clock set back) asks an empty window, not an inverted one.
    const sinceTime = resumed > now ? now : resumed;
    // `until` is pinned to the start of the pull, so slices and the next pull agree on where this one ended.
    window = { sinceMs: sinceTime.toMillis(), untilMs: now.toMillis() };
    firstParams = toSearchParams({ ...query, sinceTimeUtc: sinceTime, untilTimeUtc: now });
    slices = source.oldestFirst ? ascendingSlices(source, { ...filters, limit }, window, slicerOptions) : timeSlices(source, { ...filters, limit }, window, slicerOptions);
  } else {
    firstParams = toSearchParams(query);
    window = explicitWindow(since, until, query.ago, now);
    if (limit !== undefined) {
      // The most recent N of the range: one answer, which its limit bounds.
      slices = oneAnswer(source, firstParams, accessor, () => pages++);
    } else if (source.oldestFirst) {
      slices = ascendingSlices(source, filters, window, slicerOptions);
    } else {
      slices = timeSlices(source, filters, window, slicerOptions, firstParams);
    }
  }

  // Dedupe keys, with their time keys: the checkpoint's (the overlap repeats), then each slice's, forgotten once
  // the pull has moved past them.
  const seen = new Map<string, string>(isIncremental ? (checkpoint?.keys ?? []).map((key) => [key, keyTime(key)]) : []);
  const progress = isIncremental ? new CheckpointWindow(checkpoint, overlapMs) : undefined;
  // What the node remembers of the alerts it sent lives with the checkpoint. An explicit pull remembers
  // nothing (a memory of every alert of an explicit range would grow with the range): each alert is new to it.
  const lifecycle = options.lifecycle ?? { mode: 'all', rememberMs: DEFAULT_REMEMBER_MS };
  const memory = isIncremental ? new AlertMemory(checkpoint?.alerts, now.toMillis(), lifecycle.rememberMs, checkpoint?.highest) : undefined;
  const events = { new: 0, updates: 0, suppressed: 0 };
  // Delivery confirmation: what is owed, which of it this pull met again, and what it sent again or gave up.
  const ledger = isIncremental && memory ? options.ledger : undefined;
  const clock = options.clock ?? Date.now;
  const owedAtStart = ledger?.keys() ?? [];
  // The alerts owed when the pull began: a later version of one goes out in its place (within a pull, two
  // versions both go out). Usually none: then no detection is looked up.
  const owedAlerts = ledger?.byAlert() ?? new Map<string, Owed>();
  const met = new Set<string>();
  const redelivery = { redelivered: 0, undelivered: 0 };
  let stoppedEarly = false;
  let duplicates = 0;
  let delivered = 0;
  let sliceCount = 0;
  let current = isIncremental ? checkpoint : undefined;
  let uncommitted = 0;
  // Where the alert memory stood after the last detection that went out (or was passed over), and at the
  // last commit: what goes back if the rest does not go out.
  let settledMark = memory?.position ?? 0;
  let committedMark = settledMark;
  // The newest detection to go out is held back until it is known whether more follow (so the last can carry
  // the total), with what the checkpoint needs of the versions not sent that came after it: the checkpoint
  // must not pass the held detection before it went. Of those, only the ones inside the overlap are kept.
  let held: { item: Classified; after: Passed[]; start: number } | undefined;
  let pausedAt = Date.now();

  const pass = (item: Passed): void => {
    settledMark = item.mark;
    // A version owed from before is in the checkpoint already.
    if (!progress || item.owed) return;
    progress.addKey(item.key, item.raw, item.time);
    uncommitted++;
  };
  // Synchronous, so a pull of 100 000 detections does not make 100 000 promises: it answers whether it is time
  // to let the event loop run, and the caller then awaits `pause`.
  const deliver = (item: Classified, count: number | undefined): boolean => {
    // A node that is closing delivers nothing more: the flow behind it may be gone already. Nor does one
    // whose lease passed to another replica: that one goes on from the last commit.
    if (options.signal?.aborted) throw stopped(options.signal);
    if (ledger) {
      const attempt = (item.owed?.attempt ?? 0) + 1;
      ledger.sent(item.key, item.alert, item.time, item.verdict, attempt, clock());
      if (attempt > 1) redelivery.redelivered++;
      sink.deliver(item.detection, delivered, count, item.verdict, { key: item.key, attempt });
    } else {
      sink.deliver(item.detection, delivered, count, item.verdict);
    }
    delivered++;
    if (item.verdict.event === 'new') events.new++;
    else events.updates++;
    pass(item);
    return delivered % YIELD_EVERY === 0 || ((delivered & 31) === 0 && Date.now() - pausedAt > YIELD_AFTER_MS);
  };
  const pause = async (): Promise<void> => {
    await yieldToEventLoop();
    pausedAt = Date.now();
  };
  // With confirmation, a delivery waits while too many are on their way: the flow's pace sets the pull's.
  // Undefined when there is room, so the usual case awaits nothing.
  const room = (): Promise<void> | undefined => ledger?.room(clock(), options.signal);
  const release = async (count: number | undefined): Promise<void> => {
    if (!held) return;
    const { item, after, start } = held;
    held = undefined;
    const wait = room();
    if (wait) await wait;
    if (deliver(item, count)) await pause();
    for (let k = start; k < after.length; k++) pass(after[k]);
  };
  const holdAfter = (item: Classified): void => {
    if (!held) return;
    const after = held.after;
    after.push(passed(item));
    // What falls out of the overlap below the newest needs no key in the checkpoint: drop it as it goes.
    const floor = timeKey(new Date(keyToMillis(item.time, 'floor') - overlapMs).toISOString());
    while (held.start < after.length - 1 && after[held.start].time < floor) held.start++;
    if (held.start > 1024 && held.start > after.length / 2) {
      after.splice(0, held.start - 1);
      held.start = 1;
    }
  };
  // Only what went out (or was passed over) is committed, and only once it did: Node-RED hands messages on
  // in the next turn of the event loop, so that turn comes first (a flow stopped before it would drop them).
  const commit = async (): Promise<void> => {
    if (!progress || uncommitted === 0) return;
    await yieldToEventLoop();
    // Closed meanwhile: the flow may have stopped before those messages reached it; they are not committed.
    if (options.signal?.aborted) throw stopped(options.signal);
    uncommitted = 0;
    const next = progress.current(ledger?.lowWater());
    if (next) current = memory ? withParts(next, { alerts: memory.state }) : next;
    if (ledger) {
      ledger.commit();
      if (current) current = withParts(current, { pending: ledger.state() });
    }
    if (current) await sink.commit?.(current);
    committedMark = settledMark;
    memory?.settle(committedMark);
  };

  // The next slice is asked for as soon as this one is in hand, so the service prepares and sends it while
  // this one goes out; at most two slices are in memory.
  const iterator = slices[Symbol.asyncIterator]();
  let ahead: Promise<IteratorResult<RawSlice>> | undefined = iterator.next();
  try {
    while (ahead) {
      // The destination has been failing for a while: what is owed is read again first, and new versions
      // wait for a later pull (the checkpoint stays before them).
      if (ledger && ledger.overdue(clock()) >= MAX_OWED) {
        await iterator.return?.(undefined).catch(() => undefined);
        stoppedEarly = true;
        break;
      }
      const step: IteratorResult<RawSlice> = await ahead;
      if (step.done) break;
      const slice: RawSlice = step.value;
      ahead = slice.final ? undefined : iterator.next();
      // A failure of the slice ahead is met when it is awaited, after this slice went out.
      ahead?.catch(() => undefined);
      sliceCount++;
      const fresh: number[] = [];
      const keys: string[] = new Array(slice.detections.length);
      // Versions owed a delivery, met again: by their position in the slice.
      const owedAt = new Map<number, Owed>();
      for (let i = 0; i < slice.detections.length; i++) {
        const key = (keys[i] = accessor.key(slice.detections[i]));
        // A version owed is in the checkpoint's keys, or was sent earlier in this pull: only a key seen may be.
        const owed = ledger && seen.has(key) ? ledger.get(key) : undefined;
        if (owed && !met.has(key)) {
          met.add(key);
          ledger?.met(key);
          seen.set(key, slice.times[i]);
          owedAt.set(i, owed);
          fresh.push(i);
          continue;
        }
        if (seen.has(key)) {
          duplicates++;
          continue;
        }
        seen.set(key, slice.times[i]);
        fresh.push(i);
      }
      // In order, so a later version of an alert is judged against the earlier one of the same slice.
      const order = oldestFirstOrder(fresh, slice.times);
      const items: Classified[] = new Array(order.length);
      for (let k = 0; k < order.length; k++) {
        const i = order[k];
        const detection = slice.detections[i];
        const raw = progress ? accessor.time(detection) : undefined;
        const owed = owedAt.get(i);
        if (owed && ledger) {
          const decision = ledger.decide(owed, clock());
          if (decision === 'give-up') {
            // Reported once, and passed over: one version the destination always refuses holds nothing back.
            ledger.settle(owed.key);
            redelivery.undelivered++;
            sink.undeliverable?.(detection, owed.attempt);
          }
          // Sent again now, it is what the flow gets of its alert: a later detection of the alert in this pull is
          // judged against it, as after a first delivery, rather than sent in its place as new a second time.
          if (decision === 'again' && owedAlerts.get(owed.alert) === owed) owedAlerts.delete(owed.alert);
          const verdict: Verdict = { event: owed.event, changes: owed.changes, ...(owed.previous ? { previous: owed.previous } : {}), send: decision === 'again' };
          items[k] = { detection, key: keys[i], raw, time: slice.times[i], alert: owed.alert, verdict, mark: memory?.position ?? 0, owed };
          continue;
        }
        const facts = memory ? accessor.facts(detection) : undefined;
        // A later version of an alert whose earlier version is still owed goes out in its place.
        const owedBefore = facts && owedAlerts.size > 0 ? owedAlerts.get(facts.id) : undefined;
        const earlier = owedBefore && owedBefore.time < slice.times[i] && ledger?.get(owedBefore.key) === owedBefore ? owedBefore : undefined;
        let verdict = memory && facts ? memory.observe(facts, slice.times[i], lifecycle.mode, earlier !== undefined) : FIRST_SEEN;
        if (earlier && ledger) {
          verdict = inherit(earlier, verdict);
          ledger.settle(earlier.key);
        }
        if (!verdict.send) events.suppressed++;
        // One literal per detection, built whole: a hundred thousand of these are made in a large pull.
        items[k] = { detection, key: keys[i], raw, time: slice.times[i], alert: facts?.id ?? '', verdict, mark: memory?.position ?? 0 };
      }
      const sending = items.reduce((n, item) => n + (item.verdict.send ? 1 : 0), 0);
      const whole = slice.final && sliceCount === 1;
      if (held && (sending > 0 || slice.final)) await release(slice.final && sending === 0 ? delivered + 1 : undefined);
      const total = delivered + sending;
      let sent = 0;
      for (const item of items) {
        if (held) holdAfter(item);
        else if (!item.verdict.send) pass(item);
        else if (++sent === sending && !slice.final) held = { item, after: [], start: 0 };
        else {
          const wait = room();
          if (wait) await wait;
          if (deliver(item, whole || sent === sending ? total : undefined)) await pause();
        }
      }
      await commit();
      if (!whole) sink.progress?.(delivered);
      // Later parts of the window start at this one's end: only keys from there on can come again.
      if (slice.untilMs !== undefined) forgetBefore(seen, slice.untilMs);
    }
    // Insurance: slices that end without a final one still let the held detection go.
    await release(delivered + 1);
    await commit();
    // What was owed when the pull began and the whole window did not bring again is no longer there.
    if (ledger && !stoppedEarly) ledger.missed(owedAtStart.filter((key) => !met.has(key)));
  } catch (err) {
    await iterator.return?.(undefined).catch(() => undefined);
    if (err instanceof DefenderError && STOPS.has(err.code)) {
      // Closing: what went out since the last commit may not have reached the flow behind. It comes again
      // with the next pull (the checkpoint, the alert memory and what is owed stay where they were committed).
      // A lease lost or a store that cannot be written: nothing more may go out, since nothing more can be
      // committed; what went out since the last commit comes again from whoever pulls next.
      memory?.rollback(committedMark);
      ledger?.rollback();
    } else {
      // What was fetched and is new still goes out, as the last of this pull, so a Join completes with what came.
      await release(delivered + 1);
      await commit();
      memory?.rollback(settledMark);
    }
    throw err;
  }

  return {
    count: delivered,
    duplicates,
    query: describeQuery(firstParams, Object.keys(query.properties ?? {})),
    since: isIncremental ? formatTime(DateTime.fromMillis(window.sinceMs, { zone: 'utc' })) : firstParams.get('sinceTimeUtc'),
    until: isIncremental ? formatTime(now) : firstParams.get('untilTimeUtc'),
    pages,
    slices: sliceCount,
    events,
    incremental: isIncremental,
    nextCheckpoint: current,
    ...(ledger ? { delivery: { ...redelivery, pending: ledger.size } } : {}),
  };
}

/** Failures after which a pull sends nothing more, not even what it holds: they forbid the commit that would follow. */
const STOPS: ReadonlySet<string> = new Set(['CANCELLED', 'LEASE_LOST', 'COORDINATION_UNAVAILABLE']);

/** Why a pull must stop: the reason its signal was aborted with, when that is one of ours, else closing. */
function stopped(signal: AbortSignal): DefenderError {
  const reason: unknown = signal.reason;
  return reason instanceof DefenderError ? reason : new DefenderError('CANCELLED', message('cancelled'));
}

/** What every alert is to an explicit pull. */
const FIRST_SEEN: Verdict = Object.freeze({ event: 'new', changes: null, send: true });

/** What the checkpoint needs of a detection that went out or was passed over, and where the memory stood after it. */
interface Passed {
  key: string;
  /** Its time as the service sent it. */
  raw: unknown;
  time: string;
  mark: number;
  /** A version owed a delivery from before: the checkpoint has its key already. */
  owed?: Owed;
}

/** One detection of a slice, with what it is to the node. */
interface Classified extends Passed {
  detection: Detection;
  verdict: Verdict;
  /** The alert's id (delivery confirmation: a later version takes over what an earlier one owes). */
  alert: string;
}

/** A detection passed over keeps only what the checkpoint needs. */
function passed(item: Classified): Passed {
  return { key: item.key, raw: item.raw, time: item.time, mark: item.mark, ...(item.owed ? { owed: item.owed } : {}) };
}

/** The query's filters apart from its time range and limit. */
function splitQuery(query: DetectionQuery): { query: DetectionQuery; since?: DateTime; until?: DateTime; limit?: number } {
  const { sinceTimeUtc, untilTimeUtc, ago: _ago, limit, ...filters } = query;
  return { query: filters, since: sinceTimeUtc, until: untilTimeUtc, limit };
}

/** The window an explicit query asks, as the API reads it: `ago` back from now, or the last two hours. */
function explicitWindow(since: DateTime | undefined, until: DateTime | undefined, ago: Duration | undefined, now: DateTime): PullWindow {
  const end = until ?? now;
  const start = since ?? (ago ? now.minus(ago) : end.minus(DEFAULT_WINDOW));
  return { sinceMs: start.toMillis(), untilMs: end.toMillis() };
}

/** A query that cannot be cut: its one answer is one slice. */
async function* oneAnswer(source: PullSource, params: URLSearchParams, accessor: DetectionAccessor, onPage: () => void): AsyncGenerator<RawSlice> {
  const detections = await source.fetchPage(params);
  onPage();
  const times = new Array<string>(detections.length);
  for (let i = 0; i < detections.length; i++) {
    if (i > 0 && i % 5000 === 0) await yieldToEventLoop();
    times[i] = detectionTime(detections[i], accessor);
  }
  yield { detections, times, final: true };
}

/** Drops the dedupe keys of detections older than `ms`, which no later part of the pull can bring again. */
function forgetBefore(seen: Map<string, string>, ms: number): void {
  const floor = timeKey(new Date(ms).toISOString());
  for (const [key, time] of seen) if (time < floor) seen.delete(key);
}
