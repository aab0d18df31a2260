/**
 * The nodes with `api: graph` in a real Node-RED runtime against the emulator's Microsoft Graph endpoints,
 * and the promise of the migration: the same flow gives the same SIEM-shaped detections from both APIs.
 */
import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Node, NodeAPI } from 'node-red';
import { DETECTION_FIELDS, type Detection } from '../../src/defender/services/detection';
import type { Emulator } from '../../src/emulator';
import configNode from '../../src/nodes/defender-config';
import detectionsNode from '../../src/nodes/defender-detections';
import { configFlowNode, everythingShown, helper, loadRig, type Message, Probe, recent, SECRET, startEmulator, withEmulatorSuite } from '../fixtures/harness';

const MINUTE = 60_000;
const GRAPH = { api: 'graph' };
const graphRequests = (emulator: Emulator) => emulator.requests.filter((r) => r.endpoint === 'graph-alerts');
const payloads = (messages: Message[]): Detection[] => messages.map((m) => m.payload as Detection);
const summaryOf = (m: Message | undefined): Record<string, unknown> => (m?.payload ?? {}) as Record<string, unknown>;

/**
 * The SIEM fields Microsoft's mapping fills from alerts_v2 with the same value the SIEM API gives. The
 * others differ by nature (links, ThreatCategory ← mitreTechniques, tags merged, FullId, the SIEM-only ids);
 * the README lists them.
 */
const SAME_IN_BOTH = [
  'AlertTime', 'ComputerDnsName', 'AlertTitle', 'Category', 'Severity', 'AlertId', 'Actor', 'Sha1', 'FileName', 'FilePath',
  'IpAddress', 'Url', 'IoaDefinitionId', 'UserName', 'LastProcessedTimeUtc', 'ThreatFamily', 'ThreatName', 'Source', 'Md5',
  'Sha256', 'RemediationIsSuccess', 'WasExecutingWhileDetected', 'UserDomain', 'LogOnUsers', 'MachineDomain', 'MachineName', 'InternalIPv4List',
  'InternalIPv6List', 'FileHash', 'DeviceID', 'MachineGroup', 'Description', 'CommandLine',
] as const;

const pick = (d: Detection): Record<string, unknown> => Object.fromEntries(SAME_IN_BOTH.map((f) => [f, d[f]]));

/** The core switch node of the Node-RED under test (the helper preloads only catch, status and complete). */
function switchNode(): (RED: NodeAPI) => void {
  const nodeRed = process.env.NODE_RED_PATH ? path.resolve(process.env.NODE_RED_PATH) : path.dirname(require.resolve('node-red/package.json'));
  return require(require.resolve('@node-red/nodes/core/function/10-switch.js', { paths: [nodeRed] })) as (RED: NodeAPI) => void;
}

/**
 * A flow written for the SIEM API: defender detections → switch on msg.payload.Severity == "High" → an
 * "e-mail" (a helper node here) that uses msg.topic as its subject. Run once per `api`.
 */
async function runSiemFlow(emulator: Emulator, api: 'siem' | 'graph', query: Record<string, unknown> = {}): Promise<{ all: Message[]; high: Message[]; summary: Message }> {
  const flow = [
    { id: 'tab', type: 'tab', label: 'flow written for the SIEM API' },
    configFlowNode(emulator, { api }),
    { id: 'det', type: 'defender-detections', z: 'tab', defender: 'cfg', incremental: true, initialAgo: 'PT3H', overlap: 'PT5M', retryBaseDelayMs: 10, wires: [['sw', 'all'], ['sum']] },
    { id: 'sw', type: 'switch', z: 'tab', property: 'payload.Severity', propertyType: 'msg', rules: [{ t: 'eq', v: 'High', vt: 'str' }], checkall: 'true', repair: false, outputs: 1, wires: [['email']] },
    { id: 'email', type: 'helper', z: 'tab' },
    { id: 'all', type: 'helper', z: 'tab' },
    { id: 'sum', type: 'helper', z: 'tab' },
  ];
  await helper.load([configNode, detectionsNode, switchNode()], flow, { cfg: { clientSecret: SECRET } });
  const all = new Probe(helper.getNode('all'));
  const email = new Probe(helper.getNode('email'));
  const sum = new Probe(helper.getNode('sum'));
  (helper.getNode('det') as Node & { receive(msg: object): void }).receive(Object.keys(query).length ? { query } : { payload: Date.now() });
  const [summary] = await sum.until(1);
  // Messages travel asynchronously: wait until every detection, and every High one past the switch, landed.
  await all.until(Number(summaryOf(summary).count));
  await email.until(all.messages.filter((m) => (m.payload as Detection).Severity === 'High').length);
  const result = { all: [...all.messages], high: [...email.messages], summary };
  await helper.unload();
  return result;
}

