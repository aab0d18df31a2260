import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DateTime, Duration } from 'luxon';
import { timeKey } from '../../../src/defender/pulling/checkpoint';
import type { Detection } from '../../../src/defender/services/detection';
import { GRAPH_NATIVE_ACCESSOR } from '../../../src/defender/services/graph-mapping';
import { pullDetections } from '../../../src/defender/pulling/pull';
import { parseQuery } from '../../../src/defender/pulling/query';
import { CollectingSink } from '../../fixtures/sink';

/** Native alerts_v2 objects behind the SIEM semantics pull.ts relies on (most recent N, inclusive bounds). */
class NativeSource {
  readonly accessor = GRAPH_NATIVE_ACCESSOR;
  asked: URLSearchParams[] = [];
  constructor(public alerts: Detection[]) {}
  async fetchPage(params: URLSearchParams): Promise<Detection[]> {
    this.asked.push(params);
    const since = timeKey(params.get('sinceTimeUtc'));
    const until = timeKey(params.get('untilTimeUtc'));
    const limit = params.get('limit');
    const inRange = this.alerts
      .filter((a) => timeKey(a.lastUpdateDateTime) >= since && (until === '' || timeKey(a.lastUpdateDateTime) <= until))
      .sort((a, b) => (timeKey(b.lastUpdateDateTime) < timeKey(a.lastUpdateDateTime) ? -1 : 1));
    return limit ? inRange.slice(0, Number(limit)) : inRange;
  }
}

const NOW = DateTime.fromISO('2024-05-01T12:00:00Z', { zone: 'utc' });
const at = (minutesAgo: number, sub = '0000'): string => `${NOW.minus({ minutes: minutesAgo }).toFormat("yyyy-MM-dd'T'HH:mm:ss.SSS")}${sub}Z`;
const alert = (id: string, updated: string): Detection => ({ id, lastUpdateDateTime: updated, severity: 'low', title: id });
const settings = { initialAgo: Duration.fromISO('PT2H'), overlap: Duration.fromISO('PT5M') };

describe('pullDetections over native Graph alerts', () => {
  it('orders, pages backwards and keeps its checkpoint by lastUpdateDateTime', async () => {
    const all = Array.from({ length: 9 }, (_, i) => alert(`a${i}`, at(50 - i, String(1000 + i))));
    const source = new NativeSource(all);
    const sink = new CollectingSink();
    const result = await pullDetections(source, parseQuery({ limit: 4 }), settings, undefined, sink, { now: NOW, maxResponseBytes: 1 << 30 });
    assert.deepEqual(sink.detections.map((d) => d.id), all.map((a) => a.id));
    assert.ok(result.pages >= 3);
    assert.equal(result.nextCheckpoint?.highest, all[8].lastUpdateDateTime);
  });

  it('drops overlap repeats by id|lastUpdateDateTime and passes an updated alert', async () => {
    const source = new NativeSource([alert('a', at(20)), alert('b', at(12))]);
    const first = await pullDetections(source, {}, settings, undefined, new CollectingSink(), { now: NOW.minus({ minutes: 10 }), maxResponseBytes: 1 << 30 });
    // Only keys inside the overlap below the newest time are kept: a is older than that.
    assert.deepEqual(first.nextCheckpoint?.keys, [`b|${at(12)}`]);
    source.alerts = [alert('a', at(20)), alert('b', at(12)), alert('b', at(2))];
    const sink = new CollectingSink();
    const second = await pullDetections(source, {}, settings, first.nextCheckpoint, sink, { now: NOW, maxResponseBytes: 1 << 30 });
    assert.deepEqual(sink.detections.map((d) => `${String(d.id)}@${String(d.lastUpdateDateTime)}`), [`b@${at(2)}`]);
    assert.equal(second.duplicates, 1, 'b as first seen comes back in the overlap and is dropped');
  });
});
