import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertMemory, type AlertFacts, GRAPH_FIELDS, graphFacts } from '../../../src/defender/pulling/lifecycle';
import { RememberedAlerts } from '../../../src/defender/pulling/remembered-alerts';
import { timeKey } from '../../../src/defender/pulling/time-key';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const DAY = 24 * 60 * 60 * 1000;
const REMEMBER = 30 * DAY;
const at = (msAgo: number, sub = '0000'): string => `${new Date(NOW - msAgo).toISOString().slice(0, 23)}${sub}`;

function alert(id: string, changes: Record<string, unknown> = {}): AlertFacts {
  return graphFacts({ id, createdDateTime: new Date(NOW - DAY).toISOString(), status: 'new', severity: 'high', classification: null, determination: null, assignedTo: null, title: `Suspicious ${id}`, evidence: [{}], comments: [], ...changes });
}

/** Stores a memory as a file context store does, and reads it back as a restart does. */
const roundTrip = (memory: AlertMemory, nowMs = NOW): AlertMemory => new AlertMemory(JSON.parse(JSON.stringify(memory.state)), nowMs, REMEMBER);

describe('remembered alerts, compact', () => {
  it('tells the same events, changes and earlier values after being written as JSON and read back', () => {
    const memory = new AlertMemory(undefined, NOW, REMEMBER);
    memory.observe(alert('a'), at(60_000, '1234'), 'all');
    memory.observe(alert('b', { assignedTo: 'soc@contoso.com' }), at(50_000), 'all');
    const back = roundTrip(memory);
    assert.equal(back.size, 2);
    assert.deepEqual(back.observe(alert('a', { status: 'resolved', comments: [{}] }), at(1000), 'all'), {
      event: 'update',
      changes: ['status', 'commentCount'],
      previous: { status: 'new', commentCount: 0 },
      send: true,
    });
    // The version sent last, to the 100 ns: the same event again, as after a restart before the checkpoint moved.
    assert.equal(back.observe(alert('b', { assignedTo: 'soc@contoso.com' }), at(50_000), 'new').event, 'new');
    assert.equal(back.observe(alert('a'), at(60_000, '1235'), 'all').event, 'update', 'another 100 ns is another version');
  });

  it('reads the memory as 0.2.0 stored it, one array per alert id', () => {
    const legacy = {
      fields: [...GRAPH_FIELDS],
      alerts: {
        a: [timeKey(at(60_000)), 1, NOW - 60_000, 'new', 'high', null, null, null, 'Suspicious a', 1, 0],
        forgotten: [timeKey(at(40 * DAY)), 1, NOW - 40 * DAY, 'new', 'low', null, null, null, 'Old', 1, 0],
      },
    };
    const memory = new AlertMemory(legacy, NOW, REMEMBER);
    assert.equal(memory.size, 1, 'untouched for longer than remember: forgotten on reading');
    const update = memory.observe(alert('a', { severity: 'medium' }), at(1000), 'all');
    assert.deepEqual([update.event, update.changes, update.previous], ['update', ['severity'], { severity: 'high' }]);
  });

  it('keeps values of more than 65 536 kinds (a reference of a field grows to 32 bits) and reads them back', () => {
    const memory = new AlertMemory(undefined, NOW, REMEMBER);
    const n = 70_000;
    for (let i = 0; i < n; i++) memory.observe(alert(`id${i}`), at(n - i), 'all');
    const back = roundTrip(memory);
    assert.equal(back.size, n);
    const last = back.observe(alert(`id${n - 1}`, { title: 'renamed' }), at(0, '0001'), 'all');
    assert.deepEqual(last.previous, { title: `Suspicious id${n - 1}` });
    assert.equal(back.observe(alert('never-seen'), at(0, '0002'), 'all').event, 'new', 'seventy thousand ids, and no other found for a new one');
  });

  it('puts back what was remembered since the last settle: new alerts and changed ones', () => {
    const memory = new AlertMemory(undefined, NOW, REMEMBER);
    memory.observe(alert('a'), at(5000), 'all');
    memory.settle(memory.position);
    const mark = memory.position;
    memory.observe(alert('a', { status: 'inProgress' }), at(4000), 'all');
    memory.observe(alert('b'), at(3000), 'all');
    memory.rollback(mark);
    assert.equal(memory.size, 1);
    assert.equal(memory.observe(alert('b'), at(2000), 'new').event, 'new', 'b was never remembered');
    assert.deepEqual(memory.observe(alert('a', { status: 'resolved' }), at(1000), 'all').previous, { status: 'new' }, 'a is as it was sent first');
  });

  it('forgets alerts untouched for longer than remember, and the values only they held', () => {
    const memory = new AlertMemory(undefined, NOW - 40 * DAY, REMEMBER);
    memory.observe(alert('old', { title: 'only the old one' }), at(40 * DAY), 'all');
    memory.observe(alert('kept'), at(40 * DAY), 'all');
    memory.observe(alert('kept', { comments: [{}] }), at(DAY), 'new');
    const later = roundTrip(memory);
    assert.equal(later.size, 1);
    const json = JSON.stringify(later.state);
    assert.doesNotMatch(json, /only the old one/, 'a value no remembered alert holds is not stored');
    assert.match(json, /Suspicious kept/);
  });

  it('is the same object the checkpoint holds, changed in place, as a memory context store keeps it', () => {
    const memory = new AlertMemory(undefined, NOW, REMEMBER);
    memory.observe(alert('a'), at(5000), 'all');
    const stored = memory.state;
    const next = new AlertMemory(stored, NOW, REMEMBER);
    assert.equal(next.state, stored);
    assert.ok(RememberedAlerts.from(stored) === stored);
    assert.equal(next.observe(alert('a', { status: 'resolved' }), at(1000), 'all').event, 'update');
  });
});
