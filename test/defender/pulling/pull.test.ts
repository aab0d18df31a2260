import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DateTime, Duration } from 'luxon';
import { timeKey } from '../../../src/defender/pulling/checkpoint';
import type { Detection } from '../../../src/defender/services/detection';
import { DefenderError } from '../../../src/defender/errors';
import type { Verdict } from '../../../src/defender/pulling/lifecycle';
import { pullDetections, type PullResult } from '../../../src/defender/pulling/pull';
import { parseQuery, type DetectionQuery } from '../../../src/defender/pulling/query';
import type { DetectionsSource, PageOptions } from '../../../src/defender/services/siem';
import type { SliceBudget } from '../../../src/defender/pulling/slice-budget';
import type { Checkpoint } from '../../../src/defender/pulling/checkpoint';
import { OrderByNotHonoured } from '../../../src/defender/services/graph';
import { at, det, ListSource, NOW } from '../../fixtures/list-source';
import { CollectingSink } from '../../fixtures/sink';

const settings = { initialAgo: Duration.fromISO('PT2H'), overlap: Duration.fromISO('PT5M') };
const ids = (sink: CollectingSink): string[] => sink.detections.map((d) => String(d.FullId));

async function pull(
  source: ListSource,
  query: DetectionQuery,
  checkpoint?: Checkpoint,
  options: { now?: DateTime; budget?: SliceBudget; maxResponseBytes?: number; incremental?: typeof settings } = {},
): Promise<{ result: PullResult; sink: CollectingSink }> {
  const sink = new CollectingSink();
  const result = await pullDetections(source, query, options.incremental ?? settings, checkpoint, sink, {
    now: options.now ?? NOW,
    budget: options.budget,
    maxResponseBytes: options.maxResponseBytes ?? 256 * 1024 * 1024,
  });
  return { result, sink };
}

/** `n` detections spread evenly over the last `minutes` minutes, oldest first. */
const spread = (n: number, minutes: number, prefix = 'd'): Detection[] =>
  Array.from({ length: n }, (_, i) => det(`${prefix}${i}`, at(minutes - (i * minutes) / n, String(1000 + (i % 9000)).padStart(4, '0'))));

