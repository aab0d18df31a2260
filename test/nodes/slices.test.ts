/**
 * Pulls of any size in a real runtime against the emulator: a backlog many times maxResponseMB drains
 * exactly once in slices, a fault half-way keeps what was delivered, a restart between slices loses and
 * repeats nothing, a Join node still rebuilds the batch, and Graph does the same page by page.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Checkpoint } from '../../src/defender/pulling/checkpoint';
import type { Emulator } from '../../src/emulator';
import { coreNode, FileContextRuntime, helper, loadRig, Message, Probe, Rig, withEmulatorSuite } from '../fixtures/harness';
import { alertVersionKey, assertExactlyOnce, keysOf, Ledger } from '../fixtures/ledger';

const MINUTE = 60_000;
/** About 50 of the emulator's 2 KB detections: a backlog of 1 500 is thirty times the cap. */
const SMALL_CAP = { maxResponseMB: 0.1, maxRetries: 0 };
const GRAPH = { api: 'graph', graphRequestsPerMinute: 60_000, graphBurst: 1000 };

type Summary = { count: number; slices: number; pages: number; duplicates: number; checkpoint: string | null };
const summaryOf = (m: Message | undefined): Summary => (m?.payload ?? {}) as Summary;
const errorOf = (m: Message | undefined): { code?: string; message?: string } => (m?.error ?? {}) as { code?: string; message?: string };
const timesOf = (messages: Message[]): string[] => messages.map((m) => String((m.payload as { LastProcessedTimeUtc: string }).LastProcessedTimeUtc));
const checkpointOf = (rig: Rig, store?: string): Checkpoint | undefined => rig.node.context().get('checkpoint', store) as Checkpoint | undefined;

/** A backlog recorded in the ledger: `n` detections over the last `minutes` minutes. */
function backlog(emulator: Emulator, ledger: Ledger, n: number, minutes = 90): void {
  for (const d of emulator.addDetections(n, { lastProcessedAt: Date.now() - 1000, spreadMs: minutes * MINUTE })) ledger.record(d);
}

/** The pull fails half-way: the emulator answers 500 once, after `after` more answers. */
function failHalfWay(emulator: Emulator, after: number): void {
  emulator.injectFault({ kind: 'http500', after });
}

describe('pulls in slices, SIEM API', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 12 }, (e) => (emulator = e));

  it('drains a backlog thirty times maxResponseMB exactly once and oldest first, then only what is new', async () => {
    const ledger = new Ledger();
    backlog(emulator, ledger, 1500);
    const rig = await loadRig(emulator, SMALL_CAP);
    const first = await rig.pull();
    assert.equal(first.error, undefined, errorOf(first.error).message);
    assert.equal(first.detections.length, 1500);
    const times = timesOf(first.detections);
    assert.deepEqual(times, [...times].sort(), 'oldest first across slices');
    assert.ok(summaryOf(first.summary).slices >= 20, `${summaryOf(first.summary).slices} slices`);
    // Progress on the status while the pull goes on, in the runtime's words: "1 234 sent…".
    assert.ok(rig.statuses.some((s) => /^\d{1,3}( \d{3})* sent…$/.test(s.text ?? '')), JSON.stringify(rig.statuses.slice(0, 5)));
    backlog(emulator, ledger, 120, 1);
    const second = await rig.pull();
    assert.equal(second.detections.length, 120);
    assertExactlyOnce(ledger, keysOf([...first.detections, ...second.detections]), 'backlog');
  });

  it('keeps the slices delivered before a fault on a middle page; the next pull sends only the rest', async () => {
    const ledger = new Ledger();
    backlog(emulator, ledger, 900);
    const rig = await loadRig(emulator, SMALL_CAP);
    failHalfWay(emulator, 12);
    const failed = await rig.pull();
    assert.equal(errorOf(failed.error).code, 'HTTP_500');
    const kept = failed.detections.length;
    assert.ok(kept > 0 && kept < 900, `${kept} delivered before the fault`);
    // The last one out carries the total, so a Join in automatic mode completes with what came.
    assert.equal((failed.detections.at(-1)?.parts as { count?: number }).count, kept);
    const stored = checkpointOf(rig);
    assert.equal(stored?.highest, timesOf(failed.detections).at(-1), 'the checkpoint covers exactly what went out');
    const rest = await rig.pull();
    assert.equal(rest.error, undefined);
    assert.equal(rest.detections.length, 900 - kept);
    assertExactlyOnce(ledger, keysOf([...failed.detections, ...rest.detections]), 'fault half-way');
  });

  it('lets a Join node in automatic mode rebuild the batch of an explicit query taken in slices', async () => {
    emulator.addDetections(400, { lastProcessedAt: Date.now() - 1000, spreadMs: 50 * MINUTE });
    // The detections go to the join as well as to the probe.
    const rig = await loadRig(emulator, { ...SMALL_CAP, wires: [['out', 'batch'], ['sum']] }, {
      modules: [coreNode('sequence/17-split.js')],
      extraNodes: [
        // Not the id 'join': with a node of that id in the flow, Node-RED's Complete nodes stay silent.
        { id: 'batch', type: 'join', z: 'tab', mode: 'auto', build: 'array', property: 'payload', propertyType: 'msg', key: 'topic', joiner: '\\n', joinerType: 'str', accumulate: false, timeout: '', count: '', reduceRight: false, wires: [['joined']] },
        { id: 'joined', type: 'helper', z: 'tab' },
      ],
    });
    const joined = new Probe(helper.getNode('joined'));
    const { detections, summary } = await rig.pull({ query: { ago: 'PT1H' } });
    assert.equal(detections.length, 400);
    assert.ok(summaryOf(summary).slices > 1);
    const [batch] = await joined.until(1, 10_000);
    assert.deepEqual(
      (batch.payload as Array<{ FullId: string }>).map((d) => d.FullId),
      detections.map((m) => (m.payload as { FullId: string }).FullId),
    );
  });

  it('refuses one millisecond holding more than maxResponseMB, and says what to raise', async () => {
    const instant = new Date(Date.now() - 10 * MINUTE).toISOString().replace('Z', '0000Z');
    for (let i = 0; i < 80; i++) emulator.addDetection({ LastProcessedTimeUtc: instant });
    const rig = await loadRig(emulator, SMALL_CAP);
    const { error } = await rig.pull();
    assert.equal(errorOf(error).code, 'TOO_LARGE');
    assert.match(String(errorOf(error).message), /more detections share the instant .* than fit in the 0\.1 MB limit \(maxResponseMB\).*raise maxResponseMB/);
  });
  it('loses nothing when the flow is redeployed in the middle of a pull, with a file context store', async () => {
    const runtime = new FileContextRuntime();
    const ledger = new Ledger();
    try {
      backlog(emulator, ledger, 800);
      const rig = await runtime.start(emulator, SMALL_CAP);
      rig.node.receive({ payload: Date.now() });
      // Stopped as a deploy stops it, while the status says how many went out.
      await rig.detections.until(150);
      await runtime.restart();
      // Everything that reached the flow before it stopped.
      const before = [...rig.detections.messages];
      const after = await (await runtime.start(emulator, SMALL_CAP)).pull();
      assert.equal(after.error, undefined);
      const received = keysOf([...before, ...after.detections]);
      assert.deepEqual([...ledger.created].filter((k) => !received.includes(k)), [], 'a detection was lost');
      // What went out after the last commit may come again: never more than one slice of it.
      assert.ok(received.length - new Set(received).size <= 100, `${received.length - new Set(received).size} sent twice`);
    } finally {
      await runtime.dispose();
    }
  });

  it('loses and repeats nothing when Node-RED restarts between slices, with a file context store', async () => {
    const runtime = new FileContextRuntime();
    const ledger = new Ledger();
    try {
      backlog(emulator, ledger, 700);
      let rig = await runtime.start(emulator, SMALL_CAP);
      failHalfWay(emulator, 8);
      const before = await rig.pull();
      assert.equal(errorOf(before.error).code, 'HTTP_500');
      assert.ok(before.detections.length > 0 && before.detections.length < 700);
      await runtime.restart();
      backlog(emulator, ledger, 30, 1);
      rig = await runtime.start(emulator, SMALL_CAP);
      assert.ok(checkpointOf(rig, 'file'), 'the checkpoint of the slices sent did not survive the restart');
      const after = await rig.pull();
      assert.equal(after.error, undefined);
      assertExactlyOnce(ledger, keysOf([...before.detections, ...after.detections]), 'restart between slices');
    } finally {
      await runtime.dispose();
    }
  });
});

