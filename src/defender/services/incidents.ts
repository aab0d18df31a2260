import { ALERT_CLASSIFICATIONS, ALERT_DETERMINATIONS } from '../writing/alert-update';
import type { Detection, DetectionAccessor } from './detection';
import { DefenderError, invalidQuery } from '../errors';
import { GRAPH_API, type GraphClientOptions, type GraphCollection, GraphCollectionClient, type GraphEntity, type GraphSession } from './graph';
import { graphAlertKey } from './graph-mapping';
import { jsonObject } from '../writing/graph-writer';
import type { HttpTransport } from '../transport/http';
import { incidentFacts } from '../pulling/lifecycle';
import { message } from '../messages';
import { describeValue, type QueryDialect, WINDOW_KEYS } from '../pulling/query';
import { collectionUrl, type Connection } from './regions';
import type { TokenProvider } from '../sign-in/token';

/**
 * Defender XDR's incidents through Microsoft Graph (`GET /v1.0/security/incidents`): a Graph collection
 * paged by lastUpdateDateTime as alerts_v2 is (graph.ts), each incident with its alerts. An incident groups
 * the alerts of one attack; a SOC assigns, works and closes incidents, not alerts.
 */

/** incidentStatus of Graph v1.0: redirected (merged into another) and awaitingAction (Defender Experts) included. */
export const INCIDENT_STATUSES = ['active', 'inProgress', 'resolved', 'redirected', 'awaitingAction'] as const;
export const INCIDENT_SEVERITIES = ['unknown', 'informational', 'low', 'medium', 'high'] as const;

/** The properties Graph documents as filterable on incidents, besides the times, and the values each takes (free text: none). */
const FILTERABLE: Readonly<Record<string, readonly string[] | undefined>> = {
  status: INCIDENT_STATUSES,
  severity: INCIDENT_SEVERITIES,
  assignedTo: undefined,
  classification: ALERT_CLASSIFICATIONS,
  determination: ALERT_DETERMINATIONS,
};
export const INCIDENT_FILTERS = Object.keys(FILTERABLE);

/** Whether a pull reads each incident's alerts (`include`, the default) or the incidents alone (`none`). */
export const ALERTS_MODES = ['include', 'none'] as const;
export type AlertsMode = (typeof ALERTS_MODES)[number];

/**
 * One filterable property's values: a text or a list of texts (a list matches any of them); an enum's in
 * any case, answered in Graph's casing. Empty texts are passed over.
 */
function filterValues(key: string, value: unknown): string[] {
  const list = Array.isArray(value) ? value : [value];
  const known = FILTERABLE[key];
  return list.flatMap((item) => {
    if (typeof item !== 'string') {
      throw invalidQuery(known ? message('incident.query-bad-value', { name: key, valid: known.join(', '), value: describeValue(value) }) : message('incident.query-bad-text', { name: key, value: describeValue(value) }));
    }
    const text = item.trim();
    if (text === '') return [];
    if (!known) return [text];
    const member = known.find((v) => v.toLowerCase() === text.toLowerCase());
    if (member === undefined) throw invalidQuery(message('incident.query-bad-value', { name: key, valid: known.join(', '), value: describeValue(value) }));
    return [member];
  });
}

/** What an incidents pull takes: the time range, the limit, and the filterable properties. */
export const INCIDENT_QUERY: QueryDialect = { keys: [...WINDOW_KEYS, ...INCIDENT_FILTERS], lists: INCIDENT_FILTERS, property: filterValues };

/**
 * How long the list is read without `$expand=alerts` once Graph failed it: an hour, then it is tried again
 * (a tenant's incidents may shrink back, and a 500 may have been an outage).
 */
const EXPAND_REST_MS = 60 * 60 * 1000;

/** A value as an OData string literal. */
const literal = (value: string): string => `'${value.replace(/'/g, "''")}'`;

/**
 * The incidents collection. With alerts, every list request asks `$expand=alerts` while Graph takes it; on
 * large tenants the list with `$filter` and `$expand=alerts` answers 500 and keeps answering it
 * (elastic/integrations#18144, where the pull then stalled for good): then the list is read without it and
 * each incident's alerts are read on their own (IncidentsClient).
 */