describe('pullDetections', () => {
  it('asks exactly the explicit query and reads no checkpoint', async () => {
    const source = new ListSource([det('a', at(10))]);
    const { result } = await pull(source, parseQuery({ ago: 'PT1H', limit: 5 }), { version: 1, highest: at(1), keys: [] });
    assert.equal(source.asked.length, 1);
    assert.equal(source.asked[0].toString(), 'ago=PT1H&limit=5');
    assert.equal(result.incremental, false);
    assert.equal(result.nextCheckpoint, undefined);
  });

  it('sends an explicit query’s answer oldest first, whatever order the service used', async () => {
    const source = new ListSource([det('b', at(20)), det('a', at(40)), det('c', at(5))]);
    const { sink } = await pull(source, parseQuery({ ago: 'PT1H' }));
    assert.deepEqual(ids(sink), ['a', 'b', 'c']);
  });

  it('starts the first incremental pull initialAgo back with a pinned until', async () => {
    const source = new ListSource([det('a', at(130)), det('b', at(60)), det('c', at(30))]);
    const { result, sink } = await pull(source, {});
    assert.equal(source.asked[0].get('sinceTimeUtc'), '2024-05-01T10:00:00.000Z');
    assert.equal(source.asked[0].get('untilTimeUtc'), '2024-05-01T12:00:00.000Z');
    assert.deepEqual(ids(sink), ['b', 'c']);
    assert.equal(result.nextCheckpoint?.highest, at(30));
  });

  it('resumes overlap before the checkpoint and drops what was already sent', async () => {
    const source = new ListSource([det('a', at(20)), det('b', at(12))]);
    const first = await pull(source, {}, undefined, { now: NOW.minus({ minutes: 10 }) });
    source.detections.push(det('late', at(14, '5555')), det('new', at(3)), det('b', at(1)));
    const second = await pull(source, {}, first.result.nextCheckpoint);
    assert.equal(source.asked[1].get('sinceTimeUtc'), NOW.minus({ minutes: 17 }).toUTC().toISO());
    assert.deepEqual(second.sink.detections.map((d) => `${d.FullId}@${d.LastProcessedTimeUtc}`), [`late@${at(14, '5555')}`, `new@${at(3)}`, `b@${at(1)}`]);
    assert.equal(second.result.duplicates, 1);
  });

  it('pages backwards while a page is full, losing none of the older detections', async () => {
    const all = Array.from({ length: 23 }, (_, i) => det(`d${i}`, at(60 - i, String(1000 + i))));
    const source = new ListSource(all);
    const { result, sink } = await pull(source, parseQuery({ limit: 5 }));
    assert.deepEqual(ids(sink), all.map((d) => d.FullId));
    assert.equal(result.pages, source.asked.length);
    assert.ok(result.pages >= 5, `expected at least 5 pages, got ${result.pages}`);
    assert.ok(source.asked.every((p) => p.get('limit') === '5'));
  });

  it('drains more than limit detections sharing one millisecond without looping', async () => {
    const same = Array.from({ length: 7 }, (_, i) => det(`s${i}`, at(30, `000${i}`)));
    const source = new ListSource([det('older', at(40)), ...same]);
    const { sink } = await pull(source, parseQuery({ limit: 3 }));
    assert.deepEqual(new Set(ids(sink)), new Set(['older', ...same.map((d) => d.FullId)]));
    assert.equal(sink.detections.length, 8);
    assert.equal(source.asked.at(-1)?.get('limit'), null);
  });

  it('gives the total on every detection of a pull that fits one slice', async () => {
    const source = new ListSource(spread(5, 60));
    const { result, sink } = await pull(source, {});
    assert.equal(result.slices, 1);
    assert.deepEqual(sink.parts, [0, 1, 2, 3, 4].map((index) => ({ index, count: 5 })));
    assert.deepEqual(sink.progressReports, [], 'no progress for a pull of one slice');
  });
});

