/**
 * The defender-incidents node in a real Node-RED runtime against the emulator over loopback: Defender's
 * incidents with their alerts, through Graph whatever the config node's API, incremental with a checkpoint,
 * the incident's lifecycle (events all/new/triage, changes of tags and alert counts, merges), exactly once
 * across a restart with a file store, paging with and without nextLink (ties on a page's edge), the $expand
 * fallback, filters, msg.query from a function node, msg.reset, bad input, and delivery confirmation to a
 * real webhook.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import { coreNode, everythingShown, FileContextRuntime, helper, loadIncidentsRig, type Message, type Rig, SECRET, sleep, waitFor, withEmulatorSuite } from '../fixtures/harness';
import { Webhook } from '../fixtures/receivers';

const functionNode = coreNode('function/10-function.js');
const httpRequestNode = coreNode('network/21-httprequest.js');

const MINUTE = 60_000;
/** Graph's rate limit out of the way of a test that reads many incidents. */
const FAST_GRAPH = { graphRequestsPerMinute: 60_000, graphBurst: 1000 };

type Summary = { count: number; new: number; updates: number; suppressed: number; requests: number; query: Record<string, unknown>; checkpoint: string | null };
const summaryOf = (m: Message | undefined): Summary => (m?.payload ?? {}) as Summary;
const graphLists = (emulator: Emulator): Array<Map<string, string>> => emulator.requests.filter((r) => r.endpoint === 'graph-incidents').map((r) => new Map(r.query));
const lifecycleOf = (m: Message): { id: unknown; event: unknown; changes: unknown; previous: unknown } => ({
  id: m.incidentId,
  event: m.event,
  changes: m.changes,
  previous: m.previous,
});

/**
 * `count` incidents (ids 7000…) of `alerts` alerts each, updated a second apart up to a second ago, each alert
 * High or Low by turns of incident.
 */
function incidents(emulator: Emulator, count: number, alerts = 1, time?: (i: number) => number | string): void {
  const now = Date.now();
  for (let i = 0; i < count; i++) {
    for (let a = 0; a < alerts; a++) {
      emulator.addDetection(
        { LastProcessedTimeUtc: time ? time(i) : now - 1000 - (count - i) * 1000 - a, Severity: i % 2 === 0 ? 'High' : 'Low', AlertTitle: `Alert ${a} of incident ${7000 + i}` },
        { graph: { incidentId: String(7000 + i) } },
      );
    }
  }
}