describe('defender-detections with api graph', () => {
  let emulator: Emulator;

  // Small pages, so every pull of more than three alerts follows @odata.nextLink.
  withEmulatorSuite({ seed: 23, graphMaxPageSize: 3 }, (e) => (emulator = e));

  it('delivers the same SIEM-shaped detections to the same flow as the SIEM API does, after one switch in the config', async () => {
    emulator.addDetections(24, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 90 * MINUTE });
    const siem = await runSiemFlow(emulator, 'siem');
    const graph = await runSiemFlow(emulator, 'graph');

    assert.equal(siem.all.length, 24);
    assert.equal(graph.all.length, 24);
    assert.deepEqual(payloads(graph.all).map(pick), payloads(siem.all).map(pick));
    assert.deepEqual(graph.all.map((m) => m.topic), siem.all.map((m) => m.topic));
    for (const d of payloads(graph.all)) assert.deepEqual(Object.keys(d), [...DETECTION_FIELDS]);
    // Downstream: the switch on msg.payload.Severity lets the same detections through, with the same subject lines.
    assert.ok(siem.high.length > 0, 'the generated data has High detections');
    assert.deepEqual(graph.high.map((m) => [m.topic, (m.payload as Detection).AlertId]), siem.high.map((m) => [m.topic, (m.payload as Detection).AlertId]));
    assert.deepEqual(graph.all.map((m) => (m.parts as { index: number }).index), siem.all.map((m) => (m.parts as { index: number }).index));
    assert.equal(summaryOf(graph.summary).count, summaryOf(siem.summary).count);
    assert.ok(graphRequests(emulator).length >= 8, 'Graph pages of three: nextLink was followed');
  });

  it('gives the same answer to the same explicit query with machine groups and limit', async () => {
    emulator.addDetections(6, { lastProcessedAt: Date.now() - 2 * MINUTE, spreadMs: 30 * MINUTE, machineGroup: 'Servers' });
    emulator.addDetections(6, { lastProcessedAt: Date.now() - 2 * MINUTE, spreadMs: 30 * MINUTE, machineGroup: 'UKMachines' });
    const query = { ago: 'PT1H', machinegroups: ['Servers'], limit: 4 };
    const siem = await runSiemFlow(emulator, 'siem', query);
    const graph = await runSiemFlow(emulator, 'graph', query);
    assert.equal(siem.all.length, 4);
    assert.deepEqual(payloads(graph.all).map(pick), payloads(siem.all).map(pick));
    assert.ok(payloads(graph.all).every((d) => d.MachineGroup === 'Servers'));
    const [first, ...later] = graphRequests(emulator).map((r) => r.query);
    assert.deepEqual(first.map(([k]) => k), ['$filter', '$orderby', '$top']);
    assert.match(first[0][1], /^serviceSource eq 'microsoftDefenderForEndpoint' and lastUpdateDateTime ge \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(first[1][1], 'lastUpdateDateTime desc');
    // Newest first by key: each later page ends where the page before it did.
    assert.ok(later.length > 0 && later.every((q) => / and lastUpdateDateTime le \d{4}-\S+Z$/.test(q[0][1])));
  });

  it('pages oldest first by time, each page asked from the newest time of the one before, one slice each', async () => {
    emulator.addDetections(10, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 20 * MINUTE });
    const rig = await loadRig(emulator, {}, { config: GRAPH });
    const { detections, summary } = await rig.pull();
    assert.equal(detections.length, 10);
    const s = summaryOf(summary);
    const requests = graphRequests(emulator);
    assert.ok(requests.length >= 4, `pages of 3 hold 10 alerts in no fewer than 4, got ${requests.length}`);
    assert.equal(s.requests, requests.length);
    assert.equal(s.pages, requests.length);
    assert.equal(s.slices, requests.length, 'each page is a slice: delivered, then the checkpoint moves past it');
    assert.ok(requests.every((r) => r.query.some(([k, v]) => k === '$orderby' && v === 'lastUpdateDateTime asc')));
    // By key, not by offset: each request starts at the newest time the page before it held.
    const lowerBounds = requests.map((r) => /lastUpdateDateTime ge (\S+)/.exec(r.query.find(([k]) => k === '$filter')?.[1] ?? '')?.[1] ?? '');
    assert.deepEqual(lowerBounds, [...lowerBounds].sort());
    assert.equal(new Set(lowerBounds).size, lowerBounds.length);
    assert.ok(requests.every((r) => !r.query.some(([k]) => k === '$skiptoken' || k === '$skip')));
    // The repeat at each page boundary is dropped, not sent again.
    assert.equal(s.duplicates, requests.length - 1);
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'graph-token').length, 1);
    assert.deepEqual(s.query && Object.keys(s.query as object).sort(), ['sinceTimeUtc', 'untilTimeUtc']);
    const times = payloads(detections).map((d) => String(d.LastProcessedTimeUtc));
    assert.deepEqual(times, [...times].sort(), 'oldest first');
  });

  it('delivers each alert once across polls, and an updated alert again', async () => {
    const first = emulator.addDetections(4, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 30_000 });
    const rig = await loadRig(emulator, {}, { config: GRAPH });
    const a = await rig.pull();
    assert.deepEqual(new Set(payloads(a.detections).map((d) => d.AlertId)), new Set(first.map((d) => d.AlertId)));
    const b = await rig.pull();
    assert.equal(b.detections.length, 0);
    // The 4 from the overlap, and the repeat at each boundary of the pages of 3.
    assert.ok(Number(summaryOf(b.summary).duplicates) >= 4);
    const updated = emulator.updateDetection(String(first[1].FullId), recent().lastProcessedAt);
    const fresh = emulator.addDetections(2, recent());
    const c = await rig.pull();
    assert.deepEqual(
      new Set(payloads(c.detections).map((d) => `${String(d.AlertId)}|${String(d.LastProcessedTimeUtc)}`)),
      new Set([updated, ...fresh].map((d) => `${String(d.AlertId)}|${String(d.LastProcessedTimeUtc)}`)),
    );
    assert.equal(summaryOf(c.summary).checkpoint, (rig.node.context().get('checkpoint') as { highest: string }).highest);
    assert.equal((await rig.pull()).detections.length, 0);
  });

  it('with limit pages backwards through Graph too, and loses nothing when Graph refuses $orderby', async () => {
    const all = emulator.addDetections(11, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 20 * MINUTE });
    const rig = await loadRig(emulator, { limit: '4' }, { config: GRAPH });
    const { detections, summary } = await rig.pull();
    assert.deepEqual(new Set(payloads(detections).map((d) => d.AlertId)), new Set(all.map((d) => d.AlertId)));
    assert.equal(detections.length, 11);
    assert.ok(Number(summaryOf(summary).pages) >= 3);
    await helper.unload();

    const refusing = await startEmulator({ seed: 5, graphOrderBy: 'refused', graphMaxPageSize: 3 });
    try {
      const stored = refusing.addDetections(11, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 20 * MINUTE });
      const fallback = await loadRig(refusing, { limit: '4' }, { config: GRAPH });
      const result = await fallback.pull();
      assert.equal(result.error, undefined, JSON.stringify(result.error?.error));
      assert.equal(result.detections.length, 11);
      assert.deepEqual(new Set(payloads(result.detections).map((d) => d.AlertId)), new Set(stored.map((d) => d.AlertId)));
      const statuses = refusing.requests.filter((r) => r.endpoint === 'graph-alerts').map((r) => r.status);
      assert.equal(statuses.filter((s) => s === 400).length, 1, 'asked $orderby once, then read the window whole');
    } finally {
      await helper.unload();
      await refusing.close();
    }
  });

  it('passes the alerts_v2 object through with shape native, deduplicated by id|lastUpdateDateTime', async () => {
    const [d] = emulator.addDetections(1, { lastProcessedAt: Date.now() - MINUTE });
    const rig = await loadRig(emulator, { shape: 'native' }, { config: GRAPH });
    const { detections } = await rig.pull();
    assert.equal(detections.length, 1);
    const alert = detections[0].payload as Record<string, unknown> & { evidence: Array<Record<string, unknown>> };
    assert.equal(alert.id, d.AlertId);
    assert.equal(alert.severity, String(d.Severity).toLowerCase());
    assert.equal(alert.lastUpdateDateTime, d.LastProcessedTimeUtc);
    assert.ok(alert.evidence.some((e) => e['@odata.type'] === '#microsoft.graph.security.deviceEvidence'));
    assert.equal(alert.AlertTitle, undefined, 'no SIEM fields in the native shape');
    assert.equal(detections[0].topic, `[${String(d.Severity)}] ${String(d.AlertTitle)} on ${String(d.ComputerDnsName)}`);
    assert.deepEqual((rig.node.context().get('checkpoint') as { keys: string[] }).keys, [`${String(d.AlertId)}|${String(d.LastProcessedTimeUtc)}`]);
    assert.equal((await rig.pull()).detections.length, 0);
    const updated = emulator.updateDetection(String(d.FullId), recent().lastProcessedAt);
    const again = await rig.pull();
    assert.deepEqual(again.detections.map((m) => (m.payload as { lastUpdateDateTime: string }).lastUpdateDateTime), [updated.LastProcessedTimeUtc]);
  });

  it('retries a 429 (honouring Retry-After) and a 503, and reports HTTP_429 when Graph keeps refusing', async () => {
    emulator.addDetections(2, { lastProcessedAt: Date.now() - MINUTE });
    emulator.injectFault({ kind: 'http429', retryAfter: '0' });
    emulator.injectFault({ kind: 'http503', retryAfter: '0' });
    const rig = await loadRig(emulator, {}, { config: GRAPH });
    const ok = await rig.pull();
    assert.equal(ok.detections.length, 2);
    assert.equal(summaryOf(ok.summary).requests, 3);
    assert.ok(rig.statuses.some((s) => s.fill === 'yellow' && /^retrying \(1\/4\)/.test(String(s.text))));

    emulator.injectFault({ kind: 'http429', retryAfter: '0', times: Infinity });
    await helper.unload();
    const impatient = await loadRig(emulator, { maxRetries: 1 }, { config: GRAPH });
    const failed = await impatient.pull();
    const error = failed.error?.error as { code: string; message: string };
    assert.equal(error.code, 'HTTP_429');
    assert.match(error.message, /Microsoft Graph answered HTTP 429: too many requests/);
    assert.equal(failed.error?.statusCode, 429);
  });

  it('fails at once on 403 with the permission it needs, and renews a refused token once', async () => {
    emulator.addDetections(1, { lastProcessedAt: Date.now() - MINUTE });
    emulator.injectFault({ kind: 'http403' });
    const rig = await loadRig(emulator, {}, { config: GRAPH });
    const forbidden = await rig.pull();
    assert.equal((forbidden.error?.error as { code: string }).code, 'HTTP_403');
    assert.match((forbidden.error?.error as { message: string }).message, /SecurityAlert\.Read\.All/);
    assert.equal(forbidden.error?.statusCode, 403);
    assert.equal(graphRequests(emulator).length, 1, '403 is not retried');

    emulator.injectFault({ kind: 'http401' });
    const renewed = await rig.pull();
    assert.equal(renewed.detections.length, 1);
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'graph-token').length, 2);
    assert.ok(emulator.requests.filter((r) => r.endpoint === 'graph-token').every((r) => r.status === 200));
  });

  it('keeps the secret and the tokens out of messages, statuses and logs', async () => {
    emulator.addDetections(3, { lastProcessedAt: Date.now() - MINUTE });
    emulator.injectFault({ kind: 'echo' });
    const rig = await loadRig(emulator, { maxRetries: 0 }, { config: GRAPH });
    await rig.pull();
    await rig.pull();
    const shown = everythingShown(rig);
    assert.ok(!shown.includes(SECRET));
    for (const token of emulator.issuedTokens) assert.ok(!shown.includes(token), 'an access token was shown');
  });

  it('shares one rate limit among all nodes of a config node', async () => {
    emulator.addDetections(9, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 10 * MINUTE });
    // One request a minute after a burst of two: a pull that needs three pages sends two, then waits.
    const rig = await loadRig(emulator, {}, {
      config: { ...GRAPH, graphRequestsPerMinute: 1, graphBurst: 2 },
      extraNodes: [{ id: 'det2', type: 'defender-detections', z: 'tab', defender: 'cfg', wires: [[], []] }],
    });
    const other = helper.getNode('det2') as Node & { receive(msg: object): void };
    const settled = async (count: number): Promise<void> => {
      for (let i = 0; i < 200 && graphRequests(emulator).length < count; i++) await new Promise((r) => setTimeout(r, 10));
      // Whatever else was going to be sent has had time to go.
      await new Promise((r) => setTimeout(r, 300));
    };
    rig.node.receive({ payload: 1 });
    await settled(2);
    assert.equal(graphRequests(emulator).length, 2, 'the first node sent its burst, then waited');
    other.receive({ payload: 1 });
    await settled(3);
    assert.equal(graphRequests(emulator).length, 2, 'the second node waits on the same limit');
    assert.equal(rig.summaries.messages.length, 0);
    // Closing ends the waits: no pull hangs past a redeploy.
    await helper.unload();
    assert.equal(graphRequests(emulator).length, 2);
  });
});

