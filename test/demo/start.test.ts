/**
 * The README's first command: `npm start` brings up the emulator and Node-RED with the demo flow, and
 * detections show in the editor's debug sidebar; with DEMO_AUTH=certificate the demo signs in with a
 * throwaway certificate instead of the secret. This drives the real script and listens as the editor does,
 * on Node-RED's /comms websocket, and asks Node-RED's own admin API what it tells the editor.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Demo, startDemo } from '../fixtures/demo';

/** The first detection the debug sidebar shows. */
async function firstDetection(demo: Demo): Promise<Record<string, unknown>> {
  const socket = new WebSocket(`${demo.editorUrl.replace(/^http/, 'ws')}comms`);
  try {
    return await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no detection reached the debug sidebar within 30 s')), 30_000);
      socket.on('open', () => socket.send(JSON.stringify({ subscribe: 'debug' })));
      socket.on('message', (data) => {
        for (const event of JSON.parse(String(data)) as Array<{ topic: string; data: { name?: string; msg?: string } }>) {
          if (event.topic !== 'debug' || event.data.name !== 'detection' || !event.data.msg) continue;
          clearTimeout(timer);
          resolve(JSON.parse(event.data.msg) as Record<string, unknown>);
        }
      });
      socket.on('error', reject);
    });
  } finally {
    socket.close();
  }
}

describe('npm start', () => {
  let demo: Demo | undefined;

  afterEach(async () => {
    await demo?.stop();
    demo = undefined;
  });

  it('serves the editor with the demo flow, and detections reach the debug sidebar', async () => {
    demo = await startDemo();
    const nodes = (await (await fetch(`${demo.editorUrl}nodes`, { headers: { Accept: 'application/json' } })).json()) as Array<{ types: string[] }>;
    const types = nodes.flatMap((n) => n.types);
    assert.ok(types.includes('defender-config') && types.includes('defender-detections'), 'our nodes are not in the palette');
    const detection = await firstDetection(demo);
    const payload = detection.payload as Record<string, unknown>;
    assert.match(String(payload.AlertId), /^da\d+_\d+$/);
    assert.match(String(detection.topic), /^\[(Informational|Low|Medium|High)\] .+ on .+/);
  });

  it('signs in with a throwaway certificate under DEMO_AUTH=certificate, and the credentials API tells the editor only that the key is set', async () => {
    demo = await startDemo({ env: { DEMO_AUTH: 'certificate' } });
    assert.match(demo.output(), /Certificate sign-in: a throwaway key and certificate \(thumbprint [0-9A-F]{40}\)/);
    const detection = await firstDetection(demo);
    assert.match(String((detection.payload as Record<string, unknown>).AlertId), /^da\d+_\d+$/);
    const flows = (await (await fetch(`${demo.editorUrl}flows`)).json()) as Array<Record<string, unknown>>;
    const config = flows.find((n) => n.id === 'demo-cfg');
    assert.equal(config?.auth, 'certificate');
    const key = fs.readFileSync(path.join(demo.userDir, 'demo-certificate', 'private-key.pem'), 'utf8');
    const answer = await fetch(`${demo.editorUrl}credentials/defender-config/demo-cfg`);
    const text = await answer.text();
    assert.equal(answer.status, 200);
    assert.deepEqual(JSON.parse(text), { has_clientSecret: false, has_privateKey: true, has_privateKeyPassphrase: false, has_redisPassword: false });
    assert.ok(!text.includes(key.split('\n')[1]), 'the credentials API gave out the key');
  });
});
