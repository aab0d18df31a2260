import { ALERT_CLASSIFICATIONS, ALERT_DETERMINATIONS } from './alert-update';
import { firstId, type UpdateKind } from './entity-update';
import { fieldName, message } from '../messages';
import { isPlainObject } from '../realm';

/*
 * What the incident update node may change on a Defender incident (entity-update.ts validates it): what
 * `PATCH /security/incidents/{id}` takes, and a comment.
 */

/** The statuses a client may set. */
export const INCIDENT_SETTABLE_STATUSES = ['active', 'inProgress', 'resolved'] as const;

/** Everything the incident update node can change, in the order the editor shows them. */
export const INCIDENT_UPDATE_FIELDS = ['status', 'classification', 'determination', 'assignedTo', 'customTags', 'comment'] as const;
export type IncidentUpdateField = (typeof INCIDENT_UPDATE_FIELDS)[number];

/** The enum-valued properties and the values a client may set: classification and determination as for alerts. */
export const INCIDENT_ENUMS = {
  status: INCIDENT_SETTABLE_STATUSES,
  classification: ALERT_CLASSIFICATIONS,
  determination: ALERT_DETERMINATIONS,
} as const;

export const INCIDENT_UPDATE: UpdateKind = {
  fields: INCIDENT_UPDATE_FIELDS,
  enums: INCIDENT_ENUMS,
  // Defender sets redirected when it merges the incident into another, and Defender Experts awaitingAction.
  setByService: { status: ['redirected', 'awaitingAction'] },
  lists: ['customTags'],
  texts: {
    nothing: () => message('incident.nothing'),
    notNull: (field) => message('incident.not-null', { field: fieldName(field) }),
    refused: (value) => message('incident.status-refused', { value }),
    badList: (value) => message('incident.bad-tags', { value }),
    badId: (from, value) => message('incident.bad-id', { from, value }),
  },
};

/**
 * The incident a SIEM-shaped detection links to. A detection read through Graph (shape siem) links the
 * incident itself (`https://security.microsoft.com/incidents/29135?tid=…`); the SIEM API links a search
 * by alert (`…/incidents/byalert?alertId=…`), which names no incident: undefined.
 */
export function incidentOfLink(link: unknown): string | undefined {
  if (typeof link !== 'string') return undefined;
  return /^https:\/\/[^/?#]+\/incidents\/(\d+)(?:[/?#]|$)/i.exec(link.trim())?.[1];
}

/**
 * The incident a message is about: `msg.incidentId` (what the incidents node sets), else the incident of
 * the alert in `msg.payload` — Graph's `incidentId`, or `IncidentId` of a SIEM-shaped one, or the incident
 * its `IncidentLinkToMTP` links to — so an alert can go in and its incident be updated. An incident id may
 * come as a number; it is sent as its digits. The first present is used and must be valid.
 */
export function findIncidentId(msg: { incidentId?: unknown; payload?: unknown }): string {
  const payload = isPlainObject(msg.payload) ? msg.payload : undefined;
  const digits = (value: unknown): unknown => (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? String(value) : value);
  return firstId(
    INCIDENT_UPDATE,
    [
      ['msg.incidentId', digits(msg.incidentId)],
      ['msg.payload.incidentId', digits(payload?.incidentId)],
      ['msg.payload.IncidentId', digits(payload?.IncidentId)],
      ['msg.payload.IncidentLinkToMTP', incidentOfLink(payload?.IncidentLinkToMTP)],
    ],
    message('incident.no-id'),
  );
}
