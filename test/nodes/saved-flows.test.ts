/**
 * Flows the editor did not write: a node given only its type and its config node (a flow deployed by a
 * pipeline or written by hand), and the example flows as 0.1.0 shipped them (without every property added
 * since). Both must run as nodes with every declared default do.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Node } from 'node-red';
import type { Emulator } from '../../src/emulator';
import configNode from '../../src/nodes/defender-config';
import detectionsNode from '../../src/nodes/defender-detections';
import updateNode from '../../src/nodes/defender-alert-update';
import { NODE_PROPERTIES } from '../../src/nodes/properties';
import { CLIENT_ID, type FlowNode, helper, loadRig, loadUpdateRig, Message, Probe, readFlow, recent, runnableFlow, SECRET, TENANT, withEmulatorSuite } from '../fixtures/harness';

/** Every example flow file as 0.1.0 shipped it. */
function oldExamples(): Array<{ file: string; flow: FlowNode[] }> {
  const dir = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'flows-0.1.0');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((file) => ({ file, flow: readFlow('test', 'fixtures', 'flows-0.1.0', file) }));
}

/** Every property of a node type but its config node set to null: each is then to mean its default. */
function nullsOf(type: 'defender-detections' | 'defender-alert-update'): Record<string, null> {
  return Object.fromEntries(Object.keys(NODE_PROPERTIES[type]).filter((name) => name !== 'defender').map((name) => [name, null]));
}

/** Sends a message into a detections node and waits for its summary (output 2) or the error a Catch node saw. */
async function pull(node: Node, summary: Probe, caught: Probe, msg: Record<string, unknown> = { payload: Date.now() }): Promise<Message> {
  const before = { s: summary.messages.length, e: caught.messages.length };
  (node as Node & { receive(m: object): void }).receive(msg);
  const settled = new AbortController();
  await Promise.race([summary.until(before.s + 1, 30_000, settled.signal), caught.until(before.e + 1, 30_000, settled.signal)]);
  settled.abort();
  const error = caught.messages[before.e];
  assert.equal(error, undefined, `the pull failed: ${JSON.stringify(error?.error)}`);
  return summary.messages[before.s];
}

