import assert from 'node:assert/strict';
import vm from 'node:vm';
import { describe, it } from 'node:test';
import { messageCopier } from '../../src/nodes/message-copy';

describe('messageCopier', () => {
  const viaCloneMessage = (calls: string[]) => (msg: Record<string, unknown>) => {
    calls.push('cloneMessage');
    return { ...msg };
  };

  it('copies plain nested data deeply, so a change to one message reaches no other', () => {
    const calls: string[] = [];
    const base = { topic: 't', query: { machinegroups: ['UK', 'FR'], window: { ago: 'PT1H' } }, correlation: vm.runInNewContext('({ id: 7 })') };
    const copy = messageCopier(base, viaCloneMessage(calls));
    const a = copy();
    const b = copy();
    (a.query as { machinegroups: string[] }).machinegroups.push('DE');
    (a.query as { window: { ago: string } }).window.ago = 'P1D';
    assert.deepEqual(b.query, { machinegroups: ['UK', 'FR'], window: { ago: 'PT1H' } });
    assert.deepEqual(base.query, { machinegroups: ['UK', 'FR'], window: { ago: 'PT1H' } });
    assert.deepEqual(b.correlation, { id: 7 });
    assert.deepEqual(calls, [], 'plain data needs no cloneMessage');
  });

  it('copies a sparse array as cloneMessage does: a hole becomes undefined', () => {
    const copy = messageCopier({ query: { machinegroups: ['UK', , 'FR'] } }, () => assert.fail('plain data needs no cloneMessage'))();
    const groups = (copy.query as { machinegroups: unknown[] }).machinegroups;
    assert.equal(groups.length, 3);
    assert.ok(1 in groups, 'the hole is an undefined element, not a hole');
    assert.equal(groups[1], undefined);
  });

  it('keeps a "__proto__" key that JSON.parse made a key, not a prototype', () => {
    const base = { query: JSON.parse('{"__proto__": {"polluted": true}, "limit": 5}') as Record<string, unknown> };
    const copy = messageCopier(base, () => assert.fail('plain data needs no cloneMessage'))();
    const query = copy.query as Record<string, unknown>;
    assert.equal(Object.getPrototypeOf(query), Object.prototype);
    assert.equal((query as { polluted?: boolean }).polluted, undefined);
    assert.deepEqual(Object.keys(query), ['__proto__', 'limit']);
  });

  it('leaves anything that is not plain data to Node-RED\'s cloneMessage, and flat messages to a spread', () => {
    const calls: string[] = [];
    messageCopier({ req: new (class Request {})() }, viaCloneMessage(calls))();
    messageCopier({ raw: Buffer.from('x') }, viaCloneMessage(calls))();
    messageCopier({ when: new Date() }, viaCloneMessage(calls))();
    assert.deepEqual(calls, ['cloneMessage', 'cloneMessage', 'cloneMessage']);
    const flat = { topic: 't', n: 1 };
    const copy = messageCopier(flat, viaCloneMessage(calls))();
    assert.deepEqual(copy, flat);
    assert.notEqual(copy, flat);
    assert.equal(calls.length, 3);
  });
});
