import { type AlertValue, isStoredAlerts, type RecordSnapshot, RememberedAlerts, splitTime, type StoredAlerts } from './remembered-alerts';
import { keyToMillis, timeKey } from './time-key';

export type { AlertValue };

/**
 * Alerts as a lifecycle. A Defender alert is updated after it was first seen (an analyst sets its status,
 * assigns it, classifies it, comments; new evidence arrives), and every update is a new version the pull
 * delivers. This module tells the first version an alert was sent in ("new") from a later one ("update"),
 * says which tracked properties changed since the version sent last, and decides, by the node's `events`
 * setting, which versions go out at all.
 */

/** What the lifecycle reads of one version of an alert. */
export interface AlertFacts {
  /** The alert's id: Graph's `id`, the SIEM API's FullId. */
  id: string;
  /** When the alert was created, as a timeKey; '' when the service did not say. */
  created: string;
  /** The tracked properties of this version, by name (one of `fields`). */
  values: readonly AlertValue[];
  /** The names of `values`: GRAPH_FIELDS or SIEM_FIELDS. */
  fields: readonly string[];
}


/**
 * What changes when an analyst triages a Graph alert, and what new evidence or comments change. Counts stand
 * for the lists: the lists themselves are large and their order is not meaningful.
 */
export const GRAPH_FIELDS = ['status', 'severity', 'classification', 'determination', 'assignedTo', 'title', 'evidenceCount', 'commentCount'] as const;

/**
 * What changes when an analyst triages an incident (status, owner, classification, tags), when Defender
 * renames or rescores it, and when alerts join it or leave it. Its tags are tracked as a list, its alerts by
 * their count (null when the node does not read them).
 */
export const INCIDENT_FIELDS = ['status', 'severity', 'classification', 'determination', 'assignedTo', 'displayName', 'customTags', 'alertCount'] as const;

/** Tracked properties that are lists: kept as their JSON text, and given back in `previous` as lists. */
const LIST_FIELDS = new Set<string>(['customTags']);

/** The SIEM API has no status or assignment; what an update of a detection can change there. */
export const SIEM_FIELDS = ['Severity', 'AlertTitle', 'Category', 'ThreatFamily', 'ThreatName', 'RemediationAction', 'RemediationIsSuccess'] as const;

/** The properties whose change is triage: what `events: triage` sends updates for. */
const TRIAGE = new Set<string>(['status', 'severity', 'classification', 'determination', 'assignedTo', 'Severity']);

export const EVENT_MODES = ['all', 'new', 'triage'] as const;
/** `all`: every version. `new`: first versions only. `triage`: first versions and updates that touch triage. */
export type EventMode = (typeof EVENT_MODES)[number];

export type AlertEvent = 'new' | 'update';

/** An earlier value of a tracked property, as `msg.previous` holds it. */
export type PreviousValue = AlertValue | string[];

/** What a version of an alert is to this node, and whether it goes out. */
export interface Verdict {
  event: AlertEvent;
  /**
   * For an update: the tracked properties that differ from the version sent last, in `fields` order; null
   * when that version is not known (the alert was created before what the node remembers).
   */
  changes: string[] | null;
  /** For an update with known changes: their values in the version sent last (a list for a list field). */
  previous?: Record<string, PreviousValue>;
  send: boolean;
}

/** The memory as the checkpoint stores it (remembered-alerts.ts): its live object, its JSON, or 0.2.0's form. */
export type AlertMemoryState = StoredAlerts;

/** How to put back one change of the memory: a record added, or a record's contents before a change. */
type Undo = { added: number } | { record: number; before: RecordSnapshot };

function value(v: unknown): AlertValue {
  return v === undefined ? null : typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null ? v : JSON.stringify(v);
}

function count(list: unknown): number {
  return Array.isArray(list) ? list.length : 0;
}

