import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseQuery, toSearchParams } from '../../src/defender/pulling/query';
import { readPullRequest } from '../../src/nodes/input';
import { readSettings } from '../../src/nodes/settings';

describe('readPullRequest', () => {
  const defaults = parseQuery({ limit: 10 });

  it('prefers msg.query over a plain-object payload', () => {
    const r = readPullRequest({ query: { limit: 2 }, payload: { limit: 3 } }, defaults, 60_000);
    assert.equal(r.query.limit, 2);
  });

  it('ignores a payload that is not a plain object', () => {
    for (const payload of [1700000000000, 'text', [1, 2], new Date(), null]) {
      const r = readPullRequest({ payload }, defaults, 60_000);
      assert.equal(r.query.limit, 10);
      assert.equal(r.hasMessageQuery, false);
    }
  });

  it('reads msg.requestTimeout in milliseconds and msg.reset', () => {
    const r = readPullRequest({ requestTimeout: '2500', reset: true }, defaults, 60_000);
    assert.equal(r.timeoutMs, 2500);
    assert.equal(r.reset, true);
    assert.throws(() => readPullRequest({ reset: 'yes' }, defaults, 60_000), /msg.reset must be true/);
  });

  it('refuses a msg.requestTimeout over an hour: Node.js would fire a longer timer at once', () => {
    assert.equal(readPullRequest({ requestTimeout: 3_600_000 }, defaults, 60_000).timeoutMs, 3_600_000);
    for (const requestTimeout of [3_600_001, 1e10, 0, -5, 'soon']) {
      assert.throws(() => readPullRequest({ requestTimeout }, defaults, 60_000), /msg.requestTimeout must be a number of milliseconds above 0 and at most 3600000/);
    }
  });
});

describe('readSettings', () => {
  it('takes a blank field as an empty one, and bounds the timeout and the answer size as the dialog does', () => {
    const s = readSettings({ requestTimeout: ' ', maxResponseMB: '  ', maxRetries: ' 2 ', incremental: false, sinceTimeUtc: '  ', ago: ' ', limit: '  ' });
    assert.equal(s.timeoutMs, 60_000);
    assert.equal(s.maxResponseBytes, 256 * 1024 * 1024);
    assert.equal(s.retry.maxRetries, 2);
    assert.deepEqual(s.defaults, {});
    assert.equal(readSettings({ requestTimeout: '3600' }).timeoutMs, 3_600_000);
    // A flow written by hand may give a time as epoch milliseconds, as a message may.
    assert.equal(readSettings({ incremental: false, sinceTimeUtc: Date.UTC(2026, 10, 1) as never }).defaults.sinceTimeUtc?.toISO(), '2026-11-01T00:00:00.000Z');
    assert.throws(() => readSettings({ requestTimeout: '3601' }), /requestTimeout must be a number of seconds above 0 and at most 3600, got "3601"/);
    assert.throws(() => readSettings({ requestTimeout: 1e7 }), /at most 3600/);
    assert.throws(() => readSettings({ maxResponseMB: '4097' }), /maxResponseMB must be a number of megabytes above 0 and at most 4096/);
    assert.throws(() => readSettings({ maxRetries: '1e1' }), /maxRetries must be a whole number/);
  });

  it('keeps the documented defaults for properties an older flow never saved', () => {
    const s = readSettings({});
    assert.equal(s.timeoutMs, 60_000);
    assert.equal(s.maxResponseBytes, 256 * 1024 * 1024);
    assert.equal(s.retry.maxRetries, 4);
    assert.equal(s.incremental?.initialAgo.toISO(), 'PT2H');
    assert.equal(s.incremental?.overlap.toISO(), 'PT5M');
    assert.equal(s.store, undefined);
  });

  it('reads the numbers the editor saves as strings, and the comma-separated groups', () => {
    const s = readSettings({ requestTimeout: '30', maxRetries: '2', maxResponseMB: '10', limit: '20', machinegroups: 'UK, France ,', incremental: false, ago: 'PT1H' });
    assert.equal(s.timeoutMs, 30_000);
    assert.equal(s.retry.maxRetries, 2);
    assert.equal(s.maxResponseBytes, 10 * 1024 * 1024);
    assert.equal(toSearchParams(s.defaults).toString(), 'ago=PT1H&limit=20&machinegroups=UK&machinegroups=France');
    assert.equal(s.incremental, undefined);
  });

  it('ignores time defaults left in the fields while incremental mode is on', () => {
    const s = readSettings({ incremental: true, ago: 'PT1H', sinceTimeUtc: '2020-01-01T00:00:00Z' });
    assert.equal(toSearchParams(s.defaults).toString(), '');
  });

  it('refuses bad settings with INVALID_CONFIG and says what is expected', () => {
    assert.throws(() => readSettings({ maxRetries: '11' }), /maxRetries must be a whole number from 0 to 10, got "11"/);
    assert.throws(() => readSettings({ initialAgo: '2h' }), /initialAgo must be an ISO 8601 duration/);
    assert.throws(() => readSettings({ incremental: false, limit: 'x' }), /node default: limit must be a positive integer/);
  });

  it('reads the delivering nodes of a flow written by hand as ids separated by commas, and refuses a negative redelivery delay', () => {
    const s = readSettings({ confirm: 'nodes', confirmNodes: ' mail1, hook2 ,' as never, redeliveryBaseDelayMs: '0' });
    assert.deepEqual(s.delivery?.nodes, ['mail1', 'hook2']);
    assert.equal(s.delivery?.policy.baseDelayMs, 0);
    // The dialog does not show it: a flow written by hand may give it as a number.
    for (const value of ['-1', -1]) {
      assert.throws(() => readSettings({ confirm: 'nodes', confirmNodes: ['mail1'], redeliveryBaseDelayMs: value }), /redeliveryBaseDelayMs must be a number of milliseconds, got "-1"/);
    }
  });
});
