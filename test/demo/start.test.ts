/**
 * The README's first command: `npm start` brings up the emulator and Node-RED with the demo flow, and
 * detections show in the editor's debug sidebar. This drives the real script and listens as the editor
 * does, on Node-RED's /comms websocket.
 */
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';
import { Demo, startDemo } from '../fixtures/demo';

describe('npm start', () => {
  let demo: Demo | undefined;

  after(async () => {
    await demo?.stop();
  });

  it('serves the editor with the demo flow, and detections reach the debug sidebar', async () => {
    demo = await startDemo();
    const nodes = (await (await fetch(`${demo.editorUrl}nodes`, { headers: { Accept: 'application/json' } })).json()) as Array<{ types: string[] }>;
    const types = nodes.flatMap((n) => n.types);
    assert.ok(types.includes('defender-config') && types.includes('defender-detections'), 'our nodes are not in the palette');

    const socket = new WebSocket(`${demo.editorUrl.replace(/^http/, 'ws')}comms`);
    const detection = await new Promise<Record<string, unknown>>((resolve, reject) => {
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
    socket.close();
    const payload = detection.payload as Record<string, unknown>;
    assert.match(String(payload.AlertId), /^da\d+_\d+$/);
    assert.match(String(detection.topic), /^\[(Informational|Low|Medium|High)\] .+ on .+/);
  });
});
