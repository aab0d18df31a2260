import type { Detection } from '../defender/services/detection';
import { parseDateTime } from './timestamps';

/** What a GET /api/alerts asks for, already validated and normalised. */
export interface DetectionFilter {
  /** Lower bound on LastProcessedTimeUtc, fixed-width form, inclusive. */
  since: string;
  /** Upper bound on LastProcessedTimeUtc, fixed-width form, inclusive. */
  until: string;
  /** Only detections that had become visible by this emulator-clock instant (epoch ms). */
  visibleBy: number;
  /** Return only the most recent N of the matches. */
  limit?: number;
  /** Device group names, any of which matches (case-insensitive). */
  machineGroups?: readonly string[];
  deviceTag?: string;
  cloudTag?: string;
}

interface StoredDetection {
  readonly detection: Detection;
  readonly fullId: string;
  /** LastProcessedTimeUtc in the fixed-width form: sorts and compares as a string. */
  readonly key: string;
  readonly visibleAt: number;
  readonly seq: number;
  readonly group: string;
  readonly deviceTags: readonly string[];
  readonly cloudTags: readonly string[];
  /** Serialised once: a big response is a join of these, not a JSON.stringify of 100 000 objects. */
  serialised?: SerialisedDetection;
  removed: boolean;
}

/** A stored detection as the Graph endpoint pages over it: its fixed-width time key and storage order. */
export interface StoredView {
  readonly detection: Detection;
  /** LastProcessedTimeUtc in the fixed-width form (Graph's lastUpdateDateTime). */
  readonly key: string;
  /** Breaks ties between equal keys: later stored, newer. */
  readonly seq: number;
}

/** One serialised detection, ready to be concatenated into a response body. */
export interface SerialisedDetection {
  readonly json: string;
  readonly bytes: number;
}

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

function tagList(value: unknown): string[] {
  return text(value)
    .split(',')
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t !== '');
}

/**
 * The detections the emulated API knows, newest first. The API keeps only the newest version of a
 * detection, so storing one under an existing FullId replaces it. Sorting is deferred to the next query,
 * so adding 100 000 detections costs one sort, not 100 000 insertions.
 */
export class DetectionStore {
  private entries: StoredDetection[] = [];
  private readonly byFullId = new Map<string, StoredDetection>();
  /** The newest stored detection of each AlertId: the alert Graph's single-alert endpoints address. */
  private readonly byAlertId = new Map<string, StoredDetection>();
  private sorted = true;
  private seq = 0;

  get size(): number {
    return this.byFullId.size;
  }

  /**
   * Stores a detection (frozen, so the cached JSON cannot drift from the object) and returns it.
   * Throws when its LastProcessedTimeUtc is not a date-time. `knownKey` is its fixed-width form when the
   * caller already has it (generated detections), which saves parsing it again.
   */
  put(detection: Detection, visibleAt: number, knownKey?: string): Detection {
    const key = knownKey ?? parseDateTime(text(detection.LastProcessedTimeUtc));
    if (key === undefined) {
      throw new RangeError(
        `LastProcessedTimeUtc must be an ISO 8601 date-time such as 2020-09-30T14:11:44.0779765Z, got ${JSON.stringify(detection.LastProcessedTimeUtc)}`,
      );
    }
    const fullId = text(detection.FullId) || text(detection.AlertId) || `#${this.seq}`;
    const frozen = Object.freeze(detection);
    const entry: StoredDetection = {
      detection: frozen,
      fullId,
      key,
      visibleAt,
      seq: this.seq++,
      group: text(detection.MachineGroup).toLowerCase(),
      deviceTags: tagList(detection.DeviceCreatedMachineTags),
      cloudTags: tagList(detection.CloudCreatedMachineTags),
      removed: false,
    };
    const previous = this.byFullId.get(fullId);
    // Tombstoned rather than spliced out: removal from the middle of a big array is linear.
    if (previous) previous.removed = true;
    this.byFullId.set(fullId, entry);
    const alertId = text(detection.AlertId);
    if (alertId !== '') this.byAlertId.set(alertId, entry);
    const last = this.entries[this.entries.length - 1];
    if (previous || (last && compareNewestFirst(last, entry) > 0)) this.sorted = false;
    this.entries.push(entry);
    return frozen;
  }

  get(fullId: string): Detection | undefined {
    return this.byFullId.get(fullId)?.detection;
  }

  /** The newest detection of an alert, once it is visible (epoch ms on the emulator clock). */
  alert(alertId: string, visibleBy: number): Detection | undefined {
    const entry = this.byAlertId.get(alertId);
    return entry && !entry.removed && entry.visibleAt <= visibleBy ? entry.detection : undefined;
  }

  /** Every stored detection, visible or not, newest first. */
  all(): Detection[] {
    return this.ordered().map((e) => e.detection);
  }

  clear(): void {
    this.entries = [];
    this.byFullId.clear();
    this.byAlertId.clear();
    this.sorted = true;
  }

  /** The matching detections, newest first, serialised. */
  query(filter: DetectionFilter): SerialisedDetection[] {
    const entries = this.ordered();
    const groups = filter.machineGroups?.map((g) => g.toLowerCase());
    const deviceTag = filter.deviceTag?.toLowerCase();
    const cloudTag = filter.cloudTag?.toLowerCase();
    const limit = filter.limit ?? Infinity;
    const out: SerialisedDetection[] = [];
    if (filter.since > filter.until) return out;
    // Newest first, so the window starts at the first entry not later than `until`.
    for (let i = firstAtOrBefore(entries, filter.until); i < entries.length && out.length < limit; i++) {
      const e = entries[i];
      if (e.key < filter.since) break;
      if (e.visibleAt > filter.visibleBy) continue;
      if (groups && !groups.includes(e.group)) continue;
      if (deviceTag !== undefined && !e.deviceTags.includes(deviceTag)) continue;
      if (cloudTag !== undefined && !e.cloudTags.includes(cloudTag)) continue;
      if (!e.serialised) {
        const json = JSON.stringify(e.detection);
        e.serialised = { json, bytes: Buffer.byteLength(json) };
      }
      out.push(e.serialised);
    }
    return out;
  }

  /**
   * The visible detections whose time key lies in [since, until], newest first (ties: last stored first).
   * The Graph endpoint filters and pages over these itself.
   */
  window(since: string, until: string, visibleBy: number): StoredView[] {
    const entries = this.ordered();
    const out: StoredView[] = [];
    if (since > until) return out;
    for (let i = firstAtOrBefore(entries, until); i < entries.length; i++) {
      const e = entries[i];
      if (e.key < since) break;
      if (e.visibleAt <= visibleBy) out.push(e);
    }
    return out;
  }

  private ordered(): StoredDetection[] {
    if (!this.sorted) {
      this.entries = this.entries.filter((e) => !e.removed).sort(compareNewestFirst);
      this.sorted = true;
    }
    return this.entries;
  }
}

function compareNewestFirst(a: StoredDetection, b: StoredDetection): number {
  if (a.key !== b.key) return a.key > b.key ? -1 : 1;
  return b.seq - a.seq;
}

/** Index of the first entry (newest-first order) whose key is at or before `until`. */
function firstAtOrBefore(entries: readonly StoredDetection[], until: string): number {
  let lo = 0;
  let hi = entries.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (entries[mid].key > until) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