describe('defender-detections with api graph, when Graph sends no @odata.nextLink', () => {
  let emulator: Emulator;
  // As elastic/integrations#20234 met alerts_v2: no nextLink, $top clamped at 1000, $skip above 500 refused.
  withEmulatorSuite({ seed: 29, graphNextLink: false }, (e) => (emulator = e));

  /** A lastUpdateDateTime at 100 ns, as Graph writes them: `count` alerts stored at exactly that time. */
  const tie = (ms: number, count: number): string => {
    const time = `${new Date(ms).toISOString().slice(0, 23)}4567Z`;
    for (let i = 0; i < count; i++) emulator.addDetection({ LastProcessedTimeUtc: time });
    return time;
  };
  const keys = (messages: Message[]): string[] => payloads(messages).map((d) => `${String(d.AlertId)}|${String(d.LastProcessedTimeUtc)}`);
  const filterOf = (q: Array<[string, string]>): string => q.find(([k]) => k === '$filter')?.[1] ?? '';

  it('pages over thousands of alerts by the lastUpdateDateTime bound, losing nothing at ties on page edges', async () => {
    const now = Date.now();
    emulator.addDetections(2400, { lastProcessedAt: now - MINUTE, spreadMs: 100 * MINUTE });
    // Ties wherever a page may end, and one instant longer than a page, which only $skip gets through.
    for (let i = 0; i < 30; i++) tie(now - (5 + 3 * i) * MINUTE, 25);
    tie(now - 50 * MINUTE, 700);
    const stored = new Set(emulator.detections.map((d) => `${String(d.AlertId)}|${String(d.LastProcessedTimeUtc)}`));
    assert.equal(stored.size, 3850);
    const rig = await loadRig(emulator, {}, { config: GRAPH });
    const { detections, summary, error } = await rig.pull();
    assert.equal(error, undefined, JSON.stringify(error?.error));
    assert.equal(detections.length, 3850);
    assert.deepEqual(new Set(keys(detections)), stored);
    assert.equal(summaryOf(summary).count, 3850);
    const asked = graphRequests(emulator).map((r) => r.query);
    assert.ok(asked.length >= 6, `thousands of alerts in pages of at most 1000, got ${asked.length} requests`);
    for (const q of asked) {
      assert.ok(Number(q.find(([k]) => k === '$top')?.[1]) <= 1000);
      assert.ok(Number(q.find(([k]) => k === '$skip')?.[1] ?? 0) <= 500);
    }
    const lowerBounds = asked.map((q) => /lastUpdateDateTime ge (\S+)/.exec(filterOf(q))?.[1] ?? '');
    assert.deepEqual(lowerBounds, [...lowerBounds].sort(), 'each page from the time the page before it reached');
    assert.ok(asked.some((q) => q.some(([k]) => k === '$skip')), 'the instant of 700 alerts was read on with $skip');
    assert.equal((await rig.pull()).detections.length, 0, 'the next poll sends nothing again');
  });

  it('answers an explicit limit above a page with the newest alerts, newest first by the bound', async () => {
    emulator.addDetections(2600, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 100 * MINUTE });
    tie(Date.now() - 30 * MINUTE, 40);
    const rig = await loadRig(emulator, {}, { config: GRAPH });
    const { detections, error } = await rig.pull({ query: { ago: 'PT3H', limit: 1500 } });
    assert.equal(error, undefined, JSON.stringify(error?.error));
    assert.equal(new Set(keys(detections)).size, 1500);
    const sent = new Set(keys(detections));
    const oldestSent = payloads(detections).map((d) => String(d.LastProcessedTimeUtc)).sort()[0];
    const newestLeft = emulator.detections.filter((d) => !sent.has(`${String(d.AlertId)}|${String(d.LastProcessedTimeUtc)}`)).map((d) => String(d.LastProcessedTimeUtc)).sort().at(-1);
    assert.ok(String(newestLeft) <= oldestSent, 'the most recent 1500, as the SIEM API\'s limit means');
    assert.ok(graphRequests(emulator).length >= 2);
  });

  it('reads every alert when Graph refuses $orderby too, halving the window where a page is full', async () => {
    const refusing = await startEmulator({ seed: 30, graphNextLink: false, graphOrderBy: 'refused' });
    try {
      refusing.addDetections(2500, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 100 * MINUTE });
      const rig = await loadRig(refusing, {}, { config: GRAPH });
      const all = await rig.pull();
      assert.equal(all.error, undefined, JSON.stringify(all.error?.error));
      assert.equal(new Set(keys(all.detections)).size, 2500);
      const newest = await rig.pull({ query: { ago: 'PT3H', limit: 10 } });
      const expected = [...refusing.detections].map((d) => String(d.LastProcessedTimeUtc)).sort().slice(-10);
      assert.deepEqual(payloads(newest.detections).map((d) => String(d.LastProcessedTimeUtc)).sort(), expected);
      assert.ok(refusing.requests.every((r) => r.status !== 400 || r.query.some(([k]) => k === '$orderby')), 'no $skip was refused');
    } finally {
      await helper.unload();
      await refusing.close();
    }
  });

  it('stops with TOO_LARGE and says why when more alerts share one instant than Graph pages without a link', async () => {
    const before = emulator.addDetections(5, { lastProcessedAt: Date.now() - 60 * MINUTE, spreadMs: MINUTE });
    const crowded = tie(Date.now() - 30 * MINUTE, 1600);
    const rig = await loadRig(emulator, {}, { config: GRAPH });
    const { detections, error } = await rig.pull();
    const caught = error?.error as { code: string; message: string };
    assert.equal(caught.code, 'TOO_LARGE');
    assert.match(caught.message, new RegExp(`more than \\d+ Microsoft Graph alerts share the time ${crowded.replace(/\./g, '\\.')}, and Graph gave no @odata\\.nextLink`));
    for (const d of before) assert.ok(keys(detections).includes(`${String(d.AlertId)}|${String(d.LastProcessedTimeUtc)}`), 'what came before the instant went out');
  });
});
