import assert from 'node:assert/strict';
import net from 'node:net';
import { describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import { helper, loadRig, Message, recent, withEmulatorSuite } from '../fixtures/harness';

const errorOf = (m: Message | undefined): { code?: string; message?: string } => (m?.error ?? {}) as { code?: string; message?: string };
const alerts = (emulator: Emulator) => emulator.requests.filter((r) => r.endpoint === 'alerts');

describe('faults', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 5 }, (e) => (emulator = e));

  async function recovers(fault: Parameters<Emulator['injectFault']>[0], props: Record<string, unknown> = {}): Promise<{ waitedMs: number; requests: number }> {
    emulator.addDetections(3, recent());
    const rig = await loadRig(emulator, props);
    emulator.injectFault(fault);
    const started = Date.now();
    const { detections, error, summary } = await rig.pull();
    assert.equal(error, undefined, `the pull failed: ${errorOf(error).message}`);
    assert.equal(detections.length, 3);
    assert.equal((summary?.payload as { requests: number }).requests, alerts(emulator).length);
    return { waitedMs: Date.now() - started, requests: alerts(emulator).length };
  }

  it('retries a 429 after the Retry-After seconds', async () => {
    const { waitedMs, requests } = await recovers({ kind: 'http429', retryAfter: '1' });
    assert.equal(requests, 2);
    assert.ok(waitedMs >= 950, `waited only ${waitedMs} ms`);
  });

  it('retries a 429 after a Retry-After given as an HTTP date', async () => {
    const { waitedMs, requests } = await recovers({ kind: 'http429', retryAfter: new Date(Date.now() + 2000).toUTCString() });
    assert.equal(requests, 2);
    assert.ok(waitedMs >= 900, `waited only ${waitedMs} ms`);
  });

  it('retries 500 and 503 with backoff and delivers', async () => {
    const { requests } = await recovers({ kind: 'http500', times: 2 });
    assert.equal(requests, 3);
    emulator.reset();
    await helper.unload();
    assert.equal((await recovers({ kind: 'http503', retryAfter: '0' })).requests, 2);
  });

  it('retries a connection reset', async () => {
    assert.equal((await recovers({ kind: 'reset' })).requests, 2);
  });

  it('retries after a request timeout (msg.requestTimeout-like node setting)', async () => {
    assert.equal((await recovers({ kind: 'delay', delayMs: 1500 }, { requestTimeout: 0.3 })).requests, 2);
  });

  it('reports TIMEOUT when every attempt times out, honouring msg.requestTimeout', async () => {
    const rig = await loadRig(emulator, { maxRetries: 1 });
    emulator.injectFault({ kind: 'delay', delayMs: 1500, times: 2 });
    const { error } = await rig.pull({ payload: 1, requestTimeout: 200 });
    assert.equal(errorOf(error).code, 'TIMEOUT');
    assert.match(String(errorOf(error).message), /within 0.2 s/);
    assert.equal(alerts(emulator).length, 2);
  });

  it('gives up on 429 after maxRetries with HTTP_429 and the status on the message', async () => {
    const rig = await loadRig(emulator, { maxRetries: 2 });
    emulator.injectFault({ kind: 'http429', retryAfter: '0', times: Infinity });
    const { error } = await rig.pull();
    assert.equal(errorOf(error).code, 'HTTP_429');
    assert.equal(error?.statusCode, 429);
    assert.equal(alerts(emulator).length, 3);
  });

  it('does not wait for a Retry-After beyond two minutes', async () => {
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'http429', retryAfter: '3600' });
    const { error } = await rig.pull();
    assert.equal(errorOf(error).code, 'HTTP_429');
    assert.match(String(errorOf(error).message), /Retry-After 3600 s/);
    assert.equal(alerts(emulator).length, 1);
  });

  it('names status, content type and an excerpt for a truncated body', async () => {
    emulator.addDetections(3);
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'truncated' });
    const { error } = await rig.pull();
    assert.equal(errorOf(error).code, 'BAD_RESPONSE');
    assert.match(String(errorOf(error).message), /HTTP 200 \(application\/json; charset=utf-8, \d+ bytes\).*It began: "\[\{"AlertTime"/);
  });

  it('names status, content type and an excerpt for an HTML page', async () => {
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'html' });
    const { error } = await rig.pull();
    assert.equal(errorOf(error).code, 'BAD_RESPONSE');
    assert.match(String(errorOf(error).message), /HTTP 200 \(text\/html[^)]*\).*It began: "<!DOCTYPE html>/);
  });

  it('does not follow a redirect, so the token goes nowhere else', async () => {
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'redirect' });
    const { error } = await rig.pull();
    assert.equal(errorOf(error).code, 'REDIRECT');
    assert.equal(error?.statusCode, 302);
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'redirected').length, 0);
  });

  it('refuses a body larger than maxResponseMB for a query it may not cut (an explicit limit)', async () => {
    emulator.addDetections(600);
    const rig = await loadRig(emulator, { maxResponseMB: 0.5 });
    const { error, detections } = await rig.pull({ query: { ago: 'PT3H', limit: 600 } });
    assert.equal(errorOf(error).code, 'TOO_LARGE');
    assert.match(String(errorOf(error).message), /larger than the 0.5 MB limit/);
    assert.equal(detections.length, 0);
  });

  it('retries a token endpoint that answers 500', async () => {
    emulator.addDetections(1, recent());
    const rig = await loadRig(emulator);
    emulator.injectFault({ kind: 'http500', on: 'token' });
    const { error, detections } = await rig.pull();
    assert.equal(error, undefined);
    assert.equal(detections.length, 1);
    assert.equal(emulator.stats.tokenRequests, 2);
  });

  it('keeps working after each kind of failure', async () => {
    const rig = await loadRig(emulator, { maxRetries: 0 });
    for (const kind of ['http403', 'http500', 'truncated', 'html', 'redirect', 'reset'] as const) {
      emulator.injectFault({ kind });
      const failed = await rig.pull();
      assert.ok(failed.error, `${kind} should fail the pull`);
    }
    const added = emulator.addDetections(4, recent());
    const { detections } = await rig.pull();
    assert.equal(detections.length, added.length);
  });

  it('retries a refused connection and then reports NETWORK', async () => {
    const closed = await new Promise<number>((resolve) => {
      const server = net.createServer().listen(0, '127.0.0.1', () => {
        const { port } = server.address() as net.AddressInfo;
        server.close(() => resolve(port));
      });
    });
    const rig = await loadRig(emulator, { maxRetries: 2 }, { config: { apiBaseUrl: `http://127.0.0.1:${closed}` } });
    const { error } = await rig.pull();
    assert.equal(errorOf(error).code, 'NETWORK');
    assert.match(String(errorOf(error).message), /ECONNREFUSED/);
    assert.equal(rig.statuses.filter((s) => s.fill === 'yellow').length, 2, 'two retries announced on the status');
  });
});
