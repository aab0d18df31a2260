/**
 * Delivery confirmation (SPEC section 11) in a real runtime, with real destinations: the shipped examples
 * 01 (e-mail) and 02 (webhook) as imported, against an SMTP server and an HTTP server in the test, through
 * node-red-node-email and the core http request node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Node, NodeAPI } from 'node-red';
import type { Detection } from '../../src/defender/services/detection';
import type { Emulator } from '../../src/emulator';
import configNode from '../../src/nodes/defender-config';
import detectionsNode from '../../src/nodes/defender-detections';
import updateNode from '../../src/nodes/defender-alert-update';
import incidentsNode from '../../src/nodes/defender-incidents';
import incidentUpdateNode from '../../src/nodes/defender-incident-update';
import { coreNode, FileContextRuntime, type FlowNode, helper, loadRig, Message, Probe, readFlow, recent, runnableFlow, runtimeHooks, SECRET, sleep, TENANT, waitFor, withEmulatorSuite } from '../fixtures/harness';
import { Mailbox, Webhook } from '../fixtures/receivers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const emailNode = require('node-red-node-email/61-email.js') as (RED: NodeAPI) => void;
const functionNode = coreNode('function/10-function.js');
const switchNode = coreNode('function/10-switch.js');
const httpRequestNode = coreNode('network/21-httprequest.js');
const linkNodes = coreNode('common/60-link.js');
const MODULES = [runtimeHooks, configNode, detectionsNode, updateNode, incidentsNode, incidentUpdateNode, switchNode, coreNode('function/15-change.js'), coreNode('function/80-template.js'), httpRequestNode, emailNode];

const WEBHOOK = readFlow('examples', '02 Forward detections to a webhook.json');
const EMAIL = readFlow('examples', '01 Poll every 5 minutes and e-mail high severity.json');
const TRIAGE = readFlow('examples', '04 E-mail new high alerts once and mark them in progress.json');
const INCIDENTS = readFlow('examples', '06 E-mail new high incidents once.json');
/** The pull nodes: the delivery settings are theirs. */
const PULLS = ['defender-detections', 'defender-incidents'];
const idOf = (flow: FlowNode[], type: string): string => (flow.find((n) => n.type === type) as FlowNode).id;

/** Test pace: a second to wait for a confirmation, 20 ms after the first failure. */
const FAST = { deliveryTimeout: 'PT1S', redeliveryBaseDelayMs: 20, retryBaseDelayMs: 10 };

interface Running {
  node: Node & { receive(msg: object): void };
  summaries: Probe;
  caught: Probe;
  /** Triggers one pull and waits for its summary; fails on a pull error. */
  pull(): Promise<Record<string, unknown>>;
}

/** The example as imported, its config node at the emulator, its destinations at the test's receivers. */
function exampleFlow(flow: FlowNode[], emulator: Emulator, keep: string[], destinations: (n: FlowNode) => FlowNode, detections: Record<string, unknown>): FlowNode[] {
  return runnableFlow(flow, emulator, keep).map((n) => (PULLS.includes(n.type) ? { ...n, ...FAST, ...detections } : destinations(n)));
}

async function run(flow: FlowNode[], credentials: Record<string, Record<string, string>>): Promise<Running> {
  await helper.load(MODULES, flow, credentials);
  return attach(flow);
}

/** Probes on the running flow's summary and Catch output, and a way to pull. */
function attach(flow: FlowNode[]): Running {
  const det = flow.find((n) => PULLS.includes(n.type)) as FlowNode;
  const [, [summaryId]] = det.wires as string[][];
  const catchNode = flow.find((n) => n.type === 'catch') as FlowNode;
  const node = helper.getNode(det.id) as Running['node'];
  const summaries = new Probe(helper.getNode(summaryId));
  const caught = new Probe(helper.getNode((catchNode.wires as string[][])[0][0]));
  return {
    node,
    summaries,
    caught,
    async pull() {
      const n = summaries.messages.length;
      node.receive({ payload: Date.now() });
      const [summary] = (await summaries.until(n + 1)).slice(n);
      return summary.payload as Record<string, unknown>;
    },
  };
}

/** Pulls until `done()` holds, at most `times` pulls, a little apart; answers the summaries. */
async function pullUntil(flow: Running, done: () => boolean, times = 20): Promise<Array<Record<string, unknown>>> {
  const out: Array<Record<string, unknown>> = [];
  for (let i = 0; i < times && !done(); i++) {
    out.push(await flow.pull());
    await sleep(150);
  }
  return out;
}