/** The facts of a Graph alerts_v2 alert. */
export function graphFacts(alert: Record<string, unknown>): AlertFacts {
  return {
    id: String(alert.id ?? ''),
    created: timeKey(alert.createdDateTime),
    fields: GRAPH_FIELDS,
    values: [
      value(alert.status),
      value(alert.severity),
      value(alert.classification),
      value(alert.determination),
      value(alert.assignedTo),
      value(alert.title),
      count(alert.evidence),
      count(alert.comments),
    ],
  };
}

/** The facts of a Graph incident (its alerts, when they were read, in `alerts`). */
export function incidentFacts(incident: Record<string, unknown>): AlertFacts {
  return {
    id: String(incident.id ?? ''),
    created: timeKey(incident.createdDateTime),
    fields: INCIDENT_FIELDS,
    values: [
      value(incident.status),
      value(incident.severity),
      value(incident.classification),
      value(incident.determination),
      value(incident.assignedTo),
      value(incident.displayName),
      value(Array.isArray(incident.customTags) ? incident.customTags : []),
      Array.isArray(incident.alerts) ? incident.alerts.length : null,
    ],
  };
}

/** A tracked value as `msg.previous` gives it back: a list field's JSON text as the list. */
function previousValue(field: string, stored: AlertValue): PreviousValue {
  if (!LIST_FIELDS.has(field) || typeof stored !== 'string') return stored;
  try {
    const list: unknown = JSON.parse(stored);
    return Array.isArray(list) ? list.map(String) : stored;
  } catch {
    return stored;
  }
}

/** The facts of a SIEM API detection (a `Detection` of detection.ts, which reads its facts through this). */
export function siemFacts(d: { readonly [field: string]: unknown }): AlertFacts {
  return {
    id: String(d.FullId || d.AlertId || ''),
    created: timeKey(d.AlertTime),
    fields: SIEM_FIELDS,
    values: SIEM_FIELDS.map((f) => value(d[f])),
  };
}

/**
 * Graph's alerts mapped to the SIEM API's fields lose what triage changes (status, assignment,
 * classification); the facts of the alert they came from travel with them under this key, not enumerable, so
 * no message, clone or debug output shows them.
 */
export const ALERT_FACTS: unique symbol = Symbol('defender alert facts');

export function withFacts<T extends object>(detection: T, facts: AlertFacts): T {
  Object.defineProperty(detection, ALERT_FACTS, { value: facts, enumerable: false });
  return detection;
}

export function isAlertMemoryState(value: unknown): value is AlertMemoryState {
  return isStoredAlerts(value);
}

/**
 * What a node remembers of the alerts it sent, for one filter: bounded by `remember` (alerts untouched for
 * longer are forgotten), kept with the checkpoint so a persistent context store carries it across restarts.
 */
export class AlertMemory {
  /** The remembered alerts: what the checkpoint stores (the same object, changed in place). */
  readonly state: RememberedAlerts;
  /** Alerts created before this (a timeKey) and not remembered are updates of versions never seen. */
  private readonly horizon: string;
  private readonly pulledUntil?: string;

  /** Changes since the last settle(), in order, to put back on rollback(). `settledAt` counts those dropped. */
  private readonly journal: Undo[] = [];
  private settledAt = 0;

  /**
   * `stored` is what the checkpoint held (or undefined); `nowMs - rememberMs` is the horizon. Alerts last
   * touched before the horizon are forgotten now. `pulledUntil` is the checkpoint's newest time when there
   * is one: a node that pulled before it remembered (0.1.0) sent the alerts created before it.
   */
  constructor(stored: AlertMemoryState | undefined, nowMs: number, rememberMs: number, pulledUntil?: string) {
    const horizonMs = nowMs - rememberMs;
    this.horizon = timeKey(new Date(horizonMs).toISOString());
    this.pulledUntil = pulledUntil;
    this.state = RememberedAlerts.from(stored) ?? new RememberedAlerts([], 64, pulledUntil ? timeKey(pulledUntil) : undefined);
    this.state.forgetBefore(horizonMs);
  }

