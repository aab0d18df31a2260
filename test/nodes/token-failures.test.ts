/**
 * The token request's failure paths in the real runtime, against a token endpoint that quotes the request
 * back (some gateways and WAFs do): a 429 with Retry-After is waited for, 5xx and 429 fail after the
 * retries, 4xx at once, and the secret never reaches the error, the status or the log.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import { everythingShown, loadRig, Message, recent, SECRET, withEmulatorSuite } from '../fixtures/harness';

const errorOf = (m: Message | undefined): { code?: string; message?: string } => (m?.error ?? {}) as { code?: string; message?: string };

describe('token endpoint failures', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 14 }, (e) => (emulator = e));

  /** Every text the runtime let out holds none of the secrets, and some service words were shown. */
  function assertNoSecret(shown: string, secrets: readonly string[]): void {
    for (const secret of secrets) {
      for (const form of new Set([secret, encodeURIComponent(secret)])) assert.ok(!shown.includes(form), `a secret got out: …${form.slice(0, 6)}…`);
    }
  }

  // Two seconds: longer than the first backoff (at most one second), so a client that ignored Retry-After fails.
  it('waits the Retry-After of a 429 from the token endpoint, then delivers', async () => {
    emulator.addDetections(2, recent());
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'echo', on: 'token', status: 429, retryAfter: '2' });
    const started = Date.now();
    const { detections, error } = await rig.pull();
    const waited = Date.now() - started;
    assert.equal(error, undefined, errorOf(error).message);
    assert.equal(detections.length, 2);
    assert.equal(emulator.stats.tokenRequests, 2);
    assert.ok(waited >= 1950, `waited only ${waited} ms`);
    assertNoSecret(everythingShown(rig), [SECRET]);
  });

  for (const status of [429, 500, 503]) {
    it(`fails with TOKEN_FAILED once the retries of a ${status} are spent, quoting the service without the secret`, async () => {
      const rig = await loadRig(emulator);
      emulator.injectFault({ kind: 'echo', on: 'token', status, retryAfter: '0', times: Infinity });
      const { error } = await rig.pull();
      assert.equal(errorOf(error).code, 'TOKEN_FAILED');
      assert.equal(error?.statusCode, status);
      assert.match(String(errorOf(error).message), new RegExp(`HTTP ${status}: Request refused .*You sent: .*client_secret=\\*\\*\\*`));
      assert.equal(emulator.stats.tokenRequests, 5, 'one request and four retries');
      assert.equal(emulator.stats.alertRequests, 0);
      assert.equal(rig.statuses.at(-1)?.fill, 'red');
      assertNoSecret(everythingShown(rig), [SECRET]);
    });
  }

  it('fails with TOKEN_FAILED at once on a 400, quoting the service without the secret', async () => {
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'echo', on: 'token', status: 400 });
    const { error } = await rig.pull();
    assert.equal(errorOf(error).code, 'TOKEN_FAILED');
    assert.equal(error?.statusCode, 400);
    assert.match(String(errorOf(error).message), /You sent: .*client_secret=\*\*\*/);
    assert.equal(emulator.stats.tokenRequests, 1, 'a refusal is not retried');
    assertNoSecret(everythingShown(rig), [SECRET]);
  });
});