describe('delivery confirmation with the shipped examples', () => {
  let emulator: Emulator;
  let webhook: Webhook;
  let mailbox: Mailbox;
  withEmulatorSuite({ seed: 18 }, (e) => (emulator = e));
  before(async () => {
    webhook = await Webhook.start();
    mailbox = await Mailbox.start();
  });
  after(async () => {
    await webhook.close();
    await mailbox.close();
  });

  it('example 02: a webhook down across several pulls and a restart gets every detection once it is back', async () => {
    webhook.received.length = 0;
    const created = emulator.addDetections(10, recent()).map((d) => String(d.AlertId));
    const context = new FileContextRuntime();
    const flow = exampleFlow(WEBHOOK, emulator, ['defender-detections', 'change', 'http request'], (n) => (n.type === 'http request' ? { ...n, url: webhook.url } : n), {});
    try {
      webhook.answer = () => 503;
      let running = await startWith(context, flow);
      const first = await running.pull();
      assert.equal(first.count, 10);
      // Every POST failed: nothing is confirmed, so the checkpoint stays before all ten.
      await waitFor(() => webhook.received.length >= 10);
      await sleep(100);
      const second = await running.pull();
      assert.equal(second.redelivered, 10, 'the failed deliveries go again at the next pull');
      assert.equal(second.pending, 10);
      await waitFor(() => webhook.received.length >= 20);

      // Node-RED restarts while the webhook is still down; what is owed survives in the file store.
      await context.restart();
      running = await startWith(context, flow);
      webhook.answer = () => 204;
      await pullUntil(running, () => new Set(webhook.accepted('AlertId')).size >= 10);
      assert.deepEqual(new Set(webhook.accepted('AlertId')), new Set(created));
      assert.equal(webhook.accepted('AlertId').length, 10, 'nothing delivered twice');

      // Confirmed: never again, however often it pulls.
      const accepted = webhook.accepted('AlertId').length;
      await sleep(1200);
      const later = await running.pull();
      assert.equal(later.count, 0);
      assert.equal(later.pending, 0);
      assert.equal(webhook.accepted('AlertId').length, accepted);
    } finally {
      await context.dispose();
    }

    function startWith(ctx: FileContextRuntime, nodes: FlowNode[]): Promise<Running> {
      const stored = nodes.map((n) => (n.type === 'defender-detections' ? { ...n, store: 'file' } : n));
      return ctx.run(() => run(stored, { [idOf(nodes, 'defender-config')]: { clientSecret: SECRET } }));
    }
  });

  it('example 01: a mail server down for several pulls gets the High detections once it is back; Medium and Low, switched away, never go again', async () => {
    mailbox.subjects.length = 0;
    const at = Date.now() - 5000;
    const severities = ['High', 'Medium', 'High', 'Low', 'High', 'Medium', 'High', 'Low', 'Medium'];
    const added = severities.map((Severity, i) => emulator.addDetection({ Severity, LastProcessedTimeUtc: at + i }));
    const high = added.filter((d) => d.Severity === 'High').map((d) => `[High] ${String(d.AlertTitle)} on ${String(d.ComputerDnsName)}`);
    const flow = exampleFlow(EMAIL, emulator, ['defender-detections', 'switch', 'template', 'e-mail'], (n) => (n.type === 'e-mail' ? { ...n, server: '127.0.0.1', port: String(mailbox.port), secure: false, tls: false } : n), {});
    const [mediumId, otherId] = ((flow.find((n) => n.type === 'switch') as FlowNode).wires as string[][]).slice(1).map((w) => w[0]);
    mailbox.refusing = true;
    const running = await run(flow, { [idOf(flow, 'defender-config')]: { clientSecret: SECRET }, [idOf(flow, 'e-mail')]: { userid: 'node-red', password: 'pw' } });
    const medium = new Probe(helper.getNode(mediumId));
    const other = new Probe(helper.getNode(otherId));

    const first = await running.pull();
    assert.equal(first.count, 9);
    await waitFor(() => mailbox.refused >= 4);
    await sleep(1100);
    const second = await running.pull();
    assert.equal(second.redelivered, 4, 'only the High ones, which the mail server refused, go again');
    await waitFor(() => mailbox.refused >= 8);
    mailbox.refusing = false;
    await pullUntil(running, () => mailbox.subjects.length >= 4);
    assert.deepEqual([...mailbox.subjects].sort(), [...high].sort());
    await sleep(1200);
    const last = await running.pull();
    assert.equal(last.pending, 0);
    assert.equal(mailbox.subjects.length, 4, 'no mail twice');
    assert.equal(medium.messages.length, 3, 'the Medium ones went to their debug node once, and never again');
    assert.equal(other.messages.length, 2);
    assert.ok(medium.messages.every((m) => m.redelivery === undefined));
    // The e-mail node reports each refused mail to the Catch node: what the flow already showed the user.
    assert.ok(running.caught.messages.some((m) => (m.error as { source?: { type?: string } }).source?.type === 'e-mail'));
  });

  it('example 02 on Graph: a detection the webhook always refuses is reported once as DELIVERY_FAILED and holds none of the others back', async () => {
    webhook.received.length = 0;
    const created = emulator.addDetections(6, recent()).map((d) => String(d.AlertId));
    const poison = created[2];
    webhook.answer = (body) => (body.AlertId === poison ? 400 : 204);
    const flow = exampleFlow(WEBHOOK, emulator, ['defender-detections', 'change', 'http request'], (n) => (n.type === 'http request' ? { ...n, url: webhook.url } : n), { maxDeliveries: 3 });
    const running = await run(
      flow.map((n) => (n.type === 'defender-config' ? { ...n, api: 'graph' } : n)),
      { [idOf(flow, 'defender-config')]: { clientSecret: SECRET } },
    );
    const summaries = await pullUntil(running, () => running.caught.messages.some((m) => (m.error as { code?: string }).code === 'DELIVERY_FAILED'));
    summaries.push(await running.pull(), await running.pull());
    assert.deepEqual(new Set(webhook.accepted('AlertId')), new Set(created.filter((id) => id !== poison)));
    assert.equal(webhook.accepted('AlertId').length, 5, 'the others went once, at the first pull');
    assert.equal(webhook.received.filter((r) => r.body.AlertId === poison).length, 3, 'the poison went maxDeliveries times');
    const failures = running.caught.messages.filter((m) => (m.error as { code?: string }).code === 'DELIVERY_FAILED');
    assert.equal(failures.length, 1, 'reported once');
    assert.equal((failures[0].payload as Detection).AlertId, poison);
    assert.equal(failures[0].redelivery, 3);
    assert.match(String((failures[0].error as { message: string }).message), /after 3 deliveries/);
    assert.equal(summaries.reduce((n, s) => n + Number(s.undelivered), 0), 1, 'counted in one summary');
    assert.equal(summaries.at(-1)?.pending, 0);
    assert.equal(summaries.at(-1)?.count, 0, 'and not sent again');
  });

  /**
   * Runs example 04 or 06 as imported (`keep`: its nodes that run as they are, besides the template, the e-mail
   * node and the Complete node; `config`: the config node's settings): with the mail server down, a pull e-mails
   * `count` detections or incidents and none is written back; once it is up, pulls until the update node sent
   * `count`. Answers the running flow and the probe on the update node's output.
   */
  async function emailThenUpdate(example: FlowNode[], keep: string[], count: number, config: Record<string, unknown> = {}): Promise<{ running: Running; taken: Probe }> {
    const flow = exampleFlow(example, emulator, [...keep, 'template', 'e-mail', 'complete'], (n) =>
      n.type === 'e-mail' ? { ...n, server: '127.0.0.1', port: String(mailbox.port), secure: false, tls: false } : n.type === 'defender-config' ? { ...n, ...config } : n, {});
    const update = flow.find((n) => n.type === 'defender-alert-update' || n.type === 'defender-incident-update') as FlowNode;
    mailbox.refusing = true;
    const running = await run(flow, { [idOf(flow, 'defender-config')]: { clientSecret: SECRET }, [idOf(flow, 'e-mail')]: { userid: 'node-red', password: 'pw' } });
    const taken = new Probe(helper.getNode((update.wires as string[][])[0][0]));
    await running.pull();
    await waitFor(() => mailbox.refused >= count);
    await sleep(300);
    assert.equal(taken.messages.length, 0, 'nothing is marked in progress while its e-mail is not delivered');
    assert.equal(emulator.requests.filter((r) => r.method === 'PATCH').length, 0, 'nothing was written');
    mailbox.refusing = false;
    await pullUntil(running, () => taken.messages.length >= count);
    return { running, taken };
  }

  it('example 04 on Graph: a new High alert is e-mailed once the mail server is back, and marked in progress only after its e-mail was delivered', async () => {
    mailbox.subjects.length = 0;
    const at = Date.now() - 5000;
    const high = [0, 1, 2].map((i) => emulator.addDetection({ Severity: 'High', LastProcessedTimeUtc: at + i }));
    for (const Severity of ['Low', 'Medium']) emulator.addDetection({ Severity, LastProcessedTimeUtc: at + 5 });
    const { running, taken } = await emailThenUpdate(TRIAGE, ['defender-detections', 'defender-alert-update', 'switch', 'change'], 3, { api: 'graph' });
    assert.equal(mailbox.subjects.length, 3);
    const statuses = emulator.requests.filter((r) => r.endpoint === 'graph-alert' && r.method === 'PATCH').length;
    assert.equal(statuses, 3, 'one write per alert, after its e-mail');
    for (const m of taken.messages) {
      const alert = m.payload as { id: string; status: string; comments: Array<{ comment: string }> };
      assert.ok(high.some((d) => d.AlertId === alert.id));
      assert.deepEqual([alert.status, alert.comments.length], ['inProgress', 1]);
    }
    // The writes come back as updates, which events: new does not send: nobody is e-mailed twice.
    await sleep(1200);
    const after = await running.pull();
    assert.deepEqual([after.count, after.pending], [0, 0]);
    assert.equal(mailbox.subjects.length, 3);
  });

  it('example 06: a new High incident is e-mailed once with the titles of its alerts, once the mail server is back, and marked in progress only after its e-mail was delivered', async () => {
    mailbox.subjects.length = 0;
    mailbox.bodies.length = 0;
    const at = Date.now() - 5000;
    // Two High incidents of two alerts each, and a Low one, which the incidents node does not ask Graph for.
    const alert = (incidentId: string, Severity: string, AlertTitle: string, i: number): string =>
      String(emulator.addDetection({ Severity, AlertTitle, LastProcessedTimeUtc: at + i }, { graph: { incidentId } }).AlertId);
    alert('7100', 'High', 'Ransomware encrypted files', 0);
    alert('7100', 'Medium', 'Suspicious PowerShell command line', 1);
    alert('7101', 'High', 'Credential dumping with Mimikatz', 2);
    alert('7101', 'Low', 'Unusual sign-in', 3);
    alert('7102', 'Low', 'Suspicious file dropped', 4);
    const { running, taken } = await emailThenUpdate(INCIDENTS, ['defender-incidents', 'defender-incident-update'], 2);
    assert.equal(mailbox.subjects.length, 2, 'one e-mail per High incident, not one per alert');
    const mails = new Map(mailbox.subjects.map((subject, i) => [subject, mailbox.bodies[i]]));
    const incidents = emulator.graphIncidents(TENANT) as Array<{ id: string; displayName: string; status: string; assignedTo: string; comments: Array<{ comment: string }> }>;
    for (const [id, titles] of [['7100', ['Ransomware encrypted files', 'Suspicious PowerShell command line']], ['7101', ['Credential dumping with Mimikatz', 'Unusual sign-in']]] as const) {
      const incident = incidents.find((i) => i.id === id);
      const body = mails.get(`[High] ${String(incident?.displayName)}`);
      assert.ok(body, `no e-mail for incident ${id}: ${JSON.stringify(mailbox.subjects)}`);
      for (const title of titles) assert.ok(body.includes(`- ${title} (`), `incident ${id}: "${title}" not in the e-mail:\n${body}`);
      assert.deepEqual([incident?.status, incident?.assignedTo, incident?.comments.map((c) => c.comment)], ['inProgress', 'soc@example.com', ['E-mailed to the SOC mailbox by Node-RED.']]);
    }
    assert.equal(incidents.find((i) => i.id === '7102')?.status, 'active', 'the Low incident is left alone');
    const patches = emulator.requests.filter((r) => r.endpoint === 'graph-incident' && r.method === 'PATCH');
    assert.deepEqual(patches.map((r) => r.path).sort(), ['/v1.0/security/incidents/7100', '/v1.0/security/incidents/7101'], 'one write per incident, after its e-mail');
    assert.deepEqual(taken.messages.map((m) => m.incidentId).sort(), ['7100', '7101']);
    // The writes come back as updates, which events: new does not send: nobody is e-mailed twice.
    await sleep(1200);
    const after = await running.pull();
    assert.deepEqual([after.count, after.pending], [0, 0]);
    assert.equal(mailbox.subjects.length, 2);
  });

  /**
   * Example 02 with its context store `file` (with none, Node-RED clears a node's context when the node is
   * redeployed): three detections go out while the webhook takes `answerMs` to answer each POST, and the
   * detections node is redeployed (a changed name) meanwhile. Checks that, once past the time they would be due
   * again, none went twice; answers when the redeploy began and ended.
   */
  async function redeployWhileDelivering(answerMs: number, store: { ackDelayMs?: number } = {}): Promise<[number, number]> {
    webhook.received.length = 0;
    webhook.answer = () => 204;
    webhook.delayMs = answerMs;
    const created = emulator.addDetections(3, recent()).map((d) => String(d.AlertId));
    const flow = exampleFlow(WEBHOOK, emulator, ['defender-detections', 'change', 'http request'], (n) => (n.type === 'http request' ? { ...n, url: webhook.url } : n), { store: 'file' });
    const credentials = { [idOf(flow, 'defender-config')]: { clientSecret: SECRET } };
    const context = new FileContextRuntime(store);
    try {
      let running = await context.run(() => run(flow, credentials));
      await running.pull();
      await waitFor(() => webhook.received.length >= 3);
      const det = idOf(flow, 'defender-detections');
      const began = Date.now();
      await helper.setFlows(flow.map((n) => (n.id === det ? { ...n, name: 'renamed' } : n)), 'nodes', credentials);
      const deploy: [number, number] = [began, Date.now()];
      running = attach(flow);
      assert.equal((running.node as Node & { name: string }).name, 'renamed');
      webhook.delayMs = 0;
      // Past the time the three would be due again, had the confirmations been lost with the old node.
      await sleep(1500);
      const after = [await running.pull(), await running.pull()];
      assert.deepEqual(after.map((s) => [s.count, s.redelivered]), [[0, 0], [0, 0]]);
      assert.equal(after[1].pending, 0);
      assert.deepEqual(webhook.accepted('AlertId').sort(), [...created].sort());
      return deploy;
    } finally {
      webhook.delayMs = 0;
      await context.dispose();
    }
  }

  it('a delivery that completes across a redeploy of the detections node still confirms it: nothing goes twice', async () => {
    // The POSTs are still waiting for their answers when the node is redeployed.
    await redeployWhileDelivering(700);
  });

  it('a delivery that completes while the detections node is still closing (its context store slow to answer) confirms it once the node is back', async () => {
    // The pull waits a second for its checkpoint to be stored; closing, the node stores what it owes, which
    // takes another second: the answers, after a second and a half, come while no detections node runs.
    const [began, ended] = await redeployWhileDelivering(1500, { ackDelayMs: 1000 });
    const answered = webhook.received.map((r) => r.answeredAt ?? Infinity);
    assert.ok(answered.length === 3 && answered.every((t) => t > began && t < ended), `answered at ${answered.map((t) => t - began)} ms of a redeploy of ${ended - began} ms`);
  });

  it('example 01: a mail the server refused goes again after the pause, without waiting out deliveryTimeout (the e-mail node tells only the Catch node)', async () => {
    mailbox.subjects.length = 0;
    const refused = mailbox.refused;
    emulator.addDetection({ Severity: 'High', LastProcessedTimeUtc: Date.now() - 5000 });
    const flow = exampleFlow(EMAIL, emulator, ['defender-detections', 'switch', 'template', 'e-mail'], (n) => (n.type === 'e-mail' ? { ...n, server: '127.0.0.1', port: String(mailbox.port), secure: false, tls: false } : n), {
      deliveryTimeout: 'PT1M',
    });
    mailbox.refusing = true;
    try {
      const running = await run(flow, { [idOf(flow, 'defender-config')]: { clientSecret: SECRET }, [idOf(flow, 'e-mail')]: { userid: 'node-red', password: 'pw' } });
      assert.equal((await running.pull()).count, 1);
      await waitFor(() => mailbox.refused > refused);
      await sleep(200);
      mailbox.refusing = false;
      const second = await running.pull();
      assert.equal(second.redelivered, 1, 'the refusal counts at once, not after a minute');
      await waitFor(() => mailbox.subjects.length === 1);
    } finally {
      mailbox.refusing = false;
    }
  });
});

