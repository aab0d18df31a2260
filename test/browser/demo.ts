/**
 * The `npm start` demo (emulator + a real Node-RED with this build installed) on free loopback ports, in a
 * fresh user folder with an empty flow, for the browser tests. Everything it starts is stopped by stop().
 */
import { ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface Demo {
  /** The editor, e.g. http://127.0.0.1:40123/ */
  editorUrl: string;
  /** The emulator's base URL: both URL fields of a `custom` defender-config. */
  emulatorUrl: string;
  /** Everything the demo printed so far, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

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

export async function startDemo(timeoutMs = 60_000): Promise<Demo> {
  const userDir = fs.mkdtempSync(path.join(os.tmpdir(), 'defender-browser-'));
  // An existing flow file is kept by the demo: an empty one leaves the workspace to the test.
  fs.writeFileSync(path.join(userDir, 'flows.json'), '[]');
  const port = await freePort();
  const script = path.resolve(__dirname, '..', '..', 'src', 'demo', 'start.js');
  // detached: its own process group, so a demo that ignores SIGINT can still be stopped with its Node-RED.
  const child: ChildProcess = spawn(process.execPath, [script], {
    env: { ...process.env, PORT: String(port), EMULATOR_PORT: '0', NODE_RED_DEMO_DIR: userDir },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let seen = '';
  child.stdout?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (seen += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGINT');
      const timer = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), 10_000).unref());
      if ((await Promise.race([exited, timer])) === 'late' && child.pid) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
        await exited;
      }
    }
    fs.rmSync(userDir, { recursive: true, force: true });
  };

  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`Node-RED did not start within ${timeoutMs} ms; output:\n${seen}`)), timeoutMs);
      const check = (): void => {
        if (/Started flows/.test(seen)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout?.on('data', check);
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`the demo exited with ${code}; output:\n${seen}`));
      });
    });
  } catch (err) {
    await stop();
    throw err;
  }
  const emulatorUrl = /emulator on (http:\/\/127\.0\.0\.1:\d+)/.exec(seen)?.[1];
  if (!emulatorUrl) {
    await stop();
    throw new Error(`the demo did not print the emulator's address; output:\n${seen}`);
  }
  return { editorUrl: `http://127.0.0.1:${port}/`, emulatorUrl, output: () => seen, stop };
}
