/**
 * The sign-in modes of SPEC section 8 in a real Node-RED runtime against the emulator: certificate,
 * managed identity (both endpoint shapes) and workload identity each pull from the SIEM API and Graph with
 * the token cache, single flight and 401 refresh; each mode's failures have their codes, those found in
 * the settings before any request; Test connection and the certificate's facts work in every mode; and no
 * secret gets out.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { describe, it } from 'node:test';
import { generateKeyPairSync } from 'node:crypto';
import { selfSignedCertificate } from '../../src/emulator';
import configNode from '../../src/nodes/defender-config';
import type { DefenderConfigNode } from '../../src/nodes/config-node';
import { adminPost, CLIENT_ID, configFlowNode, everythingShown, helper, loadUpdateRig, Message, recent, TENANT } from '../fixtures/harness';
import { TestProxy } from '../fixtures/proxy';
import { assertNoSecret, federatedToken, IDENTITY_HEADER, secretsOf, type SignInSetup, USER_ASSIGNED_ID, withSignInSuite } from '../fixtures/sign-in';

const errorOf = (m: Message | undefined): { code?: string; message?: string } => (m?.error ?? {}) as { code?: string; message?: string };
const decode = (part: string): Record<string, unknown> => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;
const DAY = 24 * 3600_000;

describe('sign-in modes', () => {
  const suite = withSignInSuite(8);
  const { material } = suite;
  const setup = (label: string): SignInSetup => suite.setup(label);
  const rigFor = (s: SignInSetup, config: Record<string, unknown> = {}, credentials?: Record<string, string>) => suite.rig(s, config, credentials);
  const tenantOf = (): NonNullable<DefenderConfigNode['tenant']> => {
    const tenant = (helper.getNode('cfg') as unknown as DefenderConfigNode).tenant;
    assert.ok(tenant, 'the config node has no tenant');
    return tenant;
  };

  const LABELS = ['certificate', 'managed identity (instance metadata service)', 'managed identity (App Service, user-assigned)', 'workload identity'];
  for (const label of LABELS) {
    describe(`with ${label}`, () => {
      it('pulls from the SIEM API with one token for every caller, and a new one after a 401', async () => {
        const s = setup(label);
        suite.emulator.addDetections(3, recent());
        const rig = await rigFor(s);
        const first = await rig.pull();
        assert.equal(first.error, undefined, errorOf(first.error).message);
        assert.equal(first.detections.length, 3);
        assert.equal(suite.emulator.stats.tokenRequests, 1);
        // The token is revoked by the API's 401: one new token, one more try.
        suite.emulator.injectFault({ kind: 'http401' });
        const refreshed = await rig.pull({ payload: 1, query: { ago: 'PT1H' } });
        assert.equal(refreshed.error, undefined, errorOf(refreshed.error).message);
        assert.equal(refreshed.detections.length, 3);
        assert.equal(suite.emulator.stats.tokenRequests, 2);
        // However many ask at once, one token request is in flight.
        const tenant = tenantOf();
        tenant.tokens.clear();
        const tokens = await Promise.all([tenant.tokens.get(), tenant.tokens.get(), tenant.tokens.get()]);
        assert.equal(new Set(tokens).size, 1);
        assert.equal(suite.emulator.stats.tokenRequests, 3);
        assert.ok(suite.emulator.requests.filter((r) => r.endpoint !== 'alerts').every((r) => r.authorized || r.status === 0));
        assertNoSecret(everythingShown(rig), secretsOf(s, suite.emulator));
      });

      it('pulls Microsoft Graph alerts_v2 signing in the same way', async () => {
        const s = setup(label);
        suite.emulator.addDetections(2, recent());
        const rig = await rigFor(s, { api: 'graph' });
        const { detections, error } = await rig.pull();
        assert.equal(error, undefined, errorOf(error).message);
        assert.equal(detections.length, 2);
        const graph = suite.emulator.requests.filter((r) => r.endpoint === 'graph-alerts');
        assert.ok(graph.length > 0 && graph.every((r) => r.authorized));
        assertNoSecret(everythingShown(rig), secretsOf(s, suite.emulator));
      });

      it('updates an alert through Graph from a SIEM config node, signing in the same way for Graph', async () => {
        const s = setup(label);
        const [detection] = suite.emulator.addDetections(1, recent());
        suite.environment(s.env);
        const rig = await loadUpdateRig(suite.emulator, { status: 'inProgress' }, { config: s.config, credentials: s.credentials });
        const { output, error } = await rig.update({ payload: detection });
        assert.equal(error, undefined, JSON.stringify(error?.error));
        assert.equal((output?.payload as { status?: string }).status, 'inProgress');
        const [signIn] = suite.emulator.requests.filter((r) => r.endpoint === 'graph-token' || r.endpoint === 'managed-identity');
        assert.equal(signIn.authorized, true);
        if (signIn.endpoint === 'managed-identity') assert.ok(signIn.query.some(([k, v]) => k === 'resource' && v === suite.emulator.url), 'not a token for Graph');
        const writes = suite.emulator.requests.filter((r) => r.endpoint === 'graph-alert');
        assert.ok(writes.length > 0 && writes.every((r) => r.authorized), 'the write was not made with a Graph token');
        assertNoSecret(everythingShown(rig), secretsOf(s, suite.emulator));
      });

      it('passes Test connection with the values typed in the dialog, and with those stored', async () => {
        const s = setup(label);
        suite.environment(s.env);
        await helper.load([configNode], [{ ...configFlowNode(suite.emulator), ...s.config }], { cfg: s.credentials });
        const { id: _id, type: _type, name: _name, ...dialog } = { ...configFlowNode(suite.emulator), ...s.config };
        const typed = await adminPost('/defender-config/cfg/test', { ...dialog, ...s.credentials });
        assert.deepEqual(typed.body, { ok: true, detections: 0 });
        const unchanged = Object.fromEntries(Object.keys(s.credentials).map((k) => [k, '__PWRD__']));
        const stored = await adminPost('/defender-config/cfg/test', { ...dialog, ...unchanged });
        assert.deepEqual(stored.body, { ok: true, detections: 0 });
        assertNoSecret(`${typed.text}${stored.text}`, secretsOf(s, suite.emulator));
      });
    });
  }

  // Microsoft documents federated credentials for the v2.0 endpoint, and MSAL asks it for certificates too.
  for (const [label, endpoint] of [['certificate', 'v2.0'], ['workload identity', 'v2.0'], ['secret', 'v1']] as const) {
    it(`signs in to the SIEM API's resource with ${label} at the ${endpoint} endpoint${endpoint === 'v2.0' ? ', with scope https://graph.windows.net/.default' : ', as the seed documents'}`, async () => {
      const s = setup(label);
      suite.emulator.addDetections(2, recent());
      const rig = await rigFor(s);
      const { detections, error } = await rig.pull();
      assert.equal(error, undefined, errorOf(error).message);
      assert.equal(detections.length, 2);
      const signIns = suite.emulator.requests.filter((r) => r.endpoint === 'token' || r.endpoint === 'graph-token');
      assert.deepEqual(signIns.map((r) => [r.path, r.authorized]), [[endpoint === 'v2.0' ? `/${TENANT}/oauth2/v2.0/token` : `/${TENANT}/oauth2/token`, true]]);
      // The token is for the SIEM API's resource, and the SIEM API took it.
      const claims = decode(String(suite.emulator.issuedTokens[0]).split('.')[1]);
      assert.equal(claims.aud, 'https://graph.windows.net');
      assert.equal(claims.ver, endpoint === 'v2.0' ? '2.0' : undefined);
      assert.ok(suite.emulator.requests.filter((r) => r.endpoint === 'alerts').every((r) => r.authorized && r.status === 200));
      assertNoSecret(everythingShown(rig), secretsOf(s, suite.emulator));
    });
  }

  describe('certificate', () => {
    it('sends a PS256 assertion for the exact token URL (v2.0, for the SIEM API too), with a fresh jti and a lifetime of ten minutes at most', async () => {
      const s = setup('certificate');
      const rig = await rigFor(s);
      await rig.pull();
      tenantOf().tokens.clear();
      await tenantOf().tokens.get();
      const [first, second] = suite.emulator.clientAssertions.map((a) => a.split('.').map((p, i) => (i < 2 ? decode(p) : p)));
      assert.equal((first[0] as Record<string, unknown>).alg, 'PS256');
      const claims = first[1] as Record<string, number | string>;
      assert.equal(claims.aud, `${suite.emulator.url}/${TENANT}/oauth2/v2.0/token`);
      assert.deepEqual([claims.iss, claims.sub], [CLIENT_ID, CLIENT_ID]);
      assert.ok(Number(claims.exp) - Number(claims.nbf) <= 600 && Number(claims.exp) > Date.now() / 1000);
      assert.notEqual(claims.jti, (second[1] as Record<string, unknown>).jti);
    });

    it('refuses a key of another certificate, an expired certificate and a wrong passphrase with INVALID_CONFIG before any request', async () => {
      const s = setup('certificate');
      const otherKey = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
      const expired = selfSignedCertificate(material.key, { notBefore: new Date(Date.now() - 30 * DAY), notAfter: new Date(Date.now() - DAY) });
      const cases: Array<[string, Record<string, unknown>, Record<string, string>, RegExp]> = [
        ['a key of another certificate', {}, { privateKey: otherKey }, /the private key does not belong to the certificate [0-9A-F]{40}/],
        ['an expired certificate', { certificate: expired }, s.credentials, /the certificate [0-9A-F]{40} expired on /],
        ['a wrong passphrase', {}, { ...s.credentials, privateKeyPassphrase: 'not the passphrase at all' }, /cannot be decrypted with the passphrase given/],
        ['no key', {}, {}, /privateKey is missing/],
      ];
      for (const [what, config, credentials, reason] of cases) {
        const rig = await rigFor(s, config, credentials);
        const { error } = await rig.pull();
        assert.equal(errorOf(error).code, 'INVALID_CONFIG', what);
        assert.match(String(errorOf(error).message), reason, what);
        assert.equal(suite.emulator.requests.length, 0, `${what}: a request was sent`);
        assertNoSecret(everythingShown(rig), [...secretsOf(s, suite.emulator), 'not the passphrase at all', otherKey.split('\n')[2]]);
        await helper.unload();
      }
    });

    it('refuses the next token request with INVALID_CONFIG, sending none, once the certificate expires while the flow runs', async () => {
      const s = setup('certificate');
      // Valid for three seconds more: a certificate's dates are whole seconds.
      const expiresAt = Math.ceil(Date.now() / 1000) * 1000 + 3000;
      const shortLived = selfSignedCertificate(material.key, { notBefore: new Date(Date.now() - DAY), notAfter: new Date(expiresAt) });
      suite.emulator.setCertificates([material.certificatePem, shortLived]);
      try {
        suite.emulator.addDetections(1, recent());
        const rig = await rigFor(s, { certificate: shortLived });
        const before = await rig.pull();
        assert.equal(before.error, undefined, errorOf(before.error).message);
        await new Promise((resolve) => setTimeout(resolve, expiresAt - Date.now() + 100));
        // The token the node holds is refused, as it is once it expires: the node needs a new one.
        suite.emulator.revokeTokens();
        const tokenRequests = suite.emulator.stats.tokenRequests;
        const { error } = await rig.pull({ payload: 1, query: { ago: 'PT1H' } });
        assert.equal(errorOf(error).code, 'INVALID_CONFIG');
        assert.match(String(errorOf(error).message), new RegExp(`^the certificate [0-9A-F]{40} expired on ${new Date(expiresAt).toISOString().replace(/\./g, '\\.')}`));
        assert.equal(suite.emulator.stats.tokenRequests, tokenRequests, 'a token request was sent with the expired certificate');
        assertNoSecret(everythingShown(rig), secretsOf(s, suite.emulator));
      } finally {
        suite.emulator.setCertificates([material.certificatePem]);
      }
    });

    it('reports a certificate the app registration does not have with TOKEN_FAILED and what to check', async () => {
      const s = setup('certificate');
      suite.emulator.setCertificates([]);
      try {
        const rig = await rigFor(s);
        const { error } = await rig.pull();
        assert.equal(errorOf(error).code, 'TOKEN_FAILED');
        assert.match(String(errorOf(error).message), /AADSTS700027: .*Check that the certificate is uploaded to the app registration/);
        assertNoSecret(everythingShown(rig), secretsOf(s, suite.emulator));
      } finally {
        suite.emulator.setCertificates([material.certificatePem]);
      }
    });

    it('shows the certificate\'s thumbprint and expiry in the dialog, and whether the key belongs to it', async () => {
      const s = setup('certificate');
      await helper.load([configNode], [{ ...configFlowNode(suite.emulator), ...s.config }], { cfg: s.credentials });
      const info = (body: Record<string, string>) => adminPost('/defender-config/cfg/certificate', body);
      const matching = await info({ certificate: material.certificatePem, privateKey: '__PWRD__', privateKeyPassphrase: '__PWRD__' });
      const facts = matching.body.facts as Record<string, string>;
      assert.match(facts.thumbprint, /^[0-9A-F]{40}$/);
      assert.equal(facts.notAfter.slice(0, 10), new Date(Date.now() + DAY).toISOString().slice(0, 10));
      assert.equal(matching.body.keyChecked, true);
      assert.equal(matching.body.problem, undefined);
      const wrong = await info({ certificate: material.certificatePem, privateKey: '__PWRD__', privateKeyPassphrase: 'typed wrong passphrase' });
      assert.match(String((wrong.body.problem as Record<string, string>).message), /cannot be decrypted/);
      assert.deepEqual(wrong.body.facts, facts, 'the certificate\'s facts are shown with the problem');
      const none = await adminPost('/defender-config/new-node/certificate', { certificate: material.certificatePem, privateKey: '', privateKeyPassphrase: '' });
      assert.deepEqual([none.body.keyChecked, none.body.problem], [false, undefined]);
      assertNoSecret(`${matching.text}${wrong.text}${none.text}`, [...secretsOf(s, suite.emulator), 'typed wrong passphrase']);
    });
  });

  describe('managed identity', () => {
    it('asks the instance metadata service for the API\'s resource, past any proxy', async () => {
      const s = setup('managed identity (instance metadata service)');
      const proxy = new TestProxy();
      await proxy.listen();
      try {
        suite.emulator.addDetections(1, recent());
        const rig = await rigFor(s);
        // The environment's proxy: the detections API goes through it, the identity endpoint must not.
        suite.environment({ http_proxy: proxy.url, HTTP_PROXY: undefined, no_proxy: undefined, NO_PROXY: undefined });
        const { error, detections } = await rig.pull();
        assert.equal(error, undefined, errorOf(error).message);
        assert.equal(detections.length, 1);
        const [identity] = suite.emulator.requests.filter((r) => r.endpoint === 'managed-identity');
        assert.equal(identity.path, '/metadata/identity/oauth2/token');
        assert.deepEqual(identity.query, [['api-version', '2018-02-01'], ['resource', 'https://graph.windows.net']]);
        assert.ok(proxy.seen.some((p) => p.target.includes('/api/alerts')), 'the detections API was not proxied');
        assert.ok(!proxy.seen.some((p) => p.target.includes('/metadata/')), 'the identity endpoint was proxied');
      } finally {
        await proxy.close();
      }
    });

    for (const status of [404, 410] as const) {
      it(`asks the instance metadata service again when it answers ${status} while it starts, and delivers`, async () => {
        const s = setup('managed identity (instance metadata service)');
        suite.emulator.addDetections(1, recent());
        const rig = await rigFor(s);
        suite.emulator.injectFault({ kind: `http${status}`, on: 'token' });
        const { error, detections } = await rig.pull();
        assert.equal(error, undefined, errorOf(error).message);
        assert.equal(detections.length, 1);
        assert.deepEqual(suite.emulator.requests.filter((r) => r.endpoint === 'managed-identity').map((r) => r.status), [status, 200]);
      });
    }

    it('keeps asking the instance metadata service through a 410 (being updated) beyond the retries of other answers', async () => {
      const s = setup('managed identity (instance metadata service)');
      suite.emulator.addDetections(1, recent());
      const rig = await rigFor(s);
      // The token endpoint's four retries are spent by the fifth 410; Microsoft asks 410 to be retried for
      // 70 s (test/defender/sign-in/token-request.test.ts checks the window's end), so a sixth ask follows.
      suite.emulator.injectFault({ kind: 'http410', on: 'token', times: 5 });
      const { error, detections } = await rig.pull();
      assert.equal(error, undefined, errorOf(error).message);
      assert.equal(detections.length, 1);
      assert.deepEqual(suite.emulator.requests.filter((r) => r.endpoint === 'managed-identity').map((r) => r.status), [410, 410, 410, 410, 410, 200]);
    });

    it('asks App Service\'s endpoint with its header for the user-assigned identity', async () => {
      const s = setup('managed identity (App Service, user-assigned)');
      const rig = await rigFor(s);
      await rig.pull();
      const [identity] = suite.emulator.requests.filter((r) => r.endpoint === 'managed-identity');
      assert.equal(identity.path, '/msi/token');
      assert.deepEqual(identity.query, [['api-version', '2019-08-01'], ['resource', 'https://graph.windows.net'], ['client_id', USER_ASSIGNED_ID]]);
      assert.equal(identity.authorized, true);
    });

    it('refuses IDENTITY_ENDPOINT without IDENTITY_HEADER with INVALID_CONFIG before any request', async () => {
      const s = setup('managed identity (App Service, user-assigned)');
      const rig = await rigFor({ ...s, env: { ...s.env, IDENTITY_HEADER: undefined } });
      const { error } = await rig.pull();
      assert.equal(errorOf(error).code, 'INVALID_CONFIG');
      assert.match(String(errorOf(error).message), /IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not/);
      assert.equal(suite.emulator.requests.length, 0);
    });

    it('reports a refused identity header or an unknown identity with TOKEN_FAILED and what to check', async () => {
      const s = setup('managed identity (App Service, user-assigned)');
      const wrongHeader = 'a-header-from-another-app-0000';
      const rig = await rigFor({ ...s, env: { ...s.env, IDENTITY_HEADER: wrongHeader } });
      const { error } = await rig.pull();
      assert.equal(errorOf(error).code, 'TOKEN_FAILED');
      assert.equal(error?.statusCode, 401);
      assert.match(String(errorOf(error).message), /Check that this Azure resource has the managed identity turned on/);
      // The service's sentence ends in a full stop and ours follows it: one stop, not two.
      assert.doesNotMatch(String(errorOf(error).message), /\.\./);
      assertNoSecret(everythingShown(rig), [wrongHeader, IDENTITY_HEADER]);
      await helper.unload();
      const unknown = await rigFor(s, { managedIdentityClientId: '00000000-1111-2222-3333-444444444444' });
      const refused = await unknown.pull();
      assert.equal(errorOf(refused.error).code, 'TOKEN_FAILED');
      assert.match(String(errorOf(refused.error).message), /No User Assigned or Delegated Managed Identity found/);
      assert.doesNotMatch(String(errorOf(refused.error).message), /\.\./);
    });
  });

  describe('workload identity', () => {
    it('reads the token file again for every token request: a rotated token is used', async () => {
      const s = setup('workload identity');
      suite.emulator.addDetections(1, recent());
      const rig = await rigFor(s);
      assert.equal((await rig.pull()).error, undefined);
      // Kubernetes rotates the token; the app registration trusts only the new one from now on.
      const rotated = federatedToken(2);
      fs.writeFileSync(material.tokenFile, rotated);
      suite.emulator.setFederatedTokens([rotated]);
      suite.emulator.revokeTokens();
      const { error, detections } = await rig.pull({ payload: 1, query: { ago: 'PT1H' } });
      assert.equal(error, undefined, errorOf(error).message);
      assert.equal(detections.length, 1);
      assert.deepEqual(suite.emulator.clientAssertions, [s.secrets[0], rotated]);
      assertNoSecret(everythingShown(rig), [...secretsOf(s, suite.emulator), rotated]);
    });

    it('signs in with a token file that ends in a newline, as echo or an editor leaves it, and sends the token without it', async () => {
      const s = setup('workload identity');
      const [token] = s.secrets;
      fs.writeFileSync(material.tokenFile, `${token}\n`);
      suite.emulator.addDetections(1, recent());
      const rig = await rigFor(s);
      const { error, detections } = await rig.pull();
      assert.equal(error, undefined, errorOf(error).message);
      assert.equal(detections.length, 1);
      assert.deepEqual(suite.emulator.clientAssertions, [token]);
    });

    it('signs in as the node\'s own tenant and app when they are filled', async () => {
      const s = setup('workload identity');
      const rig = await rigFor({ ...s, env: { ...s.env, AZURE_CLIENT_ID: 'an-app-of-the-environment', AZURE_TENANT_ID: 'contoso.onmicrosoft.com' } }, { tenantId: TENANT, clientId: CLIENT_ID });
      assert.equal((await rig.pull()).error, undefined);
      const [token] = suite.emulator.requests.filter((r) => r.endpoint === 'graph-token');
      assert.equal(token.path, `/${TENANT}/oauth2/v2.0/token`);
      assert.equal(token.authorized, true);
    });

    it('reports an unreadable token file with INVALID_CONFIG before any request, and works once it is there', async () => {
      const s = setup('workload identity');
      const missing = `${material.tokenFile}.missing`;
      const rig = await rigFor({ ...s, env: { ...s.env, AZURE_FEDERATED_TOKEN_FILE: missing } });
      const { error } = await rig.pull();
      assert.equal(errorOf(error).code, 'INVALID_CONFIG');
      assert.match(String(errorOf(error).message), new RegExp(`federated token file ${missing.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')} \\(AZURE_FEDERATED_TOKEN_FILE\\) cannot be read: ENOENT`));
      assert.equal(suite.emulator.requests.length, 0);
      fs.writeFileSync(missing, s.secrets[0]);
      try {
        assert.equal((await rig.pull()).error, undefined, 'the node did not recover');
      } finally {
        fs.rmSync(missing, { force: true });
      }
    });

    it('refuses a missing AZURE_FEDERATED_TOKEN_FILE with INVALID_CONFIG before any request', async () => {
      const s = setup('workload identity');
      const rig = await rigFor({ ...s, env: { ...s.env, AZURE_FEDERATED_TOKEN_FILE: undefined } });
      const { error } = await rig.pull();
      assert.equal(errorOf(error).code, 'INVALID_CONFIG');
      assert.match(String(errorOf(error).message), /AZURE_FEDERATED_TOKEN_FILE names, and it is not set/);
      assert.equal(suite.emulator.requests.length, 0);
    });
  });

  it('keeps a config node saved without auth on its client secret', async () => {
    const s = setup('secret');
    suite.emulator.addDetections(1, recent());
    const rig = await rigFor(s, { auth: undefined });
    assert.equal((await rig.pull()).error, undefined);
    assert.equal(tenantOf().credential.mode, 'secret');
    assert.equal(suite.emulator.requests.filter((r) => r.endpoint === 'token').length, 1);
  });
});
