import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Checkpoint } from '../../src/defender/pulling/checkpoint';
import type { Emulator } from '../../src/emulator';
import { helper, loadRig, Message, Rig, recent, withEmulatorSuite } from '../fixtures/harness';

const MINUTE = 60_000;
const ids = (messages: Message[]): string[] => messages.map((m) => String((m.payload as { FullId: string }).FullId));
const summaryOf = (m: Message | undefined): Record<string, unknown> => (m?.payload ?? {}) as Record<string, unknown>;
const checkpointOf = (rig: Rig): Checkpoint | undefined => rig.node.context().get('checkpoint') as Checkpoint | undefined;

describe('incremental polling', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 11 }, (e) => (emulator = e));

  it('delivers each detection once across polls, and the new ones later', async () => {
    const first = emulator.addDetections(3, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 30_000 });
    const rig = await loadRig(emulator);
    const a = await rig.pull();
    assert.deepEqual(new Set(ids(a.detections)), new Set(first.map((d) => String(d.FullId))));
    const b = await rig.pull();
    assert.equal(b.detections.length, 0);
    assert.equal(summaryOf(b.summary).duplicates, 3, 'the overlap brings them back and dedupe drops them');
    const later = emulator.addDetections(2, recent());
    const c = await rig.pull();
    assert.deepEqual(new Set(ids(c.detections)), new Set(later.map((d) => String(d.FullId))));
    assert.equal(summaryOf(c.summary).checkpoint, checkpointOf(rig)?.highest);
  });

  it('looks initialAgo back on the first pull, with a pinned until', async () => {
    emulator.addDetections(1, { lastProcessedAt: Date.now() - 3 * 60 * MINUTE });
    const hourOld = emulator.addDetections(1, { lastProcessedAt: Date.now() - 60 * MINUTE });
    const rig = await loadRig(emulator, { initialAgo: 'PT2H' });
    const before = Date.now();
    const { detections, summary } = await rig.pull();
    assert.deepEqual(ids(detections), [String(hourOld[0].FullId)]);
    const s = summaryOf(summary);
    const since = Date.parse(String(s.since));
    assert.ok(Math.abs(before - 2 * 60 * MINUTE - since) < 5000, `since ${s.since} is not 2 h before the pull`);
    const sent = emulator.requests.filter((r) => r.endpoint === 'alerts').at(-1)?.query ?? [];
    assert.equal(sent.find(([k]) => k === 'untilTimeUtc')?.[1], s.until);
  });

  it('picks up a late arrival inside the overlap window', async () => {
    emulator.addDetections(2, recent());
    const rig = await loadRig(emulator, { overlap: 'PT5M' });
    await rig.pull();
    // Recorded by the service 2 minutes ago, but visible only now: below the checkpoint, inside the overlap.
    const late = emulator.addDetection({ LastProcessedTimeUtc: Date.now() - 2 * MINUTE });
    const { detections } = await rig.pull();
    assert.deepEqual(ids(detections), [String(late.FullId)]);
  });

  it('passes an updated detection again, as a new version', async () => {
    const [d] = emulator.addDetections(1, { lastProcessedAt: Date.now() - MINUTE });
    const rig = await loadRig(emulator);
    await rig.pull();
    const updated = emulator.updateDetection(String(d.FullId), recent().lastProcessedAt);
    const { detections } = await rig.pull();
    assert.equal(detections.length, 1);
    assert.equal((detections[0].payload as { LastProcessedTimeUtc: string }).LastProcessedTimeUtc, updated.LastProcessedTimeUtc);
  });

  it('delivers more new detections than limit, all of them once and oldest first, by paging backwards', async () => {
    const all = emulator.addDetections(23, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 20 * MINUTE });
    const rig = await loadRig(emulator, { limit: '5' });
    const { detections, summary } = await rig.pull();
    assert.equal(detections.length, 23);
    assert.deepEqual(new Set(ids(detections)), new Set(all.map((d) => String(d.FullId))));
    const times = detections.map((m) => String((m.payload as { LastProcessedTimeUtc: string }).LastProcessedTimeUtc));
    assert.deepEqual(times, [...times].sort());
    assert.ok(Number(summaryOf(summary).pages) >= 5);
    assert.ok(emulator.requests.filter((r) => r.endpoint === 'alerts').every((r) => r.query.some(([k, v]) => k === 'limit' && v === '5') || !r.query.some(([k]) => k === 'limit')));
  });

  it('delivers detections that share one timestamp across a pull boundary exactly once', async () => {
    const t = new Date(Date.now() - 2 * MINUTE).toISOString().replace('Z', '1234Z');
    const early = [1, 2, 3].map(() => emulator.addDetection({ LastProcessedTimeUtc: t }));
    const rig = await loadRig(emulator, { limit: '2' });
    const a = await rig.pull();
    assert.deepEqual(new Set(ids(a.detections)), new Set(early.map((d) => String(d.FullId))));
    const late = [1, 2, 3, 4].map(() => emulator.addDetection({ LastProcessedTimeUtc: t }));
    const b = await rig.pull();
    assert.deepEqual(new Set(ids(b.detections)), new Set(late.map((d) => String(d.FullId))));
    assert.equal(b.detections.length, 4);
  });

  it('moves the checkpoint only after the last detection was sent', async () => {
    emulator.addDetections(1200, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 10 * MINUTE });
    const rig = await loadRig(emulator);
    let checkpointAtFirstDelivery: unknown = 'not seen';
    rig.detections.until(1).then(() => {
      checkpointAtFirstDelivery = checkpointOf(rig);
    }, () => undefined);
    const { detections } = await rig.pull();
    assert.equal(detections.length, 1200);
    assert.equal(checkpointAtFirstDelivery, undefined, 'the checkpoint moved before every detection was out');
    assert.ok(checkpointOf(rig)?.highest);
  });

  it('leaves the checkpoint untouched when a pull fails, so the next pull gets everything', async () => {
    emulator.addDetections(2, { lastProcessedAt: Date.now() - MINUTE });
    const rig = await loadRig(emulator, { maxRetries: 0 });
    await rig.pull();
    const stored = checkpointOf(rig);
    const missed = emulator.addDetections(3, recent());
    emulator.injectFault({ kind: 'http500' });
    const failed = await rig.pull();
    assert.equal((failed.error?.error as { code: string }).code, 'HTTP_500');
    assert.deepEqual(checkpointOf(rig), stored);
    const { detections } = await rig.pull();
    assert.deepEqual(new Set(ids(detections)), new Set(missed.map((d) => String(d.FullId))));
  });

  it('starts again from initialAgo after msg.reset', async () => {
    emulator.addDetections(2, { lastProcessedAt: Date.now() - MINUTE });
    const rig = await loadRig(emulator);
    await rig.pull();
    const requestsBefore = emulator.stats.alertRequests;
    const reset = await rig.pull({ reset: true });
    assert.equal(reset.summary, undefined);
    assert.equal(emulator.stats.alertRequests, requestsBefore, 'a bare reset pulls nothing');
    assert.equal(checkpointOf(rig), undefined);
    assert.equal(rig.statuses.at(-1)?.text, 'checkpoint cleared');
    const { detections } = await rig.pull();
    assert.equal(detections.length, 2);
  });

  it('runs an explicit time range exactly, reading and moving no checkpoint', async () => {
    emulator.addDetections(2, { lastProcessedAt: Date.now() - MINUTE });
    const rig = await loadRig(emulator);
    await rig.pull();
    const stored = checkpointOf(rig);
    const { detections, summary } = await rig.pull({ query: { ago: 'PT1H' } });
    assert.equal(detections.length, 2);
    assert.equal(summaryOf(summary).checkpoint, null);
    assert.deepEqual(checkpointOf(rig), stored);
  });

  it('keeps a separate checkpoint per device-group and tag filter, so one filter cannot skip another’s detections', async () => {
    const older = emulator.addDetections(1, { lastProcessedAt: Date.now() - 30 * MINUTE, machineGroup: 'FranceMachines' });
    const newer = emulator.addDetections(1, { lastProcessedAt: Date.now() - 5_000, machineGroup: 'UKMachines' });
    const rig = await loadRig(emulator);
    const uk = await rig.pull({ query: { machinegroups: 'UKMachines' } });
    assert.deepEqual(ids(uk.detections), [String(newer[0].FullId)]);
    const all = await rig.pull();
    assert.deepEqual(new Set(ids(all.detections)), new Set([String(older[0].FullId), String(newer[0].FullId)]));
    const ukAgain = await rig.pull({ query: { machinegroups: ['UKMachines'] } });
    assert.equal(ukAgain.detections.length, 0);
    await rig.pull({ reset: true });
    const afterReset = await rig.pull({ query: { machinegroups: 'UKMachines' } });
    assert.equal(afterReset.detections.length, 1, 'msg.reset clears the checkpoints of every filter');
  });

  it('stops waiting for a slow token request when the node closes', async () => {
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'delay', on: 'token', delayMs: 5000 });
    rig.node.receive({ payload: 1 });
    while (emulator.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await helper.unload();
    assert.equal(emulator.requests[0].endpoint, 'token');
    assert.equal(emulator.requests[0].status, 0, 'the close waited for the token answer');
  });
});
