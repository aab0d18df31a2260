import { Duration } from 'luxon';
import { DefenderError, invalidConfig } from '../defender/errors';
import { Message, message } from '../defender/messages';
import { GRAPH_SHAPES, type GraphShape } from '../defender/services/graph';
import { DEFAULT_DELIVERY_POLICY } from '../defender/delivery/ledger';
import { ALERTS_MODES, type AlertsMode, INCIDENT_QUERY } from '../defender/services/incidents';
import { EVENT_MODES, type EventMode } from '../defender/pulling/lifecycle';
import { checkQuery, DetectionQuery, parseDuration, parseQuery, type QueryDialect, SIEM_QUERY } from '../defender/pulling/query';
import type { IncrementalSettings } from '../defender/pulling/pull';
import { DEFAULT_RETRY_POLICY, RetryPolicy } from '../defender/transport/retry';
import type { DeliverySettings } from './delivery';
import type { PerMessageSource } from './node-property';
import { NODE_PROPERTIES, type PropertiesOf, withDefaults } from './properties';

/**
 * The properties of a defender-detections node as a flow may hold them: any may be missing (it then means
 * its default, declared in properties.ts), numbers may be saved as text.
 */
export type DetectionsNodeProperties = Partial<PropertiesOf<'defender-detections'>> & {
  /** Not in the editor: lets tests and impatient users shorten the first backoff. */
  retryBaseDelayMs?: string | number;
  /** Not in the editor: the wait after a failed delivery before it goes again (doubling with each). */
  redeliveryBaseDelayMs?: string | number;
};

export const CONFIRM_MODES = ['none', 'nodes'] as const;

/** The query defaults that may come from an environment variable or a flow or global context value. */
export const SOURCED_DEFAULTS = ['limit', 'machinegroups', 'DeviceCreatedMachineTags', 'CloudCreatedMachineTags'] as const;

/** The properties of a defender-incidents node as a flow may hold them (see DetectionsNodeProperties). */
export type IncidentsNodeProperties = Partial<PropertiesOf<'defender-incidents'>> & {
  retryBaseDelayMs?: string | number;
  redeliveryBaseDelayMs?: string | number;
};

/**
 * What tells the pull nodes apart in their settings: the query they take, which of its defaults a TypedInput
 * may take from elsewhere, and which are plain fields under another property name.
 */
export interface PullNodeKind {
  type: 'defender-detections' | 'defender-incidents';
  dialect: QueryDialect;
  /** Query defaults whose field is a TypedInput (env, flow or global besides the value). */
  sourced: readonly string[];
  /** Query defaults in plain fields, by node property: the query key each gives. */
  fields: Readonly<Record<string, string>>;
}

export const DETECTIONS_NODE: PullNodeKind = { type: 'defender-detections', dialect: SIEM_QUERY, sourced: SOURCED_DEFAULTS, fields: {} };

export const INCIDENTS_NODE: PullNodeKind = {
  type: 'defender-incidents',
  dialect: INCIDENT_QUERY,
  sourced: ['limit'],
  fields: { incidentStatus: 'status', severity: 'severity', assignedTo: 'assignedTo', classification: 'classification', determination: 'determination' },
};

/** A default read from flow or global context for every message, so a change there applies to the next pull. */
export type ContextDefault = PerMessageSource & { scope: 'flow' | 'global' };

/** What every pull node's settings hold. */
export interface PullSettings {
  /** The defaults known at deploy: the fields themselves and environment variables. */
  defaults: DetectionQuery;
  /** Defaults still to be read from context, one per message. */
  contextDefaults: ContextDefault[];
  incremental?: IncrementalSettings;
  store?: string;
  timeoutMs: number;
  maxResponseBytes: number;
  retry: RetryPolicy;
  /** Which versions of an alert go out, and how long the node remembers the alerts it sent. */
  lifecycle: { mode: EventMode; rememberMs: number };
  /** Delivery confirmation of incremental pulls; undefined when off (confirm: none). */
  delivery?: DeliverySettings;
}

export interface DetectionsSettings extends PullSettings {
  /** Graph only: what each message carries. The SIEM API's output is SIEM-shaped whatever this says. */
  shape: GraphShape;
}

