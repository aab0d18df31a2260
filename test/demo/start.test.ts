/**
 * The README's first command: `npm start` brings up the emulator and Node-RED with the demo flow, and
 * detections show in the editor's debug sidebar. This drives the real script and listens as the editor
 * does, on Node-RED's /comms websocket.
 */
import assert from 'node:assert/strict';
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import WebSocket from 'ws';

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${seen}`)), timeoutMs);
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString();
      if (pattern.test(seen)) {
        clearTimeout(timer);
        child.stdout?.off('data', onData);
        resolve();
      }
    };
    child.stdout?.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`npm start exited with ${code}; output:\n${seen}`));
    });
  });
}

describe('npm start', () => {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'defender-demo-'));
  let child: ChildProcess | undefined;

  after(async () => {
    if (child && child.exitCode === null) {
      const exited = new Promise((resolve) => child?.once('exit', resolve));
      child.kill('SIGINT');
      await exited;
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  });

  it('serves the editor with the demo flow, and detections reach the debug sidebar', async () => {
    const port = await freePort();
    const script = path.resolve(__dirname, '..', '..', 'src', 'demo', 'start.js');
    child = spawn(process.execPath, [script], {
      env: { ...process.env, PORT: String(port), NODE_RED_DEMO_DIR: userDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await waitForOutput(child, /Started flows/, 60_000);

    const nodes = (await (await fetch(`http://127.0.0.1:${port}/nodes`, { headers: { Accept: 'application/json' } })).json()) as Array<{ types: string[] }>;
    const types = nodes.flatMap((n) => n.types);
    assert.ok(types.includes('defender-config') && types.includes('defender-detections'), 'our nodes are not in the palette');

    const socket = new WebSocket(`ws://127.0.0.1:${port}/comms`);
    const detection = await new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no detection reached the debug sidebar within 30 s')), 30_000);
      socket.on('open', () => socket.send(JSON.stringify({ subscribe: 'debug' })));
      socket.on('message', (data) => {
        for (const event of JSON.parse(String(data)) as Array<{ topic: string; data: { name?: string; msg?: string } }>) {
          if (event.topic !== 'debug' || event.data.name !== 'detection' || !event.data.msg) continue;
          const msg = JSON.parse(event.data.msg) as Record<string, unknown>;
          clearTimeout(timer);
          resolve(msg);
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