describe('defender-incidents', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 61 }, (e) => (emulator = e));

  it('sends each incident of the window once, oldest first, with its alerts, msg.incidentId and a topic, through Graph though the config node reads the SIEM API', async () => {
    incidents(emulator, 3, 2);
    const rig = await loadIncidentsRig(emulator);
    const { detections, summary, error } = await rig.pull({ payload: Date.now(), correlation: 'abc' });
    assert.equal(error, undefined);
    assert.deepEqual(detections.map((m) => m.incidentId), ['7000', '7001', '7002']);
    const [first] = detections;
    const incident = first.payload as Record<string, unknown> & { alerts: Array<{ title: string; incidentId: string }> };
    assert.equal(incident.id, '7000');
    assert.deepEqual(incident.alerts.map((a) => a.title), ['Alert 0 of incident 7000', 'Alert 1 of incident 7000']);
    assert.ok(incident.alerts.every((a) => a.incidentId === '7000'));
    assert.equal(first.topic, `[High] ${String(incident.displayName)}`);
    assert.equal(detections[1].topic, `[Low] ${String((detections[1].payload as { displayName: string }).displayName)}`);
    assert.deepEqual([first.event, first.changes, first.correlation], ['new', undefined, 'abc']);
    assert.deepEqual(first.parts, { id: (first.parts as { id: string }).id, index: 0, count: 3, type: 'array' });
    const s = summaryOf(summary);
    assert.deepEqual([s.count, s.new, s.updates], [3, 3, 0]);
    assert.ok(s.checkpoint);
    assert.ok(emulator.requests.every((r) => r.endpoint !== 'alerts'), 'the SIEM API is not asked');
    assert.ok(emulator.requests.some((r) => r.endpoint === 'graph-incidents' && r.status === 200));
    assert.match(String(rig.statuses.at(-1)?.text), /^3 new at /);
    // Nothing changed: the next pull sends nothing.
    assert.equal((await rig.pull()).detections.length, 0);
    assert.ok(!everythingShown(rig).includes(SECRET));
  });

  it('sends an analyst\'s edit as an update naming what changed, tags as lists; events "triage" passes over a change of tags alone, "new" every update', async () => {
    incidents(emulator, 1, 1);
    const all = await loadIncidentsRig(emulator, { events: 'all' });
    await all.pull();
    emulator.editIncident('7000', { customTags: ['VIP'] });
    const tagged = await all.pull();
    assert.deepEqual(tagged.detections.map(lifecycleOf), [{ id: '7000', event: 'update', changes: ['customTags'], previous: { customTags: [] } }]);
    emulator.editIncident('7000', { assignedTo: 'soc@contoso.com', customTags: ['VIP', 'Ransomware'] });
    const assigned = await all.pull();
    assert.deepEqual(assigned.detections.map(lifecycleOf), [{ id: '7000', event: 'update', changes: ['assignedTo', 'customTags'], previous: { assignedTo: null, customTags: ['VIP'] } }]);

    for (const [events, expected] of [['triage', [1, 1]], ['new', [0, 0]]] as const) {
      await helper.unload();
      emulator.reset();
      incidents(emulator, 1, 1);
      const rig = await loadIncidentsRig(emulator, { events });
      assert.equal((await rig.pull()).detections[0].event, 'new');
      emulator.editIncident('7000', { customTags: ['VIP'] });
      const tags = await rig.pull();
      assert.equal(tags.detections.length, 0, `${events}: tags alone are no triage`);
      assert.equal(summaryOf(tags.summary).suppressed, 1);
      emulator.editIncident('7000', { status: 'inProgress' });
      const triaged = await rig.pull();
      assert.deepEqual([triaged.detections.length, summaryOf(triaged.summary).updates], expected, events);
    }
  });

  it('sends a merged incident as an update with status redirected and redirectIncidentId, and the one it went to with its new alert count', async () => {
    incidents(emulator, 2, 1);
    const rig = await loadIncidentsRig(emulator);
    await rig.pull();
    emulator.mergeIncidents('7000', '7001');
    const { detections } = await rig.pull();
    const byId = new Map(detections.map((m) => [m.incidentId, m]));
    const merged = byId.get('7000') as Message;
    assert.equal((merged.payload as { status: string }).status, 'redirected');
    assert.equal((merged.payload as { redirectIncidentId: string }).redirectIncidentId, '7001');
    assert.deepEqual(lifecycleOf(merged), { id: '7000', event: 'update', changes: ['status', 'alertCount'], previous: { status: 'active', alertCount: 1 } });
    const target = byId.get('7001') as Message;
    assert.deepEqual((target.changes as string[]).includes('alertCount'), true);
    assert.equal(((target.payload as { alerts: unknown[] }).alerts).length, 2);
  });

  it('sends every incident exactly once across a restart with a file context store', async () => {
    const runtime = new FileContextRuntime();
    try {
      incidents(emulator, 2, 1);
      let rig = await runtime.run(() => loadIncidentsRig(emulator, { store: 'file' }));
      assert.deepEqual((await rig.pull()).detections.map((m) => m.incidentId), ['7000', '7001']);
      await runtime.restart();
      incidents(emulator, 3, 1, (i) => Date.now() - 500 + i);
      rig = await runtime.run(() => loadIncidentsRig(emulator, { store: 'file' }));
      const after = await rig.pull();
      // 7000 and 7001 got new alerts (a new version each, updates); 7002 is new; nothing twice.
      assert.deepEqual(after.detections.map((m) => [m.incidentId, m.event]), [['7000', 'update'], ['7001', 'update'], ['7002', 'new']]);
      assert.equal((await rig.pull()).detections.length, 0);
    } finally {
      await runtime.dispose();
    }
  });

  it('filters on status, severity and assignedTo from the node and from msg.query, each set of filters with its own checkpoint', async () => {
    incidents(emulator, 4, 1);
    emulator.editIncident('7002', { status: 'inProgress' });
    const rig = await loadIncidentsRig(emulator, { severity: 'high', incidentStatus: 'active, inProgress' });
    const high = await rig.pull();
    assert.deepEqual(high.detections.map((m) => m.incidentId), ['7000', '7002']);
    assert.deepEqual(summaryOf(high.summary).query.status, ['active', 'inProgress']);
    const filter = new Map(emulator.requests.filter((r) => r.endpoint === 'graph-incidents').at(-1)?.query).get('$filter');
    assert.match(String(filter), /^\(status eq 'active' or status eq 'inProgress'\) and severity eq 'high' and lastUpdateDateTime ge /);
    // A message's filter replaces the node's for that property, and has a checkpoint of its own.
    const inProgress = await rig.pull({ query: { STATUS: 'INPROGRESS' } });
    assert.deepEqual(inProgress.detections.map((m) => m.incidentId), ['7002']);
    const bad = await rig.pull({ query: { status: 'closed' } });
    assert.equal((bad.error?.error as { code: string }).code, 'INVALID_QUERY');
    assert.match((bad.error?.error as { message: string }).message, /^status must be one of active, inProgress, resolved, redirected, awaitingAction/);
  });

  it('pages by the lastUpdateDateTime bound with nextLink, 50 at most, losing nothing where incidents share a time on a page edge or fill a page', async () => {
    // 130 incidents: 10 at one instant across the first page's edge, 56 at another, more than a page holds.
    const at = Date.now() - 30 * MINUTE;
    const edge = new Date(at + 45_000).toISOString().replace('Z', '5678Z');
    const full = new Date(at + 60_000).toISOString().replace('Z', '4321Z');
    incidents(emulator, 130, 1, (i) => (i >= 45 && i < 55 ? edge : i >= 60 && i < 116 ? full : at + i * 1000));
    const rig = await loadIncidentsRig(emulator, {}, { config: FAST_GRAPH });
    const { detections, summary, error } = await rig.pull();
    assert.equal(error, undefined);
    const ids = detections.map((m) => String(m.incidentId));
    assert.equal(new Set(ids).size, 130);
    assert.equal(ids.length, 130, 'none twice');
    const lists = graphLists(emulator);
    assert.ok(lists.length >= 3, `${lists.length} list requests`);
    assert.ok(lists.every((q) => Number(q.get('$top')) <= 50 && q.get('$expand') === 'alerts'));
    assert.ok(emulator.requests.every((r) => r.endpoint !== 'graph-incident'), 'the alerts came with the list');
    assert.ok((summaryOf(summary) as Summary & { pages: number }).pages >= 3);
    assert.equal((await rig.pull()).detections.length, 0);
  });

  it('takes msg.query from a function node: an explicit window with a limit and filters on classification and determination, no checkpoint read or moved', async () => {
    incidents(emulator, 4, 1);
    emulator.editIncident('7000', { classification: 'truePositive', determination: 'malware' });
    await sleep(5);
    emulator.editIncident('7002', { classification: 'truePositive', determination: 'malware' });
    const rig = await loadIncidentsRig(emulator, {}, {
      modules: [functionNode],
      extraNodes: [{
        id: 'fn', type: 'function', z: 'tab', name: 'build query', outputs: 1, noerr: 0, initialize: '', finalize: '', libs: [], wires: [['det']],
        func: [
          'msg.query = JSON.parse(\'{"classification": "TruePositive"}\');',
          'msg.query.determination = ["MALWARE", "phishing"];',
          'msg.query.sinceTimeUtc = new Date(Date.now() - 3600e3);',
          'msg.query.untilTimeUtc = Date.now();',
          'msg.query.limit = msg.limit;',
          'return msg;',
        ].join('\n'),
      }],
    });
    const filtered = await rig.pull({ payload: 'go', limit: 5 }, 'fn');
    assert.equal(filtered.error, undefined, String((filtered.error?.error as { message?: string })?.message));
    assert.deepEqual(filtered.detections.map((m) => m.incidentId), ['7000', '7002']);
    const filter = String(graphLists(emulator).at(-1)?.get('$filter'));
    assert.match(filter, /^classification eq 'truePositive' and \(determination eq 'malware' or determination eq 'phishing'\) and lastUpdateDateTime ge \S+ and lastUpdateDateTime le \S+$/);
    assert.equal((summaryOf(filtered.summary) as Summary & { incremental: boolean }).incremental, false);
    // The most recent N of the window, sent oldest first, as for detections.
    const limited = await rig.pull({ payload: 'go', limit: 1 }, 'fn');
    assert.deepEqual(limited.detections.map((m) => m.incidentId), ['7002']);
    // The explicit pulls left no checkpoint and no memory: the node's own pull sends every incident, new (the
    // edited ones last, as last changed).
    const own = await rig.pull();
    assert.deepEqual(own.detections.map((m) => [m.incidentId, m.event]), [['7001', 'new'], ['7003', 'new'], ['7000', 'new'], ['7002', 'new']]);
  });

  it('refuses a bad message with INVALID_QUERY saying what is expected, sends no request, and pulls the next message', async () => {
    incidents(emulator, 2, 1);
    const rig = await loadIncidentsRig(emulator);
    const refused: Array<[Record<string, unknown>, RegExp]> = [
      [{ machinegroups: 'UKMachines' }, /machinegroups.*status, severity, assignedTo, classification, determination/],
      [{ limit: 'abc' }, /^limit must be a positive integer, got "abc"/],
      [{ ago: 'PT1H', sinceTimeUtc: '2026-11-01T00:00:00Z' }, /ago/],
      [{ severity: 5 }, /^severity must be one of unknown, informational, low, medium, high/],
      [{ assignedTo: { name: 'soc' } }, /^assignedTo /],
      [{ sinceTimeUtc: 'yesterday' }, /sinceTimeUtc/],
    ];
    for (const [query, expected] of refused) {
      const before = emulator.requests.length;
      const { error, detections } = await rig.pull({ query });
      const caught = error?.error as { code: string; message: string } | undefined;
      assert.equal(caught?.code, 'INVALID_QUERY', JSON.stringify(query));
      assert.match(caught.message, expected);
      assert.equal(detections.length, 0);
      assert.equal(emulator.requests.length, before, `${JSON.stringify(query)}: no request`);
    }
    assert.deepEqual((await rig.pull()).detections.map((m) => m.incidentId), ['7000', '7001']);
    assert.ok(!everythingShown(rig).includes(SECRET));
  });

  it('forgets its checkpoint on msg.reset without a request, and reads the window again as new', async () => {
    incidents(emulator, 2, 1);
    const rig = await loadIncidentsRig(emulator);
    assert.equal((await rig.pull()).detections.length, 2);
    const before = emulator.requests.length;
    const reset = await rig.pull({ reset: true });
    assert.deepEqual([reset.error, reset.summary, emulator.requests.length], [undefined, undefined, before]);
    assert.deepEqual((await rig.pull()).detections.map((m) => [m.incidentId, m.event]), [['7000', 'new'], ['7001', 'new']]);
  });

  it('sends the incidents alone with alerts "none": no $expand, no alerts', async () => {
    incidents(emulator, 2, 2);
    const rig = await loadIncidentsRig(emulator, { alerts: 'none' });
    const { detections } = await rig.pull();
    assert.equal(detections.length, 2);
    assert.ok(detections.every((m) => (m.payload as { alerts?: unknown }).alerts === undefined));
    assert.ok(emulator.requests.filter((r) => r.endpoint === 'graph-incidents').every((r) => !new Map(r.query).has('$expand')));
  });

  it('fails with HTTP_403 naming SecurityIncident.Read.All when the app may read alerts only', async () => {
    incidents(emulator, 1, 1);
    emulator.setGraphPermissions(['SecurityAlert.Read.All']);
    const rig = await loadIncidentsRig(emulator);
    const { error } = await rig.pull();
    const caught = error?.error as { code: string; message: string };
    assert.equal(caught.code, 'HTTP_403');
    assert.match(caught.message, /^Microsoft Graph answered HTTP 403: forbidden: reading incidents needs the SecurityIncident\.Read\.All application permission/);
    assert.equal(error?.statusCode, 403);
    assert.match(String(rig.statuses.at(-1)?.text), /^Microsoft Graph answered HTTP 403/);
  });
});

