import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DateTime } from 'luxon';
import { BudgetMeter, SliceOverflow } from '../../../src/defender/pulling/slice-budget';

const NOW = DateTime.fromISO('2024-05-01T12:00:00Z', { zone: 'utc' });
const at = (minutesAgo: number): string => `${NOW.minus({ minutes: minutesAgo }).toFormat("yyyy-MM-dd'T'HH:mm:ss.SSS")}0000Z`;

describe('BudgetMeter', () => {
  it('a slice holds at most maxCount detections', () => {
    const meter = new BudgetMeter({ maxCount: 2, maxBytes: 1 << 30 });
    meter.beginAnswer();
    meter.addDetection(at(3));
    meter.addDetection(at(2));
    assert.throws(() => meter.addDetection(at(1)), (e: SliceOverflow) => e instanceof SliceOverflow && e.seen.count === 3);
  });

  it('a retried answer starts again from what the answers before it brought', () => {
    const meter = new BudgetMeter({ maxCount: 3, maxBytes: 1000 });
    meter.beginAnswer();
    meter.addBytes(600);
    meter.addDetection(at(3));
    meter.addDetection(at(2));
    // The connection drops: the request is retried.
    meter.beginAnswer();
    meter.addBytes(600);
    meter.addDetection(at(3));
    meter.addDetection(at(2));
    meter.endAnswer();
    assert.equal(meter.bytes, 600);
  });
});
