/**
 * Defender incidents through the shared machinery: the incidents query, the Graph collection client paging
 * incidents by lastUpdateDateTime with and without @odata.nextLink, the `$expand=alerts` fallback, the pull's
 * lifecycle over incidents, and the incident writer, against the emulator over loopback.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { Duration } from 'luxon';
import { checkpointKey } from '../../../src/defender/pulling/checkpoint';
import { DefenderError } from '../../../src/defender/errors';
import { findIncidentId, INCIDENT_UPDATE } from '../../../src/defender/writing/incident-update';
import { INCIDENT_QUERY, incidentTopic } from '../../../src/defender/services/incidents';
import { pullDetections, type PullResult } from '../../../src/defender/pulling/pull';
import { mergeQuery, parseQuery, toSearchParams } from '../../../src/defender/pulling/query';
import { DEFAULT_RETRY_POLICY } from '../../../src/defender/transport/retry';
import { parseUpdate } from '../../../src/defender/writing/entity-update';
import { Tenant } from '../../../src/defender/tenant';
import type { Emulator } from '../../../src/emulator';
import { CLIENT_ID, SECRET, TENANT, startEmulator } from '../../emulator/fixtures';
import { CollectingSink } from '../../fixtures/sink';
import { thrown } from '../../fixtures/thrown';

const MINUTE = 60_000;
const settings = { initialAgo: Duration.fromISO('PT2H'), overlap: Duration.fromISO('PT5M') };

describe('the incidents query', () => {
  it('takes the time range, limit and the filterable properties in any case, an array as an or-group, enums in Graph\'s casing', () => {
    const query = parseQuery({ STATUS: ['ACTIVE', 'inprogress'], severity: 'High', assignedto: ' soc@contoso.com ', classification: 'truepositive', limit: '5' }, INCIDENT_QUERY);
    assert.deepEqual(query.properties, { status: ['active', 'inProgress'], severity: ['high'], assignedTo: ['soc@contoso.com'], classification: ['truePositive'] });
    assert.equal(toSearchParams(query).toString(), 'limit=5&status=active&status=inProgress&severity=high&assignedTo=soc%40contoso.com&classification=truePositive');
    // A message's property replaces the node's value of that property only.
    assert.deepEqual(mergeQuery(parseQuery({ severity: 'high', status: 'active' }, INCIDENT_QUERY), parseQuery({ status: 'resolved' }, INCIDENT_QUERY)).properties, { severity: ['high'], status: ['resolved'] });
  });

  it('refuses unknown keys (the SIEM API\'s among them) and values Graph does not know, saying what would be right', () => {
    assert.equal(thrown(() => parseQuery({ machinegroups: 'UK' }, INCIDENT_QUERY)).message,
      'unknown query parameter "machinegroups": the known parameters are sinceTimeUtc, untilTimeUtc, ago, limit, status, severity, assignedTo, classification, determination');
    const bad = thrown(() => parseQuery({ status: ['active', 'closed'] }, INCIDENT_QUERY));
    assert.equal(bad.code, 'INVALID_QUERY');
    assert.equal(bad.message, 'status must be one of active, inProgress, resolved, redirected, awaitingAction (in any case), or a list of them, got ["active","closed"]');
    assert.match(thrown(() => parseQuery({ assignedTo: 7 }, INCIDENT_QUERY)).message, /^assignedTo must be text/);
    // And the detections node still refuses what is not the SIEM API's.
    assert.match(thrown(() => parseQuery({ status: 'active' })).message, /unknown query parameter "status"/);
  });

  it('keeps a checkpoint per set of properties, and the same key as before for a query without them', () => {
    assert.equal(checkpointKey({}), 'checkpoint');
    assert.equal(checkpointKey({ machinegroups: ['UK'] }), checkpointKey(parseQuery({ machinegroups: ['UK'] })));
    const a = checkpointKey(parseQuery({ status: ['active', 'inProgress'] }, INCIDENT_QUERY));
    assert.equal(a, checkpointKey(parseQuery({ status: ['inprogress', 'Active'] }, INCIDENT_QUERY)), 'order and case do not matter');
    assert.notEqual(a, checkpointKey(parseQuery({ status: 'active' }, INCIDENT_QUERY)));
    assert.match(a, /^checkpoint_[0-9a-f]{16}$/);
  });

  it('makes the topic from the severity and the name', () => {
    assert.equal(incidentTopic({ severity: 'high', displayName: 'Ransomware on one endpoint' }), '[High] Ransomware on one endpoint');
    assert.equal(incidentTopic({ severity: 'unknownFutureValue', id: '42' }), '[Unknown] Incident 42');
  });
});

describe('the incident id and change set', () => {
  it('comes from msg.incidentId, else an alert\'s incidentId (Graph), else its IncidentId (SIEM), a number as its digits', () => {
    assert.equal(findIncidentId({ incidentId: '29135', payload: { incidentId: 'x' } }), '29135');
    assert.equal(findIncidentId({ payload: { id: 'da1', incidentId: 4711 } }), '4711');
    assert.equal(findIncidentId({ payload: { IncidentId: '815' } }), '815');
    // A SIEM-shaped detection read through Graph links its incident; the SIEM API's links a search by alert.
    assert.equal(findIncidentId({ payload: { IncidentLinkToMTP: 'https://security.microsoft.com/incidents/2972395?tid=t1' } }), '2972395');
    assert.equal(findIncidentId({ payload: { IncidentId: '815', IncidentLinkToMTP: 'https://security.microsoft.com/incidents/9?tid=t1' } }), '815');
    for (const link of ['https://security.microsoft.com/incidents/byalert?alertId=da6373_1&source=SIEM', '', 'incidents/12', 42]) {
      assert.equal(thrown(() => findIncidentId({ payload: { id: 'da1', IncidentLinkToMTP: link } })).message,
        'no incident id: set msg.incidentId, or send one of its alerts as msg.payload (its incidentId, or IncidentId or the incident IncidentLinkToMTP links to in the SIEM shape; the SIEM API\'s own detections link no incident)');
    }
    assert.match(thrown(() => findIncidentId({ incidentId: '../alerts_v2' })).message, /^the incident id in msg.incidentId must be an id such as 29135/);
  });

  it('refuses the statuses Defender sets, takes tags as a list or as text, and refuses null but for assignedTo', () => {
    assert.equal(thrown(() => parseUpdate(INCIDENT_UPDATE, { status: 'Redirected' })).message,
      'status redirected is set by Defender, not by a client (redirected when it merges incidents, awaitingAction by Defender Experts): give active, inProgress or resolved');
    assert.match(thrown(() => parseUpdate(INCIDENT_UPDATE, { status: 'awaitingaction' })).message, /^status awaitingAction is set by Defender/);
    assert.match(thrown(() => parseUpdate(INCIDENT_UPDATE, { status: 'new' })).message, /^status must be one of active, inProgress, resolved/);
    assert.deepEqual(parseUpdate(INCIDENT_UPDATE, { STATUS: 'inprogress', customTags: ' Ransomware , VIP,' }), { status: 'inProgress', customTags: ['Ransomware', 'VIP'] });
    assert.deepEqual(parseUpdate(INCIDENT_UPDATE, { customTags: [] }), { customTags: [] }, 'an empty list removes every tag');
    assert.deepEqual(parseUpdate(INCIDENT_UPDATE, { customTags: '' }), { customTags: undefined }, '"" leaves them');
    assert.match(thrown(() => parseUpdate(INCIDENT_UPDATE, { customTags: [1] })).message, /^customTags must be a list of tags/);
    assert.match(thrown(() => parseUpdate(INCIDENT_UPDATE, { classification: null })).message, /only assignedTo can, to unassign the incident/);
    assert.match(thrown(() => parseUpdate(INCIDENT_UPDATE, { severity: 'low' })).message, /known ones are status, classification, determination, assignedTo, customTags, comment$/);
  });
});

describe('pulling incidents from Graph', () => {
  let emulator: Emulator;
  let quiet: Emulator;
  before(async () => {
    emulator = await startEmulator({ seed: 9 });
    // No nextLink, and $filter with $expand=alerts failing as soon as an incident has more than one alert.
    quiet = await startEmulator({ seed: 9, graphNextLink: false, graphExpandFailsAbove: 1 });
  });
  after(async () => {
    await emulator.close();
    await quiet.close();
  });
  afterEach(() => {
    emulator.reset();
    quiet.reset();
  });

  const tenantOf = (e: Emulator): Tenant =>
    new Tenant({ tenantId: TENANT, clientId: CLIENT_ID, region: 'custom', api: 'siem', apiBaseUrl: e.url, authorityUrl: e.url }, { clientSecret: SECRET }, { retry: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1 } });
  const options = { timeoutMs: 5000, maxResponseBytes: 64 * 1024 * 1024, retry: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1 } };

  /** One incremental pull; `now` is the Graph client's clock (what it remembers Graph refused expires by it). */
  async function pull(tenant: Tenant, checkpoint?: PullResult['nextCheckpoint'], alerts: 'include' | 'none' = 'include', now?: () => number): Promise<{ sink: CollectingSink; result: PullResult }> {
    const sink = new CollectingSink();
    const source = tenant.incidents({ ...options, alerts, ...(now ? { now } : {}) });
    const result = await pullDetections(source, {}, settings, checkpoint, sink, { maxResponseBytes: options.maxResponseBytes, lifecycle: { mode: 'all', rememberMs: 30 * 24 * 60 * MINUTE } });
    return { sink, result };
  }

  /** `count` incidents of `alerts` alerts each, updated over the last `spanMs`. */
  function incidents(e: Emulator, count: number, alerts = 1, spanMs = 60 * MINUTE, at?: (i: number) => number | string): void {
    const now = Date.now();
    for (let i = 0; i < count; i++) {
      for (let a = 0; a < alerts; a++) {
        e.addDetection({ LastProcessedTimeUtc: at ? at(i) : now - 1000 - Math.floor(((count - i) * spanMs) / count) - a }, { graph: { incidentId: String(7000 + i) } });
      }
    }
  }

  it('reads every incident of the window once, oldest first, with its alerts, through Graph even when the config node reads the SIEM API', async () => {
    incidents(emulator, 7, 2);
    const tenant = tenantOf(emulator);
    const { sink, result } = await pull(tenant);
    assert.deepEqual(sink.detections.map((d) => d.id), Array.from({ length: 7 }, (_, i) => String(7000 + i)));
    for (const incident of sink.detections) assert.equal((incident.alerts as unknown[]).length, 2);
    assert.deepEqual(sink.verdicts.map((v) => v.event), Array(7).fill('new'));
    const lists = emulator.requests.filter((r) => r.endpoint === 'graph-incidents');
    assert.ok(lists.length > 0);
    for (const r of lists) {
      const q = new Map(r.query);
      assert.equal(q.get('$expand'), 'alerts');
      assert.ok(Number(q.get('$top')) <= 50, `$top ${q.get('$top')}`);
      assert.match(String(q.get('$filter')), /^lastUpdateDateTime ge \S+ and lastUpdateDateTime le \S+$/);
    }
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'graph-incident').length, 0, 'no incident read on its own');
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'alerts').length, 0);
    // Nothing new: the next pull sends nothing.
    const again = await pull(tenant, result.nextCheckpoint);
    assert.equal(again.sink.detections.length, 0);
    tenant.close();
  });

  it('sends an analyst\'s edit and a merge as updates naming what changed, tags and alert counts included', async () => {
    incidents(emulator, 2, 1);
    const tenant = tenantOf(emulator);
    const first = await pull(tenant);
    emulator.editIncident('7000', { assignedTo: 'soc@contoso.com', customTags: ['VIP'] });
    const edited = await pull(tenant, first.result.nextCheckpoint);
    assert.deepEqual(edited.sink.detections.map((d) => d.id), ['7000']);
    assert.deepEqual(edited.sink.verdicts[0], { event: 'update', changes: ['assignedTo', 'customTags'], previous: { assignedTo: null, customTags: [] }, send: true });
    emulator.mergeIncidents('7000', '7001');
    const merged = await pull(tenant, edited.result.nextCheckpoint);
    const byId = new Map(merged.sink.detections.map((d, i) => [String(d.id), { incident: d, verdict: merged.sink.verdicts[i] }]));
    assert.equal(byId.get('7000')?.incident.status, 'redirected');
    assert.equal(byId.get('7000')?.incident.redirectIncidentId, '7001');
    assert.deepEqual(byId.get('7000')?.verdict.changes, ['status', 'alertCount']);
    assert.deepEqual(byId.get('7001')?.verdict.changes, ['displayName', 'alertCount']);
    assert.deepEqual(byId.get('7001')?.verdict.previous?.alertCount, 1);
    tenant.close();
  });

  it('pages without @odata.nextLink by the lastUpdateDateTime bound, 50 at most, and loses nothing to a tie on a page edge', async () => {
    const now = Date.now();
    // 120 incidents, the middle 70 of them updated at one instant: more than a page share its time.
    // The same instant to the 100 ns, as Graph stamps it.
    const instant = new Date(now - 30 * MINUTE).toISOString().replace('Z', '4321Z');
    incidents(quiet, 120, 1, 0, (i) => (i < 25 ? now - 60 * MINUTE + i * 1000 : i < 95 ? instant : now - 10 * MINUTE + i));
    const tenant = tenantOf(quiet);
    const { sink } = await pull(tenant, undefined, 'none');
    const ids = sink.detections.map((d) => String(d.id));
    assert.equal(ids.length, 120);
    assert.equal(new Set(ids).size, 120);
    const lists = quiet.requests.filter((r) => r.endpoint === 'graph-incidents');
    assert.ok(lists.every((r) => Number(new Map(r.query).get('$top')) <= 50));
    assert.ok(lists.some((r) => new Map(r.query).has('$skip')), 'the instant that fills a page is read on with $skip');
    assert.ok(lists.every((r) => !new Map(r.query).has('$expand')), 'alerts: none asks no $expand');
    assert.equal(sink.detections[0].alerts, undefined);
    tenant.close();
  });

  it('falls back when the list with $filter and $expand=alerts answers 500: the list without it, then each incident with its alerts, and stays so', async () => {
    incidents(quiet, 4, 3);
    const tenant = tenantOf(quiet);
    const { sink, result } = await pull(tenant);
    assert.deepEqual(sink.detections.map((d) => [d.id, (d.alerts as unknown[]).length]), [['7000', 3], ['7001', 3], ['7002', 3], ['7003', 3]]);
    const asked = quiet.requests.filter((r) => r.endpoint === 'graph-incidents' || r.endpoint === 'graph-incident');
    const failed = asked.filter((r) => r.status === 500);
    assert.ok(failed.length >= 1 && failed.every((r) => new Map(r.query).get('$expand') === 'alerts'));
    assert.equal(asked.filter((r) => r.endpoint === 'graph-incident').length, 4, 'one request an incident');
    // The config node remembers: the next pull asks the list without $expand at once.
    quiet.reset();
    incidents(quiet, 1, 2, 1000, () => Date.now() - 500);
    const next = await pull(tenant, result.nextCheckpoint);
    assert.equal(next.sink.detections.length, 1);
    // (The reset also revoked the tenant's token: a 401 and a new token come first.)
    const lists = quiet.requests.filter((r) => r.endpoint === 'graph-incidents');
    assert.ok(lists.every((r) => !new Map(r.query).has('$expand') && r.status !== 500));
    assert.ok(lists.some((r) => r.status === 200));
    tenant.close();
  });

  it('asks $expand=alerts again an hour after Graph failed it, and then reads the alerts with the list when Graph answers', async () => {
    incidents(quiet, 2, 3);
    const tenant = tenantOf(quiet);
    let { result } = await pull(tenant);
    assert.ok(quiet.requests.some((r) => r.endpoint === 'graph-incidents' && r.status === 500), 'the premise: Graph failed the list with $expand');
    const lists = (): Array<Map<string, string>> => quiet.requests.filter((r) => r.endpoint === 'graph-incidents').map((r) => new Map(r.query));
    // Incidents of one alert each from now on, which this Graph expands.
    for (const [minutes, expanded] of [[59, false], [61, true]] as const) {
      quiet.reset();
      incidents(quiet, 2, 1, 1000, (i) => Date.now() - 500 + i);
      const later = await pull(tenant, result.nextCheckpoint, 'include', () => Date.now() + minutes * MINUTE);
      result = later.result;
      assert.deepEqual(later.sink.detections.map((d) => (d.alerts as unknown[]).length), [1, 1], `${minutes} minutes later`);
      assert.ok(lists().length > 0 && lists().every((q) => q.has('$expand') === expanded), `${minutes} minutes later: $expand ${expanded ? '' : 'not '}asked`);
      assert.equal(quiet.requests.filter((r) => r.endpoint === 'graph-incident').length, expanded ? 0 : 2);
    }
    tenant.close();
  });

  it('writes an incident: PATCH with only what is given, a comment, the incident as Graph answers it; 403 and 404 named; nothing sent for bad input', async () => {
    incidents(emulator, 1, 1);
    const tenant = tenantOf(emulator);
    const writer = tenant.incidentWriter(options);
    const after = await writer.update('7000', { status: 'inProgress', assignedTo: 'soc@contoso.com', customTags: ['VIP'], comment: 'Mail sent' });
    assert.deepEqual([after.status, after.assignedTo, after.customTags, (after.comments as Array<{ comment: string }>)[0].comment], ['inProgress', 'soc@contoso.com', ['VIP'], 'Mail sent']);
    const patch = emulator.requests.find((r) => r.endpoint === 'graph-incident' && r.method === 'PATCH');
    assert.deepEqual(JSON.parse(String(patch?.body)), { status: 'inProgress', assignedTo: 'soc@contoso.com', customTags: ['VIP'] });
    const missing = await writer.update('999', { status: 'resolved' }).catch((e: unknown) => e);
    assert.ok(missing instanceof DefenderError && missing.code === 'HTTP_404');
    assert.match(missing.message, /this tenant has no incident with the id "999"/);
    emulator.setGraphPermissions(['SecurityIncident.Read.All']);
    emulator.revokeTokens();
    const forbidden = await writer.update('7000', { status: 'resolved' }).catch((e: unknown) => e);
    assert.ok(forbidden instanceof DefenderError && forbidden.code === 'HTTP_403');
    assert.match(forbidden.message, /changing incidents needs the SecurityIncident\.ReadWrite\.All application permission/);
    const before = emulator.requests.length;
    await assert.rejects(writer.update('7000', {}), /^nothing to change/);
    assert.equal(emulator.requests.length, before, 'no request for nothing to change');
    tenant.close();
  });
});