describe('pullDetections in slices', () => {
  const budget = { maxCount: 10, maxBytes: 1 << 30 };

  it('drains a window many times the slice budget exactly once, oldest first, no slice holding more than the budget', async () => {
    const all = spread(137, 100);
    const source = new ListSource(all);
    const { result, sink } = await pull(source, {}, undefined, { budget });
    assert.deepEqual(ids(sink), all.map((d) => String(d.FullId)));
    assert.ok(result.slices >= 137 / 10, `${result.slices} slices`);
    // An answer that outgrows the budget is stopped one detection past it and not kept.
    assert.ok(source.largestAnswer <= budget.maxCount, `a slice held ${source.largestAnswer}`);
    assert.equal(result.count, 137);
    assert.equal(result.duplicates, 0);
  });

  it('gives the total on the last detection only when the pull takes several slices, and reports progress', async () => {
    const source = new ListSource(spread(45, 100));
    const { sink } = await pull(source, {}, undefined, { budget });
    assert.deepEqual(sink.parts.slice(0, -1).filter((p) => p.count !== undefined), []);
    assert.deepEqual(sink.parts.at(-1), { index: 44, count: 45 });
    assert.deepEqual(sink.parts.map((p) => p.index), Array.from({ length: 45 }, (_, i) => i));
    assert.ok(sink.progressReports.length > 1);
    assert.equal(sink.progressReports.at(-1), 45);
  });

  it('gives the total to the held-back newest detection when the slices after it bring nothing', async () => {
    // All the detections sit early in the window: the last parts of it are empty.
    const early = spread(25, 110).slice(0, 25).map((d, i) => det(`e${i}`, at(110 - i, '0001')));
    const source = new ListSource(early);
    const { sink } = await pull(source, {}, undefined, { budget });
    assert.equal(sink.detections.length, 25);
    assert.deepEqual(sink.parts.at(-1), { index: 24, count: 25 });
  });

  it('commits a checkpoint after each slice, covering only what was delivered', async () => {
    const source = new ListSource(spread(60, 100));
    const { sink, result } = await pull(source, {}, undefined, { budget });
    assert.ok(sink.commits.length >= 5);
    for (const [k, checkpoint] of sink.commits.entries()) {
      const delivered = sink.detections.slice(0, sink.deliveredAtCommit[k]);
      const newest = delivered.map((d) => String(d.LastProcessedTimeUtc)).sort().at(-1);
      assert.equal(checkpoint.highest, newest, `commit ${k} is not the newest delivered`);
    }
    assert.deepEqual(result.nextCheckpoint, sink.commits.at(-1));
  });

  it('keeps what it delivered when a middle request fails, and the next pull starts after it', async () => {
    const all = spread(80, 100);
    const source = new ListSource(all);
    // The middle request of the same pull without the fault.
    await pull(source, {}, undefined, { budget });
    source.failOn = Math.ceil(source.asked.length / 2);
    source.asked = [];
    const sink = new CollectingSink();
    await assert.rejects(
      pullDetections(source, {}, settings, undefined, sink, { now: NOW, budget, maxResponseBytes: 1 << 30 }),
      (err: DefenderError) => err.code === 'HTTP_500',
    );
    assert.ok(sink.detections.length > 0 && sink.detections.length < 80, `${sink.detections.length} delivered before the failure`);
    // The held-back detection went out too, last, with the total, so a Join completes.
    assert.equal(sink.parts.at(-1)?.count, sink.detections.length);
    const saved = sink.commits.at(-1);
    assert.ok(saved);
    source.failOn = undefined;
    const next = await pull(source, {}, saved, { budget });
    assert.deepEqual([...ids(sink), ...ids(next.sink)], all.map((d) => String(d.FullId)), 'each detection exactly once, in order');
  });

  it('reads one millisecond holding more than a slice whole, within maxResponseMB', async () => {
    const crowd = Array.from({ length: 25 }, (_, i) => det(`c${i}`, at(50, String(i).padStart(4, '0'))));
    const source = new ListSource([...spread(15, 100, 'x').filter((d) => timeKey(d.LastProcessedTimeUtc) < timeKey(at(60))), ...crowd, det('after', at(20))]);
    const { sink } = await pull(source, {}, undefined, { budget });
    assert.equal(new Set(ids(sink)).size, sink.detections.length);
    assert.deepEqual(new Set(ids(sink)), new Set(source.detections.map((d) => String(d.FullId))), 'every detection of the window, once');
    assert.equal(ids(sink).at(-1), 'after');
  });

  it('refuses one millisecond holding more than maxResponseMB, and says so', async () => {
    const crowd = Array.from({ length: 25 }, (_, i) => det(`c${i}`, at(50, String(i).padStart(4, '0'))));
    const source = new ListSource(crowd);
    // A budget of bytes the crowd cannot fit in, a cap no larger.
    const meterOnly: DetectionsSource = {
      fetchPage: async (params, options = {}) => {
        const page = await source.fetchPage(params, {});
        options.meter?.beginAnswer();
        for (const d of page) {
          options.meter?.addBytes(100);
          options.meter?.addDetection(d.LastProcessedTimeUtc);
        }
        options.meter?.endAnswer();
        return page;
      },
    };
    const sink = new CollectingSink();
    await assert.rejects(
      pullDetections(meterOnly, {}, settings, undefined, sink, { now: NOW, budget: { maxCount: 10, maxBytes: 1000 }, maxResponseBytes: 1000 }),
      (err: DefenderError) => err.code === 'TOO_LARGE' && /more detections share the instant 2024-05-01T11:10:00.000Z than fit in the 0 MB limit \(maxResponseMB\)/.test(err.message),
    );
    // At most the one detection exactly on the millisecond's start, which a part ending there could hold.
    assert.ok(sink.detections.length <= 1);
  });

  it('cuts an explicit window whose answer outgrows a slice, and delivers it whole and in order', async () => {
    const all = spread(57, 50);
    const source = new ListSource(all);
    const { result, sink } = await pull(source, parseQuery({ ago: 'PT1H' }), undefined, { budget });
    assert.equal(source.asked[0].toString(), 'ago=PT1H', 'the query as given is asked first');
    assert.deepEqual(ids(sink), all.map((d) => String(d.FullId)));
    assert.ok(result.slices > 1);
    assert.equal(result.nextCheckpoint, undefined);
    assert.equal(result.incremental, false);
  });

  it('does not cut an explicit query that gives a limit: it is the most recent N of the range', async () => {
    const source = new ListSource(spread(57, 50));
    const { result, sink } = await pull(source, parseQuery({ ago: 'PT1H', limit: 30 }), undefined, { budget });
    assert.equal(source.asked.length, 1);
    assert.equal(sink.detections.length, 30);
    assert.equal(result.slices, 1);
  });

  it('with events "new" sends first versions only, and no commit passes a detection still to go out', async () => {
    // 30 alerts, each updated twice later on: 90 versions over the window.
    const versions = spread(90, 90).map((d, i) => det(`a${i % 30}`, String(d.LastProcessedTimeUtc)));
    const source = new ListSource(versions);
    const sink = new CollectingSink();
    const result = await pullDetections(source, {}, settings, undefined, sink, {
      now: NOW,
      budget,
      maxResponseBytes: 1 << 30,
      lifecycle: { mode: 'new', rememberMs: 30 * 24 * 3600_000 },
    });
    assert.deepEqual(ids(sink), versions.slice(0, 30).map((d) => String(d.FullId)));
    assert.deepEqual(result.events, { new: 30, updates: 0, suppressed: 60 });
    assert.equal(result.nextCheckpoint?.highest, versions.at(-1)?.LastProcessedTimeUtc, 'versions not sent still move the checkpoint');
    for (const [k, checkpoint] of sink.commits.entries()) {
      for (const later of sink.detections.slice(sink.deliveredAtCommit[k])) {
        assert.ok(timeKey(later.LastProcessedTimeUtc) >= timeKey(checkpoint.highest), `commit ${k} passed ${String(later.FullId)} before it went out`);
      }
    }
  });

  it('delivers nothing more once the node closes, and the next pull sends again what came after the last commit, as new', async () => {
    const all = spread(60, 90);
    // One alert is sent early (and committed), and its next version, Severity raised, goes out just as the node closes.
    all[3] = { ...all[3], FullId: 'x', Severity: 'Low' };
    all[24] = { ...all[24], FullId: 'x', Severity: 'High' };
    const source = new ListSource(all);
    const closing = new AbortController();
    const sink = new CollectingSink();
    const deliver = sink.deliver.bind(sink);
    // The node closes as the 25th detection goes out.
    sink.deliver = (d: Detection, index: number, count: number | undefined, verdict: Verdict) => {
      deliver(d, index, count, verdict);
      if (index === 24) closing.abort();
    };
    await assert.rejects(
      pullDetections(source, {}, settings, undefined, sink, { now: NOW, budget, maxResponseBytes: 1 << 30, signal: closing.signal }),
      (err: DefenderError) => err.code === 'CANCELLED',
    );
    assert.equal(sink.detections.length, 25, 'nothing went out after the close');
    const saved = sink.commits.at(-1);
    assert.ok(saved && sink.deliveredAtCommit.at(-1)! < 25);
    const next = await pull(source, {}, saved, { budget });
    const again = ids(next.sink);
    // Those after the last commit come again (they may not have reached the flow), nothing is lost, and the
    // alert memory was put back with the checkpoint, so they are new, not "the version sent last".
    assert.deepEqual([...ids(sink).slice(0, sink.deliveredAtCommit.at(-1)), ...again], all.map((d) => String(d.FullId)));
    assert.equal(ids(sink)[24], 'x', 'the premise: the update went out as the node closed');
    const x = ids(next.sink).indexOf('x');
    assert.deepEqual(next.sink.verdicts[x], { event: 'update', changes: ['Severity'], previous: { Severity: 'Low' }, send: true });
    assert.ok(next.sink.verdicts.every((v, i) => i === x || v.event === 'new'));
  });

  it('calls an alert a checkpoint of 0.1.0 (no alert memory) had sent an update, and one created after it new', async () => {
    const legacy = { version: 1 as const, highest: at(30), keys: [] };
    const old = { ...det('old', at(2)), AlertTime: at(60) };
    const fresh = { ...det('fresh', at(1)), AlertTime: at(10) };
    const source = new ListSource([old, fresh]);
    const sink = new CollectingSink();
    await pullDetections(source, {}, settings, legacy, sink, { now: NOW, maxResponseBytes: 1 << 30, lifecycle: { mode: 'new', rememberMs: 30 * 24 * 3600_000 } });
    assert.deepEqual(ids(sink), ['fresh']);
  });

  it('keeps the held detection the last to go and moves the checkpoint over a long run of versions not sent', async () => {
    const versions = [det('first', at(89)), ...spread(300, 88).map((d) => det('first', String(d.LastProcessedTimeUtc)))];
    const source = new ListSource(versions);
    const sink = new CollectingSink();
    const result = await pullDetections(source, {}, settings, undefined, sink, { now: NOW, budget, maxResponseBytes: 1 << 30, lifecycle: { mode: 'new', rememberMs: 30 * 24 * 3600_000 } });
    assert.deepEqual(sink.parts, [{ index: 0, count: 1 }]);
    assert.deepEqual(result.events, { new: 1, updates: 0, suppressed: 300 });
    assert.equal(result.nextCheckpoint?.highest, versions.at(-1)?.LastProcessedTimeUtc);
    // Only the keys inside the overlap below the newest are kept.
    assert.ok((result.nextCheckpoint?.keys.length ?? 0) < 30, `${result.nextCheckpoint?.keys.length} keys`);
  });
});

