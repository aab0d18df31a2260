import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Duration } from 'luxon';
import { type Checkpoint, timeKey } from '../../../src/defender/pulling/checkpoint';
import { DeliveryLedger, type DeliveryPolicy, MAX_OWED, type Owed } from '../../../src/defender/delivery/ledger';
import type { EventMode } from '../../../src/defender/pulling/lifecycle';
import { pullDetections, type PullResult } from '../../../src/defender/pulling/pull';
import type { SliceBudget } from '../../../src/defender/pulling/slice-budget';
import { at, det, ListSource, NOW } from '../../fixtures/list-source';
import { CollectingSink } from '../../fixtures/sink';

const POLICY: DeliveryPolicy = { timeoutMs: 60_000, maxDeliveries: 3, baseDelayMs: 1000, maxDelayMs: 10_000 };
const settings = { initialAgo: Duration.fromISO('PT2H'), overlap: Duration.fromISO('PT5M') };
const T0 = NOW.toMillis();

/** One incremental pull with delivery confirmation, at `clock` ms (the pull's own time is NOW). */
async function pull(
  source: ListSource,
  ledger: DeliveryLedger,
  checkpoint: Checkpoint | undefined,
  clock: number,
  mode: EventMode = 'all',
  options: { sink?: CollectingSink; budget?: SliceBudget } = {},
): Promise<{ result: PullResult; sink: CollectingSink }> {
  const sink = options.sink ?? new CollectingSink();
  const result = await pullDetections(source, {}, settings, checkpoint, sink, {
    now: NOW,
    maxResponseBytes: 256 * 1024 * 1024,
    ledger,
    clock: () => clock,
    lifecycle: { mode, rememberMs: 30 * 24 * 3600_000 },
    budget: options.budget,
  });
  return { result, sink };
}

const keyOf = (id: string, time: string): string => `${id}|${time}`;

