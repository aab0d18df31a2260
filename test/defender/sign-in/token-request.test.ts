/**
 * How long a token exchange keeps asking: a status with a time window of its own (IMDS's 410, retried for
 * at least 70 s) is asked again beyond maxRetries until the window has passed, then fails; the clock is
 * the exchange's own `now`, so 70 s pass here in an instant. The answers are scripted: this checks the
 * retry decisions, the node tests check the same against the emulator's instance metadata service.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DefenderError } from '../../../src/defender/errors';
import type { HttpResponse } from '../../../src/defender/transport/http';
import { exchangeToken, type TokenExchange } from '../../../src/defender/sign-in/token-request';
import type { TokenRequestContext } from '../../../src/defender/sign-in/credential';

const TOKEN = Buffer.from(JSON.stringify({ access_token: 'tok', expires_in: 3600, token_type: 'Bearer' }));

function answer(status: number): HttpResponse {
  return { status, headers: { 'content-type': 'application/json' }, body: status === 200 ? TOKEN : Buffer.from('{"error":"invalid_request","error_description":"being updated"}') };
}

/** An exchange answering `statuses` in turn (then 200), each answer 10 s after the one before. */
function scripted(statuses: number[], retryAtLeastMs?: Record<number, number>) {
  let clock = 0;
  const asked: number[] = [];
  const exchange: TokenExchange = {
    host: 'identity',
    secrets: () => [],
    retryStatuses: [404, 410],
    ...(retryAtLeastMs ? { retryAtLeastMs } : {}),
    send: async () => {
      clock += 10_000;
      const status = statuses[asked.length] ?? 200;
      asked.push(status);
      return answer(status);
    },
  };
  const context = {
    timeoutMs: 1000,
    maxResponseBytes: 1 << 20,
    retry: { maxRetries: 1, baseDelayMs: 1, maxDelayMs: 1, maxRetryAfterMs: 1000 },
    now: () => clock,
  } as unknown as TokenRequestContext;
  return { exchange, context, asked };
}

describe('exchangeToken with a retry window', () => {
  it('asks again through a 410 beyond maxRetries while its window lasts, and takes the token', async () => {
    const { exchange, context, asked } = scripted([410, 410, 410, 410, 410], { 410: 70_000 });
    const token = await exchangeToken(exchange, context);
    assert.equal(token.value, 'tok');
    assert.deepEqual(asked, [410, 410, 410, 410, 410, 200]);
  });

  it('gives up once the window has passed since the first 410', async () => {
    const { exchange, context, asked } = scripted(new Array(20).fill(410), { 410: 70_000 });
    await assert.rejects(exchangeToken(exchange, context), (err: unknown) => err instanceof DefenderError && err.code === 'TOKEN_FAILED' && err.statusCode === 410);
    // First 410 at 10 s; asked again while less than 70 s had passed since: at 20 … 80 s, and no more.
    assert.equal(asked.length, 8);
  });

  it('keeps maxRetries for statuses without a window', async () => {
    const { exchange, context, asked } = scripted([404, 404, 404], { 410: 70_000 });
    await assert.rejects(exchangeToken(exchange, context), (err: unknown) => err instanceof DefenderError && err.statusCode === 404);
    assert.deepEqual(asked, [404, 404]);
  });

  it('keeps maxRetries for a 410 where the endpoint asks no window', async () => {
    const { exchange, context, asked } = scripted([410, 410, 410]);
    await assert.rejects(exchangeToken(exchange, context));
    assert.deepEqual(asked, [410, 410]);
  });
});
