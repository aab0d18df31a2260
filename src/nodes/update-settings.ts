import { type DefenderError, invalidConfig, invalidQuery } from '../defender/errors';
import { message } from '../defender/messages';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from '../defender/transport/retry';
import { type Changes, parseChange } from '../defender/writing/entity-update';
import type { PerMessageSource } from './node-property';
import { NODE_PROPERTIES, type PropertiesOf, withDefaults } from './properties';
import { envValue, type EnvReader, fromError, NODE_DEFAULT, numberSetting } from './settings';
import type { UpdateNodeKind } from './update-kind';

/**
 * The properties of an update node (defender-alert-update, defender-incident-update) as a flow may hold
 * them: any may be missing (it then means its default, declared in properties.ts: empty, taken from the
 * field itself).
 */
export type UpdateNodeProperties = Partial<PropertiesOf<'defender-alert-update'>> &
  Partial<PropertiesOf<'defender-incident-update'>> & {
    /** Not in the editor: lets tests and impatient users shorten the first backoff. */
    retryBaseDelayMs?: string | number;
  };

/** What the settings need to know of the node: its type, what it changes and where it keeps the status. */
type SettingsKind = Pick<UpdateNodeKind, 'type' | 'kind' | 'statusProperty'>;

/**
 * The node property of each field: the field's own name, but for the status, `alertStatus` or
 * `incidentStatus` (a property named `status` is overwritten in the editor by the node's runtime status).
 */
export function updateProperty(spec: Pick<UpdateNodeKind, 'statusProperty'>, field: string): string {
  return field === 'status' ? spec.statusProperty : field;
}

/**
 * A flow saved before the alert node's rename holds `status` and `statusType`: they mean `alertStatus` and
 * its type when the flow has none (a text only: the editor may have saved its status object there). The
 * incident node never had a property of that name.
 */
function withoutLegacyStatus(given: UpdateNodeProperties): UpdateNodeProperties {
  const { status, statusType, ...rest } = given;
  if ((rest.alertStatus === undefined || rest.alertStatus === null) && typeof status === 'string') {
    return { ...rest, alertStatus: status, ...(statusType !== undefined && statusType !== null ? { alertStatusType: statusType } : {}) };
  }
  return rest;
}

/** A value read for each message: from the message itself, or from flow or global context. */
export type SourcedChange = PerMessageSource<string>;

export interface UpdateSettings {
  /** The values known at deploy: the fields themselves and environment variables, validated. */
  changes: Changes;
  /** Values still to be read, for each message. */
  sourced: SourcedChange[];
  timeoutMs: number;
  maxResponseBytes: number;
  retry: RetryPolicy;
}

/** An alert with all its evidence, or an incident, is tens of kilobytes; this only stops a runaway answer. */
const MAX_ENTITY_BYTES = 16 * 1024 * 1024;
const TIMEOUT_MS = 60_000;

/**
 * Reads and validates the node's properties once, at deploy. A property that is absent (a flow saved
 * before it existed, or written by hand) means its default: the field, empty, which changes nothing.
 * Environment variables are read here; message properties and context are left for each message.
 */
export function readUpdateSettings(spec: SettingsKind, given: UpdateNodeProperties, readEnv: EnvReader = (name) => process.env[name]): UpdateSettings {
  const defaults: Readonly<Record<string, unknown>> = NODE_PROPERTIES[spec.type];
  const p: Record<string, unknown> = withDefaults(spec.type, spec.type === 'defender-alert-update' ? withoutLegacyStatus(given) : given);
  const changes: Changes = {};
  const sourced: SourcedChange[] = [];
  for (const key of spec.kind.fields) {
    const property = updateProperty(spec, key);
    const source = String(p[`${property}Type`]).trim() || String(defaults[`${property}Type`]);
    const raw = p[property];
    const name = String(raw).trim();
    const set = (value: unknown, refused: (err: unknown) => DefenderError): void => {
      try {
        changes[key] = parseChange(spec.kind, key, value);
      } catch (err) {
        throw refused(err);
      }
    };
    if (source === 'str') {
      set(raw, (err) => fromError(NODE_DEFAULT, err));
    } else if (source === 'env') {
      // The value is not repeated in the error: a variable chosen by mistake may hold a secret.
      set(envValue(key, name, readEnv), () => invalidConfig(message('settings.env-bad-value', { key, name })));
    } else if (source === 'msg') {
      if (name === '') throw invalidConfig(message('update.message-property-missing', { key }));
      sourced.push({ key, scope: source, name });
    } else if (source === 'flow' || source === 'global') {
      if (name === '') throw invalidConfig(message('settings.context-key-missing', { key, scope: source }));
      sourced.push({ key, scope: source, name });
    } else {
      throw invalidConfig(message('update.bad-source', { key: property, value: source }));
    }
  }
  return {
    changes,
    sourced,
    timeoutMs: TIMEOUT_MS,
    maxResponseBytes: MAX_ENTITY_BYTES,
    retry: {
      ...DEFAULT_RETRY_POLICY,
      baseDelayMs: numberSetting(given.retryBaseDelayMs, DEFAULT_RETRY_POLICY.baseDelayMs, (n) => n >= 0, 'settings.bad-retry-delay'),
    },
  };
}

/**
 * The values read for one message, checked like the node's own fields. A message property or context key
 * that is not set (or null) is refused rather than skipped: a misspelt name must not quietly change
 * nothing. An empty string leaves the value as it is, as an empty field does. A value from the message is
 * the message's fault (INVALID_QUERY); one from context, the flow's (INVALID_CONFIG).
 */
export function sourcedChanges(spec: Pick<UpdateNodeKind, 'kind'>, values: ReadonlyArray<{ from: SourcedChange; value: unknown }>): Changes {
  const changes: Changes = {};
  for (const { from, value } of values) {
    const { key, name } = from;
    const names = { key, scope: from.scope, name };
    const fromMessage = from.scope === 'msg';
    if (value === undefined || value === null) {
      throw fromMessage ? invalidQuery(message('update.message-not-set', { key, name })) : invalidConfig(message('update.context-not-set', names));
    }
    try {
      changes[key] = parseChange(spec.kind, key, value);
    } catch (err) {
      throw fromMessage
        ? fromError(message('update.from-message', { name }), err).withCode('INVALID_QUERY')
        : fromError(message('settings.from-context', names), err);
    }
  }
  return changes;
}
