/**
 * Limit, device groups and tags taken from an environment variable or from flow or global context (the
 * editor's TypedInput), against the emulator in a real Node-RED runtime.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import { readSettings } from '../../src/nodes/settings';
import { everythingShown, flowOf, globalOf, loadRig, withEmulatorSuite } from '../fixtures/harness';

describe('query defaults from env, flow and global', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 11 }, (e) => (emulator = e));
  const sent = () => emulator.requests.filter((r) => r.endpoint === 'alerts').map((r) => r.query.filter(([k]) => k !== 'sinceTimeUtc' && k !== 'untilTimeUtc'));

  it('reads limit from flow context afresh for every pull', async () => {
    const rig = await loadRig(emulator, { limit: 'maxAlerts', limitType: 'flow' });
    flowOf(rig.node).set('maxAlerts', 3);
    await rig.pull();
    flowOf(rig.node).set('maxAlerts', '5');
    const { summary } = await rig.pull();
    assert.deepEqual(sent(), [[['limit', '3']], [['limit', '5']]]);
    assert.equal((summary?.payload as { query: { limit: string } }).query.limit, '5');
  });

  it('reads device groups from global context as a list or a comma-separated string, and tags from flow context', async () => {
    const rig = await loadRig(emulator, {
      machinegroups: 'groups',
      machinegroupsType: 'global',
      CloudCreatedMachineTags: 'tag',
      CloudCreatedMachineTagsType: 'flow',
    });
    globalOf(rig.node).set('groups', ['UKMachines', 'FranceMachines']);
    flowOf(rig.node).set('tag', 'finance');
    await rig.pull();
    globalOf(rig.node).set('groups', 'Servers, UKMachines');
    await rig.pull();
    assert.deepEqual(sent(), [
      [['machinegroups', 'UKMachines'], ['machinegroups', 'FranceMachines'], ['CloudCreatedMachineTags', 'finance']],
      [['machinegroups', 'Servers'], ['machinegroups', 'UKMachines'], ['CloudCreatedMachineTags', 'finance']],
    ]);
  });

  it('lets the message override a value taken from context', async () => {
    const rig = await loadRig(emulator, { limit: 'maxAlerts', limitType: 'flow' });
    flowOf(rig.node).set('maxAlerts', 3);
    await rig.pull({ query: { limit: 9 } });
    assert.deepEqual(sent(), [[['limit', '9']]]);
  });

  it('treats an empty context value as no value, like an empty field', async () => {
    const rig = await loadRig(emulator, { machinegroups: 'groups', machinegroupsType: 'flow' });
    flowOf(rig.node).set('groups', []);
    await rig.pull();
    assert.deepEqual(sent(), [[]]);
  });

  it('refuses a context key that is not set, sends no request, and pulls once it is set', async () => {
    const rig = await loadRig(emulator, { machinegroups: 'grups', machinegroupsType: 'flow' });
    const { error, summary } = await rig.pull();
    const e = error?.error as { code: string; message: string };
    assert.equal(e.code, 'INVALID_CONFIG');
    assert.match(e.message, /machinegroups is to come from flow context "grups", which is not set/);
    assert.equal(summary, undefined);
    assert.equal(emulator.requests.length, 0, 'a missing key must not widen the query to every group');
    assert.equal(rig.statuses.at(-1)?.fill, 'red');

    flowOf(rig.node).set('grups', 'UKMachines');
    const next = await rig.pull();
    assert.equal((next.summary?.payload as { count: number }).count, 0);
    assert.deepEqual(sent(), [[['machinegroups', 'UKMachines']]]);
  });

  it('refuses a bad context value with what was wrong and where it came from', async () => {
    const rig = await loadRig(emulator, { limit: 'maxAlerts', limitType: 'global' });
    globalOf(rig.node).set('maxAlerts', 'lots');
    const { error } = await rig.pull();
    const e = error?.error as { code: string; message: string };
    assert.equal(e.code, 'INVALID_CONFIG');
    assert.equal(e.message, 'limit from global context "maxAlerts": limit must be a positive integer, got "lots"');
    assert.equal(emulator.requests.length, 0);
  });

  it('reads limit and device groups from the flow tab’s environment variables at deploy', async () => {
    const rig = await loadRig(
      emulator,
      { limit: 'MAX_ALERTS', limitType: 'env', machinegroups: 'DEFENDER_GROUPS', machinegroupsType: 'env' },
      { tabEnv: [{ name: 'MAX_ALERTS', value: '4', type: 'str' }, { name: 'DEFENDER_GROUPS', value: 'UKMachines,Servers', type: 'str' }] },
    );
    await rig.pull();
    assert.deepEqual(sent(), [[['limit', '4'], ['machinegroups', 'UKMachines'], ['machinegroups', 'Servers']]]);
  });

  it('refuses an environment variable that is not set, for every message', async () => {
    const rig = await loadRig(emulator, { machinegroups: 'NO_SUCH_DEFENDER_GROUPS', machinegroupsType: 'env' });
    for (let i = 0; i < 2; i++) {
      const { error } = await rig.pull();
      const e = error?.error as { code: string; message: string };
      assert.equal(e.code, 'INVALID_CONFIG');
      assert.equal(e.message, 'machinegroups is to come from the environment variable NO_SUCH_DEFENDER_GROUPS, which is not set');
    }
    assert.equal(emulator.requests.length, 0);
  });

  it('does not repeat an invalid value read from an environment variable: it may be a secret chosen by mistake', async () => {
    const rig = await loadRig(emulator, { limit: 'API_SECRET', limitType: 'env' }, { tabEnv: [{ name: 'API_SECRET', value: 's3cr3t-value', type: 'str' }] });
    const { error } = await rig.pull();
    const e = error?.error as { code: string; message: string };
    assert.equal(e.code, 'INVALID_CONFIG');
    assert.match(e.message, /^the environment variable API_SECRET does not hold a valid limit/);
    assert.ok(!everythingShown(rig).includes('s3cr3t-value'), 'the variable’s value was shown');
  });

  it('refuses a context value of null like an unset key', async () => {
    const rig = await loadRig(emulator, { machinegroups: 'groups', machinegroupsType: 'flow' });
    flowOf(rig.node).set('groups', null);
    const { error } = await rig.pull();
    assert.match((error?.error as { message: string }).message, /machinegroups is to come from flow context "groups", which is not set/);
    assert.equal(emulator.requests.length, 0);
  });

  it('reads no context for what the message gives itself, nor for a bare reset', async () => {
    const rig = await loadRig(emulator, { machinegroups: 'unset', machinegroupsType: 'flow' });
    const reset = await rig.pull({ reset: true });
    assert.equal(reset.error, undefined);
    assert.equal(rig.statuses.at(-1)?.text, 'checkpoint cleared');
    const given = await rig.pull({ query: { machinegroups: 'FranceMachines' } });
    assert.equal(given.error, undefined);
    assert.deepEqual(sent(), [[['machinegroups', 'FranceMachines']]]);
  });

  it('reports a context key that cannot be read as INVALID_CONFIG with the reason', async () => {
    // A key that refers to the message, malformed: Node-RED throws while reading it.
    const rig = await loadRig(emulator, { limit: 'max[msg.', limitType: 'flow' });
    const { error } = await rig.pull();
    const e = error?.error as { code: string; message: string };
    assert.equal(e.code, 'INVALID_CONFIG');
    assert.match(e.message, /^limit is to come from flow context "max\[msg\.", which cannot be read: ./);
    assert.equal(emulator.requests.length, 0);
  });

  it('keeps one checkpoint per device-group filter taken from context', async () => {
    const rig = await loadRig(emulator, { machinegroups: 'groups', machinegroupsType: 'flow' });
    emulator.addDetections(1, { machineGroup: 'UKMachines', lastProcessedAt: Date.now() - 5_000 });
    flowOf(rig.node).set('groups', 'UKMachines');
    assert.equal((await rig.pull()).detections.length, 1);
    // Older than UKMachines' checkpoint: a checkpoint shared across filters would skip it.
    emulator.addDetections(1, { machineGroup: 'FranceMachines', lastProcessedAt: Date.now() - 60 * 60_000 });
    flowOf(rig.node).set('groups', 'FranceMachines');
    const { detections } = await rig.pull();
    assert.deepEqual(detections.map((m) => (m.payload as { MachineGroup: string }).MachineGroup), ['FranceMachines']);
  });
});

describe('readSettings with sourced defaults', () => {
  const env = (vars: Record<string, string>) => (name: string) => vars[name];

  it('keeps a node saved before the sources existed as it was', () => {
    const s = readSettings({ limit: '20', machinegroups: 'A, B' });
    assert.deepEqual({ limit: s.defaults.limit, machinegroups: s.defaults.machinegroups }, { limit: 20, machinegroups: ['A', 'B'] });
    assert.deepEqual(s.contextDefaults, []);
  });

  it('leaves flow and global values for each message, with the key as typed', () => {
    const s = readSettings({ limit: '#:(file)::max', limitType: 'flow', DeviceCreatedMachineTags: ' vipTag ', DeviceCreatedMachineTagsType: 'global' });
    assert.deepEqual(s.contextDefaults, [
      { key: 'limit', scope: 'flow', name: '#:(file)::max' },
      { key: 'DeviceCreatedMachineTags', scope: 'global', name: 'vipTag' },
    ]);
    assert.equal(s.defaults.limit, undefined);
  });

  const refused: Array<[string, Parameters<typeof readSettings>[0], RegExp]> = [
    ['an empty context key', { machinegroups: ' ', machinegroupsType: 'flow' }, /^machinegroups: enter the flow context key to read it from$/],
    ['an empty variable name', { limit: '', limitType: 'env' }, /^limit: enter the name of the environment variable/],
    ['a bad value in a variable', { limit: 'N', limitType: 'env' }, /^the environment variable N does not hold a valid limit; .*\(the value is not shown here/],
    ['an unknown source', { limit: '5', limitType: 'jsonata' }, /^limitType must be str, num, env, flow or global, got "jsonata"$/],
  ];
  for (const [what, props, pattern] of refused) {
    it(`refuses ${what} at deploy`, () => {
      assert.throws(() => readSettings(props, env({ N: '0' })), (err: Error & { code?: string }) => {
        assert.equal(err.code, 'INVALID_CONFIG');
        assert.match(err.message, pattern);
        return true;
      });
    });
  }
});
