import { invalidQuery } from './errors';
import { fieldName, message, type Message } from './messages';
import { describeValue } from './query';
import { describeKind, isPlainObject } from './realm';

/*
 * What the update node may change on an alerts_v2 alert, validated before anything is sent. Graph's enums
 * are taken in any case and sent in Graph's own casing; Graph's sentinel `unknownFutureValue` ("don't
 * use") is not among them.
 */

export const ALERT_STATUSES = ['new', 'inProgress', 'resolved'] as const;
export const ALERT_CLASSIFICATIONS = ['unknown', 'falsePositive', 'truePositive', 'informationalExpectedActivity'] as const;
/**
 * Graph v1.0's alertDetermination members as its enum table names them. (The property's one-line summary on
 * the same page still lists older names, e.g. compromisedUser or clean; the members are these.)
 */
export const ALERT_DETERMINATIONS = [
  'unknown', 'apt', 'malware', 'securityPersonnel', 'securityTesting', 'unwantedSoftware', 'other', 'multiStagedAttack',
  'compromisedAccount', 'phishing', 'maliciousUserActivity', 'notMalicious', 'notEnoughDataToValidate', 'confirmedActivity',
  'lineOfBusinessApplication',
] as const;

export type AlertStatus = (typeof ALERT_STATUSES)[number];
export type AlertClassification = (typeof ALERT_CLASSIFICATIONS)[number];
export type AlertDetermination = (typeof ALERT_DETERMINATIONS)[number];

/** The enum-valued properties and the values Graph takes for each. */
export const ALERT_ENUMS = {
  status: ALERT_STATUSES,
  classification: ALERT_CLASSIFICATIONS,
  determination: ALERT_DETERMINATIONS,
} as const;
export type AlertEnumField = keyof typeof ALERT_ENUMS;

/** Everything the update node can change, in the order the editor shows them. */
export const ALERT_UPDATE_FIELDS = ['status', 'classification', 'determination', 'assignedTo', 'comment'] as const;
export type AlertUpdateField = (typeof ALERT_UPDATE_FIELDS)[number];

/**
 * A change set. A field that is absent or undefined is left as it is; `assignedTo: null` unassigns the
 * alert. `comment` is added to the alert's comments (a separate Graph request).
 */
export interface AlertChanges {
  status?: AlertStatus;
  classification?: AlertClassification;
  determination?: AlertDetermination;
  assignedTo?: string | null;
  comment?: string;
}

const ENUM_BY_LOWER = Object.fromEntries(
  Object.entries(ALERT_ENUMS).map(([field, values]) => [field, new Map<string, string>(values.map((v) => [v.toLowerCase(), v]))]),
) as Record<AlertEnumField, Map<string, string>>;

const FIELD_BY_LOWER = new Map<string, AlertUpdateField>(ALERT_UPDATE_FIELDS.map((f) => [f.toLowerCase(), f]));

function isEnumField(field: AlertUpdateField): field is AlertEnumField {
  return field in ALERT_ENUMS;
}

/**
 * One value of a change set: "" (or only spaces) and undefined mean "leave it as it is" and give undefined;
 * an enum value is matched in any case and answered in Graph's casing.
 */
export function parseAlertValue<F extends AlertUpdateField>(field: F, value: unknown): AlertChanges[F] {
  if (value === undefined) return undefined;
  if (value === null) {
    if (field === 'assignedTo') return null as AlertChanges[F];
    throw invalidQuery(message('update.not-null', { field: fieldName(field) }));
  }
  if (typeof value !== 'string') throw invalidQuery(message('update.not-text', { field: fieldName(field), value: describeValue(value) }));
  const text = value.trim();
  if (text === '') return undefined;
  if (isEnumField(field)) {
    const known = ENUM_BY_LOWER[field].get(text.toLowerCase());
    if (known === undefined) {
      throw invalidQuery(message('update.bad-enum', { field: fieldName(field), valid: ALERT_ENUMS[field].join(', '), value: describeValue(value) }));
    }
    return known as AlertChanges[F];
  }
  // A comment is sent as written (its line breaks are the analyst's); an owner's name without stray spaces.
  return (field === 'comment' ? value : text) as AlertChanges[F];
}

/**
 * The change set of `values` (keys as Graph names them). A field given as "" is present with the value
 * undefined, so that spread over another change set it keeps that field as it is.
 */
export function parseAlertChanges(values: Partial<Record<AlertUpdateField, unknown>>): AlertChanges {
  const changes: AlertChanges = {};
  for (const field of ALERT_UPDATE_FIELDS) {
    if (!(field in values) || values[field] === undefined) continue;
    (changes as Record<AlertUpdateField, unknown>)[field] = parseAlertValue(field, values[field]);
  }
  return changes;
}

/** What a function node or a change node sends as `msg.update`: any plain object, its keys in any case. */
export function parseUpdateObject(update: unknown): AlertChanges {
  if (!isPlainObject(update)) throw invalidQuery(message('update.not-object', { got: describeKind(update) }));
  const values: Partial<Record<AlertUpdateField, unknown>> = {};
  for (const [key, value] of Object.entries(update)) {
    const field = FIELD_BY_LOWER.get(key.toLowerCase());
    if (!field) throw invalidQuery(message('update.unknown-key', { key, known: ALERT_UPDATE_FIELDS.join(', ') }));
    values[field] = value;
  }
  return parseAlertChanges(values);
}

/** Whether a change set changes anything. */
function hasChanges(changes: AlertChanges): boolean {
  return ALERT_UPDATE_FIELDS.some((field) => changes[field] !== undefined);
}

/** The change set without the fields it leaves as they are, refused when nothing is left. */
export function requireChanges(changes: AlertChanges): AlertChanges {
  const out: AlertChanges = {};
  for (const field of ALERT_UPDATE_FIELDS) {
    if (changes[field] !== undefined) (out as Record<AlertUpdateField, unknown>)[field] = changes[field];
  }
  if (!hasChanges(out)) throw invalidQuery(message('update.nothing'));
  return out;
}

/**
 * Graph's alert ids are letters, digits, "_", "-" and "." (`da637551227677560813_-961444813`, GUIDs).
 * The id becomes a path segment, so anything that could change which URL is asked (a slash, a query, a
 * fragment, an encoded character, a dot-dot) is refused before a request is made.
 */
const ALERT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$/;

/** The id as it was given; `from` says where it was found, for the error. */
export function validateAlertId(value: unknown, from: Message | string): string {
  if (typeof value !== 'string' || !ALERT_ID.test(value) || value.includes('..')) {
    throw invalidQuery(message('update.bad-id', { from, value: describeValue(value) }));
  }
  return value;
}

/**
 * The alert a message is about: `msg.alertId`, else the alert it carries in `msg.payload` — Graph's
 * native shape has `id`; the SIEM shape's `AlertId` is the same id. The first of these that is present is
 * used and must be valid; a bad `msg.alertId` is not passed over for the payload's.
 */
export function findAlertId(msg: { alertId?: unknown; payload?: unknown }): string {
  if (msg.alertId !== undefined && msg.alertId !== null && msg.alertId !== '') return validateAlertId(msg.alertId, 'msg.alertId');
  const payload = isPlainObject(msg.payload) ? msg.payload : undefined;
  if (payload?.id !== undefined && payload.id !== null && payload.id !== '') return validateAlertId(payload.id, 'msg.payload.id');
  if (payload?.AlertId !== undefined && payload.AlertId !== null && payload.AlertId !== '') {
    return validateAlertId(payload.AlertId, 'msg.payload.AlertId');
  }
  throw invalidQuery(message('update.no-id'));
}
