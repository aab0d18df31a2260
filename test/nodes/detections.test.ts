import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DETECTION_FIELDS } from '../../src/defender/services/detection';
import type { Emulator } from '../../src/emulator';
import { everythingShown, helper, loadRig, SECRET, withEmulatorSuite } from '../fixtures/harness';

function alertRequests(emulator: Emulator) {
  return emulator.requests.filter((r) => r.endpoint === 'alerts');
}

describe('defender-detections against the emulator', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 7 }, (e) => (emulator = e));

  it('sends one message per detection, oldest first, with payload unchanged, a topic, parts and the input properties', async () => {
    const stored = emulator.addDetections(5, { lastProcessedAt: Date.now() - 30 * 60_000, spreadMs: 20 * 60_000 });
    const rig = await loadRig(emulator);
    const { detections, summary } = await rig.pull({ payload: 1, topic: 'ignored', correlation: 'abc-123' });

    assert.equal(detections.length, 5);
    const expected = [...stored].sort((a, b) => String(a.LastProcessedTimeUtc).localeCompare(String(b.LastProcessedTimeUtc)));
    assert.deepEqual(detections.map((m) => m.payload), expected);
    for (const [index, m] of detections.entries()) {
      const d = m.payload as Record<string, unknown>;
      assert.deepEqual(Object.keys(d), [...DETECTION_FIELDS]);
      assert.equal(m.topic, `[${d.Severity}] ${d.AlertTitle} on ${d.ComputerDnsName}`);
      assert.deepEqual({ ...(m.parts as object), id: 'x' }, { id: 'x', index, count: 5, type: 'array' });
      assert.equal(m.correlation, 'abc-123');
    }
    assert.equal(new Set(detections.map((m) => (m.parts as { id: string }).id)).size, 1);
    assert.equal((summary?.payload as { count: number }).count, 5);
    assert.equal(rig.completions.messages.length, 1);
    assert.deepEqual(rig.statuses[0], { fill: 'blue', shape: 'ring', text: 'pulling…' });
    assert.match(rig.statuses.at(-1)?.text ?? '', /^5 new at \d\d:\d\d:\d\d$/);
    assert.equal(rig.statuses.at(-1)?.fill, 'green');
  });

  it('sends a summary also when there are no detections', async () => {
    const rig = await loadRig(emulator);
    const { detections, summary } = await rig.pull();
    assert.equal(detections.length, 0);
    const payload = summary?.payload as Record<string, unknown>;
    assert.equal(payload.count, 0);
    assert.equal(payload.duplicates, 0);
    assert.equal(payload.requests, 1);
    assert.equal(payload.checkpoint, null);
    assert.equal(typeof payload.durationMs, 'number');
    assert.equal(rig.completions.messages.length, 1);
  });

  it('sends every parameter of msg.query as the API names it, machinegroups repeated in order', async () => {
    const rig = await loadRig(emulator);
    await rig.pull({
      query: {
        sinceTimeUtc: '2016-09-12T00:00:00',
        untiltimeutc: new Date(Date.UTC(2016, 8, 13)),
        limit: '20',
        machinegroups: ['UKMachines', 'FranceMachines'],
        DeviceCreatedMachineTags: 'vip',
        CloudCreatedMachineTags: 'finance',
      },
    });
    const request = alertRequests(emulator).at(-1);
    assert.deepEqual(request?.query, [
      ['sinceTimeUtc', '2016-09-12T00:00:00.000Z'],
      ['untilTimeUtc', '2016-09-13T00:00:00.000Z'],
      ['limit', '20'],
      ['machinegroups', 'UKMachines'],
      ['machinegroups', 'FranceMachines'],
      ['DeviceCreatedMachineTags', 'vip'],
      ['CloudCreatedMachineTags', 'finance'],
    ]);
  });

  it('reads the query from a plain-object payload and overrides the node defaults with it', async () => {
    const rig = await loadRig(emulator, { limit: '7', machinegroups: 'Servers, UKMachines', DeviceCreatedMachineTags: 'vip' });
    await rig.pull({ payload: 12345 });
    assert.deepEqual(alertRequests(emulator).at(-1)?.query.filter(([k]) => k !== 'sinceTimeUtc' && k !== 'untilTimeUtc'), [
      ['limit', '7'],
      ['machinegroups', 'Servers'],
      ['machinegroups', 'UKMachines'],
      ['DeviceCreatedMachineTags', 'vip'],
    ]);
    const { summary } = await rig.pull({ payload: { ago: 'PT10M', limit: 3 } });
    assert.deepEqual(alertRequests(emulator).at(-1)?.query, [
      ['ago', 'PT10M'],
      ['limit', '3'],
      ['machinegroups', 'Servers'],
      ['machinegroups', 'UKMachines'],
      ['DeviceCreatedMachineTags', 'vip'],
    ]);
    assert.deepEqual((summary?.payload as { query: unknown }).query, {
      ago: 'PT10M',
      limit: '3',
      machinegroups: ['Servers', 'UKMachines'],
      DeviceCreatedMachineTags: 'vip',
    });
  });

  it('delivers only what the emulator matches for the query (machine group filter)', async () => {
    emulator.addDetections(4, { machineGroup: 'UKMachines' });
    emulator.addDetections(3, { machineGroup: 'FranceMachines' });
    const rig = await loadRig(emulator);
    const { detections } = await rig.pull({ query: { machinegroups: 'FranceMachines', ago: 'PT1H' } });
    assert.equal(detections.length, 3);
    assert.ok(detections.every((m) => (m.payload as { MachineGroup: string }).MachineGroup === 'FranceMachines'));
  });

  const invalid: Array<[string, Record<string, unknown>, RegExp]> = [
    ['an unknown key', { query: { limt: 5 } }, /unknown query parameter "limt": the known parameters are sinceTimeUtc, untilTimeUtc, ago, limit/],
    ['a bad date', { query: { sinceTimeUtc: '12/09/2016' } }, /sinceTimeUtc must be an ISO 8601 date-time/],
    ['a bad duration', { query: { ago: '10m' } }, /ago must be an ISO 8601 duration such as PT10M/],
    ['a bad limit', { payload: { limit: 'abc' } }, /limit must be a positive integer, got "abc"/],
    ['ago with a range', { query: { ago: 'PT1H', sinceTimeUtc: '2020-01-01T00:00:00Z' } }, /ago cannot be combined/],
    ['since after until', { query: { sinceTimeUtc: '2020-01-02', untilTimeUtc: '2020-01-01' } }, /is after untilTimeUtc/],
    ['a non-object msg.query', { query: 'limit=5' }, /msg.query must be an object/],
    ['a bad machine group', { query: { machinegroups: [''] } }, /machinegroups\[0\] must be a non-empty string/],
    ['a bad request timeout', { requestTimeout: 'soon' }, /msg.requestTimeout must be a number of milliseconds/],
  ];
  for (const [what, msg, pattern] of invalid) {
    it(`refuses ${what} with INVALID_QUERY, sends no request and stays ready`, async () => {
      const rig = await loadRig(emulator);
      const { error, summary } = await rig.pull(msg);
      const e = error?.error as { code: string; message: string };
      assert.equal(e.code, 'INVALID_QUERY');
      assert.match(e.message, pattern);
      assert.equal(summary, undefined);
      assert.equal(emulator.requests.length, 0, 'no request may reach the service');
      assert.equal(rig.statuses.at(-1)?.fill, 'red');
      const next = await rig.pull();
      assert.equal((next.summary?.payload as { count: number }).count, 0);
    });
  }

  it('refuses an invalid tenant id before any request', async () => {
    const rig = await loadRig(emulator, {}, { config: { tenantId: '../evil?x=' } });
    const { error } = await rig.pull();
    assert.equal((error?.error as { code: string }).code, 'INVALID_CONFIG');
    assert.match((error?.error as { message: string }).message, /tenantId must be a GUID or a domain name/);
    assert.equal(emulator.requests.length, 0);
  });

  it('reuses one token across pulls', async () => {
    emulator.addDetections(2);
    const rig = await loadRig(emulator);
    for (let i = 0; i < 3; i++) await rig.pull();
    assert.equal(emulator.stats.tokenRequests, 1);
    assert.equal(emulator.stats.alertRequests, 3);
  });

  it('asks one token for two detections nodes of one config pulling at the same moment', async () => {
    const rig = await loadRig(emulator, {}, {
      extraNodes: [
        { id: 'det2', type: 'defender-detections', z: 'tab', defender: 'cfg', incremental: true, wires: [[], ['sum2']] },
        { id: 'sum2', type: 'helper', z: 'tab' },
      ],
    });
    const other = helper.getNode('det2');
    const summaries2: unknown[] = [];
    helper.getNode('sum2').on('input', (m: unknown) => summaries2.push(m));
    other.receive({ payload: 1 });
    await rig.pull();
    while (summaries2.length === 0) await new Promise((r) => setTimeout(r, 10));
    assert.equal(emulator.stats.tokenRequests, 1);
    assert.equal(emulator.stats.alertRequests, 2);
  });

  it('gets a new token once when the API answers 401, and delivers', async () => {
    emulator.addDetections(3);
    const rig = await loadRig(emulator);
    await rig.pull();
    emulator.revokeTokens();
    const { detections, error } = await rig.pull({ query: { ago: 'PT3H' } });
    assert.equal(error, undefined);
    assert.equal(detections.length, 3);
    assert.equal(emulator.stats.tokenRequests, 2);
  });

  it('reports a 401 that survives a new token as HTTP_401 with the documented meaning', async () => {
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'http401', times: 2 });
    const { error } = await rig.pull();
    const e = error?.error as { code: string; message: string };
    assert.equal(e.code, 'HTTP_401');
    assert.match(e.message, /HTTP 401: malformed request or invalid token/);
    assert.equal(error?.statusCode, 401);
    assert.equal(emulator.stats.tokenRequests, 2);
  });

  it('reports 403 as HTTP_403 with the documented meaning and does not retry', async () => {
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'http403' });
    const { error } = await rig.pull();
    const e = error?.error as { code: string; message: string };
    assert.equal(e.code, 'HTTP_403');
    assert.match(e.message, /HTTP 403: unauthorized: the domain is not managed by the tenant administrator, or the tenant state is deleted/);
    assert.equal(error?.statusCode, 403);
    assert.equal(emulator.stats.alertRequests, 1);
  });

  it('reports 500 as HTTP_500 (service error) once its retries are spent', async () => {
    const rig = await loadRig(emulator, { maxRetries: 2 });
    emulator.injectFault({ kind: 'http500', times: Infinity });
    const { error } = await rig.pull();
    const e = error?.error as { code: string; message: string };
    assert.equal(e.code, 'HTTP_500');
    assert.match(e.message, /HTTP 500: service error/);
    assert.equal(error?.statusCode, 500);
    assert.equal(emulator.stats.alertRequests, 3);
  });

  it('reports a wrong secret as TOKEN_FAILED with the service’s words and no secret', async () => {
    const rig = await loadRig(emulator, {}, { secret: 'not-the-right-secret-9f8e7d' });
    const { error } = await rig.pull();
    const e = error?.error as { code: string; message: string };
    assert.equal(e.code, 'TOKEN_FAILED');
    assert.match(e.message, /HTTP 40[01]: .*AADSTS/);
    assert.ok(!everythingShown(rig).includes('not-the-right-secret-9f8e7d'));
  });

  it('never lets the secret or an access token out in messages, statuses, errors or logs', async () => {
    emulator.addDetections(3);
    const rig = await loadRig(emulator);
    await rig.pull();
    emulator.revokeTokens();
    await rig.pull();
    emulator.injectFault({ kind: 'http403' });
    await rig.pull();
    emulator.injectFault({ kind: 'html' });
    await rig.pull();
    // A gateway that quotes the request back: the bearer token, and on the token endpoint the secret.
    emulator.injectFault({ kind: 'echo' });
    const echoed = await rig.pull();
    assert.match(String((echoed.error?.error as { message: string }).message), /You sent: Authorization: Bearer \*\*\*/);
    emulator.revokeTokens();
    emulator.injectFault({ kind: 'echo', on: 'token' });
    const echoedForm = await rig.pull();
    assert.match(String((echoedForm.error?.error as { message: string }).message), /client_secret=\*\*\*/);
    const shown = everythingShown(rig);
    assert.ok(emulator.issuedTokens.length >= 2);
    assert.ok(!shown.includes(SECRET), 'the client secret was shown');
    for (const token of emulator.issuedTokens) assert.ok(!shown.includes(token), 'an access token was shown');
  });

  it('runs the pulls of one node one at a time, in arrival order', async () => {
    emulator.injectFault({ kind: 'delay', delayMs: 150 });
    const rig = await loadRig(emulator);
    rig.node.receive({ query: { limit: 1, ago: 'PT1H' } });
    rig.node.receive({ query: { limit: 2, ago: 'PT1H' } });
    rig.node.receive({ query: { limit: 3, ago: 'PT1H' } });
    const summaries = await rig.summaries.until(3);
    assert.deepEqual(summaries.map((m) => (m.payload as { query: { limit: string } }).query.limit), ['1', '2', '3']);
    assert.deepEqual(alertRequests(emulator).map((r) => r.query.find(([k]) => k === 'limit')?.[1]), ['1', '2', '3']);
  });
});