describe('defender-incidents on a large tenant\'s Graph: no nextLink, $expand=alerts failing', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 62, graphNextLink: false, graphExpandFailsAbove: 2 }, (e) => (emulator = e));

  it('pages by the lastUpdateDateTime bound, 50 at most, a tie on a page edge included, and reads each incident\'s alerts when the list cannot expand them', async () => {
    // 130 incidents, 60 of them at one instant to the 100 ns; three alerts each, so the list with $expand fails.
    const tie = new Date(Date.now() - 20 * MINUTE).toISOString().replace('Z', '1234Z');
    incidents(emulator, 130, 3, (i) => (i >= 40 && i < 100 ? tie : Date.now() - 40 * MINUTE + i * 1000));
    const rig = await loadIncidentsRig(emulator, {}, { config: FAST_GRAPH });
    const { detections, summary, error } = await rig.pull();
    assert.equal(error, undefined);
    const ids = detections.map((m) => String(m.incidentId));
    assert.equal(ids.length, 130);
    assert.equal(new Set(ids).size, 130);
    assert.ok(detections.every((m) => (m.payload as { alerts: unknown[] }).alerts.length === 3));
    const lists = emulator.requests.filter((r) => r.endpoint === 'graph-incidents');
    assert.ok(lists.every((r) => Number(new Map(r.query).get('$top')) <= 50));
    assert.ok(lists.some((r) => r.status === 500 && new Map(r.query).get('$expand') === 'alerts'), 'the list with $expand failed');
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'graph-incident').length, 130, 'then each incident was read on its own, once (not again where pages overlap)');
    assert.ok(summaryOf(summary).requests >= 130);
    // The next pull asks no $expand and still gives the alerts: incident 7000 with the alerts that joined it.
    incidents(emulator, 1, 3, () => Date.now() - 500);
    const before = emulator.requests.length;
    const next = await rig.pull();
    assert.deepEqual(next.detections.map((m) => [m.incidentId, (m.payload as { alerts: unknown[] }).alerts.length]), [['7000', 6]]);
    assert.ok(emulator.requests.slice(before).every((r) => r.status !== 500));
  });
});

