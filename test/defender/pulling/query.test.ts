import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DefenderError } from '../../../src/defender/errors';
import { mergeQuery, parseQuery, toSearchParams } from '../../../src/defender/pulling/query';

function rejects(input: Record<string, unknown>, pattern: RegExp): void {
  assert.throws(
    () => parseQuery(input),
    (err: unknown) => err instanceof DefenderError && err.code === 'INVALID_QUERY' && pattern.test(err.message),
  );
}

describe('parseQuery', () => {
  it('sends times as ISO 8601 UTC with milliseconds, reading a zoneless string as UTC', () => {
    const params = toSearchParams(parseQuery({ sinceTimeUtc: '2016-09-12T00:00:00', untilTimeUtc: '2016-09-12T09:30:00+09:00' }));
    assert.equal(params.get('sinceTimeUtc'), '2016-09-12T00:00:00.000Z');
    assert.equal(params.get('untilTimeUtc'), '2016-09-12T00:30:00.000Z');
  });

  it('accepts a Date and epoch milliseconds for times', () => {
    const params = toSearchParams(parseQuery({ sinceTimeUtc: new Date(Date.UTC(2020, 0, 2, 3, 4, 5, 6)), untilTimeUtc: Date.UTC(2020, 0, 3) }));
    assert.equal(params.get('sinceTimeUtc'), '2020-01-02T03:04:05.006Z');
    assert.equal(params.get('untilTimeUtc'), '2020-01-03T00:00:00.000Z');
  });

  it('matches parameter names case-insensitively and sends the API spelling', () => {
    const params = toSearchParams(parseQuery({ LIMIT: '5', devicecreatedmachinetags: 'vip', CLOUDCREATEDMACHINETAGS: 'prod' }));
    assert.deepEqual([...params.entries()], [
      ['limit', '5'],
      ['DeviceCreatedMachineTags', 'vip'],
      ['CloudCreatedMachineTags', 'prod'],
    ]);
  });

  it('repeats machinegroups once per group, in the given order', () => {
    const params = toSearchParams(parseQuery({ machinegroups: ['UKMachines', 'FranceMachines', 'Servers'] }));
    assert.equal(params.toString(), 'machinegroups=UKMachines&machinegroups=FranceMachines&machinegroups=Servers');
    assert.deepEqual(toSearchParams(parseQuery({ machinegroups: 'UKMachines' })).getAll('machinegroups'), ['UKMachines']);
  });

  it('normalises ago to an upper-case ISO 8601 duration', () => {
    assert.equal(toSearchParams(parseQuery({ ago: 'pt10m' })).get('ago'), 'PT10M');
    assert.equal(toSearchParams(parseQuery({ ago: 'P1D' })).get('ago'), 'P1D');
  });

  it('treats empty values as not given', () => {
    assert.equal(toSearchParams(parseQuery({ limit: '', ago: null, machinegroups: [] })).toString(), '');
  });

  it('refuses an unknown key and lists the known ones', () => rejects({ limt: 5 }, /unknown query parameter "limt".*sinceTimeUtc, untilTimeUtc, ago, limit, machinegroups/));
  it('refuses an unparseable time and shows the expected form', () => rejects({ sinceTimeUtc: 'yesterday' }, /sinceTimeUtc must be an ISO 8601 date-time.*got "yesterday"/));
  it('reads a text time only as a date with an optional time and zone, so "10" is not 10:00 today', () => {
    for (const text of ['10', '10:00', '2026', '2026-11', '2026-W44', '20261101', '2026-11-01T10', '2026-11-01T24:00', '2026-11-01Z']) {
      rejects({ sinceTimeUtc: text }, /sinceTimeUtc must be an ISO 8601 date-time/);
    }
    const params = toSearchParams(parseQuery({ sinceTimeUtc: '2026-11-01', untilTimeUtc: '2026-11-01t10:00:00,5+0900' }));
    assert.equal(params.get('sinceTimeUtc'), '2026-11-01T00:00:00.000Z');
    assert.equal(params.get('untilTimeUtc'), '2026-11-01T01:00:00.500Z');
  });
  it('refuses a duration without a number, which Luxon would read as zero', () => {
    rejects({ ago: 'P' }, /ago must be an ISO 8601 duration/);
    rejects({ ago: 'PT' }, /ago must be an ISO 8601 duration/);
  });
  it('refuses a duration that is not ISO 8601', () => rejects({ ago: '10 minutes' }, /ago must be an ISO 8601 duration such as PT10M.*got "10 minutes"/));
  it('refuses a zero duration', () => rejects({ ago: 'PT0S' }, /ago must be an ISO 8601 duration/));
  it('refuses a limit that is not a positive integer', () => {
    rejects({ limit: 'abc' }, /limit must be a positive integer, got "abc"/);
    rejects({ limit: 0 }, /limit must be a positive integer, got 0/);
    rejects({ limit: 2.5 }, /got 2.5/);
    rejects({ limit: -1 }, /got -1/);
  });
  it('refuses a machine group that is not a string', () => rejects({ machinegroups: ['ok', 3] }, /machinegroups\[1\] must be a non-empty string/));
  it('refuses a tag that is not a string', () => rejects({ DeviceCreatedMachineTags: { a: 1 } }, /DeviceCreatedMachineTags must be a device tag/));
});

describe('mergeQuery', () => {
  it('lets message values override the defaults', () => {
    const merged = mergeQuery(parseQuery({ limit: 10, machinegroups: 'A' }), parseQuery({ limit: 3 }));
    assert.equal(toSearchParams(merged).toString(), 'limit=3&machinegroups=A');
  });

  it('takes a time range whole from the message', () => {
    const merged = mergeQuery(parseQuery({ sinceTimeUtc: '2020-01-01T00:00:00Z' }), parseQuery({ ago: 'PT1H' }));
    assert.equal(toSearchParams(merged).toString(), 'ago=PT1H');
  });

  it('refuses ago together with a time range', () => {
    assert.throws(() => mergeQuery({}, parseQuery({ ago: 'PT1H', untilTimeUtc: '2020-01-01T00:00:00Z' })), /ago cannot be combined with sinceTimeUtc or untilTimeUtc/);
  });

  it('refuses since after until', () => {
    assert.throws(
      () => mergeQuery({}, parseQuery({ sinceTimeUtc: '2020-01-02T00:00:00Z', untilTimeUtc: '2020-01-01T00:00:00Z' })),
      /sinceTimeUtc \(2020-01-02T00:00:00.000Z\) is after untilTimeUtc \(2020-01-01T00:00:00.000Z\)/,
    );
  });
});