  get size(): number {
    return this.state.size;
  }

  /**
   * What this version of an alert is, whether it goes out under `mode`, and remembers it: as the version
   * sent last when it goes out, only as touched when it does not. `time` is the version's timeKey. With
   * `mustSend` it goes out whatever `mode` says (it takes over a delivery an earlier version still owes).
   */
  observe(facts: AlertFacts, time: string, mode: EventMode, mustSend = false): Verdict {
    const alerts = this.useFields(facts.fields);
    const r = alerts.find(facts.id);
    const { ms, sub } = splitTime(time);
    let verdict: Verdict;
    if (r < 0) {
      // Not remembered: new, unless it was created before what the node remembers, or before it remembered.
      const known = alerts.since !== undefined && alerts.since > this.horizon ? alerts.since : this.horizon;
      verdict = facts.created !== '' && facts.created < known ? { event: 'update', changes: null, send: false } : { event: 'new', changes: null, send: true };
    } else if (alerts.sentAt(r, ms, sub)) {
      // The version sent last, again (a restart before the checkpoint moved past it): the same event as then.
      verdict = alerts.sentAsNew(r) ? { event: 'new', changes: null, send: true } : { event: 'update', changes: null, send: false };
    } else {
      const changes: string[] = [];
      const previous: Record<string, PreviousValue> = {};
      for (let f = 0; f < facts.fields.length; f++) {
        if (alerts.holds(r, f, facts.values[f])) continue;
        changes.push(facts.fields[f]);
        previous[facts.fields[f]] = previousValue(facts.fields[f], alerts.value(r, f) ?? null);
      }
      verdict = { event: 'update', changes, previous, send: false };
    }
    verdict.send = mustSend || verdict.event === 'new' || mode === 'all' || (mode === 'triage' && (verdict.changes === null || verdict.changes.some((c) => TRIAGE.has(c))));
    const timeMs = ms;
    if (verdict.send) {
      const touched = r >= 0 && alerts.touchedMs(r) > timeMs ? alerts.touchedMs(r) : timeMs;
      if (r >= 0) this.journal.push({ record: r, before: alerts.snapshot(r) });
      // `find` above was for this alert: a new record is made for it.
      const written = r >= 0 ? r : alerts.addFound();
      if (r < 0) this.journal.push({ added: written });
      alerts.write(written, ms, sub, verdict.event === 'new', touched, facts.values);
    } else if (r >= 0 && alerts.touchedMs(r) < timeMs) {
      this.journal.push({ record: r, before: alerts.snapshot(r) });
      alerts.touch(r, timeMs);
    }
    return verdict;
  }

  /** Where the memory stands: what rollback() can go back to. */
  get position(): number {
    return this.settledAt + this.journal.length;
  }

  /** The changes before `position` stay: they are covered by a stored checkpoint. */
  settle(position: number): void {
    const drop = Math.min(this.journal.length, position - this.settledAt);
    if (drop <= 0) return;
    this.journal.splice(0, drop);
    this.settledAt += drop;
  }

  /** Puts back every change after `position` that was not settled: the versions did not go out. */
  rollback(position: number): void {
    while (this.position > Math.max(position, this.settledAt)) {
      const undo = this.journal.pop() as Undo;
      if ('added' in undo) this.state.removeLast();
      else this.state.restore(undo.record, undo.before);
    }
  }

  /** The alerts remembered under `fields`; a memory of other fields is dropped (the node switched APIs). */
  private useFields(fields: readonly string[]): RememberedAlerts {
    const state = this.state;
    if (state.fields.length !== fields.length || state.fields.some((f, i) => f !== fields[i])) {
      // A memory of other fields (the node switched APIs, or it is new): what it sent before is not new to it.
      state.reset(fields, this.pulledUntil ? timeKey(this.pulledUntil) : state.since);
    }
    return state;
  }
}
