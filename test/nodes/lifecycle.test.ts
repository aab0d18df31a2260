/**
 * Alerts as a lifecycle in a real runtime against the emulator: the first version of an alert is `new`, a
 * later one an `update` with what changed since the version sent last; `events` chooses what goes out; the
 * memory survives a restart with a file store and forgets what `remember` no longer covers.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import updateNode from '../../src/nodes/defender-alert-update';
import configNode from '../../src/nodes/defender-config';
import detectionsNode from '../../src/nodes/defender-detections';
import { detectionKey } from '../../src/defender/services/detection';
import { SIEM_FIELDS } from '../../src/defender/pulling/lifecycle';
import { timeKey } from '../../src/defender/pulling/time-key';
import { coreNode, FileContextRuntime, helper, loadRig, Message, Probe, readFlow, recent, runnableFlow, SECRET, withEmulatorSuite } from '../fixtures/harness';

const MINUTE = 60_000;
const GRAPH = { api: 'graph', graphRequestsPerMinute: 6000, graphBurst: 100 };

type Summary = { count: number; new: number; updates: number; suppressed: number };
const summaryOf = (m: Message | undefined): Summary => (m?.payload ?? {}) as Summary;
const lifecycleOf = (m: Message): { event: unknown; changes: unknown; previous: unknown } => ({ event: m.event, changes: m.changes, previous: m.previous });

/** The detections node 'det' with an update node 'upd' (its output 'written') behind nothing: triggered by hand. */
async function withUpdater(emulator: Emulator, detectionsProps: Record<string, unknown>, update: Record<string, unknown>) {
  const rig = await loadRig(emulator, detectionsProps, {
    config: GRAPH,
    extraNodes: [
      { id: 'upd', type: 'defender-alert-update', z: 'tab', defender: 'cfg', retryBaseDelayMs: 10, ...update, wires: [['written']] },
      { id: 'written', type: 'helper', z: 'tab' },
    ],
  });
  const written = new Probe(helper.getNode('written'));
  const write = async (alertId: string, msg: Record<string, unknown> = {}): Promise<void> => {
    const before = written.messages.length;
    (helper.getNode('upd') as unknown as { receive(m: object): void }).receive({ alertId, ...msg });
    await written.until(before + 1);
  };
  return { rig, write };
}

describe('alerts as a lifecycle, Microsoft Graph', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 41 }, (e) => (emulator = e));

  for (const shape of ['siem', 'native']) {
    it(`sends a triaged alert again as an update whose changes are ["status"] (shape ${shape})`, async () => {
      const [d] = emulator.addDetections(1, recent());
      const id = String(d.AlertId);
      const { rig, write } = await withUpdater(emulator, { shape }, { status: 'inProgress' });
      const first = await rig.pull();
      assert.equal(first.detections.length, 1);
      assert.deepEqual(lifecycleOf(first.detections[0]), { event: 'new', changes: undefined, previous: undefined });
      await write(id);
      const second = await rig.pull();
      assert.equal(second.detections.length, 1);
      assert.deepEqual(lifecycleOf(second.detections[0]), { event: 'update', changes: ['status'], previous: { status: 'new' } });
      assert.deepEqual([summaryOf(second.summary).new, summaryOf(second.summary).updates], [0, 1]);
      assert.match(String(rig.statuses.at(-1)?.text), /^0 new, 1 updated at /);
    });
  }

  it('sends only new alerts with events "new": the update is passed over, counted, and moves the checkpoint', async () => {
    const [d] = emulator.addDetections(1, recent());
    const { rig, write } = await withUpdater(emulator, { events: 'new' }, { comment: 'seen by the SOC' });
    assert.equal((await rig.pull()).detections.length, 1);
    await write(String(d.AlertId));
    const quiet = await rig.pull();
    assert.equal(quiet.detections.length, 0);
    assert.deepEqual([summaryOf(quiet.summary).suppressed, summaryOf(quiet.summary).count], [1, 0]);
    const again = await rig.pull();
    assert.equal(summaryOf(again.summary).suppressed, 0, 'the passed-over version is behind the checkpoint now');
    const late = emulator.addDetections(1, recent());
    const fresh = await rig.pull();
    assert.deepEqual(fresh.detections.map((m) => (m.payload as { AlertId: string }).AlertId), [String(late[0].AlertId)]);
  });

  it('sends with events "triage" a status change but not a comment', async () => {
    const [d] = emulator.addDetections(1, recent());
    const id = String(d.AlertId);
    const { rig, write } = await withUpdater(emulator, { events: 'triage' }, {});
    await rig.pull();
    await write(id, { update: { comment: 'looked at it' } });
    const comment = await rig.pull();
    assert.deepEqual([comment.detections.length, summaryOf(comment.summary).suppressed], [0, 1]);
    await write(id, { update: { status: 'resolved', classification: 'falsePositive' } });
    const triage = await rig.pull();
    assert.equal(triage.detections.length, 1);
    // Counted from the version sent last, before the comment.
    assert.deepEqual(lifecycleOf(triage.detections[0]), {
      event: 'update',
      changes: ['status', 'classification', 'commentCount'],
      previous: { status: 'new', classification: null, commentCount: 0 },
    });
  });

  it('sends with events "triage" an update that only reassigns the alert, or only unassigns it', async () => {
    const [d] = emulator.addDetections(1, recent());
    const id = String(d.AlertId);
    const { rig, write } = await withUpdater(emulator, { events: 'triage' }, {});
    await rig.pull();
    await write(id, { update: { assignedTo: 'soc@contoso.com' } });
    const assigned = await rig.pull();
    assert.deepEqual(assigned.detections.map(lifecycleOf), [{ event: 'update', changes: ['assignedTo'], previous: { assignedTo: null } }]);
    await write(id, { update: { assignedTo: null } });
    const unassigned = await rig.pull();
    assert.deepEqual(unassigned.detections.map(lifecycleOf), [{ event: 'update', changes: ['assignedTo'], previous: { assignedTo: 'soc@contoso.com' } }]);
  });

  it('remembers across a restart with a file context store: the update after it is not new', async () => {
    const runtime = new FileContextRuntime();
    const updater = {
      config: GRAPH,
      extraNodes: [
        { id: 'upd', type: 'defender-alert-update', z: 'tab', defender: 'cfg', status: 'inProgress', wires: [['written']] },
        { id: 'written', type: 'helper', z: 'tab' },
      ],
    };
    try {
      const [d] = emulator.addDetections(1, recent());
      let rig = await runtime.start(emulator, {}, updater);
      assert.equal((await rig.pull()).detections[0].event, 'new');
      await runtime.restart();
      rig = await runtime.start(emulator, {}, updater);
      const written = new Probe(helper.getNode('written'));
      (helper.getNode('upd') as unknown as { receive(m: object): void }).receive({ alertId: String(d.AlertId) });
      await written.until(1);
      const { detections } = await rig.pull();
      assert.deepEqual(lifecycleOf(detections[0]), { event: 'update', changes: ['status'], previous: { status: 'new' } });
    } finally {
      await runtime.dispose();
    }
  });
});