describe('pulls in slices, Microsoft Graph', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 13, graphMaxPageSize: 40 }, (e) => (emulator = e));

  it('delivers a backlog page by page oldest first, and a fault on a middle page keeps the pages before it', async () => {
    const ledger = new Ledger(alertVersionKey);
    backlog(emulator, ledger, 500);
    // Pages of 40 alerts fit the cap: each is one slice.
    const rig = await loadRig(emulator, { maxResponseMB: 1, maxRetries: 0 }, { config: GRAPH });
    failHalfWay(emulator, 5);
    const failed = await rig.pull();
    assert.equal(errorOf(failed.error).code, 'HTTP_500');
    assert.ok(failed.detections.length >= 40 && failed.detections.length < 500, `${failed.detections.length} delivered`);
    const rest = await rig.pull();
    assert.equal(rest.error, undefined);
    assert.ok(summaryOf(rest.summary).slices > 1);
    const all = [...failed.detections, ...rest.detections];
    const times = timesOf(all);
    assert.deepEqual(times, [...times].sort(), 'oldest first across both pulls');
    assertExactlyOnce(ledger, keysOf(all, alertVersionKey), 'graph pages');
  });
});

describe('pulls in slices, Microsoft Graph, pages larger than maxResponseMB', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 15, graphMaxPageSize: 200 }, (e) => (emulator = e));

  it('goes on in time slices from where the pages stopped, losing and repeating nothing', async () => {
    const ledger = new Ledger(alertVersionKey);
    backlog(emulator, ledger, 450);
    const rig = await loadRig(emulator, SMALL_CAP, { config: GRAPH });
    const { error, detections } = await rig.pull();
    assert.equal(error, undefined, errorOf(error).message);
    const times = timesOf(detections);
    assert.deepEqual(times, [...times].sort());
    assertExactlyOnce(ledger, keysOf(detections, alertVersionKey), 'graph pages over the cap');
  });
});

describe('pulls in slices, Microsoft Graph without $orderby', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 14, graphMaxPageSize: 40, graphOrderBy: 'refused' }, (e) => (emulator = e));

  it('cuts the window in time instead, each part read whole within the cap', async () => {
    const ledger = new Ledger(alertVersionKey);
    backlog(emulator, ledger, 400);
    const rig = await loadRig(emulator, SMALL_CAP, { config: GRAPH });
    const { error, detections, summary } = await rig.pull();
    assert.equal(error, undefined, errorOf(error).message);
    assert.ok(summaryOf(summary).slices > 1);
    const times = timesOf(detections);
    assert.deepEqual(times, [...times].sort());
    assertExactlyOnce(ledger, keysOf(detections, alertVersionKey), 'graph without $orderby');
  });
});
