import type { Detection } from '../defender/services/detection';
import { ALERT_SEVERITY, type EvolvableEnum, type FilterSchema, type Listed, shownMember } from './graph';
import { type AlertTriage, applyPatch, INCIDENT_ENTITY, type Patch, type WritableEntity } from './graph-write';
import type { StoredView } from './store';
import { formatMs, formatTicks, instantToMs, instantToTicks, parseDateTime } from './timestamps';

/**
 * Defender XDR's incidents, as Graph serves them under /v1.0/security/incidents, built from the emulator's
 * alerts: Defender correlates alerts into incidents, here the alerts of one device within one hour (an alert
 * may be pinned to an incident instead, by the test that adds it). An incident changes when one of its
 * alerts does, when an alert joins it, when an analyst or an app edits it, and when Defender merges it into
 * another (it is then `redirected`, its alerts gone to the other).
 */

/** The properties the incidents list documents as filterable. */
export const INCIDENTS_FILTER: FilterSchema = {
  properties: ['assignedTo', 'classification', 'createdDateTime', 'determination', 'lastUpdateDateTime', 'severity', 'status'],
  times: ['createdDateTime', 'lastUpdateDateTime'],
  example: (property) => (property === 'status' ? 'active' : 'high'),
};

/** Graph answers at most 50 incidents a page, whatever `$top` asks. */
export const INCIDENTS_MAX_TOP = 50;

/** incidentStatus as v1.0's schema lists it: `awaitingAction` (Defender Experts) came after the sentinel. */
const INCIDENT_STATUS: EvolvableEnum = { members: ['active', 'resolved', 'inProgress', 'redirected'], added: ['awaitingAction'] };

/** What an analyst may set in the portal: what an app may, and Defender Experts' awaitingAction. */
export const PORTAL_INCIDENT_EDIT: WritableEntity = {
  ...INCIDENT_ENTITY,
  enums: { ...INCIDENT_ENTITY.enums, status: { ...INCIDENT_ENTITY.enums.status, values: ['active', 'resolved', 'inProgress', 'awaitingAction'], setByService: ['redirected'] } },
};

/** What analysts and apps did to an incident, and Defender when it merged it into another. */
export interface IncidentTriage extends AlertTriage {
  customTags: string[];
  redirectIncidentId: string | null;
  lastModifiedBy: string | null;
  /** When it was last changed: a fixed-width instant, later than every version before it. */
  at: string;
  /** A merged incident has no alerts left: what it showed when they left. */
  merged?: { severity: string; displayName: string; createdDateTime: string };
}

/** An incident nobody touched. Classification and determination are null until set, as for alerts. */
const UNTOUCHED_INCIDENT: Readonly<IncidentTriage> = Object.freeze({
  status: 'active',
  classification: null,
  determination: null,
  assignedTo: null,
  resolvedDateTime: null,
  comments: [],
  customTags: [],
  redirectIncidentId: null,
  lastModifiedBy: null,
  at: '',
});

/** One incident now: its alerts (oldest first), what they make of it, and its triage. */
export interface Incident extends Listed {
  id: string;
  alerts: StoredView[];
  severity: string;
  displayName: string;
  createdDateTime: string;
  triage: Readonly<IncidentTriage>;
}

/** An analyst's edit in the portal: what PATCH sets, and a comment. */
export type IncidentEdit = Patch & { comment?: string };

const SEVERITY_RANK = ['informational', 'low', 'medium', 'high'];
const HOUR_MS = 60 * 60 * 1000;

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/** "CredentialAccess" as Defender's incident names say it: "Credential access". */
function words(category: string): string {
  const spaced = category.replace(/([a-z])([A-Z])/g, '$1 $2').toLowerCase();
  return spaced.charAt(0).toUpperCase() + spaced.slice(1);
}

/** An incident's name as Defender makes it from its alerts. */
function displayNameOf(alerts: readonly StoredView[]): string {
  const devices = new Set(alerts.map((v) => text(v.detection.DeviceID)));
  const where = devices.size > 1 ? 'on multiple endpoints' : 'on one endpoint';
  if (alerts.length === 1) return `${text(alerts[0].detection.AlertTitle) || 'Suspicious activity'} ${where}`;
  const categories = [...new Set(alerts.map((v) => text(v.detection.Category)).filter((c) => c !== ''))].slice(0, 3).map(words);
  return `Multi-stage incident involving ${categories.length > 0 ? categories.join(' & ') : 'several alerts'} ${where}`;
}

/** The instant of a change made at `nowMs` to something last changed at `last`: later than it, always. */
export function changedAt(last: string, nowMs: number): string {
  const now = formatMs(nowMs);
  return last !== '' && now <= last ? formatTicks(instantToTicks(last) + 1n) : now;
}

/**
 * The incidents of the emulator's alerts. Incident ids are numbers, as Defender's are, handed out in the
 * order the groups are first seen; they stay until the emulator is reset.
 */
export class IncidentBook {
  private readonly ids = new Map<string, string>();
  private next = 1001;
  /** Alerts a merge moved into another incident. */
  private readonly moved = new Map<string, string>();
  private readonly triage = new Map<string, IncidentTriage>();
  private readonly groups = new WeakMap<Detection, string>();