export interface IncidentsSettings extends PullSettings {
  /** Whether each incident comes with its alerts. */
  alerts: AlertsMode;
}

type NumberRefusal =
  | 'settings.bad-timeout'
  | 'settings.bad-max-response'
  | 'settings.bad-retries'
  | 'settings.bad-retry-delay'
  | 'settings.bad-max-deliveries'
  | 'settings.bad-redelivery-delay';

/**
 * A number field: empty (or blank) means `fallback`; text must be digits with an optional fraction, as the
 * dialog checks it ("1e3", "0x10" or "-1" are refused there, so they are here).
 */
export function numberSetting(raw: string | number | undefined, fallback: number, check: (n: number) => boolean, refused: NumberRefusal): number {
  if (raw === undefined || raw === null) return fallback;
  const text = String(raw).trim();
  if (text === '') return fallback;
  const n = typeof raw === 'number' ? raw : /^\d+(?:\.\d+)?$/.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(n) || !check(n)) throw invalidConfig(message(refused, { value: String(raw) }));
  return n;
}

/** The longest request timeout, in seconds, and the largest answer, in MB, a node takes (the dialog's bounds). */
export const MAX_TIMEOUT_S = 3600;
const MAX_RESPONSE_MB = 4096;

/** An error met in a value that came `from` somewhere, as INVALID_CONFIG that says where. */
export function fromError(from: Message, err: unknown): DefenderError {
  const detail = err instanceof DefenderError ? (err.text ?? err.message) : String(err);
  return invalidConfig(message('settings.from', { from, detail }));
}

export const NODE_DEFAULT = message('settings.node-default');

/** A list as the editor saves it ("A, B") or as a context value may hold it (["A", "B"]). */
function commaList(value: unknown): unknown {
  return typeof value === 'string' ? value.split(',').map((g) => g.trim()).filter((g) => g !== '') : value;
}

/**
 * One default from a field, the environment or context, parsed like a message's value (blank text is no
 * value, as an empty field is); an error names where the value came from.
 */
function parseDefault(dialect: QueryDialect, key: string, value: unknown, refused: (err: unknown) => DefenderError): DetectionQuery {
  const given = typeof value === 'string' ? value.trim() : value;
  try {
    return parseQuery({ [key]: dialect.lists.includes(key) ? commaList(given) : given }, dialect);
  } catch (err) {
    throw refused(err);
  }
}

/** Query defaults laid over others, a default property beside the properties already given. */
function withDefault(defaults: DetectionQuery, more: DetectionQuery): void {
  const properties = more.properties ? { ...defaults.properties, ...more.properties } : defaults.properties;
  Object.assign(defaults, more);
  if (properties) defaults.properties = properties;
}

/** Reads an environment variable the way Node-RED does (flow, group and global env first); undefined when not set. */
export type EnvReader = (name: string) => unknown;

const DEFAULTS = NODE_PROPERTIES['defender-detections'];

/** The environment variable a setting is to come from: its name must be given and the variable set. */
export function envValue(key: string, name: string, readEnv: EnvReader): unknown {
  // The TypedInput's env type holds the bare name (Node-RED itself replaces a "${NAME}" before the node sees it).
  if (name === '') throw invalidConfig(message('settings.env-name-missing', { key }));
  const value = readEnv(name);
  if (value === undefined) throw invalidConfig(message('settings.env-not-set', { key, name }));
  return value;
}

/**
 * Reads and validates a detections node's properties once, at deploy. Properties saved by an older version
 * (or never written) mean their declared default (properties.ts), as in the editor; an empty number or
 * duration field does too. Defaults taken from an environment variable are read here; those taken from
 * flow or global context are left for each message.
 */
export function readSettings(given: DetectionsNodeProperties, readEnv: EnvReader = (name) => process.env[name]): DetectionsSettings {
  const p = withDefaults('defender-detections', given);
  // A node saved before the property existed, or left at the default, sends SIEM-shaped detections.
  const shape = String(p.shape).trim() || 'siem';
  if (!(GRAPH_SHAPES as readonly string[]).includes(shape)) {
    throw invalidConfig(message('settings.bad-shape', { value: String(p.shape) }));
  }
  return { ...readPullSettings(DETECTIONS_NODE, p, readEnv), shape: shape as GraphShape };
}