describe('flows written without optional properties', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 15 }, (e) => (emulator = e));

  it('runs a detections node given only its type and config node as the documented defaults say', async () => {
    emulator.addDetections(3, recent());
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab' },
      // A config node needs its tenant and app; everything else it may leave out.
      { id: 'cfg', type: 'defender-config', tenantId: TENANT, clientId: CLIENT_ID, region: 'custom', apiBaseUrl: emulator.url, authorityUrl: emulator.url },
      { id: 'det', type: 'defender-detections', z: 'tab', defender: 'cfg', wires: [['out'], ['sum']] },
      { id: 'out', type: 'helper', z: 'tab' },
      { id: 'sum', type: 'helper', z: 'tab' },
      { id: 'caught', type: 'helper', z: 'tab' },
      { id: 'on-error', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    ];
    await helper.load([configNode, detectionsNode], flow, { cfg: { clientSecret: SECRET } });
    const out = new Probe(helper.getNode('out'));
    const sum = new Probe(helper.getNode('sum'));
    const caught = new Probe(helper.getNode('caught'));

    const first = (await pull(helper.getNode('det'), sum, caught)).payload as Record<string, unknown>;
    assert.equal(first.count, 3);
    assert.equal(out.messages.length, 3);
    // Incremental with initialAgo PT2H: the first window is the last two hours, and a checkpoint is kept.
    assert.equal(first.incremental, true);
    const since = Date.parse(String(first.since));
    const until = Date.parse(String(first.until));
    assert.ok(Math.abs(until - since - 2 * 60 * 60 * 1000) < 1000, `window ${first.since} → ${first.until} is not 2 hours`);
    assert.equal(typeof first.checkpoint, 'string');
    // The second pull starts at the checkpoint less the default overlap (PT5M) and sends nothing again.
    const second = (await pull(helper.getNode('det'), sum, caught)).payload as Record<string, unknown>;
    assert.equal(second.count, 0);
    assert.equal(Date.parse(String(second.since)), Date.parse(String(first.checkpoint).replace(/(\.\d{3})\d*/, '$1')) - 5 * 60 * 1000);
  });

  it('runs an update node given only its type and config node: it changes what msg.update says, nothing else', async () => {
    const [detection] = emulator.addDetections(1, recent());
    const flow: FlowNode[] = [
      { id: 'tab', type: 'tab' },
      { id: 'cfg', type: 'defender-config', tenantId: TENANT, clientId: CLIENT_ID, region: 'custom', apiBaseUrl: emulator.url, authorityUrl: emulator.url },
      { id: 'upd', type: 'defender-alert-update', z: 'tab', defender: 'cfg', wires: [['out']] },
      { id: 'out', type: 'helper', z: 'tab' },
      { id: 'caught', type: 'helper', z: 'tab' },
      { id: 'on-error', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
    ];
    await helper.load([configNode, detectionsNode, updateNode], flow, { cfg: { clientSecret: SECRET } });
    const out = new Probe(helper.getNode('out'));
    const caught = new Probe(helper.getNode('caught'));
    const node = helper.getNode('upd') as Node & { receive(m: object): void };
    node.receive({ payload: detection });
    await caught.until(1);
    assert.equal((caught.messages[0].error as { message: string }).message.startsWith('nothing to change'), true, 'every field defaults to unchanged');
    node.receive({ payload: detection, update: { status: 'resolved' } });
    const [written] = await out.until(1);
    assert.equal((written.payload as { status: string }).status, 'resolved');
    const patches = emulator.requests.filter((r) => r.endpoint === 'graph-alert').map((r) => JSON.parse(r.body ?? '{}') as unknown);
    assert.deepEqual(patches, [{ status: 'resolved' }]);
  });

  it('runs nodes whose flow holds null for their optional properties, as some pipelines write JSON, as if they were left out', async () => {
    const [detection] = emulator.addDetections(2, recent());
    const detections = await loadRig(emulator, nullsOf('defender-detections'));
    const pulled = await detections.pull();
    assert.equal(pulled.error, undefined, JSON.stringify(pulled.error?.error));
    assert.deepEqual([pulled.detections.length, (pulled.summary?.payload as { incremental: boolean }).incremental], [2, true]);
    await helper.unload();
    const update = await loadUpdateRig(emulator, { ...nullsOf('defender-alert-update'), status: 'resolved' });
    const { output, error } = await update.update({ payload: detection });
    assert.equal(error, undefined, JSON.stringify(error?.error));
    assert.equal((output?.payload as { status: string }).status, 'resolved');
    const patches = emulator.requests.filter((r) => r.endpoint === 'graph-alert').map((r) => JSON.parse(r.body ?? '{}') as unknown);
    assert.deepEqual(patches, [{ status: 'resolved' }], 'statusType null is the field itself, and the other fields change nothing');
  });

  for (const { file, flow } of oldExamples()) {
    it(`runs ${file} as 0.1.0 saved it`, async () => {
      emulator.addDetections(2, recent());
      await helper.load([configNode, detectionsNode], runnableFlow(flow, emulator, ['defender-detections']), Object.fromEntries(
        flow.filter((n) => n.type === 'defender-config').map((n) => [n.id, { clientSecret: SECRET }]),
      ));
      const detections = flow.filter((n) => n.type === 'defender-detections');
      assert.ok(detections.length > 0);
      for (const saved of detections) {
        const [outputs, summaries] = saved.wires as string[][];
        const sum = new Probe(helper.getNode(summaries[0]));
        const out = new Probe(helper.getNode(outputs[0]));
        const catcher = flow.find((n) => n.type === 'catch' && n.z === saved.z);
        assert.ok(catcher, `${file}: no catch node`);
        const caught = new Probe(helper.getNode((catcher.wires as string[][])[0][0]));
        const summary = (await pull(helper.getNode(saved.id), sum, caught, { query: { ago: 'PT1H' } })).payload as Record<string, unknown>;
        assert.equal(summary.count, 2, `${file}: ${JSON.stringify(summary)}`);
        assert.equal(out.messages.length, 2);
      }
    });
  }
});
