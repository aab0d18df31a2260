import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DefenderError } from '../../../src/defender/errors';
import { GRAPH_RATE_LIMIT, RateLimiter } from '../../../src/defender/services/graph-rate';

/** A limiter on a clock the test moves; waits are recorded, not slept. */
function limiter(settings = GRAPH_RATE_LIMIT) {
  let clock = 0;
  const waits: number[] = [];
  const rate = new RateLimiter(settings, () => clock, async (ms) => {
    waits.push(ms);
  });
  return { rate, waits, advance: (ms: number) => (clock += ms) };
}

describe('RateLimiter', () => {
  it('lets the burst through at once, then spaces requests at the rate', async () => {
    const { rate, waits } = limiter({ perMinute: 60, burst: 3 });
    for (let i = 0; i < 6; i++) await rate.take();
    assert.deepEqual(waits, [1000, 2000, 3000]);
    assert.equal(rate.granted, 6);
    assert.equal(rate.delayed, 3);
  });

  it('never lets more than about 150 requests into any minute by default', async () => {
    const { rate, waits } = limiter();
    for (let i = 0; i < 400; i++) await rate.take();
    // Every request that asked at t=0: those that leave before t=60 s.
    const immediate = 400 - waits.length;
    const withinAMinute = immediate + waits.filter((w) => w < 60_000).length;
    assert.equal(immediate, GRAPH_RATE_LIMIT.burst);
    assert.ok(withinAMinute <= 150, `${withinAMinute} requests in the first minute`);
    assert.ok(withinAMinute >= 140, `only ${withinAMinute} requests in the first minute`);
  });

  it('refills while idle, up to the burst', async () => {
    const { rate, waits, advance } = limiter({ perMinute: 60, burst: 2 });
    await rate.take();
    await rate.take();
    advance(10_000);
    await rate.take();
    await rate.take();
    assert.deepEqual(waits, []);
    await rate.take();
    assert.deepEqual(waits, [1000]);
    assert.equal(rate.delayNow(), 2000);
  });

  it('gives up waiting when the node closes', async () => {
    const rate = new RateLimiter({ perMinute: 1, burst: 1 });
    await rate.take();
    const closing = new AbortController();
    const waiting = rate.take(closing.signal);
    closing.abort();
    await assert.rejects(waiting, (e: unknown) => e instanceof DefenderError && e.code === 'CANCELLED');
  });

  it('refuses settings that make no sense', () => {
    assert.throws(() => new RateLimiter({ perMinute: 0, burst: 1 }), /perMinute must be a number above 0/);
    assert.throws(() => new RateLimiter({ perMinute: 10, burst: 0.5 }), /burst must be a whole number/);
  });
});