/** The summary a rig's pull ended with. */
const summaryOf = (pulled: { summary?: Message }): Record<string, unknown> => pulled.summary?.payload as Record<string, unknown>;


describe('delivery confirmation rules', () => {
  let emulator: Emulator;
  let webhook: Webhook;
  withEmulatorSuite({ seed: 19 }, (e) => (emulator = e));
  before(async () => (webhook = await Webhook.start()));
  after(() => webhook.close());

  /** A function node that delivers: it says it is done for the detections `confirms` names, never for the others. */
  const sink = (confirms: string): FlowNode => ({
    id: 'deliver',
    type: 'function',
    z: 'tab',
    name: 'deliver',
    func: `if (${confirms}) node.done(); return null;`,
    outputs: 1,
    noerr: 0,
    initialize: '',
    finalize: '',
    libs: [],
    wires: [[]],
    x: 300,
    y: 100,
  });
  const confirming = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    confirm: 'nodes',
    confirmNodes: ['deliver'],
    deliveryTimeout: 'PT0.4S',
    redeliveryBaseDelayMs: 10,
    wires: [['out', 'deliver'], ['sum']],
    // On the canvas: Node-RED takes a node without a position for a config node, and a config node that
    // names another node (confirmNodes) for one that must wait for it.
    x: 100,
    y: 100,
    ...extra,
  });

  it('sends again what the delivering node never says it is done with, marked msg.redelivery, and gives it up after maxDeliveries', async () => {
    const [kept, lost] = [emulator.addDetection({ LastProcessedTimeUtc: Date.now() - 2000 }), emulator.addDetection({ LastProcessedTimeUtc: Date.now() - 1000 })];
    const rig = await loadRig(emulator, confirming({ maxDeliveries: 2 }), { modules: [functionNode], extraNodes: [sink(`msg.payload.FullId === ${JSON.stringify(kept.FullId)}`)] });
    const first = await rig.pull();
    assert.equal(first.detections.length, 2);
    assert.ok(first.detections.every((m) => m.redelivery === undefined), 'a first delivery carries no msg.redelivery');
    assert.notEqual(first.detections[0]._msgid, first.detections[1]._msgid, 'each detection is a message of its own');
    await sleep(600);
    const second = await rig.pull();
    assert.deepEqual(second.detections.map((m) => (m.payload as Detection).FullId), [lost.FullId], 'only the one never confirmed goes again');
    assert.equal(second.detections[0].redelivery, 2);
    assert.equal(second.detections[0].event, 'new', 'as what it was the first time');
    assert.equal((second.summary?.payload as Record<string, unknown>).redelivered, 1);
    await waitFor(() => /1 pending delivery$/.test(String(rig.statuses.at(-1)?.text)));
    assert.equal(rig.statuses.at(-1)?.fill, 'yellow');
    await sleep(600);
    const third = await rig.pull();
    assert.equal(third.detections.length, 0);
    // The report reaches the Catch node before the pull's summary, which counts it.
    const [, , summary] = await rig.summaries.until(3);
    assert.equal((summary.payload as Record<string, unknown>).undelivered, 1);
    const failed = rig.errors.messages.filter((m) => (m.error as { code: string }).code === 'DELIVERY_FAILED');
    assert.equal(failed.length, 1);
    assert.equal((failed[0].payload as Detection).FullId, lost.FullId);
    // The status follows what is owed a moment later: green, nothing pending any more.
    await waitFor(() => rig.statuses.at(-1)?.fill === 'green');
    assert.doesNotMatch(String(rig.statuses.at(-1)?.text), /pending/);
  });

  it('takes a confirmation that comes after deliveryTimeout, before the detection went again: it does not go again', async () => {
    emulator.addDetections(1, recent());
    const slow = { ...sink('true'), func: 'setTimeout(() => node.done(), 1400); return null;' };
    const rig = await loadRig(emulator, confirming({ deliveryTimeout: 'PT1S' }), { modules: [functionNode], extraNodes: [slow] });
    assert.equal((await rig.pull()).detections.length, 1);
    await sleep(2500);
    const second = summaryOf(await rig.pull());
    assert.deepEqual([second.count, second.redelivered, second.pending], [0, 0, 0]);
  });

  it('takes a detection a switch drops (no rule matched) as dropped a second later, not once deliveryTimeout passed', async () => {
    const at = Date.now() - 3000;
    for (const [i, Severity] of ['High', 'Low', 'Low'].entries()) emulator.addDetection({ Severity, LastProcessedTimeUtc: at + i });
    const route = {
      id: 'route', type: 'switch', z: 'tab', name: 'High only', property: 'payload.Severity', propertyType: 'msg',
      rules: [{ t: 'eq', v: 'High', vt: 'str' }], checkall: 'true', repair: false, outputs: 1, x: 200, y: 100, wires: [['deliver']],
    };
    const rig = await loadRig(emulator, confirming({ deliveryTimeout: 'PT4S', wires: [['out', 'route'], ['sum']] }), { modules: [functionNode, switchNode], extraNodes: [route, sink('true')] });
    assert.equal((await rig.pull()).detections.length, 3);
    await sleep(2000);
    const second = summaryOf(await rig.pull());
    assert.deepEqual([second.count, second.pending], [0, 0], 'the High one delivered, the Low ones dropped');
  });

  it('follows a detection into a subflow that delivers it: a 503 the http request node inside gets sends the detection again', async () => {
    webhook.received.length = 0;
    let refusing = true;
    webhook.answer = () => (refusing ? 503 : 204);
    const [d] = emulator.addDetections(1, recent());
    const subflow = [
      { id: 'sf', type: 'subflow', name: 'POST to webhook', info: '', in: [{ x: 40, y: 40, wires: [{ id: 'sf-post' }] }], out: [] },
      { id: 'sf-post', type: 'http request', z: 'sf', name: '', method: 'POST', ret: 'txt', paytoqs: 'ignore', url: webhook.url, senderr: false, headers: [], x: 200, y: 40, wires: [] },
      { id: 'post', type: 'subflow:sf', z: 'tab', name: 'POST via subflow', x: 300, y: 100, wires: [] },
    ];
    const rig = await loadRig(emulator, confirming({ confirmNodes: ['post'], deliveryTimeout: 'PT2S', wires: [['out', 'post'], ['sum']] }), { modules: [httpRequestNode], extraNodes: subflow });
    await rig.pull();
    await waitFor(() => webhook.received.length === 1);
    await sleep(200);
    refusing = false;
    assert.equal(summaryOf(await rig.pull()).redelivered, 1, 'the 503 inside the subflow failed the delivery');
    await waitFor(() => webhook.accepted('AlertId').length === 1);
    await sleep(200);
    const last = summaryOf(await rig.pull());
    assert.deepEqual([last.count, last.pending], [0, 0]);
    assert.deepEqual(webhook.accepted('AlertId'), [String(d.AlertId)]);
  });

  // A flow that hands its detections to a shared delivering flow: through a link out to its link in, or a
  // link call whose called flow answers through a link out in return mode.
  const throughLinks = {
    'link out': [
      { id: 'to-mail', type: 'link out', z: 'tab', name: '', mode: 'link', links: ['mail-in'], x: 200, y: 100 },
      { id: 'mail-in', type: 'link in', z: 'tab', name: 'send', links: ['to-mail'], x: 300, y: 200, wires: [['deliver']] },
    ],
    'link call': [
      { id: 'to-mail', type: 'link call', z: 'tab', name: '', links: ['mail-in'], linkType: 'static', timeout: '30', x: 200, y: 100, wires: [[]] },
      { id: 'mail-in', type: 'link in', z: 'tab', name: 'send', links: [], x: 300, y: 200, wires: [['deliver']] },
      { id: 'mail-back', type: 'link out', z: 'tab', name: '', mode: 'return', links: [], x: 600, y: 200 },
    ],
  };
  for (const [via, links] of Object.entries(throughLinks)) {
    it(`follows a detection through a ${via} to the delivering node: the one it refused goes again, the one it took does not`, async () => {
      const [refused] = emulator.addDetections(2, recent());
      const deliver = {
        ...sink('true'),
        func: `if (msg.payload.FullId === ${JSON.stringify(refused.FullId)}) throw new Error('refused'); node.send(msg); node.done(); return null;`,
        wires: [via === 'link call' ? ['mail-back'] : []],
      };
      const rig = await loadRig(emulator, confirming({ wires: [['out', 'to-mail'], ['sum']] }), { modules: [functionNode, linkNodes], extraNodes: [...links, deliver] });
      assert.equal((await rig.pull()).detections.length, 2);
      await sleep(100);
      const second = await rig.pull();
      assert.deepEqual(second.detections.map((m) => [(m.payload as Detection).FullId, m.redelivery]), [[refused.FullId, 2]]);
      assert.equal(summaryOf(second).pending, 1);
    });
  }

  it('does not let a status code, an error or a Complete report on the message that starts a pull judge its detections’ deliveries', async () => {
    emulator.addDetections(1, recent());
    const rig = await loadRig(emulator, confirming(), { modules: [functionNode], extraNodes: [sink('true')] });
    const first = await rig.pull({
      payload: 1,
      statusCode: 500,
      error: { message: 'an earlier request failed', source: { id: 'upstream', type: 'http request' } },
      complete: { source: { id: 'upstream', type: 'http request' } },
    });
    assert.deepEqual(first.detections.map((m) => ['statusCode', 'error', 'complete'].filter((k) => k in m)), [[]]);
    await sleep(600);
    const second = summaryOf(await rig.pull());
    assert.deepEqual([second.count, second.redelivered, second.pending], [0, 0, 0]);
  });

  it('stops counting a detection as pending once two pulls no longer find it (it left the node’s device group)', async () => {
    const d = emulator.addDetection({ MachineGroup: 'UK', LastProcessedTimeUtc: Date.now() - 2000 });
    const rig = await loadRig(emulator, confirming({ machinegroups: 'UK' }), { modules: [functionNode], extraNodes: [sink('false')] });
    await rig.pull();
    // Timed out, and told: the status says it waits (on a loaded machine, a while after the timeout).
    await waitFor(() => /1 pending delivery$/.test(String(rig.statuses.at(-1)?.text)), 5000);
    emulator.updateDetection(String(d.FullId), undefined, { MachineGroup: 'France' });
    const summaries = [summaryOf(await rig.pull()), summaryOf(await rig.pull())];
    assert.deepEqual(summaries.map((s) => [s.count, s.pending]), [[0, 1], [0, 0]]);
    await waitFor(() => rig.statuses.at(-1)?.fill === 'green', 2000);
    assert.doesNotMatch(String(rig.statuses.at(-1)?.text), /pending/);
  });

  it('stores a confirmation that came just before Node-RED stopped: after the restart the detection does not go again', async () => {
    emulator.addDetections(1, recent());
    // The delivering node is done a moment after the pull stored its checkpoint, and then passes the message on.
    const watched = [
      { ...sink('true'), func: 'setTimeout(() => { node.send(msg); node.done(); }, 200); return null;', wires: [['delivered']] },
      { id: 'delivered', type: 'helper', z: 'tab' },
    ];
    const context = new FileContextRuntime();
    try {
      const rig = await context.start(emulator, confirming(), { modules: [functionNode], extraNodes: watched });
      const delivered = new Probe(helper.getNode('delivered'));
      await rig.pull();
      await delivered.until(1);
      // Stopped within the moment a confirmation waits to be stored together with the ones after it.
      await sleep(20);
      await context.restart();
      // A process that stopped runs nothing more: what the stopped node still had scheduled must not reach
      // the next runtime's store, so that runtime opens it only once all that is over.
      await sleep(300);
      const again = await context.start(emulator, confirming(), { modules: [functionNode], extraNodes: watched });
      await sleep(600);
      const after = await again.pull();
      assert.deepEqual([after.detections.length, summaryOf(after).pending], [0, 0]);
    } finally {
      await context.dispose();
    }
  });

  it('msg.reset clears what is owed for good, though the store was still writing what was owed before it', async () => {
    const [x] = emulator.addDetections(2, recent());
    // x fails at once, the other never says it is done and times out: two changes, stored one after the other.
    const deliver = { ...sink('false'), func: `if (msg.payload.FullId === ${JSON.stringify(x.FullId)}) throw new Error('refused'); ${sink('false').func}` };
    const context = new FileContextRuntime({ ackDelayMs: 1000 });
    try {
      const rig = await context.start(emulator, confirming({ deliveryTimeout: 'PT0.3S' }), { modules: [functionNode], extraNodes: [deliver] });
      await rig.pull();
      await rig.pull({ payload: 1, reset: true });
      await sleep(1500);
      const fresh = await rig.pull();
      assert.deepEqual(fresh.detections.map((m) => [m.event, m.redelivery]), [['new', undefined], ['new', undefined]], 'read again from initialAgo, as never sent');
    } finally {
      await context.dispose();
    }
  });

  it('with confirm: none sends as before: the input message id, no msg.redelivery, no delivery counts in the summary', async () => {
    emulator.addDetections(2, recent());
    const rig = await loadRig(emulator, {}, {});
    const input = { payload: 1, _msgid: 'trigger-1', redelivery: 'kept as it is' };
    const { detections, summary } = await rig.pull(input);
    assert.deepEqual(detections.map((m) => m._msgid), ['trigger-1', 'trigger-1']);
    assert.deepEqual(detections.map((m) => m.redelivery), ['kept as it is', 'kept as it is']);
    const s = summary?.payload as Record<string, unknown>;
    for (const key of ['redelivered', 'undelivered', 'pending']) assert.equal(key in s, false, key);
  });

  it('refuses confirmation without delivering nodes, or with a bad maxDeliveries, sending no request', async () => {
    for (const [props, expected] of [
      [{ confirm: 'nodes', confirmNodes: [] }, /choose them under Confirm delivery/],
      [{ confirm: 'nodes', confirmNodes: ['deliver'], maxDeliveries: 0 }, /maxDeliveries must be a whole number from 1 to 100, got "0"/],
      [{ confirm: 'always' }, /confirm must be "none" or "nodes", got "always"/],
    ] as const) {
      const requests = emulator.requests.length;
      const rig = await loadRig(emulator, props);
      const { error } = await rig.pull();
      assert.equal((error?.error as { code: string }).code, 'INVALID_CONFIG');
      assert.match((error?.error as { message: string }).message, expected);
      assert.equal(emulator.requests.length, requests);
      await helper.unload();
    }
  });
});
