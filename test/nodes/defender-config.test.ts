/**
 * The config dialog's Test connection button: POST /defender-config/:id/test on Node-RED's admin app,
 * with the dialog's values, against the emulator over loopback HTTP.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, beforeEach, describe, it } from 'node:test';
import type { NodeAPI } from 'node-red';
import configNode from '../../src/nodes/defender-config';
import type { Emulator } from '../../src/emulator';
import { adminPost, type AdminAnswer, configFlowNode, helper, SECRET, startEmulator } from '../fixtures/harness';

type Answer = AdminAnswer<{ ok: boolean; detections?: number; code?: string; message?: string; statusCode?: number }>;

function post(id: string, body: Record<string, unknown>): Promise<Answer> {
  return adminPost(`/defender-config/${id}/test`, body);
}

/** What the dialog sends: every connection field as it stands, and the secret field's value. */
function dialog(emulator: Emulator, values: Record<string, unknown> = {}): Record<string, unknown> {
  const { id, type, name, ...connection } = configFlowNode(emulator);
  return { ...connection, resource: '', clientSecret: SECRET, ...values };
}

describe('defender-config Test connection', () => {
  let emulator: Emulator;

  before(async () => {
    await helper.startServer();
    emulator = await startEmulator();
  });

  after(async () => {
    await emulator.close();
    await helper.stopServer();
  });

  beforeEach(() => {
    emulator.addDetections(3, { lastProcessedAt: Date.now() - 60_000, spreadMs: 30_000 });
  });

  afterEach(async () => {
    emulator.reset();
    await helper.unload();
  });

  /** A deployed config node 'cfg' with a stored secret, as after the user pressed Deploy. */
  const deploy = (secret = SECRET): Promise<void> => helper.load([configNode], [configFlowNode(emulator)], { cfg: { clientSecret: secret } });

  it('gets a token, reads one detection and answers ok with the secret typed in the dialog', async () => {
    await helper.load([configNode], []);
    const answer = await post('not-deployed-yet', dialog(emulator));
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, { ok: true, detections: 1 });
    const alerts = emulator.requests.filter((r) => r.endpoint === 'alerts');
    assert.equal(alerts.length, 1);
    assert.deepEqual(alerts[0].query, [['limit', '1']]);
    assert.equal(emulator.stats.tokenRequests, 1);
  });

  it('uses the stored secret of the deployed node when the secret field was left unchanged', async () => {
    await deploy();
    const answer = await post('cfg', dialog(emulator, { clientSecret: '__PWRD__' }));
    assert.deepEqual(answer.body, { ok: true, detections: 1 });
  });

  it('tests the values in the dialog, not the deployed ones', async () => {
    await deploy();
    const answer = await post('cfg', dialog(emulator, { clientSecret: '__PWRD__', clientId: 'another-app' }));
    assert.equal(answer.body.ok, false);
    assert.equal(answer.body.code, 'TOKEN_FAILED');
    assert.match(String(answer.body.message), /AADSTS/);
  });

  it('does not touch the deployed node\'s token cache', async () => {
    await deploy();
    const tenant = (helper.getNode('cfg') as unknown as { tenant: { tokens: { get(o: object): Promise<string> } } }).tenant;
    const before = await tenant.tokens.get({});
    await post('cfg', dialog(emulator, { clientSecret: '__PWRD__' }));
    assert.equal(await tenant.tokens.get({}), before);
    assert.equal(emulator.stats.tokenRequests, 2, 'the test asked for a token of its own');
  });

  it('reports a wrong secret with the token service\'s own words', async () => {
    await deploy();
    const answer = await post('cfg', dialog(emulator, { clientSecret: 'a-wrong-secret-typed-by-hand' }));
    assert.equal(answer.body.ok, false);
    assert.equal(answer.body.code, 'TOKEN_FAILED');
    assert.match(String(answer.body.message), /AADSTS7000215/);
    assert.ok(!answer.text.includes('a-wrong-secret-typed-by-hand'));
  });

  it('never returns the secret, even when the token service quotes the request back', async () => {
    await deploy();
    emulator.injectFault({ kind: 'echo', on: 'token', times: Infinity });
    for (const clientSecret of ['__PWRD__', 'typed-secret-quoted-back-1234']) {
      const answer = await post('cfg', dialog(emulator, { clientSecret }));
      assert.equal(answer.body.ok, false);
      assert.equal(answer.body.code, 'TOKEN_FAILED');
      assert.match(String(answer.body.message), /You sent/, 'the service\'s words are shown');
      assert.ok(!answer.text.includes(SECRET), 'the stored secret was returned');
      assert.ok(!answer.text.includes('typed-secret-quoted-back-1234'), 'the typed secret was returned');
    }
  });

  it('never returns the access token, even when the API quotes the request back', async () => {
    await deploy();
    emulator.injectFault({ kind: 'echo', on: 'alerts' });
    const answer = await post('cfg', dialog(emulator, { clientSecret: '__PWRD__' }));
    assert.equal(answer.body.ok, false);
    assert.equal(answer.body.statusCode, 400);
    const tokens = emulator.issuedTokens;
    assert.equal(tokens.length, 1);
    assert.ok(!answer.text.includes(tokens[0]), 'the access token was returned');
  });

  it('gives the seed\'s meaning of a 403, with its code and status', async () => {
    await deploy();
    emulator.injectFault({ kind: 'http403' });
    const answer = await post('cfg', dialog(emulator, { clientSecret: '__PWRD__' }));
    assert.deepEqual({ ok: answer.body.ok, code: answer.body.code, statusCode: answer.body.statusCode }, { ok: false, code: 'HTTP_403', statusCode: 403 });
    assert.match(String(answer.body.message), /not managed by the tenant administrator/);
  });

  it('answers a 429 at once instead of waiting to retry', async () => {
    await deploy();
    emulator.injectFault({ kind: 'http429', retryAfter: '60', times: Infinity });
    const started = Date.now();
    const answer = await post('cfg', dialog(emulator, { clientSecret: '__PWRD__' }));
    assert.equal(answer.body.code, 'HTTP_429');
    assert.ok(Date.now() - started < 5_000, 'the test waited for Retry-After');
    assert.equal(emulator.stats.alertRequests, 1);
  });

  it('refuses invalid settings before any request', async () => {
    await deploy();
    const answer = await post('cfg', dialog(emulator, { tenantId: 'evil.example/../x', clientSecret: '__PWRD__' }));
    assert.equal(answer.body.code, 'INVALID_CONFIG');
    assert.match(String(answer.body.message), /tenantId/);
    const insecure = await post('cfg', dialog(emulator, { apiBaseUrl: 'http://example.com', clientSecret: '__PWRD__' }));
    assert.equal(insecure.body.code, 'INVALID_CONFIG');
    assert.equal(emulator.requests.length, 0);
  });

  it('says so when there is no secret to test with', async () => {
    await helper.load([configNode], []);
    const unchanged = await post('never-deployed', dialog(emulator, { clientSecret: '__PWRD__' }));
    assert.deepEqual([unchanged.body.ok, unchanged.body.code], [false, 'INVALID_CONFIG']);
    const empty = await post('never-deployed', dialog(emulator, { clientSecret: '' }));
    assert.deepEqual([empty.body.ok, empty.body.code], [false, 'INVALID_CONFIG']);
    assert.notEqual(unchanged.body.message, empty.body.message);
    assert.equal(emulator.requests.length, 0);
  });

  it('reports a service that cannot be reached', async () => {
    await helper.load([configNode], []);
    const answer = await post('x', dialog(emulator, { apiBaseUrl: 'http://127.0.0.1:9', authorityUrl: 'http://127.0.0.1:9' }));
    assert.equal(answer.body.ok, false);
    assert.match(String(answer.body.code), /^(TOKEN_FAILED|NETWORK)$/);
    assert.match(String(answer.body.message), /ECONNREFUSED/);
  });

  it('is registered behind the defender-config.write permission, with every credential a password', () => {
    const routes: Array<{ path: string; handlers: unknown[] }> = [];
    const permissions: string[] = [];
    const registered: Array<{ credentials: Record<string, { type: string }> }> = [];
    const guard = (): void => undefined;
    const RED = {
      nodes: { registerType: (_type: string, _node: unknown, options: { credentials: Record<string, { type: string }> }) => registered.push(options) },
      httpAdmin: { post: (path: string, ...handlers: unknown[]) => routes.push({ path, handlers }) },
      auth: {
        needsPermission: (permission: string) => {
          permissions.push(permission);
          return guard;
        },
      },
    } as unknown as NodeAPI;
    configNode(RED);
    assert.deepEqual(routes.map((r) => r.path), ['/defender-config/:id/test', '/defender-config/:id/certificate']);
    assert.deepEqual(permissions, ['defender-config.write', 'defender-config.write']);
    for (const route of routes) assert.equal(route.handlers[0], guard, `the permission check runs before the handler of ${route.path}`);
    // A password credential is never sent back to the editor: the credentials API says only whether it is set.
    assert.deepEqual(registered[0].credentials, { clientSecret: { type: 'password' }, privateKey: { type: 'password' }, privateKeyPassphrase: { type: 'password' }, redisPassword: { type: 'password' } });
  });
});
