/**
 * Enterprise networks: the config node reaches the service through the core `http proxy` node, or the
 * environment's proxy, and trusts a custom CA from the core `tls-config` node. Real parts throughout: a
 * forwarding proxy on loopback, the emulator serving HTTPS with a certificate of a test CA.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import type { NodeAPI } from 'node-red';
import configNode from '../../src/nodes/defender-config';
import detectionsNode from '../../src/nodes/defender-detections';
import { Emulator } from '../../src/emulator';
import { CLIENT_ID, helper, Probe, requireFromNodeRed, SECRET, TENANT } from '../fixtures/harness';
import { TestProxy } from '../fixtures/proxy';

const tlsDir = path.resolve(__dirname, '..', '..', '..', 'test', 'fixtures', 'tls');
const httpProxyNode = requireFromNodeRed('@node-red/nodes/core/network/06-httpproxy.js') as (RED: NodeAPI) => void;
const tlsConfigNode = requireFromNodeRed('@node-red/nodes/core/network/05-tls.js') as (RED: NodeAPI) => void;

describe('proxy and TLS from the core config nodes', () => {
  let emulator: Emulator;
  let proxy: TestProxy;

  before(async () => {
    await helper.startServer();
    emulator = new Emulator({ clientId: CLIENT_ID, clientSecret: SECRET });
    await emulator.listen(0, '127.0.0.1', { key: fs.readFileSync(path.join(tlsDir, 'server.key')), cert: fs.readFileSync(path.join(tlsDir, 'server.crt')) });
    proxy = new TestProxy(`Basic ${Buffer.from('nr:proxy-pass').toString('base64')}`);
    await proxy.listen();
  });
  after(async () => {
    await proxy.close();
    await emulator.close();
    await helper.stopServer();
  });
  afterEach(async () => {
    await helper.unload();
    proxy.seen.length = 0;
  });

  async function pullOnce(config: Record<string, unknown>, extra: Array<Record<string, unknown> & { id: string; type: string }>) {
    const flow = [
      { id: 'tab', type: 'tab', label: 'network' },
      { id: 'cfg', type: 'defender-config', tenantId: TENANT, clientId: CLIENT_ID, region: 'custom', api: 'siem', apiBaseUrl: emulator.url, authorityUrl: emulator.url, ...config },
      ...extra,
      { id: 'det', type: 'defender-detections', z: 'tab', defender: 'cfg', incremental: false, maxRetries: 0, wires: [['out'], ['sum']] },
      { id: 'out', type: 'helper', z: 'tab' },
      { id: 'sum', type: 'helper', z: 'tab' },
      { id: 'on-error', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['caught']] },
      { id: 'caught', type: 'helper', z: 'tab' },
    ];
    await helper.load([configNode, detectionsNode, httpProxyNode, tlsConfigNode], flow, {
      cfg: { clientSecret: SECRET },
      proxy1: { username: 'nr', password: 'proxy-pass' },
    });
    const summaries = new Probe(helper.getNode('sum'));
    const errors = new Probe(helper.getNode('caught'));
    const detections = new Probe(helper.getNode('out'));
    helper.getNode('det').receive({ query: { ago: 'PT1H' } });
    const settled = new AbortController();
    await Promise.race([summaries.until(1, 20_000, settled.signal), errors.until(1, 20_000, settled.signal)]);
    settled.abort();
    return { detections: detections.messages, error: errors.messages[0]?.error as { code: string; message: string } | undefined };
  }

  const tlsNode = { id: 'tls1', type: 'tls-config', cert: '', key: '', ca: path.join(tlsDir, 'ca.crt'), verifyservercert: true, servername: '' };
  const proxyNode = { id: 'proxy1', type: 'http proxy', url: '', noproxy: [] as string[] };

  it('tunnels through the chosen http proxy node with its login, trusting the CA of the chosen tls-config node', async () => {
    emulator.addDetections(3, { lastProcessedAt: Date.now() - 60_000 });
    const { detections, error } = await pullOnce({ proxy: 'proxy1', tls: 'tls1' }, [{ ...proxyNode, url: proxy.url }, tlsNode]);
    assert.equal(error, undefined, error?.message);
    assert.equal(detections.length, 3);
    const port = new URL(emulator.url).port;
    // Token and detections requests share one kept-alive tunnel to the same host.
    assert.ok(proxy.seen.length >= 1, 'nothing went through the proxy');
    assert.ok(proxy.seen.every((r) => r.method === 'CONNECT' && r.target === `127.0.0.1:${port}`));
    assert.ok(proxy.seen.every((r) => r.authorization === `Basic ${Buffer.from('nr:proxy-pass').toString('base64')}`));
  });

  it('goes direct for a host in the proxy node’s no-proxy list', async () => {
    const { error } = await pullOnce({ proxy: 'proxy1', tls: 'tls1' }, [{ ...proxyNode, url: proxy.url, noproxy: ['127.0.0.1'] }, tlsNode]);
    assert.equal(error, undefined, error?.message);
    assert.equal(proxy.seen.length, 0);
  });

  it('refuses the service’s certificate without the custom CA, and says so', async () => {
    const { error } = await pullOnce({ proxy: 'proxy1' }, [{ ...proxyNode, url: proxy.url }]);
    assert.equal(error?.code, 'NETWORK');
    assert.match(error?.message ?? '', /certificate/i);
    assert.equal(proxy.seen.length, 1, 'a certificate failure is not retried');
  });
});