// Each of these failed a one-line bug that the rest of the suite let through (a mutation check, issue 14's way).
describe('pullDetections at its edges', () => {
  const budget = { maxCount: 10, maxBytes: 1 << 30 };

  it('commits nothing when the node closes right after the last detection went out', async () => {
    const source = new ListSource(spread(5, 60));
    const closing = new AbortController();
    const sink = new CollectingSink();
    const deliver = sink.deliver.bind(sink);
    sink.deliver = (d: Detection, i: number, c: number | undefined, v: Verdict) => { deliver(d, i, c, v); if (i === 4) closing.abort(); };
    await assert.rejects(pullDetections(source, {}, settings, undefined, sink, { now: NOW, maxResponseBytes: 1 << 30, signal: closing.signal }), (e: DefenderError) => e.code === 'CANCELLED');
    assert.equal(sink.detections.length, 5);
    assert.deepEqual(sink.commits, []);
  });

  it('lets the event loop run while it hands out one large slice', async () => {
    const source = new ListSource(spread(2000, 100));
    let ticks = 0;
    let running = true;
    const tick = (): void => { ticks++; if (running) setImmediate(tick); };
    setImmediate(tick);
    const sink = new CollectingSink();
    const at0: number[] = [];
    const deliver = sink.deliver.bind(sink);
    sink.deliver = (d: Detection, i: number, c: number | undefined, v: Verdict) => { deliver(d, i, c, v); if (i === 0 || i === 1999) at0.push(ticks); };
    const { result } = { result: await pullDetections(source, {}, settings, undefined, sink, { now: NOW, maxResponseBytes: 1 << 30, budget: { maxCount: 5000, maxBytes: 1 << 30 } }) };
    running = false;
    assert.equal(result.slices, 1);
    assert.ok(at0[1] - at0[0] >= 3, `event loop ran ${at0[1] - at0[0]} times during 2000 deliveries`);
  });

  for (const k of [2, 3, 4]) {
    it(`an update held back when the node closes after commit ${k} comes again after the restart`, async () => {
      const all = spread(60, 90).map((d, i) => ({ ...det(`a${i % 6}`, String(d.LastProcessedTimeUtc)), Severity: `s${i}` }));
      const source = new ListSource(all);
      const closing = new AbortController();
      const sink = new CollectingSink();
      const commit = sink.commit.bind(sink);
      sink.commit = async (cp: Checkpoint) => { await commit(cp); if (sink.commits.length === k) closing.abort(); };
      await assert.rejects(pullDetections(source, {}, settings, undefined, sink, { now: NOW, budget, maxResponseBytes: 1 << 30, signal: closing.signal }), (e: DefenderError) => e.code === 'CANCELLED');
      const saved = sink.commits.at(-1)!;
      const next = await pull(source, {}, saved, { budget });
      assert.deepEqual([...ids(sink).slice(0, sink.deliveredAtCommit.at(-1)), ...ids(next.sink)], all.map((d) => String(d.FullId)));
      // The held update comes again with the changes it had (the alert memory was put back), not as 'the version sent last'.
      assert.ok(next.sink.verdicts.every((v) => v.event === 'new' || Array.isArray(v.changes)), JSON.stringify(next.sink.verdicts[0]));
    });
  }

  it('with no overlap, a detection later in the same millisecond as the checkpoint is not lost', async () => {
    const zero = { initialAgo: Duration.fromISO('PT2H'), overlap: Duration.fromISO('PT0S') };
    const source = new ListSource([det('a', at(10, '1234'))]);
    const first = await pull(source, {}, undefined, { incremental: zero, now: NOW.minus({ minutes: 5 }) });
    source.detections.push(det('b', at(10, '5678')));
    const second = await pull(source, {}, first.result.nextCheckpoint, { incremental: zero });
    assert.equal(source.asked.at(-1)?.get('sinceTimeUtc'), NOW.minus({ minutes: 10 }).toUTC().toISO());
    assert.deepEqual(ids(second.sink), ['b']);
  });

  it('keeps the key exactly on the overlap floor, so the next pull does not send it again', async () => {
    const source = new ListSource([det('edge', at(15)), det('b', at(10))]);
    const first = await pull(source, {}, undefined, { now: NOW.minus({ minutes: 5 }) });
    assert.deepEqual(first.result.nextCheckpoint?.keys, [`edge|${at(15)}`, `b|${at(10)}`]);
    const second = await pull(source, {}, first.result.nextCheckpoint);
    assert.deepEqual(ids(second.sink), []);
    assert.equal(second.result.duplicates, 2);
  });

  it('goes on in time slices from where Graph’s pages stopped, each alert once', async () => {
    const all = spread(30, 60);
    const list = new ListSource(all);
    const source = {
      fetchPage: (p: URLSearchParams, o?: PageOptions) => list.fetchPage(p, o),
      async *oldestFirst() {
        yield { detections: all.slice(0, 10), final: false };
        yield { detections: all.slice(9, 20), final: false };
        throw new OrderByNotHonoured();
      },
    };
    const sink = new CollectingSink();
    await pullDetections(source, {}, settings, undefined, sink, { now: NOW, maxResponseBytes: 1 << 30 });
    assert.deepEqual(ids(sink), all.map((d) => String(d.FullId)));
    assert.equal(list.asked[0].get('sinceTimeUtc'), new Date(Date.parse(String(all[19].LastProcessedTimeUtc).slice(0, 23) + 'Z')).toISOString());
  });

  it('keeps the key of a version not sent that lies exactly on the overlap floor', async () => {
    // One page per slice (Graph oldest first): the first version goes out, two later ones are not sent (events: new).
    const pages = [[det('first', at(20))], [det('first', at(15))], [det('first', at(10))], []];
    const list = new ListSource(pages.flat());
    const paged = {
      fetchPage: (p: URLSearchParams, o?: PageOptions) => list.fetchPage(p, o),
      async *oldestFirst() {
        for (const [i, detections] of pages.entries()) yield { detections, final: i === pages.length - 1 };
      },
    };
    const lifecycle = { mode: 'new' as const, rememberMs: 30 * 24 * 3600_000 };
    const first = await pullDetections(paged, {}, settings, undefined, new CollectingSink(), { now: NOW.minus({ minutes: 5 }), maxResponseBytes: 1 << 30, lifecycle });
    assert.deepEqual(first.nextCheckpoint?.keys, [`first|${at(15)}`, `first|${at(10)}`]);
    const second = await pullDetections(list, {}, settings, first.nextCheckpoint, new CollectingSink(), { now: NOW, maxResponseBytes: 1 << 30, lifecycle });
    assert.deepEqual([second.duplicates, second.events.suppressed], [2, 0]);
  });
});