describe('alerts as a lifecycle, SIEM API', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 42 }, (e) => (emulator = e));

  it('reads the alert memory as 0.2.0 stored it (an array per alert), tells updates from it, and stores it compact', async () => {
    const d = emulator.addDetection({ LastProcessedTimeUtc: Date.now() - 2 * MINUTE, Severity: 'Low' });
    const rig = await loadRig(emulator);
    const sent = timeKey(d.LastProcessedTimeUtc);
    rig.node.context().set('checkpoint', {
      version: 1,
      highest: d.LastProcessedTimeUtc,
      keys: [detectionKey(d)],
      alerts: { fields: [...SIEM_FIELDS], alerts: { [String(d.FullId)]: [sent, 1, Date.now() - 2 * MINUTE, ...SIEM_FIELDS.map((f) => d[f] ?? null)] } },
    });
    emulator.updateDetection(String(d.FullId), Date.now() - 1000, { Severity: 'High' });
    const { detections } = await rig.pull();
    assert.equal(detections.length, 1);
    assert.deepEqual(lifecycleOf(detections[0]), { event: 'update', changes: ['Severity'], previous: { Severity: 'Low' } });
    assert.match(JSON.stringify(rig.node.context().get('checkpoint')), /"alerts":\{"version":2,/);
  });

  it('calls a FullId sent before with a later LastProcessedTimeUtc an update, naming the SIEM fields that changed', async () => {
    const [d] = emulator.addDetections(1, { ...recent(), lastProcessedAt: Date.now() - 2 * MINUTE });
    const rig = await loadRig(emulator);
    assert.equal((await rig.pull()).detections[0].event, 'new');
    const severity = d.Severity === 'High' ? 'Low' : 'High';
    emulator.updateDetection(String(d.FullId), Date.now() - 1000, { Severity: severity });
    const { detections } = await rig.pull();
    assert.deepEqual(lifecycleOf(detections[0]), { event: 'update', changes: ['Severity'], previous: { Severity: d.Severity } });
  });

  it('forgets alerts untouched for longer than remember, and an alert created before that comes back as an update of unknown changes', async () => {
    const created = Date.now() - 1000;
    const d = emulator.addDetection({ AlertTime: new Date(created).toISOString(), LastProcessedTimeUtc: created + 500 });
    const rig = await loadRig(emulator, { remember: 'PT2S' });
    assert.equal((await rig.pull()).detections[0].event, 'new');
    // Untouched for longer than the two seconds the node remembers.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    emulator.updateDetection(String(d.FullId), Date.now() - 100);
    const { detections } = await rig.pull();
    assert.deepEqual(lifecycleOf(detections[0]), { event: 'update', changes: null, previous: undefined });
  });

  it('remembers nothing after an explicit pull: an alert it sent is new to the next one', async () => {
    const [d] = emulator.addDetections(1, { lastProcessedAt: Date.now() - 5 * MINUTE });
    const rig = await loadRig(emulator);
    const first = await rig.pull({ query: { ago: 'PT1H' } });
    assert.equal(first.detections[0].event, 'new');
    emulator.updateDetection(String(d.FullId), Date.now() - 1000);
    const again = await rig.pull({ query: { ago: 'PT1H' } });
    assert.deepEqual(again.detections.map((m) => m.event), ['new']);
  });
});
