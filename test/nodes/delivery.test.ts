/**
 * Delivery confirmation (SPEC section 11) in a real runtime, with real destinations: the shipped examples
 * 01 (e-mail) and 02 (webhook) as imported, against an SMTP server and an HTTP server in the test, through
 * node-red-node-email and the core http request node.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Node, NodeAPI } from 'node-red';
import type { Detection } from '../../src/defender/detection';
import type { Emulator } from '../../src/emulator';
import configNode from '../../src/nodes/defender-config';
import detectionsNode from '../../src/nodes/defender-detections';
import { coreNode, FileContextRuntime, runtimeHooks, type FlowNode, helper, Message, Probe, readFlow, recent, runnableFlow, SECRET, withEmulatorSuite } from '../fixtures/harness';
import { Mailbox, Webhook } from '../fixtures/receivers';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const emailNode = require('node-red-node-email/61-email.js') as (RED: NodeAPI) => void;
const MODULES = [runtimeHooks, configNode, detectionsNode, coreNode('function/10-switch.js'), coreNode('function/15-change.js'), coreNode('function/80-template.js'), coreNode('network/21-httprequest.js'), emailNode];

const WEBHOOK = readFlow('examples', '02 Forward detections to a webhook.json');
const EMAIL = readFlow('examples', '01 Poll every 5 minutes and e-mail high severity.json');
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
  return runnableFlow(flow, emulator, keep).map((n) => (n.type === 'defender-detections' ? { ...n, ...FAST, ...detections } : destinations(n)));
}

async function run(flow: FlowNode[], credentials: Record<string, Record<string, string>>): Promise<Running> {
  const det = flow.find((n) => n.type === 'defender-detections') as FlowNode;
  const [, [summaryId]] = det.wires as string[][];
  const catchNode = flow.find((n) => n.type === 'catch') as FlowNode;
  await helper.load(MODULES, flow, credentials);
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
});

async function waitFor(condition: () => boolean, timeoutMs = 10_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error('timed out waiting');
    await sleep(20);
  }
}

export type { Detection, Message };
