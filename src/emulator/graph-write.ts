import { randomUUID } from 'node:crypto';
import { jsonReply, type Reply } from './http';

/**
 * What Microsoft Graph lets an app change on an alerts_v2 alert (`PATCH /security/alerts_v2/{id}`: status,
 * classification, determination, assignedTo) or an incident (`PATCH /security/incidents/{id}`: the same and
 * customTags), and add to either (`POST …/{id}/comments`), checked as Graph checks a request body: property
 * names and enum members exactly as the model spells them.
 */

/** What Graph lets a client write on one kind of entity, checked as Graph checks a request body. */
export interface WritableEntity {
  /** The model's type, as Graph's errors name it. */
  type: string;
  /** The entity as an error names it: "alert", "incident". */
  noun: string;
  /** The enum-valued properties with Graph v1.0's members, without the sentinel `unknownFutureValue` (which Graph refuses to be set). */
  enums: Readonly<Record<string, { type: string; values: readonly string[]; setByService?: readonly string[] }>>;
  /** What a PATCH may set, in the order errors list them. */
  updatable: readonly string[];
  /** The updatable properties that are collections of strings. */
  lists: readonly string[];
  /** The properties Graph serves but does not let a client set. */
  readOnly: ReadonlySet<string>;
}

const DETERMINATIONS = [
  'unknown', 'apt', 'malware', 'securityPersonnel', 'securityTesting', 'unwantedSoftware', 'other', 'multiStagedAttack',
  'compromisedAccount', 'phishing', 'maliciousUserActivity', 'notMalicious', 'notEnoughDataToValidate', 'confirmedActivity',
  'lineOfBusinessApplication',
] as const;
const CLASSIFICATIONS = ['unknown', 'falsePositive', 'truePositive', 'informationalExpectedActivity'] as const;

/** An alerts_v2 alert: `PATCH /security/alerts_v2/{id}` sets status, classification, determination, assignedTo. */
export const ALERT_ENTITY: WritableEntity = {
  type: 'microsoft.graph.security.alert',
  noun: 'alert',
  enums: {
    status: { type: 'microsoft.graph.security.alertStatus', values: ['new', 'inProgress', 'resolved'] },
    classification: { type: 'microsoft.graph.security.alertClassification', values: CLASSIFICATIONS },
    determination: { type: 'microsoft.graph.security.alertDetermination', values: DETERMINATIONS },
  },
  updatable: ['status', 'classification', 'determination', 'assignedTo'],
  lists: [],
  readOnly: new Set([
    'id', 'providerAlertId', 'incidentId', 'severity', 'serviceSource', 'detectionSource', 'productName', 'detectorId', 'tenantId',
    'title', 'description', 'recommendedActions', 'category', 'categories', 'alertWebUrl', 'incidentWebUrl', 'actorDisplayName', 'threatDisplayName',
    'threatFamilyName', 'mitreTechniques', 'createdDateTime', 'lastUpdateDateTime', 'resolvedDateTime', 'firstActivityDateTime',
    'lastActivityDateTime', 'comments', 'evidence', 'systemTags', 'customDetails', 'additionalData', 'alertPolicyId',
  ]),
};

/**
 * A Defender XDR incident: `PATCH /security/incidents/{id}` sets status, classification, determination,
 * assignedTo and customTags. Of the statuses, `redirected` is Defender's own (it merged the incident into
 * another) and `awaitingAction` is set by Defender Experts: members of the enum that a client cannot set.
 */
export const INCIDENT_ENTITY: WritableEntity = {
  type: 'microsoft.graph.security.incident',
  noun: 'incident',
  enums: {
    status: { type: 'microsoft.graph.security.incidentStatus', values: ['active', 'resolved', 'inProgress'], setByService: ['redirected', 'awaitingAction'] },
    classification: { type: 'microsoft.graph.security.alertClassification', values: CLASSIFICATIONS },
    determination: { type: 'microsoft.graph.security.alertDetermination', values: DETERMINATIONS },
  },
  updatable: ['status', 'classification', 'determination', 'assignedTo', 'customTags'],
  lists: ['customTags'],
  readOnly: new Set([
    'id', 'tenantId', 'incidentWebUrl', 'redirectIncidentId', 'displayName', 'createdDateTime', 'lastUpdateDateTime', 'severity',
    'systemTags', 'comments', 'alerts', 'lastModifiedBy', 'description', 'summary', 'resolvingComment',
  ]),
};

export interface AlertComment {
  comment: string;
  createdByDisplayName: string;
  createdDateTime: string;
}

/** What analysts (and apps) have done to one alert; absent for an alert nobody touched. */
export interface AlertTriage {
  status: string;
  /** null until someone classifies the alert. */
  classification: string | null;
  determination: string | null;
  assignedTo: string | null;
  resolvedDateTime: string | null;
  comments: AlertComment[];
}

/**
 * An alert nobody touched. Microsoft's samples show classification and determination "unknown", but
 * tenants answer null until an analyst sets them, and a flow must meet what tenants send.
 */
export const UNTOUCHED: Readonly<AlertTriage> = Object.freeze({
  status: 'new',
  classification: null,
  determination: null,
  assignedTo: null,
  resolvedDateTime: null,
  comments: [],
});

/** The alert as shown after its triage. */
export function triaged(alert: Record<string, unknown>, triage: AlertTriage | undefined): Record<string, unknown> {
  if (!triage) return alert;
  return { ...alert, ...triage, comments: triage.comments.map((c) => ({ ...c })) };
}