/** Reads and validates an incidents node's properties once, at deploy, as readSettings does a detections node's. */
export function readIncidentsSettings(given: IncidentsNodeProperties, readEnv: EnvReader = (name) => process.env[name]): IncidentsSettings {
  const p = withDefaults('defender-incidents', given);
  const alerts = String(p.alerts).trim() || NODE_PROPERTIES['defender-incidents'].alerts;
  if (!(ALERTS_MODES as readonly string[]).includes(alerts)) throw invalidConfig(message('incident.bad-alerts', { value: String(p.alerts) }));
  return { ...readPullSettings(INCIDENTS_NODE, p, readEnv), alerts: alerts as AlertsMode };
}

/** The properties every pull node has, as withDefaults gives them. */
type PullProperties = PropertiesOf<'defender-detections' | 'defender-incidents'> & { retryBaseDelayMs?: string | number; redeliveryBaseDelayMs?: string | number };

/** What the pull nodes' settings have in common, read by the node's kind. */
function readPullSettings(kind: PullNodeKind, p: PullProperties, readEnv: EnvReader): PullSettings {
  const property = (name: string): unknown => (p as unknown as Record<string, unknown>)[name];
  const declared = NODE_PROPERTIES[kind.type] as Readonly<Record<string, unknown>>;
  const incremental = p.incremental === true || p.incremental === 'true';
  let defaults: DetectionQuery;
  try {
    // In incremental mode the node picks the window itself: the editor greys the time fields out, and
    // values left in them from before must not turn every pull into a fixed window.
    // A blank field is an empty one, as in the dialog. (A flow written by hand may hold epoch milliseconds.)
    const field = (value: unknown): unknown => (incremental ? undefined : typeof value === 'string' ? value.trim() : value);
    defaults = parseQuery({ sinceTimeUtc: field(p.sinceTimeUtc), untilTimeUtc: field(p.untilTimeUtc), ago: field(p.ago) });
  } catch (err) {
    throw fromError(NODE_DEFAULT, err);
  }
  const contextDefaults: ContextDefault[] = [];
  for (const key of kind.sourced) {
    const source = String(property(`${key}Type`)).trim() || String(declared[`${key}Type`]);
    const raw = property(key);
    const name = String(raw ?? '').trim();
    if (source === 'str' || source === 'num') {
      withDefault(defaults, parseDefault(kind.dialect, key, raw, (err) => fromError(NODE_DEFAULT, err)));
    } else if (source === 'env') {
      // A misspelt name must not silently widen the query to every device group.
      const value = envValue(key, name, readEnv);
      // The value is not repeated in the error: a variable chosen by mistake may hold a secret.
      withDefault(defaults, parseDefault(kind.dialect, key, value, () => invalidConfig(message('settings.env-bad-value', { key, name }))));
    } else if (source === 'flow' || source === 'global') {
      if (name === '') throw invalidConfig(message('settings.context-key-missing', { key, scope: source }));
      contextDefaults.push({ key, scope: source, name });
    } else {
      throw invalidConfig(message('settings.bad-source', { key, value: source }));
    }
  }
  for (const [name, key] of Object.entries(kind.fields)) {
    withDefault(defaults, parseDefault(kind.dialect, key, property(name), (err) => fromError(NODE_DEFAULT, err)));
  }
  try {
    checkQuery(defaults);
  } catch (err) {
    throw fromError(NODE_DEFAULT, err);
  }
  const duration = (name: 'initialAgo' | 'overlap' | 'remember' | 'deliveryTimeout', allowZero = false): Duration => {
    try {
      return parseDuration(name, String(p[name]).trim() || DEFAULTS[name], allowZero);
    } catch (err) {
      throw (err as DefenderError).withCode('INVALID_CONFIG');
    }
  };
  const events = String(p.events).trim() || DEFAULTS.events;
  if (!(EVENT_MODES as readonly string[]).includes(events)) {
    throw invalidConfig(message('settings.bad-events', { value: String(p.events) }));
  }
  return {
    defaults,
    contextDefaults,
    delivery: readDelivery(p, duration),
    lifecycle: { mode: events as EventMode, rememberMs: duration('remember').toMillis() },
    incremental: incremental
      ? { initialAgo: duration('initialAgo'), overlap: duration('overlap', true) }
      : undefined,
    store: String(p.store).trim() || undefined,
    // Bounded: beyond 24.8 days Node.js would fire a timer at once, failing every request as timed out.
    timeoutMs: numberSetting(p.requestTimeout, DEFAULTS.requestTimeout, (n) => n > 0 && n <= MAX_TIMEOUT_S, 'settings.bad-timeout') * 1000,
    maxResponseBytes: numberSetting(p.maxResponseMB, DEFAULTS.maxResponseMB, (n) => n > 0 && n <= MAX_RESPONSE_MB, 'settings.bad-max-response') * 1024 * 1024,
    retry: {
      ...DEFAULT_RETRY_POLICY,
      maxRetries: numberSetting(p.maxRetries, DEFAULTS.maxRetries, (n) => Number.isInteger(n) && n >= 0 && n <= 10, 'settings.bad-retries'),
      baseDelayMs: numberSetting(p.retryBaseDelayMs, DEFAULT_RETRY_POLICY.baseDelayMs, (n) => n >= 0, 'settings.bad-retry-delay'),
    },
  };
}

