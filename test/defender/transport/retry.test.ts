import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DefenderError } from '../../../src/defender/errors';
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, withRetries } from '../../../src/defender/transport/retry';

describe('parseRetryAfter', () => {
  it('reads delay-seconds and HTTP dates', () => {
    assert.equal(parseRetryAfter('5'), 5000);
    assert.equal(parseRetryAfter('0'), 0);
    const now = Date.parse('Wed, 21 Oct 2015 07:28:00 GMT');
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:30 GMT', now), 30_000);
    assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:27:00 GMT', now), 0);
    assert.equal(parseRetryAfter('soon'), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
  });
});

describe('backoffDelay', () => {
  it('doubles each attempt within half and all of its ceiling, up to the maximum', () => {
    const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1000 };
    assert.equal(backoffDelay(0, policy, () => 0), 50);
    assert.ok(backoffDelay(0, policy, () => 0.999999) < 100);
    assert.equal(backoffDelay(2, policy, () => 0), 200);
    assert.equal(backoffDelay(10, policy, () => 1), 1000);
  });
});

describe('withRetries', () => {
  const policy = { ...DEFAULT_RETRY_POLICY, maxRetries: 3, baseDelayMs: 1 };

  it('retries retryable failures, then succeeds', async () => {
    let calls = 0;
    const attempts: number[] = [];
    const result = await withRetries(
      async () => {
        if (++calls < 3) throw new DefenderError('HTTP_500', 'boom', { retryable: true });
        return 'ok';
      },
      policy,
      undefined,
      (_e, _d, attempt) => attempts.push(attempt),
    );
    assert.equal(result, 'ok');
    assert.deepEqual(attempts, [1, 2]);
  });

  it('stops after maxRetries and throws the last failure', async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(async () => {
        calls++;
        throw new DefenderError('HTTP_503', 'busy', { retryable: true });
      }, policy),
      /busy/,
    );
    assert.equal(calls, 4);
  });

  it('does not retry what is not retryable', async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(async () => {
        calls++;
        throw new DefenderError('HTTP_403', 'no');
      }, policy),
      /no/,
    );
    assert.equal(calls, 1);
  });

  it('waits what Retry-After asked', async () => {
    const delays: number[] = [];
    let calls = 0;
    await withRetries(
      async () => {
        if (++calls === 1) throw new DefenderError('HTTP_429', 'slow down', { retryable: true, retryAfterMs: 30 });
        return 1;
      },
      policy,
      undefined,
      (_e, d) => delays.push(d),
    );
    assert.deepEqual(delays, [30]);
  });

  it('gives up at once on a Retry-After beyond the policy', async () => {
    let calls = 0;
    await assert.rejects(
      withRetries(async () => {
        calls++;
        throw new DefenderError('HTTP_429', 'come back tomorrow', { retryable: true, retryAfterMs: 86_400_000 });
      }, policy),
      /tomorrow/,
    );
    assert.equal(calls, 1);
  });

  it('stops waiting when the node closes', async () => {
    const closing = new AbortController();
    const running = withRetries(
      async () => {
        throw new DefenderError('HTTP_500', 'boom', { retryable: true });
      },
      { ...policy, baseDelayMs: 60_000 },
      closing.signal,
    );
    setTimeout(() => closing.abort(), 10);
    await assert.rejects(running, (e: unknown) => e instanceof DefenderError && e.code === 'CANCELLED');
  });
});