describe('a pull with delivery confirmation', () => {
  it('owes what it sends, stores it with the checkpoint, and reads again from the oldest version owed', async () => {
    const source = new ListSource([det('a', at(30)), det('b', at(10))]);
    const ledger = new DeliveryLedger(undefined, POLICY);
    const first = await pull(source, ledger, undefined, T0);
    assert.deepEqual(first.sink.deliveries, [{ key: keyOf('a', at(30)), attempt: 1 }, { key: keyOf('b', at(10)), attempt: 1 }]);
    assert.deepEqual(first.result.delivery, { redelivered: 0, undelivered: 0, pending: 2 });
    assert.deepEqual(first.result.nextCheckpoint?.pending?.map((o) => o.key), [keyOf('a', at(30)), keyOf('b', at(10))]);
    ledger.outcome(keyOf('b', at(10)), 1, 'delivered', T0);
    const second = await pull(source, ledger, { ...(first.result.nextCheckpoint as Checkpoint), pending: ledger.state() }, T0 + 1000);
    assert.equal(second.sink.detections.length, 0, 'a is on its way still, b delivered');
    assert.equal(source.asked.at(-1)?.get('sinceTimeUtc'), NOW.minus({ minutes: 35 }).toISO({ suppressMilliseconds: false }));
    assert.equal(second.result.duplicates, 1, 'b, delivered, is a repeat; a, owed, is not');
  });

  it('sends a version again once it is due, as the event it was, and gives it up after maxDeliveries, reporting it once', async () => {
    const source = new ListSource([det('a', at(30))]);
    const ledger = new DeliveryLedger(undefined, POLICY);
    const first = await pull(source, ledger, undefined, T0, 'new');
    let checkpoint = first.result.nextCheckpoint as Checkpoint;
    ledger.outcome(keyOf('a', at(30)), 1, 'failed', T0);
    const early = await pull(source, ledger, checkpoint, T0 + 999, 'new');
    assert.equal(early.sink.detections.length, 0, 'backing off');
    const again = await pull(source, ledger, checkpoint, T0 + 1000, 'new');
    assert.deepEqual(again.sink.deliveries, [{ key: keyOf('a', at(30)), attempt: 2 }]);
    assert.equal(again.sink.verdicts[0].event, 'new');
    assert.equal(again.result.delivery?.redelivered, 1);
    checkpoint = again.result.nextCheckpoint ?? checkpoint;
    ledger.outcome(keyOf('a', at(30)), 2, 'failed', T0 + 1000);
    await pull(source, ledger, checkpoint, T0 + 3000, 'new');
    ledger.outcome(keyOf('a', at(30)), 3, 'failed', T0 + 3000);
    const last = await pull(source, ledger, checkpoint, T0 + 20_000, 'new');
    assert.equal(last.sink.detections.length, 0);
    assert.deepEqual(last.sink.undelivered.map((u) => [u.detection.FullId, u.attempts]), [['a', 3]]);
    assert.deepEqual(last.result.delivery, { redelivered: 0, undelivered: 1, pending: 0 });
    const after = await pull(source, ledger, checkpoint, T0 + 30_000, 'new');
    assert.deepEqual([after.sink.detections.length, after.sink.undelivered.length], [0, 0], 'reported once, never sent again');
  });

  it('keeps the dedupe keys from the oldest version owed on, so a delivered one below the overlap is not sent again', async () => {
    const source = new ListSource([det('a', at(30)), det('c', at(25)), det('b', at(10))]);
    const ledger = new DeliveryLedger(undefined, POLICY);
    const first = await pull(source, ledger, undefined, T0);
    ledger.outcome(keyOf('c', at(25)), 1, 'delivered', T0);
    ledger.outcome(keyOf('b', at(10)), 1, 'delivered', T0);
    const checkpoint = { ...(first.result.nextCheckpoint as Checkpoint), pending: ledger.state() };
    assert.ok(checkpoint.keys.includes(keyOf('c', at(25))), 'c lies 15 minutes below the newest, but above a, owed');
    const second = await pull(source, ledger, checkpoint, T0 + 120_000);
    assert.deepEqual(second.sink.detections.map((d) => d.FullId), ['a'], 'a timed out and goes again; c and b do not');
  });

  it('sends a later version of an alert in place of an earlier one still owed, whatever events says', async () => {
    const source = new ListSource([det('a', at(30))]);
    const ledger = new DeliveryLedger(undefined, POLICY);
    const first = await pull(source, ledger, undefined, T0, 'new');
    ledger.outcome(keyOf('a', at(30)), 1, 'failed', T0);
    source.detections = [det('a', at(20))];
    const second = await pull(source, ledger, first.result.nextCheckpoint, T0 + 100, 'new');
    assert.deepEqual(second.sink.detections.map((d) => d.LastProcessedTimeUtc), [at(20)]);
    assert.equal(second.sink.verdicts[0].event, 'new', 'the flow never got the new alert: this version is it');
    assert.equal(ledger.get(keyOf('a', at(30))), undefined, 'the earlier version owes nothing any more');
    assert.equal(ledger.get(keyOf('a', at(20)))?.attempt, 1);
  });

  it('sends a version due again and a later version of its alert read in the same pull as the flow would have had them: the first as new, the later as its update', async () => {
    for (const mode of ['all', 'new'] as const) {
      const source = new ListSource([det('a', at(30))]);
      const ledger = new DeliveryLedger(undefined, POLICY);
      const first = await pull(source, ledger, undefined, T0, mode);
      ledger.outcome(keyOf('a', at(30)), 1, 'failed', T0);
      // The alert changed while the pull read it: both versions come (in a pull of several slices, the first
      // may be the one held back at the end of a slice when the second is read).
      source.detections = [det('a', at(30)), { ...det('a', at(20)), Severity: 'High' }];
      const again = await pull(source, ledger, first.result.nextCheckpoint, T0 + 5000, mode);
      const sent = again.sink.detections.map((d, i) => [d.FullId, again.sink.verdicts[i].event, again.sink.deliveries[i]?.attempt]);
      assert.deepEqual(sent, mode === 'all' ? [['a', 'new', 2], ['a', 'update', 1]] : [['a', 'new', 2]], `events: ${mode}`);
      assert.equal(ledger.get(keyOf('a', at(30)))?.attempt, 2, 'the first is owed its second delivery');
    }
  });

  it('forgets what it sent since the last commit when the node closes mid-pull', async () => {
    const source = new ListSource(Array.from({ length: 3 }, (_, i) => det(`d${i}`, at(30 - i))));
    const ledger = new DeliveryLedger(undefined, POLICY);
    const closing = new AbortController();
    const sink = new CollectingSink();
    const deliver = sink.deliver.bind(sink);
    sink.deliver = (...args) => {
      deliver(...args);
      if (sink.detections.length === 2) closing.abort();
    };
    await assert.rejects(
      pullDetections(source, {}, settings, undefined, sink, { now: NOW, maxResponseBytes: 1 << 28, ledger, clock: () => T0, signal: closing.signal }),
      /cancelled/,
    );
    assert.equal(ledger.size, 0, 'nothing was committed: the next pull reads all of it again, as new');
  });

  it('sends a version owed once however often the service repeats it in one pull, as at page and slice boundaries', async () => {
    const source = new ListSource([det('a', at(30))]);
    const ledger = new DeliveryLedger(undefined, POLICY);
    const first = await pull(source, ledger, undefined, T0);
    ledger.outcome(keyOf('a', at(30)), 1, 'failed', T0);
    source.detections = [det('a', at(30)), det('a', at(30))];
    const again = await pull(source, ledger, first.result.nextCheckpoint, T0 + 1000);
    assert.deepEqual(again.sink.deliveries, [{ key: keyOf('a', at(30)), attempt: 2 }]);
    assert.equal(again.result.duplicates, 1);
  });

  it('settles a version as gone only once two pulls in a row read its time without meeting it', async () => {
    const source = new ListSource([det('a', at(30))]);
    const ledger = new DeliveryLedger(undefined, POLICY);
    const first = await pull(source, ledger, undefined, T0);
    const checkpoint = first.result.nextCheckpoint as Checkpoint;
    const met = await pull(source, ledger, checkpoint, T0 + 1000);
    assert.equal(met.sink.detections.length, 0, 'on its way still');
    source.detections = [];
    await pull(source, ledger, checkpoint, T0 + 2000);
    assert.equal(ledger.get(keyOf('a', at(30)))?.attempt, 1, 'one pull without it: still owed');
    const gone = await pull(source, ledger, checkpoint, T0 + 3000);
    assert.equal(ledger.get(keyOf('a', at(30))), undefined);
    assert.equal(gone.result.delivery?.pending, 0);
  });

  it('takes no new detections while MAX_OWED versions wait to go again, and counts none of those it did not read as gone', async () => {
    const time = timeKey(at(60));
    const stored: Owed[] = Array.from({ length: MAX_OWED }, (_, i) => ({ key: `o${i}|${at(60)}`, alert: `o${i}`, time, attempt: 1, due: T0 + 3_600_000, event: 'new', changes: null }));
    const ledger = new DeliveryLedger(stored, POLICY);
    const checkpoint: Checkpoint = { version: 1, highest: at(30), keys: [], pending: ledger.state() };
    const source = new ListSource([det('fresh', at(1))]);
    for (const clock of [T0, T0 + 1000]) {
      const { result } = await pull(source, ledger, checkpoint, clock);
      assert.deepEqual([result.count, result.delivery?.pending], [0, MAX_OWED]);
    }
    // One of them is delivered: below the bound again, the pull goes on.
    ledger.settle(stored[0].key);
    const { sink } = await pull(source, ledger, checkpoint, T0 + 2000);
    assert.deepEqual(sink.detections.map((d) => d.FullId), ['fresh']);
  });

  it('judges a later version by the alert memory when the version it would have taken over was confirmed while the pull went on', async () => {
    const source = new ListSource([det('a', at(100))]);
    const ledger = new DeliveryLedger(undefined, POLICY);
    const first = await pull(source, ledger, undefined, T0);
    // The pull after it reads a (still on its way) in its first slice, then thirty others, then a later version of a.
    const others = Array.from({ length: 30 }, (_, i) => det(`o${i}`, at(90 - i * 2)));
    source.detections = [det('a', at(100)), ...others, det('a', at(5))];
    const sink = new CollectingSink();
    let slices = 0;
    // After the first slice, the flow confirms the first version.
    sink.progress = () => {
      if (slices++ === 0) ledger.outcome(keyOf('a', at(100)), 1, 'delivered', T0 + 1000);
    };
    await pull(source, ledger, first.result.nextCheckpoint, T0 + 1000, 'all', { sink, budget: { maxCount: 10, maxBytes: 1 << 30 } });
    const later = sink.detections.findIndex((d) => d.LastProcessedTimeUtc === at(5));
    assert.ok(later > 0 && slices > 1, `${slices} slices`);
    assert.equal(sink.verdicts[later].event, 'update', 'the flow got the first version: this one is an update of it');
    assert.equal(ledger.get(keyOf('a', at(100))), undefined);
    assert.equal(ledger.get(keyOf('a', at(5)))?.attempt, 1);
  });
});
