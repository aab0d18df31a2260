import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DateTime, Duration } from 'luxon';
import { timeKey } from '../../src/defender/checkpoint';
import type { Detection } from '../../src/defender/detection';
import { pullDetections } from '../../src/defender/pull';
import { parseQuery } from '../../src/defender/query';
import type { DetectionsSource } from '../../src/defender/siem';

/** A tiny in-memory stand-in for the API's documented semantics, for the paging logic alone. */
class ListSource implements DetectionsSource {
  asked: URLSearchParams[] = [];
  constructor(public detections: Detection[]) {}
  async fetchPage(params: URLSearchParams): Promise<Detection[]> {
    this.asked.push(params);
    const since = params.get('sinceTimeUtc');
    const until = params.get('untilTimeUtc');
    const limit = params.get('limit');
    const inRange = this.detections
      .filter((d) => (!since || timeKey(d.LastProcessedTimeUtc) >= timeKey(since)) && (!until || timeKey(d.LastProcessedTimeUtc) <= timeKey(until)))
      .sort((a, b) => (timeKey(b.LastProcessedTimeUtc) < timeKey(a.LastProcessedTimeUtc) ? -1 : 1));
    return limit ? inRange.slice(0, Number(limit)) : inRange;
  }
}

const NOW = DateTime.fromISO('2024-05-01T12:00:00Z', { zone: 'utc' });
const at = (minutesAgo: number, sub = '0000'): string => `${NOW.minus({ minutes: minutesAgo }).toFormat("yyyy-MM-dd'T'HH:mm:ss.SSS")}${sub}Z`;
const det = (id: string, lpt: string): Detection => ({ FullId: id, AlertId: id, LastProcessedTimeUtc: lpt });
const settings = { initialAgo: Duration.fromISO('PT2H'), overlap: Duration.fromISO('PT5M') };

describe('pullDetections', () => {
  it('asks exactly the explicit query and reads no checkpoint', async () => {
    const source = new ListSource([det('a', at(10))]);
    const result = await pullDetections(source, parseQuery({ ago: 'PT1H', limit: 5 }), settings, { version: 1, highest: at(1), keys: [] }, NOW);
    assert.equal(source.asked.length, 1);
    assert.equal(source.asked[0].toString(), 'ago=PT1H&limit=5');
    assert.equal(result.incremental, false);
    assert.equal(result.nextCheckpoint, undefined);
  });

  it('sends an explicit query’s answer oldest first, whatever order the service used', async () => {
    const source = new ListSource([det('b', at(20)), det('a', at(40)), det('c', at(5))]);
    const result = await pullDetections(source, parseQuery({ ago: 'PT1H' }), settings, undefined, NOW);
    assert.deepEqual(result.detections.map((d) => d.FullId), ['a', 'b', 'c']);
  });

  it('starts the first incremental pull initialAgo back with a pinned until', async () => {
    const source = new ListSource([det('a', at(130)), det('b', at(60)), det('c', at(30))]);
    const result = await pullDetections(source, {}, settings, undefined, NOW);
    assert.equal(source.asked[0].get('sinceTimeUtc'), '2024-05-01T10:00:00.000Z');
    assert.equal(source.asked[0].get('untilTimeUtc'), '2024-05-01T12:00:00.000Z');
    assert.deepEqual(result.detections.map((d) => d.FullId), ['b', 'c']);
    assert.equal(result.nextCheckpoint?.highest, at(30));
  });

  it('resumes overlap before the checkpoint and drops what was already sent', async () => {
    const source = new ListSource([det('a', at(20)), det('b', at(12))]);
    const first = await pullDetections(source, {}, settings, undefined, NOW.minus({ minutes: 10 }));
    source.detections.push(det('late', at(14, '5555')), det('new', at(3)), det('b', at(1)));
    const second = await pullDetections(source, {}, settings, first.nextCheckpoint, NOW);
    assert.equal(source.asked[1].get('sinceTimeUtc'), NOW.minus({ minutes: 17 }).toUTC().toISO());
    assert.deepEqual(second.detections.map((d) => `${d.FullId}@${d.LastProcessedTimeUtc}`), [`late@${at(14, '5555')}`, `new@${at(3)}`, `b@${at(1)}`]);
    assert.equal(second.duplicates, 1);
  });

  it('pages backwards while a page is full, losing none of the older detections', async () => {
    const all = Array.from({ length: 23 }, (_, i) => det(`d${i}`, at(60 - i, String(1000 + i))));
    const source = new ListSource(all);
    const result = await pullDetections(source, parseQuery({ limit: 5 }), settings, undefined, NOW);
    assert.deepEqual(result.detections.map((d) => d.FullId), all.map((d) => d.FullId));
    assert.equal(result.pages, source.asked.length);
    assert.ok(result.pages >= 5, `expected at least 5 pages, got ${result.pages}`);
    assert.ok(source.asked.every((p) => p.get('limit') === '5'));
  });

  it('drains more than limit detections sharing one millisecond without looping', async () => {
    const same = Array.from({ length: 7 }, (_, i) => det(`s${i}`, at(30, `000${i}`)));
    const source = new ListSource([det('older', at(40)), ...same]);
    const result = await pullDetections(source, parseQuery({ limit: 3 }), settings, undefined, NOW);
    assert.deepEqual(new Set(result.detections.map((d) => d.FullId)), new Set(['older', ...same.map((d) => d.FullId)]));
    assert.equal(result.detections.length, 8);
    assert.equal(source.asked.at(-1)?.get('limit'), null);
  });
});
