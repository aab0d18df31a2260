import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DefenderError } from '../../../src/defender/errors';
import type { TransportOptions } from '../../../src/defender/transport/http';
import { bypassesProxy, proxyFor, proxyFromEnvironment } from '../../../src/defender/transport/proxy';
import { DEFAULT_RETRY_POLICY } from '../../../src/defender/transport/retry';
import { Tenant } from '../../../src/defender/tenant';
import { Emulator } from '../../../src/emulator';
import { TestProxy } from '../../fixtures/proxy';

const TENANT = '11111111-2222-3333-4444-555555555555';
const CLIENT_ID = 'proxy-test-client';
const SECRET = 'proxy-test-secret';

const api = new URL('https://wdatp-alertexporter-eu.windows.com/api/alerts');

describe('proxy selection', () => {
  it('reads https_proxy for https targets and http_proxy for http ones, in either case', () => {
    assert.equal(proxyFromEnvironment(api, { HTTPS_PROXY: 'http://proxy:3128' })?.url, 'http://proxy:3128');
    assert.equal(proxyFromEnvironment(api, { https_proxy: 'http://lower:3128', HTTPS_PROXY: 'http://upper:3128' })?.url, 'http://lower:3128');
    assert.equal(proxyFromEnvironment(api, { http_proxy: 'http://only-http:3128' })?.url, 'http://only-http:3128');
    assert.equal(proxyFromEnvironment(new URL('http://127.0.0.1:8080/api/alerts'), { https_proxy: 'http://p:1' }), undefined);
    assert.equal(proxyFromEnvironment(api, {}), undefined);
  });

  it('lets no_proxy send hosts, domains, ports and everything around the proxy', () => {
    assert.ok(bypassesProxy(api, ['windows.com']));
    assert.ok(bypassesProxy(api, ['.windows.com']));
    assert.ok(bypassesProxy(api, ['*.windows.com']));
    assert.ok(bypassesProxy(api, ['wdatp-alertexporter-eu.windows.com:443']));
    assert.ok(!bypassesProxy(api, ['wdatp-alertexporter-eu.windows.com:8443']));
    assert.ok(!bypassesProxy(api, ['dows.com', 'example.com']));
    assert.ok(bypassesProxy(api, ['*']));
    assert.ok(bypassesProxy(new URL('http://[::1]:8080/'), ['[::1]']));
  });

  it('prefers the configured proxy and honours its own exceptions', () => {
    const configured = { url: 'http://corp:8080', noProxy: ['login.microsoftonline.com'] };
    assert.equal(proxyFor(api, configured, true)?.url, 'http://corp:8080');
    assert.equal(proxyFor(new URL('https://login.microsoftonline.com/x'), configured, true), undefined);
    assert.equal(proxyFor(api, undefined, false), undefined);
  });
});

describe('through a real proxy to the emulator over HTTPS', () => {
  const fixtures = path.resolve(__dirname, '..', '..', '..', '..', 'test', 'fixtures', 'tls');
  const ca = fs.readFileSync(path.join(fixtures, 'ca.crt'));
  let emulator: Emulator;
  let proxy: TestProxy;
  const tenants: Tenant[] = [];

  before(async () => {
    emulator = new Emulator({ clientId: CLIENT_ID, clientSecret: SECRET });
    await emulator.listen(0, '127.0.0.1', { key: fs.readFileSync(path.join(fixtures, 'server.key')), cert: fs.readFileSync(path.join(fixtures, 'server.crt')) });
    proxy = new TestProxy();
    await proxy.listen();
  });
  after(async () => {
    for (const t of tenants) t.close();
    await proxy.close();
    await emulator.close();
  });

  function tenant(transport: TransportOptions): Tenant {
    const t = new Tenant({ tenantId: TENANT, clientId: CLIENT_ID, region: 'custom', apiBaseUrl: emulator.url, authorityUrl: emulator.url }, { clientSecret: SECRET }, {
      transport,
      retry: { ...DEFAULT_RETRY_POLICY, maxRetries: 1, baseDelayMs: 1 },
    });
    tenants.push(t);
    return t;
  }
  const pull = (t: Tenant) => t.detections({ timeoutMs: 5000, maxResponseBytes: 1 << 20, retry: { ...DEFAULT_RETRY_POLICY, maxRetries: 0 } }).fetchPage(new URLSearchParams({ ago: 'PT1H' }));

  it('tunnels token and detections requests with CONNECT, trusting the test CA', async () => {
    emulator.addDetections(2, { lastProcessedAt: Date.now() - 60_000 });
    proxy.seen.length = 0;
    const detections = await pull(tenant({ proxy: { url: proxy.url }, tls: { ca } }));
    assert.equal(detections.length, 2);
    const port = new URL(emulator.url).port;
    assert.ok(proxy.seen.length >= 1);
    assert.ok(proxy.seen.every((r) => r.method === 'CONNECT' && r.target === `127.0.0.1:${port}`), JSON.stringify(proxy.seen));
  });

  it('takes the proxy from https_proxy and skips it for no_proxy hosts', async () => {
    const saved = { https_proxy: process.env.https_proxy, no_proxy: process.env.no_proxy };
    try {
      process.env.https_proxy = proxy.url;
      delete process.env.no_proxy;
      proxy.seen.length = 0;
      await pull(tenant({ tls: { ca } }));
      assert.ok(proxy.seen.length >= 1, 'the environment proxy was not used');
      process.env.no_proxy = 'localhost,127.0.0.1';
      proxy.seen.length = 0;
      await pull(tenant({ tls: { ca } }));
      assert.equal(proxy.seen.length, 0, 'no_proxy was ignored');
      proxy.seen.length = 0;
      await pull(tenant({ tls: { ca }, useEnvironmentProxy: false }));
      assert.equal(proxy.seen.length, 0);
    } finally {
      for (const [k, v] of Object.entries(saved)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
    }
  });

  it('refuses a certificate its CA does not vouch for, without retrying', async () => {
    proxy.seen.length = 0;
    await assert.rejects(pull(tenant({ proxy: { url: proxy.url } })), (e: unknown) => {
      assert.ok(e instanceof DefenderError);
      assert.equal(e.retryable, false);
      assert.match(e.message, /certificate/i);
      return true;
    });
    assert.equal(proxy.seen.length, 1, 'a certificate failure must not be retried');
  });

  it('reports a proxy that wants a login', async () => {
    const strict = new TestProxy(`Basic ${Buffer.from('user:right').toString('base64')}`);
    await strict.listen();
    try {
      await assert.rejects(pull(tenant({ proxy: { url: strict.url, username: 'user', password: 'wrong' }, tls: { ca } })), /proxy authentication required/);
      const detections = await pull(tenant({ proxy: { url: strict.url, username: 'user', password: 'right' }, tls: { ca } }));
      assert.ok(Array.isArray(detections));
    } finally {
      await strict.close();
    }
  });
});
