import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MIN_INSTANT, formatMs, formatTicks, instantToTicks, parseDateTime, parseDuration } from '../../src/emulator/timestamps';

const MINUTE_TICKS = 60n * 1000n * 10_000n;

describe('parseDateTime', () => {
  it('normalises to the fixed-width 7-digit UTC form', () => {
    assert.equal(parseDateTime('2020-09-30T14:11:44.0779765Z'), '2020-09-30T14:11:44.0779765Z');
    assert.equal(parseDateTime('2020-09-30T14:11:44.077Z'), '2020-09-30T14:11:44.0770000Z');
    assert.equal(parseDateTime('2016-09-12T00:00:00.000'), '2016-09-12T00:00:00.0000000Z');
    assert.equal(parseDateTime('2016-09-12'), '2016-09-12T00:00:00.0000000Z');
    assert.equal(parseDateTime('2016-09-12T08:30'), '2016-09-12T08:30:00.0000000Z');
  });

  it('applies offsets without touching the fraction, and truncates past 7 digits', () => {
    assert.equal(parseDateTime('2020-09-30T16:11:44.0779765+02:00'), '2020-09-30T14:11:44.0779765Z');
    assert.equal(parseDateTime('2020-09-30T09:41:44.5-0430'), '2020-09-30T14:11:44.5000000Z');
    assert.equal(parseDateTime('2020-09-30T16:11:44.077 02:00'), '2020-09-30T14:11:44.0770000Z', 'a "+" decoded as a space');
    assert.equal(parseDateTime('2020-01-01T00:30:00+01:00'), '2019-12-31T23:30:00.0000000Z');
    assert.equal(parseDateTime('2020-09-30T14:11:44.077976512Z'), '2020-09-30T14:11:44.0779765Z');
  });

  it('refuses what is not a real date-time', () => {
    for (const bad of ['', 'now', '2020-02-30', '2021-02-29T00:00:00Z', '2020-13-01', '2020-09-30T24:00:00Z', '2020-09-30T14:61:00Z', '20200930', '2020-09-30T14:11:44Zjunk', '2020-09-30T14:11:44+15:00']) {
      assert.equal(parseDateTime(bad), undefined, bad);
    }
    assert.equal(parseDateTime('2020-02-29'), '2020-02-29T00:00:00.0000000Z');
  });

  it('sorts chronologically as strings', () => {
    const values = ['2020-09-30T14:11:44.0779765Z', '2020-09-30T14:11:44.077Z', '2020-09-30T14:11:44.0779766Z', '2019-12-31T23:59:59.9999999Z'];
    const sorted = values.map((v) => parseDateTime(v) as string).sort();
    assert.deepEqual(sorted, ['2019-12-31T23:59:59.9999999Z', '2020-09-30T14:11:44.0770000Z', '2020-09-30T14:11:44.0779765Z', '2020-09-30T14:11:44.0779766Z']);
  });
});

describe('ticks', () => {
  it('round-trip between the fixed-width form and BigInt ticks, before and after 1970', () => {
    for (const instant of ['2020-09-30T14:11:44.0779765Z', '1969-12-31T23:59:59.9999999Z', '0001-01-01T00:00:00.0000000Z', '9999-12-31T23:59:59.9999999Z']) {
      assert.equal(formatTicks(instantToTicks(instant)), instant);
    }
    assert.equal(formatTicks(-1n), '1969-12-31T23:59:59.9999999Z');
    assert.equal(formatTicks(-(10n ** 30n)), MIN_INSTANT, 'clamped to the earliest .NET instant');
    assert.equal(formatMs(Date.UTC(2020, 8, 30, 14, 11, 44, 77), 9765), '2020-09-30T14:11:44.0779765Z');
  });
});

describe('parseDuration', () => {
  it('reads ISO 8601 durations into ticks', () => {
    assert.equal(parseDuration('PT10M'), 10n * MINUTE_TICKS);
    assert.equal(parseDuration('P1D'), 24n * 60n * MINUTE_TICKS);
    assert.equal(parseDuration('P1DT2H30M'), (24n * 60n + 150n) * MINUTE_TICKS);
    assert.equal(parseDuration('PT0.5S'), 5_000_000n);
    assert.equal(parseDuration('P1W'), 7n * 24n * 60n * MINUTE_TICKS);
    assert.equal(parseDuration('pt10m'), 10n * MINUTE_TICKS);
    assert.equal(parseDuration('PT0S'), 0n);
  });

  it('refuses what is not a duration', () => {
    for (const bad of ['', 'P', 'PT', 'P1DT', '10M', '-PT10M', 'PT10', 'PT1H1H', 'T10M', 'P1.5.5D']) {
      assert.equal(parseDuration(bad), undefined, bad);
    }
  });
});