/** The most deliveries of one detection a node may be set to make. */
const MAX_DELIVERIES = 100;

/**
 * Delivery confirmation: off (`none`, and what a flow saved before it existed means), or on with the
 * delivering nodes (a list of ids, or ids separated by commas in a flow written by hand), the timeout and
 * the number of deliveries. The values are checked whichever mode is chosen, as the dialog checks them.
 */
function readDelivery(p: PullProperties, duration: (name: 'deliveryTimeout') => Duration): DeliverySettings | undefined {
  const mode = String(p.confirm).trim() || DEFAULTS.confirm;
  if (!(CONFIRM_MODES as readonly string[]).includes(mode)) throw invalidConfig(message('settings.bad-confirm', { value: String(p.confirm) }));
  const given: unknown = p.confirmNodes;
  const list = typeof given === 'string' ? given.split(',') : Array.isArray(given) ? given : undefined;
  if (!list || !list.every((id) => typeof id === 'string')) throw invalidConfig(message('settings.bad-confirm-nodes'));
  const nodes = (list as string[]).map((id) => id.trim()).filter((id) => id !== '');
  const policy = {
    timeoutMs: duration('deliveryTimeout').toMillis(),
    maxDeliveries: numberSetting(p.maxDeliveries, DEFAULTS.maxDeliveries, (n) => Number.isInteger(n) && n >= 1 && n <= MAX_DELIVERIES, 'settings.bad-max-deliveries'),
    baseDelayMs: numberSetting(p.redeliveryBaseDelayMs, DEFAULT_DELIVERY_POLICY.baseDelayMs, (n) => n >= 0, 'settings.bad-redelivery-delay'),
    maxDelayMs: DEFAULT_DELIVERY_POLICY.maxDelayMs,
  };
  if (mode === 'none') return undefined;
  if (nodes.length === 0) throw invalidConfig(message('settings.confirm-no-nodes'));
  return { nodes, policy };
}

/**
 * The defaults read from flow or global context for one message, checked like the node's own fields. A key
 * that is not set (or null) is refused rather than left out: a misspelt key must not widen the query to every
 * device group. An empty string or list means "no value", as an empty field does.
 */
export function contextQuery(values: ReadonlyArray<{ from: ContextDefault; value: unknown }>, dialect: QueryDialect = SIEM_QUERY): DetectionQuery {
  const query: DetectionQuery = {};
  for (const { from, value } of values) {
    const names = { key: from.key, scope: from.scope, name: from.name };
    // null counts as not set: flow.set('groups', msg.missing) must not widen the query either.
    if (value === undefined || value === null) throw invalidConfig(message('settings.context-not-set', names));
    withDefault(query, parseDefault(dialect, from.key, value, (err) => fromError(message('settings.from-context', names), err)));
  }
  return query;
}
