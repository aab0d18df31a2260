/**
 * `npm run emulator`: the emulator alone, as the README starts it, with the switches that make it answer as
 * a large tenant does. Runs the built script in a child process and asks the emulator over HTTP.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import path from 'node:path';
import { afterEach, describe, it } from 'node:test';

const CLI = path.resolve(__dirname, '..', '..', 'src', 'emulator', 'cli.js');

interface Run {
  child: ChildProcess;
  /** Everything printed so far. */
  out: () => string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
}

function run(env: Record<string, string>): Run {
  const child = spawn(process.execPath, [CLI], { env: { ...process.env, PORT: '0', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString('utf8')));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, out: () => out, exited };
}

/** The base URL the emulator printed, once it did. */
async function baseUrl(r: Run): Promise<string> {
  for (let waited = 0; waited < 15_000; waited += 50) {
    const m = /Base URL[^:]*:\s+(http:\/\/127\.0\.0\.1:\d+)/.exec(r.out());
    if (m) return m[1];
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the emulator printed no URL within 15 s: ${r.out()}`);
}

/** The first page of alerts_v2 with a token from the emulator's own sign-in. */
async function alertsPage(url: string, top: number): Promise<Record<string, unknown>> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: 'emulator-client-id',
    client_secret: 'emulator-client-secret',
    scope: 'https://graph.microsoft.com/.default',
  });
  const token = (await (await fetch(`${url}/00000000-0000-4000-8000-000000000000/oauth2/v2.0/token`, { method: 'POST', body: form })).json()) as { access_token: string };
  const res = await fetch(`${url}/v1.0/security/alerts_v2?$top=${top}`, { headers: { Authorization: `Bearer ${token.access_token}` } });
  assert.equal(res.status, 200);
  return (await res.json()) as Record<string, unknown>;
}

describe('npm run emulator', () => {
  let current: Run | undefined;
  afterEach(async () => {
    if (current && current.child.exitCode === null) {
      current.child.kill('SIGTERM');
      await current.exited;
    }
    current = undefined;
  });

  it('pages Graph with @odata.nextLink by default', async () => {
    current = run({});
    const url = await baseUrl(current);
    assert.match(current.out(), /Graph lists with @odata\.nextLink/);
    assert.ok(typeof (await alertsPage(url, 5))['@odata.nextLink'] === 'string', 'a page of 5 of 25 alerts links the next');
  });

  it('answers without @odata.nextLink, as large tenants do, with GRAPH_NEXT_LINK=false', async () => {
    current = run({ GRAPH_NEXT_LINK: 'false' });
    const url = await baseUrl(current);
    assert.match(current.out(), /Graph lists without @odata\.nextLink/);
    const page = await alertsPage(url, 5);
    assert.equal((page.value as unknown[]).length, 5);
    assert.equal(page['@odata.nextLink'], undefined);
  });

  it('refuses a switch it cannot read, saying what it expects, and exits 1', async () => {
    for (const env of [{ GRAPH_NEXT_LINK: 'no' }, { GRAPH_EXPAND_FAILS_ABOVE: 'many' }] as Array<Record<string, string>>) {
      current = run(env);
      assert.equal(await current.exited, 1);
      assert.match(current.out(), /emulator: GRAPH_(NEXT_LINK must be true or false|EXPAND_FAILS_ABOVE must be a number of alerts)/);
    }
  });
});
