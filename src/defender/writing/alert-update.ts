import { type Changes, firstId, parseChange, parseChanges, parseUpdate, requiredChanges, type UpdateKind, validateId } from './entity-update';
import { fieldName, message, type Message } from '../messages';
import { isPlainObject } from '../realm';

/*
 * What the alert update node may change on an alerts_v2 alert (entity-update.ts validates it).
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
export interface AlertChanges extends Changes {
  status?: AlertStatus;
  classification?: AlertClassification;
  determination?: AlertDetermination;
  assignedTo?: string | null;
  comment?: string;
}

/** An alerts_v2 alert, as the alert update node changes it. */
export const ALERT_UPDATE: UpdateKind = {
  fields: ALERT_UPDATE_FIELDS,
  enums: ALERT_ENUMS,
  lists: [],
  texts: {
    nothing: () => message('update.nothing'),
    notNull: (field) => message('update.not-null', { field: fieldName(field) }),
    badId: (from, value) => message('update.bad-id', { from, value }),
  },
};

/**
 * One value of a change set: "" (or only spaces) and undefined mean "leave it as it is" and give undefined;
 * an enum value is matched in any case and answered in Graph's casing.
 */
export function parseAlertValue<F extends AlertUpdateField>(field: F, value: unknown): AlertChanges[F] {
  return parseChange(ALERT_UPDATE, field, value) as AlertChanges[F];
}

/**
 * The change set of `values` (keys as Graph names them). A field given as "" is present with the value
 * undefined, so that spread over another change set it keeps that field as it is.
 */
export function parseAlertChanges(values: Partial<Record<AlertUpdateField, unknown>>): AlertChanges {
  return parseChanges(ALERT_UPDATE, values) as AlertChanges;
}

/** What a function node or a change node sends as `msg.update`: any plain object, its keys in any case. */
export function parseUpdateObject(update: unknown): AlertChanges {
  return parseUpdate(ALERT_UPDATE, update) as AlertChanges;
}

/** The change set without the fields it leaves as they are, refused when nothing is left. */
export function requireChanges(changes: AlertChanges): AlertChanges {
  return requiredChanges(ALERT_UPDATE, changes) as AlertChanges;
}

/** The id as it was given; `from` says where it was found, for the error. */
export function validateAlertId(value: unknown, from: Message | string): string {
  return validateId(ALERT_UPDATE, value, from);
}

/**
 * The alert a message is about: `msg.alertId`, else the alert it carries in `msg.payload` — Graph's
 * native shape has `id`; the SIEM shape's `AlertId` is the same id. The first of these that is present is
 * used and must be valid; a bad `msg.alertId` is not passed over for the payload's.
 */
export function findAlertId(msg: { alertId?: unknown; payload?: unknown }): string {
  const payload = isPlainObject(msg.payload) ? msg.payload : undefined;
  return firstId(ALERT_UPDATE, [['msg.alertId', msg.alertId], ['msg.payload.id', payload?.id], ['msg.payload.AlertId', payload?.AlertId]], message('update.no-id'));
}
