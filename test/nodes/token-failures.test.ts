/**
 * The token request's failure paths in the real runtime, for every sign-in mode, against a token endpoint
 * that quotes the request back (some gateways and WAFs do): a 429 with Retry-After is waited for, 5xx and
 * 429 fail after the retries, 4xx at once, and no secret (client secret, private key, passphrase, client
 * assertion, federated token, identity header, token) reaches the error, the status or the log.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { AuthMode } from '../../src/defender/sign-in/credential';
import { everythingShown, Message, recent } from '../fixtures/harness';
import { assertNoSecret, secretsOf, withSignInSuite } from '../fixtures/sign-in';

const errorOf = (m: Message | undefined): { code?: string; message?: string } => (m?.error ?? {}) as { code?: string; message?: string };

/** Where each mode's secret sits in the request the endpoint quotes back, blanked out. */
const QUOTED: Record<AuthMode, string> = {
  secret: 'client_secret=\\*\\*\\*',
  certificate: 'client_assertion=\\*\\*\\*',
  'managed-identity': 'X-IDENTITY-HEADER: \\*\\*\\*',
  'workload-identity': 'client_assertion=\\*\\*\\*',
};

describe('token endpoint failures', () => {
  const suite = withSignInSuite(14);

  for (const label of ['secret', 'certificate', 'managed identity (App Service, user-assigned)', 'workload identity']) {
    describe(`signing in with ${label}`, () => {
      const setup = () => suite.setup(label);

      // Two seconds: longer than the first backoff (at most one second), so a client that ignored Retry-After fails.
      it('waits the Retry-After of a 429 from the token endpoint, then delivers', async () => {
        const s = setup();
        suite.emulator.addDetections(2, recent());
        const r = await suite.rig(s);
        suite.emulator.injectFault({ kind: 'echo', on: 'token', status: 429, retryAfter: '2' });
        const started = Date.now();
        const { detections, error } = await r.pull();
        const waited = Date.now() - started;
        assert.equal(error, undefined, errorOf(error).message);
        assert.equal(detections.length, 2);
        assert.equal(suite.emulator.stats.tokenRequests, 2);
        assert.ok(waited >= 1950, `waited only ${waited} ms`);
        assertNoSecret(everythingShown(r), secretsOf(s, suite.emulator));
      });

      for (const status of [429, 500, 503]) {
        it(`fails with TOKEN_FAILED once the retries of a ${status} are spent, quoting the service without the secret`, async () => {
          const s = setup();
          const r = await suite.rig(s);
          suite.emulator.injectFault({ kind: 'echo', on: 'token', status, retryAfter: '0', times: Infinity });
          const { error } = await r.pull();
          assert.equal(errorOf(error).code, 'TOKEN_FAILED');
          assert.equal(error?.statusCode, status);
          assert.match(String(errorOf(error).message), new RegExp(`HTTP ${status}: Request refused .*You sent: .*${QUOTED[s.mode]}`));
          assert.equal(suite.emulator.stats.tokenRequests, 5, 'one request and four retries');
          assert.equal(suite.emulator.stats.alertRequests, 0);
          assert.equal(r.statuses.at(-1)?.fill, 'red');
          assertNoSecret(everythingShown(r), secretsOf(s, suite.emulator));
        });
      }

      it('fails with TOKEN_FAILED at once on a 400, quoting the service without the secret', async () => {
        const s = setup();
        const r = await suite.rig(s);
        suite.emulator.injectFault({ kind: 'echo', on: 'token', status: 400 });
        const { error } = await r.pull();
        assert.equal(errorOf(error).code, 'TOKEN_FAILED');
        assert.equal(error?.statusCode, 400);
        assert.match(String(errorOf(error).message), new RegExp(`You sent: .*${QUOTED[s.mode]}`));
        assert.equal(suite.emulator.stats.tokenRequests, 1, 'a refusal is not retried');
        assertNoSecret(everythingShown(r), secretsOf(s, suite.emulator));
      });
    });
  }
});
