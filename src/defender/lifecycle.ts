import { keyToMillis, timeKey } from './time-key';

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

export type AlertValue = string | number | boolean | null;

/**
 * What changes when an analyst triages a Graph alert, and what new evidence or comments change. Counts stand
 * for the lists: the lists themselves are large and their order is not meaningful.
 */
export const GRAPH_FIELDS = ['status', 'severity', 'classification', 'determination', 'assignedTo', 'title', 'evidenceCount', 'commentCount'] as const;

/** The SIEM API has no status or assignment; what an update of a detection can change there. */
export const SIEM_FIELDS = ['Severity', 'AlertTitle', 'Category', 'ThreatFamily', 'ThreatName', 'RemediationAction', 'RemediationIsSuccess'] as const;

/** The properties whose change is triage: what `events: triage` sends updates for. */
const TRIAGE = new Set<string>(['status', 'severity', 'classification', 'determination', 'assignedTo', 'Severity']);

export const EVENT_MODES = ['all', 'new', 'triage'] as const;
/** `all`: every version. `new`: first versions only. `triage`: first versions and updates that touch triage. */
export type EventMode = (typeof EVENT_MODES)[number];

export type AlertEvent = 'new' | 'update';

/** What a version of an alert is to this node, and whether it goes out. */
export interface Verdict {
  event: AlertEvent;
  /**
   * For an update: the tracked properties that differ from the version sent last, in `fields` order; null
   * when that version is not known (the alert was created before what the node remembers).
   */
  changes: string[] | null;
  /** For an update with known changes: their values in the version sent last. */
  previous?: Record<string, AlertValue>;
  send: boolean;
}

/**
 * One remembered alert, compact because a node may remember a hundred thousand: the time key of the version
 * sent last, 1 when that version went out as new, the epoch ms of the newest version seen (sent or not: an
 * alert still being touched is not forgotten), then the tracked values of the version sent last.
 */
type Entry = [sent: string, sentAsNew: 0 | 1, touchedMs: number, ...values: AlertValue[]];

/** The remembered alerts as stored with the checkpoint (plain JSON, for any context store). */
export interface AlertMemoryState {
  /** The names of the stored values; a memory of other fields (the node switched APIs) is not used. */
  fields: string[];
  alerts: Record<string, Entry>;
  /**
   * A timeKey before which this node sent alerts it does not remember: the checkpoint's newest time when the
   * memory began after the node had already pulled (a checkpoint of 0.1.0, or the node switched APIs).
   * An alert created before it is not new to the node.
   */
  since?: string;
}

/** How to put back one change of the memory: the entry it replaced, or the touched time it moved. */
type Undo = [id: string, replaced: Entry | undefined] | [id: string, touchedBefore: number, entry: Entry];

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
  if (!value || typeof value !== 'object') return false;
  const m = value as Partial<AlertMemoryState>;
  return Array.isArray(m.fields) && m.fields.every((f) => typeof f === 'string') && !!m.alerts && typeof m.alerts === 'object' && !Array.isArray(m.alerts);
}

/**
 * What a node remembers of the alerts it sent, for one filter: bounded by `remember` (alerts untouched for
 * longer are forgotten), kept with the checkpoint so a persistent context store carries it across restarts.
 */
export class AlertMemory {
  readonly state: AlertMemoryState;
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
    this.state = stored && isAlertMemoryState(stored) ? stored : { fields: [], alerts: {}, ...(pulledUntil ? { since: timeKey(pulledUntil) } : {}) };
    this.pulledUntil = pulledUntil;
    for (const [id, entry] of Object.entries(this.state.alerts)) {
      if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[2] !== 'number' || entry[2] < horizonMs) delete this.state.alerts[id];
      else for (let i = 3; i < entry.length; i++) entry[i] = this.canonical(entry[i]);
    }
  }

  /**
   * Values repeat across alerts (a status, a severity, an owner, a detection's title): each kept once, so a
   * hundred thousand remembered alerts do not hold a hundred thousand copies of "inProgress".
   */
  private readonly values = new Map<string, string>();

  private canonical(value: AlertValue): AlertValue {
    if (typeof value !== 'string') return value;
    const known = this.values.get(value);
    if (known !== undefined) return known;
    this.values.set(value, value);
    return value;
  }

  get size(): number {
    return Object.keys(this.state.alerts).length;
  }

  /**
   * What this version of an alert is, whether it goes out under `mode`, and remembers it: as the version
   * sent last when it goes out, only as touched when it does not. `time` is the version's timeKey. With
   * `mustSend` it goes out whatever `mode` says (it takes over a delivery an earlier version still owes).
   */
  observe(facts: AlertFacts, time: string, mode: EventMode, mustSend = false): Verdict {
    const alerts = this.useFields(facts.fields);
    const entry = alerts[facts.id];
    let verdict: Verdict;
    if (!entry) {
      // Not remembered: new, unless it was created before what the node remembers, or before it remembered.
      const known = this.state.since !== undefined && this.state.since > this.horizon ? this.state.since : this.horizon;
      verdict = facts.created !== '' && facts.created < known ? { event: 'update', changes: null, send: false } : { event: 'new', changes: null, send: true };
    } else if (entry[0] === time) {
      // The version sent last, again (a restart before the checkpoint moved past it): the same event as then.
      verdict = entry[1] === 1 ? { event: 'new', changes: null, send: true } : { event: 'update', changes: null, send: false };
    } else {
      const changes: string[] = [];
      const previous: Record<string, AlertValue> = {};
      facts.fields.forEach((field, i) => {
        if (entry[3 + i] !== facts.values[i]) {
          changes.push(field);
          previous[field] = entry[3 + i] ?? null;
        }
      });
      verdict = { event: 'update', changes, previous, send: false };
    }
    verdict.send = mustSend || verdict.event === 'new' || mode === 'all' || (mode === 'triage' && (verdict.changes === null || verdict.changes.some((c) => TRIAGE.has(c))));
    const timeMs = keyToMillis(time, 'floor');
    if (verdict.send) {
      // Built at its exact length: a hundred thousand of these are kept.
      const next = new Array(3 + facts.values.length) as Entry;
      next[0] = time;
      next[1] = verdict.event === 'new' ? 1 : 0;
      next[2] = entry && entry[2] > timeMs ? entry[2] : timeMs;
      for (let i = 0; i < facts.values.length; i++) next[3 + i] = this.canonical(facts.values[i]);
      this.journal.push([facts.id, entry]);
      alerts[facts.id] = next;
    } else if (entry && entry[2] < timeMs) {
      this.journal.push([facts.id, entry[2], entry]);
      entry[2] = timeMs;
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
    const alerts = this.state.alerts;
    while (this.position > Math.max(position, this.settledAt)) {
      const undo = this.journal.pop() as Undo;
      if (undo.length === 3) undo[2][2] = undo[1];
      else if (undo[1] === undefined) delete alerts[undo[0]];
      else alerts[undo[0]] = undo[1];
    }
  }

  /** The alerts remembered under `fields`; a memory of other fields is dropped (the node switched APIs). */
  private useFields(fields: readonly string[]): Record<string, Entry> {
    const state = this.state;
    if (state.fields.length !== fields.length || state.fields.some((f, i) => f !== fields[i])) {
      // A memory of other fields (the node switched APIs, or it is new): what it sent before is not new to it.
      state.fields = [...fields];
      state.alerts = {};
      if (this.pulledUntil) state.since = timeKey(this.pulledUntil);
    }
    return state.alerts;
  }
}