/** Graph's error body: the OData error with the request's id and date in innerError. */
export function graphError(status: number, code: string, message: string, now: number, headers: Record<string, string> = {}): Reply {
  const requestId = randomUUID();
  return jsonReply(
    status,
    { error: { code, message, innerError: { date: new Date(now).toISOString().slice(0, 19), 'request-id': requestId, 'client-request-id': requestId } } },
    { 'request-id': requestId, ...headers },
  );
}

export type Checked<T> = { ok: true; value: T } | { ok: false; reply: Reply };

/** A JSON object body, as Graph reads one: the content type must say JSON. */
function jsonBody(contentType: string | undefined, text: string, now: number): Checked<Record<string, unknown>> {
  if (!/^application\/json\b/i.test(contentType ?? '')) {
    return { ok: false, reply: graphError(415, 'UnsupportedMediaType', `The content type '${contentType ?? ''}' is not supported; send application/json.`, now) };
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) {
    return {
      ok: false,
      reply: graphError(400, 'BadRequest', 'Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format.', now),
    };
  }
  return { ok: true, value: body as Record<string, unknown> };
}

function noSuchProperty(name: string, type: string, now: number): Checked<never> {
  return {
    ok: false,
    reply: graphError(400, 'BadRequest', `The property '${name}' does not exist on type '${type}'. Make sure to only use property names that are defined by the type.`, now),
  };
}

function notConvertible(value: unknown, type: string, now: number): Checked<never> {
  const literal = typeof value === 'string' ? value : JSON.stringify(value);
  return { ok: false, reply: graphError(400, 'BadRequest', `Cannot convert the literal '${literal}' to the expected type '${type}'.`, now) };
}

/** Graph's 400 for an `@odata.type` other than `type` (with or without its "#"); undefined when it is that type. */
function unresolvedType(value: unknown, type: string, now: number): { ok: false; reply: Reply } | undefined {
  if (value === type || value === `#${type}`) return undefined;
  return { ok: false, reply: graphError(400, 'BadRequest', `A type named '${String(value)}' could not be resolved by the model.`, now) };
}

/** What a PATCH sets: each updatable property it names, with its value. */
export type Patch = Partial<Record<string, string | null | string[]>>;

/** The body of a PATCH of an `entity` (default an alert): the updatable properties it sets. */
export function checkPatch(contentType: string | undefined, text: string, now: number, entity: WritableEntity = ALERT_ENTITY): Checked<Patch> {
  const body = jsonBody(contentType, text, now);
  if (!body.ok) return body;
  const changes: Patch = {};
  for (const [name, value] of Object.entries(body.value)) {
    if (name === '@odata.type') {
      const unknown = unresolvedType(value, entity.type, now);
      if (unknown) return unknown;
      continue;
    }
    const spec = entity.enums[name];
    if (spec) {
      if (typeof value === 'string' && spec.setByService?.includes(value)) {
        return { ok: false, reply: graphError(400, 'BadRequest', `The ${name} '${value}' is set by the service and cannot be given in a request.`, now) };
      }
      // Members are matched as the model spells them: "InProgress" is not "inProgress".
      if (typeof value !== 'string' || !spec.values.includes(value)) return notConvertible(value, spec.type, now);
      changes[name] = value;
    } else if (entity.lists.includes(name)) {
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) return notConvertible(value, 'Collection(Edm.String)', now);
      changes[name] = [...(value as string[])];
    } else if (entity.updatable.includes(name)) {
      if (value !== null && typeof value !== 'string') return notConvertible(value, 'Edm.String', now);
      changes[name] = value;
    } else if (entity.readOnly.has(name)) {
      return {
        ok: false,
        reply: graphError(400, 'BadRequest', `The property '${name}' cannot be updated. Updatable properties of an ${entity.noun}: ${entity.updatable.join(', ')}.`, now),
      };
    } else {
      return noSuchProperty(name, entity.type, now);
    }
  }
  return { ok: true, value: changes };
}

/** The body of a POST …/comments: the comment's text. */
export function checkNewComment(contentType: string | undefined, text: string, now: number): Checked<string> {
  const body = jsonBody(contentType, text, now);
  if (!body.ok) return body;
  let comment: unknown;
  for (const [name, value] of Object.entries(body.value)) {
    if (name === '@odata.type') {
      const unknown = unresolvedType(value, 'microsoft.graph.security.alertComment', now);
      if (unknown) return unknown;
    } else if (name === 'comment') {
      comment = value;
    } else if (name === 'createdByDisplayName' || name === 'createdDateTime') {
      return { ok: false, reply: graphError(400, 'BadRequest', `The property '${name}' is set by the service and cannot be given.`, now) };
    } else {
      return noSuchProperty(name, 'microsoft.graph.security.alertComment', now);
    }
  }
  if (typeof comment !== 'string' || comment.trim() === '') {
    return { ok: false, reply: graphError(400, 'BadRequest', "The parameter 'comment' is required and must be a non-empty string.", now) };
  }
  return { ok: true, value: comment };
}

/**
 * Applies a PATCH to a triage (an alert's, or an incident's, which has more properties). Answers whether
 * anything changed, so only a real change moves the entity's lastUpdateDateTime. Resolving stamps
 * resolvedDateTime; reopening clears it.
 */
export function applyPatch(triage: AlertTriage, changes: Patch, at: string, entity: WritableEntity = ALERT_ENTITY): boolean {
  const fields = triage as unknown as Record<string, unknown>;
  let changed = false;
  for (const name of entity.updatable) {
    const value = changes[name];
    if (value === undefined || JSON.stringify(value) === JSON.stringify(fields[name])) continue;
    fields[name] = value;
    changed = true;
  }
  if (changed && changes.status !== undefined) triage.resolvedDateTime = triage.status === 'resolved' ? (triage.resolvedDateTime ?? at) : null;
  return changed;
}