  /** The incident of an alert: the one a merge moved it to, else the one it is pinned to, else its device's of that hour. */
  incidentOf(detection: Detection, pinned?: string): string {
    const alertId = text(detection.AlertId);
    const moved = this.moved.get(alertId);
    if (moved !== undefined) return moved;
    if (pinned !== undefined) return pinned;
    let group = this.groups.get(detection);
    if (group === undefined) {
      const created = parseDateTime(text(detection.AlertTime));
      group = created === undefined ? `alert:${alertId}` : `${text(detection.DeviceID)}|${Math.floor(instantToMs(created) / HOUR_MS)}`;
      this.groups.set(detection, group);
    }
    let id = this.ids.get(group);
    if (id === undefined) {
      id = String(this.next++);
      this.ids.set(group, id);
    }
    return id;
  }

  /**
   * Every incident of these alerts (the visible ones), and those merged away, newest first (by
   * lastUpdateDateTime, ties by id). `pinned` says which incident an alert was added to, if any.
   */
  list(views: readonly StoredView[], pinned: (alertId: string) => string | undefined): Incident[] {
    const byId = new Map<string, StoredView[]>();
    for (const view of views) {
      const id = this.incidentOf(view.detection, pinned(text(view.detection.AlertId)));
      let alerts = byId.get(id);
      if (!alerts) byId.set(id, (alerts = []));
      alerts.push(view);
    }
    for (const [id, triage] of this.triage) if (triage.merged && !byId.has(id)) byId.set(id, []);
    const incidents: Incident[] = [];
    for (const [id, alerts] of byId) {
      const triage = this.triage.get(id) ?? UNTOUCHED_INCIDENT;
      alerts.sort((a, b) => (text(a.detection.AlertTime) < text(b.detection.AlertTime) ? -1 : 1));
      let key = triage.at;
      let rank = -1;
      for (const view of alerts) {
        if (view.key > key) key = view.key;
        rank = Math.max(rank, SEVERITY_RANK.indexOf(text(view.detection.Severity).toLowerCase()));
      }
      const merged = triage.merged;
      incidents.push({
        id,
        key,
        seq: Number(id),
        alerts,
        severity: merged?.severity ?? SEVERITY_RANK[rank] ?? 'unknown',
        displayName: merged?.displayName ?? displayNameOf(alerts),
        createdDateTime: merged?.createdDateTime ?? text(alerts[0]?.detection.AlertTime),
        triage,
      });
    }
    return incidents.sort((a, b) => (a.key !== b.key ? (a.key > b.key ? -1 : 1) : b.seq - a.seq));
  }

  /**
   * Applies a change (a PATCH, a comment, an analyst's edit) to `incident` at `nowMs`. Answers whether
   * anything changed: only a change moves the incident's lastUpdateDateTime.
   */
  edit(incident: Incident, edit: IncidentEdit, by: string, nowMs: number): boolean {
    const { comment, ...patch } = edit;
    const before = incident.triage;
    const next: IncidentTriage = { ...before, comments: [...before.comments], customTags: [...before.customTags] };
    const at = changedAt(incident.key, nowMs);
    let changed = applyPatch(next, patch, at, INCIDENT_ENTITY);
    if (comment !== undefined) {
      next.comments.push({ comment, createdByDisplayName: by, createdDateTime: at });
      changed = true;
    }
    if (!changed) return false;
    next.at = at;
    next.lastModifiedBy = by;
    this.triage.set(incident.id, next);
    return true;
  }

  /** Defender merges `from` into `into`: its alerts move there, and it is redirected to it. */
  merge(from: Incident, into: Incident, nowMs: number): void {
    const at = changedAt(from.key > into.key ? from.key : into.key, nowMs);
    for (const view of from.alerts) this.moved.set(text(view.detection.AlertId), into.id);
    this.triage.set(from.id, {
      ...from.triage,
      status: 'redirected',
      redirectIncidentId: into.id,
      lastModifiedBy: 'Automation',
      at,
      merged: { severity: from.severity, displayName: from.displayName, createdDateTime: from.createdDateTime },
    });
    this.triage.set(into.id, { ...into.triage, at });
  }

  clear(): void {
    this.ids.clear();
    this.next = 1001;
    this.moved.clear();
    this.triage.clear();
  }
}

/**
 * The incident as Graph shows it to `tenant`; `alerts` when the request expanded them. Its evolvable status
 * as a client with (`includeUnknown`) or without the Prefer header sees it.
 */
export function incidentJson(incident: Incident, tenant: string, includeUnknown: boolean, alerts?: ReadonlyArray<Record<string, unknown>>): Record<string, unknown> {
  const t = incident.triage;
  return {
    id: incident.id,
    tenantId: tenant,
    status: shownMember(INCIDENT_STATUS, t.status, includeUnknown),
    incidentWebUrl: `https://security.microsoft.com/incidents/${incident.id}?tid=${tenant}`,
    redirectIncidentId: t.redirectIncidentId,
    displayName: incident.displayName,
    createdDateTime: incident.createdDateTime,
    lastUpdateDateTime: incident.key,
    assignedTo: t.assignedTo,
    classification: t.classification,
    determination: t.determination,
    severity: shownMember(ALERT_SEVERITY, incident.severity, includeUnknown),
    customTags: [...t.customTags],
    systemTags: [],
    description: null,
    summary: null,
    lastModifiedBy: t.lastModifiedBy,
    resolvingComment: null,
    comments: t.comments.map((c) => ({ ...c })),
    ...(alerts ? { alerts } : {}),
  };
}

/** The value of a filterable property of an incident. */
export function incidentValue(incident: Incident, property: string): string | null {
  switch (property) {
    case 'lastUpdateDateTime':
      return incident.key;
    case 'createdDateTime':
      return parseDateTime(incident.createdDateTime) ?? null;
    case 'severity':
      return incident.severity;
    case 'status':
    case 'classification':
    case 'determination':
    case 'assignedTo':
      return incident.triage[property];
    default:
      return null;
  }
}
