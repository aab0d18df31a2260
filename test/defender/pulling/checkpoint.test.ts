import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { advanceCheckpoint, CheckpointWindow, isCheckpoint, keyToMillis, sortOldestFirst, timeKey } from '../../../src/defender/pulling/checkpoint';
import type { Detection } from '../../../src/defender/services/detection';

const d = (id: string, lpt: string): Detection => ({ FullId: id, LastProcessedTimeUtc: lpt });

describe('timeKey', () => {
  it('keeps the API’s 100 ns precision and orders as text', () => {
    assert.equal(timeKey('2020-09-30T14:11:44.0779765Z'), '2020-09-30T14:11:44.0779765');
    assert.equal(timeKey('2020-09-30T14:11:44Z'), '2020-09-30T14:11:44.0000000');
    assert.equal(timeKey('2020-09-30T16:11:44.5+02:00'), '2020-09-30T14:11:44.5000000');
    assert.ok(timeKey('2020-09-30T14:11:44.0779766Z') > timeKey('2020-09-30T14:11:44.0779765Z'));
    assert.equal(timeKey('not a time'), '');
  });

  it('rounds to milliseconds in the asked direction', () => {
    const key = timeKey('2020-09-30T14:11:44.0779765Z');
    assert.equal(new Date(keyToMillis(key, 'floor')).toISOString(), '2020-09-30T14:11:44.077Z');
    assert.equal(new Date(keyToMillis(key, 'ceil')).toISOString(), '2020-09-30T14:11:44.078Z');
    assert.equal(keyToMillis(timeKey('2020-09-30T14:11:44.0770000Z'), 'ceil'), Date.parse('2020-09-30T14:11:44.077Z'));
  });
});

describe('sortOldestFirst', () => {
  it('reverses a newest-first answer in one pass, keeping equal times in arrival order', () => {
    const list = [d('e', '2020-01-01T00:00:03Z'), d('c1', '2020-01-01T00:00:02Z'), d('c2', '2020-01-01T00:00:02Z'), d('a', '2020-01-01T00:00:01Z')];
    assert.deepEqual(sortOldestFirst(list).map((x) => x.FullId), ['a', 'c1', 'c2', 'e']);
  });

  it('leaves an oldest-first answer as it is, in a new array', () => {
    const list = [d('a', '2020-01-01T00:00:01Z'), d('b', '2020-01-01T00:00:01Z'), d('c', '2020-01-01T00:00:02Z')];
    const sorted = sortOldestFirst(list);
    assert.deepEqual(sorted.map((x) => x.FullId), ['a', 'b', 'c']);
    assert.notEqual(sorted, list);
  });

  it('orders by LastProcessedTimeUtc at full precision and keeps ties in arrival order', () => {
    const list = [d('c', '2020-01-01T00:00:00.0000003Z'), d('a', '2020-01-01T00:00:00.0000001Z'), d('b1', '2020-01-01T00:00:00.0000002Z'), d('b2', '2020-01-01T00:00:00.0000002Z')];
    assert.deepEqual(sortOldestFirst(list).map((x) => x.FullId), ['a', 'b1', 'b2', 'c']);
  });
});

describe('advanceCheckpoint', () => {
  it('moves to the newest time sent and keeps only the keys inside the overlap', () => {
    const cp = advanceCheckpoint(undefined, [d('old', '2020-01-01T00:00:00Z'), d('new', '2020-01-01T00:10:00.1234567Z'), d('mid', '2020-01-01T00:06:00Z')], 5 * 60_000);
    assert.deepEqual(cp, { version: 1, highest: '2020-01-01T00:10:00.1234567Z', keys: ['new|2020-01-01T00:10:00.1234567Z', 'mid|2020-01-01T00:06:00Z'] });
  });

  it('never moves backwards', () => {
    const first = advanceCheckpoint(undefined, [d('a', '2020-01-01T01:00:00Z')], 60_000);
    const second = advanceCheckpoint(first, [d('late', '2020-01-01T00:59:30Z')], 60_000);
    assert.equal(second?.highest, '2020-01-01T01:00:00Z');
    assert.deepEqual(second?.keys, ['a|2020-01-01T01:00:00Z', 'late|2020-01-01T00:59:30Z']);
  });

  it('stays empty when nothing was ever sent', () => {
    assert.equal(advanceCheckpoint(undefined, [], 60_000), undefined);
  });
});

describe('CheckpointWindow', () => {
  it('keeps the keys inside the overlap after it compacts thousands that fell out of it', () => {
    const base = Date.parse('2024-05-01T00:00:00Z');
    const w = new CheckpointWindow(undefined, 60_000);
    const iso = (s: number): string => new Date(base + s * 1000).toISOString();
    for (let s = 0; s < 6000; s++) w.addKey(`k${s}|${iso(s)}`, iso(s), timeKey(iso(s)));
    w.current();
    for (let s = 6000; s < 6010; s++) w.addKey(`k${s}|${iso(s)}`, iso(s), timeKey(iso(s)));
    const keys = w.current()!.keys;
    assert.deepEqual(keys, Array.from({ length: 61 }, (_, i) => `k${5949 + i}|${iso(5949 + i)}`));
  });
});

describe('isCheckpoint', () => {
  it('takes a stored checkpoint with the versions it owes a delivery, and refuses one whose pending is not a list of them', () => {
    const base = { version: 1, highest: '2024-05-01T12:00:00Z', keys: ['a|2024-05-01T12:00:00Z'] };
    const owed = { key: 'a|2024-05-01T12:00:00Z', alert: 'a', time: timeKey('2024-05-01T12:00:00Z'), attempt: 1, due: 0, event: 'new', changes: null };
    assert.equal(isCheckpoint(base), true, 'a checkpoint without confirmation');
    assert.equal(isCheckpoint({ ...base, pending: [owed] }), true);
    // Read as no checkpoint rather than failing every pull on it.
    for (const pending of [{}, 'a|1', null, [null], [{ ...owed, attempt: '1' }], [{ ...owed, event: 'created' }]]) {
      assert.equal(isCheckpoint({ ...base, pending }), false, JSON.stringify(pending));
    }
  });
});