function incidentsCollection(alerts: AlertsMode): GraphCollection {
  return {
    name: 'incidents',
    // Graph answers at most 50 incidents a page: a larger $top would make a full page look like the last.
    maxTop: 50,
    clauses: (params) =>
      INCIDENT_FILTERS.filter((property) => params.has(property)).map((property) => {
        const values = params.getAll(property);
        const either = values.map((v) => `${property} eq ${literal(v)}`);
        return either.length === 1 ? either[0] : `(${either.join(' or ')})`;
      }),
    ...(alerts === 'include'
      ? { optional: { name: '$expand', value: 'alerts', failsWith: (err: unknown) => err instanceof DefenderError && (err.statusCode ?? 0) >= 500, restMs: EXPAND_REST_MS } }
      : {}),
    badBody: 'incident.body-not-incidents',
    service: { ...GRAPH_API, meanings: { ...GRAPH_API.meanings, 403: message('incident.meaning-403') } },
  };
}

function text(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' ? String(value) : '';
}

/** msg.topic of an incident: `[High] Multi-stage incident involving Execution & Ransomware on one endpoint`. */
export function incidentTopic(incident: Detection): string {
  const severity = text(incident.severity);
  const shown = severity === '' || severity.toLowerCase() === 'unknownfuturevalue' ? 'Unknown' : severity[0].toUpperCase() + severity.slice(1);
  const name = text(incident.displayName) || `Incident ${text(incident.id)}`;
  return `[${shown}] ${name}`.replace(/[\r\n]+/g, ' ');
}

/** Incidents as a pull reads them: one version is `id|lastUpdateDateTime`, as for alerts. */
export const INCIDENT_ACCESSOR: DetectionAccessor = {
  key: graphAlertKey,
  time: (d) => (d as GraphEntity).lastUpdateDateTime,
  topic: incidentTopic,
  facts: (d) => incidentFacts(d),
};

export interface IncidentsClientOptions extends GraphClientOptions {
  /** Default `include`. */
  alerts?: AlertsMode;
}

/**
 * GET /v1.0/security/incidents: the incidents of a window, each with its alerts in `alerts` unless told
 * not to read them. When the list could not expand them, each incident's alerts are read by
 * `GET /security/incidents/{id}?$expand=alerts`, one request an incident through the shared rate limit, so
 * the pull goes on where Graph's list would fail it.
 */
export class IncidentsClient extends GraphCollectionClient {
  readonly accessor = INCIDENT_ACCESSOR;
  private readonly alerts: AlertsMode;
  /** The alerts read on their own for the page before, by incident version. */
  private readBefore = new Map<string, unknown[]>();

  constructor(transport: Pick<HttpTransport, 'get'>, connection: Connection, tokens: TokenProvider, session: GraphSession, options: IncidentsClientOptions) {
    const alerts = options.alerts ?? 'include';
    super(incidentsCollection(alerts), transport, connection, tokens, session, options);
    this.alerts = alerts;
  }

  protected async complete(incidents: GraphEntity[]): Promise<Detection[]> {
    if (this.alerts === 'none') return incidents;
    const read = new Map<string, unknown[]>();
    for (const incident of incidents) {
      if (!Array.isArray(incident.alerts)) {
        // The versions on a page's edge come again on the next page: their alerts were read already.
        const key = graphAlertKey(incident);
        // A merged incident's alerts went to the one it was merged into: there is nothing to read.
        incident.alerts = this.readBefore.get(key) ?? (incident.status === 'redirected' ? [] : await this.alertsOf(text(incident.id)));
        read.set(key, incident.alerts as unknown[]);
      }
    }
    this.readBefore = read;
    return incidents;
  }

  /** The alerts of one incident as Graph answers them now; none when the incident is gone. */
  private async alertsOf(id: string): Promise<unknown[]> {
    const url = `${collectionUrl(this.connection, 'incidents')}/${encodeURIComponent(id)}?$expand=alerts`;
    try {
      return await this.get(url, (response, token) => {
        const alerts = jsonObject(response, 'incident.expected-incident', token).alerts;
        return Array.isArray(alerts) ? alerts : [];
      });
    } catch (err) {
      if (err instanceof DefenderError && err.statusCode === 404) return [];
      throw err;
    }
  }
}