describe('defender-incidents confirming delivery to a webhook', () => {
  let emulator: Emulator;
  let webhook: Webhook;
  withEmulatorSuite({ seed: 63 }, (e) => (emulator = e));
  before(async () => (webhook = await Webhook.start()));
  after(() => webhook.close());

  /** Triggers one pull and waits for its summary (a failed POST reaches the Catch node too, so not rig.pull). */
  async function pulled(rig: Rig): Promise<Record<string, unknown>> {
    const n = rig.summaries.messages.length;
    rig.node.receive({ payload: Date.now() });
    return (await rig.summaries.until(n + 1))[n].payload as Record<string, unknown>;
  }

  it('sends an incident the webhook refused again, across a restart with a file store, until it took it, and never once it did', async () => {
    incidents(emulator, 3, 2);
    const context = new FileContextRuntime();
    const load = (): Promise<Rig> =>
      context.run(() =>
        loadIncidentsRig(
          emulator,
          { store: 'file', confirm: 'nodes', confirmNodes: ['post'], deliveryTimeout: 'PT1S', redeliveryBaseDelayMs: 20, wires: [['post'], ['sum']] },
          {
            modules: [httpRequestNode],
            extraNodes: [{
              id: 'post', type: 'http request', z: 'tab', name: 'POST to webhook', method: 'POST', ret: 'txt', paytoqs: 'ignore', url: webhook.url,
              tls: '', persist: false, proxy: '', insecureHTTPParser: false, authType: '', senderr: true, headers: [], wires: [['out']],
            }],
          },
        ),
      );
    try {
      webhook.answer = () => 503;
      let rig = await load();
      assert.equal((await pulled(rig)).count, 3);
      await waitFor(() => webhook.received.length >= 3);
      // Node-RED restarts while the webhook is down; what is owed survives in the file store.
      await context.restart();
      webhook.answer = () => 204;
      rig = await load();
      for (let i = 0; i < 20 && new Set(webhook.accepted('id')).size < 3; i++) {
        await pulled(rig);
        await sleep(150);
      }
      assert.deepEqual(webhook.accepted('id').sort(), ['7000', '7001', '7002'], 'each incident taken once');
      assert.ok(webhook.received.every((r) => (r.body.alerts as unknown[]).length === 2), 'with its alerts');
      await sleep(1200);
      const later = await pulled(rig);
      assert.deepEqual([later.count, later.pending], [0, 0]);
      assert.equal(webhook.accepted('id').length, 3);
    } finally {
      await context.dispose();
    }
  });
});
