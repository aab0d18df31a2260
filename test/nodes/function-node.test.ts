/**
 * Queries built where Node-RED users build them: a function node (its own vm realm: object literals, arrays,
 * Dates and JSON.parse results there have another realm's prototypes), a change node and an inject node.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import { coreNode, loadRig, Rig, withEmulatorSuite } from '../fixtures/harness';

const functionNode = coreNode('function/10-function.js');
const changeNode = coreNode('function/15-change.js');
const injectNode = coreNode('common/20-inject.js');

/** A function node 'fn' running `body` in front of the detections node. */
function withFunction(emulator: Emulator, body: string): Promise<Rig> {
  return loadRig(emulator, { incremental: true }, {
    modules: [functionNode],
    extraNodes: [{ id: 'fn', type: 'function', z: 'tab', name: 'build query', func: body, outputs: 1, noerr: 0, initialize: '', finalize: '', libs: [], wires: [['det']] }],
  });
}

function lastQuery(emulator: Emulator): Array<[string, string]> {
  return emulator.requests.filter((r) => r.endpoint === 'alerts').at(-1)?.query ?? [];
}

describe('queries built in a function node, a change node or an inject node', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 11 }, (e) => (emulator = e));

  it('runs an object literal given as msg.query in a function node, exactly as asked', async () => {
    const rig = await withFunction(emulator, 'msg.query = { sinceTimeUtc: "2026-11-01T00:00:00Z", untilTimeUtc: "2026-11-02T00:00:00Z", limit: 7 };\nreturn msg;');
    const { error, summary } = await rig.pull({ payload: 1 }, 'fn');
    assert.equal(error, undefined, String((error?.error as { message?: string })?.message));
    assert.deepEqual(lastQuery(emulator), [
      ['sinceTimeUtc', '2026-11-01T00:00:00.000Z'],
      ['untilTimeUtc', '2026-11-02T00:00:00.000Z'],
      ['limit', '7'],
    ]);
    assert.equal((summary?.payload as { incremental: boolean }).incremental, false, 'an explicit range reads no checkpoint');
  });

  it('runs a JSON.parse result, arrays and Dates made in the function node', async () => {
    const rig = await withFunction(
      emulator,
      [
        'msg.query = JSON.parse(\'{"limit": 3, "machinegroups": ["UKMachines", "FranceMachines"]}\');',
        'msg.query.sinceTimeUtc = new Date(Date.UTC(2026, 9, 1));',
        'msg.query.untilTimeUtc = Date.UTC(2026, 9, 2);',
        'return msg;',
      ].join('\n'),
    );
    const { error } = await rig.pull({}, 'fn');
    assert.equal(error, undefined, String((error?.error as { message?: string })?.message));
    assert.deepEqual(lastQuery(emulator), [
      ['sinceTimeUtc', '2026-10-01T00:00:00.000Z'],
      ['untilTimeUtc', '2026-10-02T00:00:00.000Z'],
      ['limit', '3'],
      ['machinegroups', 'UKMachines'],
      ['machinegroups', 'FranceMachines'],
    ]);
  });

  it('takes an object literal in msg.payload as the query instead of silently pulling the defaults', async () => {
    const rig = await withFunction(emulator, 'msg.payload = { ago: "PT10M", limit: 4 };\nreturn msg;');
    const { error } = await rig.pull({}, 'fn');
    assert.equal(error, undefined);
    assert.deepEqual(lastQuery(emulator), [['ago', 'PT10M'], ['limit', '4']]);
  });

  it('builds the "yesterday 00:00 to today 00:00 UTC" query of example 03', async () => {
    // The function node of the example, word for word, so what users copy is what is tested.
    const file = path.resolve(__dirname, '..', '..', '..', 'examples', '03 Explicit query from an inject node.json');
    const example = JSON.parse(fs.readFileSync(file, 'utf8')) as Array<Record<string, unknown>>;
    const fn = example.find((n) => n.type === 'function');
    assert.ok(fn, 'example 03 has a function node');
    const rig = await withFunction(emulator, String(fn.func));
    const { error } = await rig.pull({ payload: Date.now() }, 'fn');
    assert.equal(error, undefined);
    const today = new Date();
    today.setUTCHours(0, 0, 0, 0);
    const yesterday = new Date(today.getTime() - 24 * 60 * 60 * 1000);
    assert.deepEqual(lastQuery(emulator), [
      ['sinceTimeUtc', yesterday.toISOString()],
      ['untilTimeUtc', today.toISOString()],
    ]);
  });

  for (const [what, body, got] of [
    ['an array', 'msg.query = [1, 2];', 'got an array'],
    ['a Date', 'msg.query = new Date();', 'got a Date'],
    ['a Buffer', 'msg.query = Buffer.from("{}");', 'got a Buffer'],
    ['a class instance', 'class Window { constructor() { this.limit = 5; } }\nmsg.query = new Window();', 'got an instance of Window'],
    ['null', 'msg.query = null;', 'got null'],
    ['a string', 'msg.query = "limit=5";', 'got string'],
  ] as const) {
    it(`refuses ${what} as msg.query from a function node, sends nothing and stays ready`, async () => {
      const rig = await withFunction(emulator, `${body}\nreturn msg;`);
      const { error } = await rig.pull({}, 'fn');
      const e = error?.error as { code?: string; message?: string } | undefined;
      assert.equal(e?.code, 'INVALID_QUERY');
      assert.equal(e?.message, `msg.query must be an object of query parameters such as {"limit": 20}, ${got}`);
      assert.equal(emulator.requests.filter((r) => r.endpoint === 'alerts').length, 0);
      const next = await rig.pull({ query: { limit: 1 } });
      assert.equal(next.error, undefined);
      assert.ok(next.summary);
    });
  }

  it('runs a query set as JSON by a change node, and by an inject node', async () => {
    const rig = await loadRig(emulator, {}, {
      modules: [changeNode, injectNode],
      extraNodes: [
        {
          id: 'set', type: 'change', z: 'tab', name: '',
          rules: [{ t: 'set', p: 'query', pt: 'msg', to: '{"ago":"PT1H","limit":2}', tot: 'json' }],
          action: '', property: '', from: '', to: '', reg: false, wires: [['det']],
        },
        {
          id: 'inj', type: 'inject', z: 'tab', name: '',
          props: [{ p: 'query', v: '{"ago":"PT3H","machinegroups":["UKMachines"]}', vt: 'json' }],
          repeat: '', crontab: '', once: false, onceDelay: 0.1, topic: '', wires: [['det']],
        },
      ],
    });
    assert.equal((await rig.pull({ payload: 'x' }, 'set')).error, undefined);
    assert.deepEqual(lastQuery(emulator), [['ago', 'PT1H'], ['limit', '2']]);
    assert.equal((await rig.pull({}, 'inj')).error, undefined);
    assert.deepEqual(lastQuery(emulator), [['ago', 'PT3H'], ['machinegroups', 'UKMachines']]);
  });
});
