import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AlertMemory, type AlertFacts, GRAPH_FIELDS, graphFacts, siemFacts } from '../../../src/defender/pulling/lifecycle';
import { timeKey } from '../../../src/defender/pulling/time-key';

const NOW = Date.parse('2026-11-30T12:00:00Z');
const DAY = 24 * 60 * 60 * 1000;
const REMEMBER = 30 * DAY;
const iso = (msAgo: number): string => new Date(NOW - msAgo).toISOString();

function alert(id: string, changes: Record<string, unknown> = {}, createdAgo = DAY): AlertFacts {
  return graphFacts({ id, createdDateTime: iso(createdAgo), status: 'new', severity: 'high', classification: null, determination: null, assignedTo: null, title: 'Suspicious', evidence: [{}, {}], comments: [], ...changes });
}

describe('AlertMemory', () => {
  it('calls the first version sent new, and a later one an update naming what changed and what it was', () => {
    const memory = new AlertMemory(undefined, NOW, REMEMBER);
    assert.deepEqual(memory.observe(alert('a'), timeKey(iso(60_000)), 'all'), { event: 'new', changes: null, send: true });
    const update = memory.observe(alert('a', { status: 'inProgress', assignedTo: 'soc@contoso.com', comments: [{}] }), timeKey(iso(1000)), 'all');
    assert.deepEqual(update, {
      event: 'update',
      changes: ['status', 'assignedTo', 'commentCount'],
      previous: { status: 'new', assignedTo: null, commentCount: 0 },
      send: true,
    });
  });

  it('sends under "new" only first versions, and under "triage" updates that touch triage, judged against the version sent last', () => {
    const memory = new AlertMemory(undefined, NOW, REMEMBER);
    assert.equal(memory.observe(alert('a'), timeKey(iso(50_000)), 'triage').send, true);
    // A comment only: not triage, not sent.
    const comment = memory.observe(alert('a', { comments: [{}] }), timeKey(iso(40_000)), 'triage');
    assert.deepEqual([comment.send, comment.changes], [false, ['commentCount']]);
    // The status changes: sent, and its changes count from the version sent (no comment then).
    const status = memory.observe(alert('a', { comments: [{}], status: 'resolved' }), timeKey(iso(30_000)), 'triage');
    assert.deepEqual([status.send, status.changes], [true, ['status', 'commentCount']]);
    assert.equal(memory.observe(alert('a', { status: 'new' }), timeKey(iso(20_000)), 'new').send, false);
    assert.equal(memory.observe(alert('b'), timeKey(iso(10_000)), 'new').send, true);
  });

  it('forgets alerts untouched for longer than remember, and calls an alert created before that an update of unknown changes', () => {
    const stored = new AlertMemory(undefined, NOW - 40 * DAY, REMEMBER);
    stored.observe(alert('old', {}, 41 * DAY), timeKey(iso(40 * DAY)), 'all');
    stored.observe(alert('recent', {}, 41 * DAY), timeKey(iso(40 * DAY)), 'all');
    // Still touched (a version not sent) within the last 30 days: remembered.
    stored.observe(alert('recent', { comments: [{}] }, 41 * DAY), timeKey(iso(10 * DAY)), 'new');
    const memory = new AlertMemory(JSON.parse(JSON.stringify(stored.state)), NOW, REMEMBER);
    assert.equal(memory.size, 1);
    assert.deepEqual(memory.observe(alert('old', { status: 'resolved' }, 41 * DAY), timeKey(iso(1000)), 'all'), { event: 'update', changes: null, send: true });
    assert.equal(memory.observe(alert('old2', {}, 41 * DAY), timeKey(iso(1000)), 'new').send, false, 'not new: created before what the node remembers');
    assert.equal(memory.observe(alert('recent', { comments: [{}] }, 41 * DAY), timeKey(iso(500)), 'all').event, 'update');
  });

  it('gives the same event again for the version sent last, as after a restart before the checkpoint moved', () => {
    const memory = new AlertMemory(undefined, NOW, REMEMBER);
    const t = timeKey(iso(5000));
    memory.observe(alert('a'), t, 'all');
    assert.equal(memory.observe(alert('a'), t, 'all').event, 'new');
  });

  it('drops a memory of other fields when the node switched from the SIEM API to Graph', () => {
    const memory = new AlertMemory(undefined, NOW, REMEMBER);
    memory.observe(siemFacts({ FullId: 'a', AlertTime: iso(DAY), Severity: 'High' }), timeKey(iso(5000)), 'all');
    assert.equal(memory.observe(alert('a'), timeKey(iso(1000)), 'all').event, 'new');
    assert.deepEqual(memory.state.fields, [...GRAPH_FIELDS]);
  });

  it('reads a SIEM detection by FullId, AlertTime and its own field names', () => {
    const memory = new AlertMemory(undefined, NOW, REMEMBER);
    memory.observe(siemFacts({ FullId: 'f1', AlertId: 'a1', AlertTime: iso(DAY), Severity: 'Medium', AlertTitle: 'x' }), timeKey(iso(5000)), 'all');
    const verdict = memory.observe(siemFacts({ FullId: 'f1', AlertId: 'a1', AlertTime: iso(DAY), Severity: 'High', AlertTitle: 'x' }), timeKey(iso(1000)), 'triage');
    assert.deepEqual(verdict, { event: 'update', changes: ['Severity'], previous: { Severity: 'Medium' }, send: true });
  });
});

describe('AlertMemory at its edges', () => {
  it('an alert touched by a newer version not sent is remembered from that version, even when an older one is sent after it', () => {
    const DAY = 86_400_000;
    const T = Date.parse('2026-11-30T12:00:00Z');
    const f = (changes: Record<string, unknown>) => graphFacts({ id: 'a', createdDateTime: new Date(T - 40 * DAY).toISOString(), status: 'new', severity: 'high', evidence: [], comments: [], ...changes });
    const k = (daysAgo: number) => timeKey(new Date(T - daysAgo * DAY).toISOString());
    const memory = new AlertMemory(undefined, T, 30 * DAY);
    memory.observe(f({}), k(20), 'triage');
    memory.observe(f({ comments: [{}] }), k(5), 'triage'); // not sent, touches the alert
    assert.equal(memory.observe(f({ status: 'inProgress' }), k(10), 'triage').send, true); // came late, older
    const later = new AlertMemory(JSON.parse(JSON.stringify(memory.state)), T + 22 * DAY, 30 * DAY);
    assert.equal(later.size, 1, 'touched 5 days ago: still remembered 22 days later');
  });

  it('under triage an update whose changes are not known is sent', () => {
    const T = Date.parse('2026-11-30T12:00:00Z');
    const memory = new AlertMemory(undefined, T, 30 * 86_400_000);
    const old = graphFacts({ id: 'o', createdDateTime: new Date(T - 41 * 86_400_000).toISOString(), status: 'resolved', comments: [{}] });
    assert.deepEqual(memory.observe(old, timeKey(new Date(T - 1000).toISOString()), 'triage'), { event: 'update', changes: null, send: true });
  });
});
