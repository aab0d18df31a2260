import { timeKey } from './checkpoint';
import { DefenderError } from '../errors';
import { message } from '../messages';

/**
 * How much of a window one slice may hold. A pull works through its window in slices so that memory stays
 * bounded whatever the window holds: the answer to one request (or the pages of one sub-window) is read
 * only while it stays within the budget; past it the reading stops and the window is cut narrower.
 */
export interface SliceBudget {
  /** Detections in one slice. */
  maxCount: number;
  /** Bytes of answer body behind one slice. */
  maxBytes: number;
}

/**
 * 750 detections of the SIEM API's usual 2 KB, or 1.5 MB, whichever comes first. Measured with `npm run bench`
 * (BENCHMARKS.md): the objects of a slice this size are gone before V8 promotes them out of its young
 * generation, so a pull's memory stays flat whatever its size (under 0.2 × the body at 100 000 detections and
 * less at 500 000); at 1 000 (2 MB) it was 0.5 × and the pull no faster, at 500 (1 MB) a little slower. A
 * pull of 100 000 detections then takes some 180 requests, each fetched while the one before goes out.
 */
export const DEFAULT_SLICE_BUDGET: SliceBudget = { maxCount: 750, maxBytes: 1.5 * 1024 * 1024 };

/** What an answer held before it went past the budget: how many detections, over which times. */
export interface OverflowSeen {
  count: number;
  /** Body bytes read before the reading stopped. */
  bytes: number;
  /** Time keys (timeKey) of the newest and oldest detection read, '' when none had a time. */
  newest: string;
  oldest: string;
}

/**
 * An answer went past its slice budget and was not read to the end. Not a failure of the pull: the slicer
 * catches it and asks a narrower window. A DefenderError so that the HTTP layer passes it on as it is, and
 * not retryable, since the same request would overflow again.
 */
export class SliceOverflow extends DefenderError {
  constructor(readonly seen: OverflowSeen) {
    super('TOO_LARGE', message('slice.overflow', { count: seen.count }));
    this.name = 'SliceOverflow';
  }
}

interface Tally {
  count: number;
  bytes: number;
  /** The raw times of the first and the last detection read, made comparable only if the answer overflows. */
  first: unknown;
  last: unknown;
}

const EMPTY: Readonly<Tally> = Object.freeze({ count: 0, bytes: 0, first: undefined, last: undefined });

/**
 * Counts what the answers behind one slice bring against its budget, and throws SliceOverflow at the first
 * detection or byte past it. An answer counts once it was read whole: a retried request starts again from
 * what the answers before it brought.
 */
export class BudgetMeter {
  private done: Tally = { ...EMPTY };
  private tally: Tally = { ...EMPTY };

  constructor(private readonly budget: SliceBudget) {}

  /** Bytes of the answers read whole so far. */
  get bytes(): number {
    return this.done.bytes;
  }

  /** An answer begins (a request, or its retry). */
  beginAnswer(): void {
    this.tally = { ...this.done };
  }

  /** The answer was read whole. */
  endAnswer(): void {
    this.done = this.tally;
  }

  /** Body bytes as they arrive. */
  addBytes(n: number): void {
    this.tally.bytes += n;
    if (this.tally.bytes > this.budget.maxBytes) this.overflow();
  }

  /** One detection read, by the time the window is on (LastProcessedTimeUtc, lastUpdateDateTime). */
  addDetection(time: unknown): void {
    const tally = this.tally;
    if (tally.count === 0) tally.first = time;
    tally.last = time;
    if (++tally.count > this.budget.maxCount) this.overflow();
  }

  /**
   * The SIEM API answers newest first, so the first and last detection read span what was seen; for an answer
   * in another order they are a sample of it, which is all the next cut needs.
   */
  private overflow(): never {
    const { count, bytes, first, last } = this.tally;
    const [a, b] = [timeKey(first), timeKey(last)];
    throw new SliceOverflow({ count, bytes, newest: a > b ? a : b, oldest: a === '' || (b !== '' && b < a) ? b : a });
  }
}
