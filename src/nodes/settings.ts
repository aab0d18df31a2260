import { Duration } from 'luxon';
import { DefenderError, invalidConfig } from '../defender/errors';
import { GRAPH_SHAPES, type GraphShape } from '../defender/graph';
import { checkQuery, DetectionQuery, parseDuration, parseQuery } from '../defender/query';
import type { IncrementalSettings } from '../defender/pull';
import { DEFAULT_RETRY_POLICY, RetryPolicy } from '../defender/retry';

/** The properties of a defender-detections node as the editor saves them (all strings or booleans). */
export interface DetectionsNodeProperties {
  sinceTimeUtc?: string;
  untilTimeUtc?: string;
  ago?: string;
  limit?: string | number;
  machinegroups?: string;
  DeviceCreatedMachineTags?: string;
  CloudCreatedMachineTags?: string;
  incremental?: boolean | string;
  initialAgo?: string;
  overlap?: string;
  store?: string;
  requestTimeout?: string | number;
  maxRetries?: string | number;
  maxResponseMB?: string | number;
  /** Output of a Graph config node: '' or 'siem' (SIEM field names) or 'native' (alerts_v2 as sent). */
  shape?: string;
  /** Not in the editor: lets tests and impatient users shorten the first backoff. */
  retryBaseDelayMs?: string | number;
}

/** The properties the editor saves for a defender-detections node, besides name and the config id. */
export const DETECTIONS_PROPERTIES = [
  'sinceTimeUtc', 'untilTimeUtc', 'ago', 'limit', 'machinegroups', 'DeviceCreatedMachineTags', 'CloudCreatedMachineTags',
  'incremental', 'initialAgo', 'overlap', 'store', 'requestTimeout', 'maxRetries', 'maxResponseMB', 'shape',
] as const satisfies ReadonlyArray<keyof DetectionsNodeProperties>;

export interface DetectionsSettings {
  defaults: DetectionQuery;
  incremental?: IncrementalSettings;
  store?: string;
  timeoutMs: number;
  maxResponseBytes: number;
  retry: RetryPolicy;
  /** Graph only: what each message carries. The SIEM API's output is SIEM-shaped whatever this says. */
  shape: GraphShape;
}

function numberSetting(name: string, raw: string | number | undefined, fallback: number, check: (n: number) => boolean, expected: string): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || !check(n)) throw invalidConfig(`${name} must be ${expected}, got "${raw}"`);
  return n;
}

/**
 * Reads and validates the node's properties once, at deploy. Properties saved by an older version
 * (or never set) fall back to the defaults that keep the documented behaviour.
 */
export function readSettings(p: DetectionsNodeProperties): DetectionsSettings {
  const incremental = p.incremental === undefined || p.incremental === true || p.incremental === 'true';
  let defaults: DetectionQuery;
  try {
    // In incremental mode the node picks the window itself: the editor greys the time fields out, and
    // values left in them from before must not turn every pull into a fixed window.
    defaults = checkQuery(parseQuery({
      sinceTimeUtc: incremental ? undefined : p.sinceTimeUtc,
      untilTimeUtc: incremental ? undefined : p.untilTimeUtc,
      ago: incremental ? undefined : p.ago,
      limit: p.limit,
      machinegroups: (p.machinegroups ?? '').split(',').map((g) => g.trim()).filter((g) => g !== ''),
      DeviceCreatedMachineTags: p.DeviceCreatedMachineTags,
      CloudCreatedMachineTags: p.CloudCreatedMachineTags,
    }));
  } catch (err) {
    throw invalidConfig(`node default: ${(err as DefenderError).message}`);
  }
  const duration = (name: string, raw: string | undefined, fallback: string, allowZero = false): Duration => {
    try {
      return parseDuration(name, raw === undefined || raw === '' ? fallback : raw, allowZero);
    } catch (err) {
      throw invalidConfig((err as DefenderError).message);
    }
  };
  // A node saved before the property existed, or left at the default, sends SIEM-shaped detections.
  const shape = String(p.shape ?? '').trim() || 'siem';
  if (!(GRAPH_SHAPES as readonly string[]).includes(shape)) {
    throw invalidConfig(`shape must be "siem" or "native", got "${p.shape}"`);
  }
  return {
    defaults,
    shape: shape as GraphShape,
    incremental: incremental
      ? { initialAgo: duration('initialAgo', p.initialAgo, 'PT2H'), overlap: duration('overlap', p.overlap, 'PT5M', true) }
      : undefined,
    store: p.store ? p.store.trim() || undefined : undefined,
    timeoutMs: numberSetting('requestTimeout', p.requestTimeout, 60, (n) => n > 0, 'a number of seconds above 0') * 1000,
    maxResponseBytes: numberSetting('maxResponseMB', p.maxResponseMB, 256, (n) => n > 0, 'a number of megabytes above 0') * 1024 * 1024,
    retry: {
      ...DEFAULT_RETRY_POLICY,
      maxRetries: numberSetting('maxRetries', p.maxRetries, DEFAULT_RETRY_POLICY.maxRetries, (n) => Number.isInteger(n) && n >= 0 && n <= 10, 'a whole number from 0 to 10'),
      baseDelayMs: numberSetting('retryBaseDelayMs', p.retryBaseDelayMs, DEFAULT_RETRY_POLICY.baseDelayMs, (n) => n >= 0, 'a number of milliseconds'),
    },
  };
}
