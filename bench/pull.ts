/**
 * Child process: one large pull, measured, by one of three ways of doing it.
 *
 * - product:  inject → defender-detections → sink (one message per detection), an explicit time window
 * - product-incremental: the same node in its default mode, first pull (initialAgo), so dedupe and the
 *             checkpoint are part of it
 * - product-confirmed: product-incremental with delivery confirmation, the sink as the delivering node:
 *             each message followed through the runtime's hooks until the sink is done with it
 * - product-incidents: defender-incidents in its default mode, first pull: N incidents with their alerts
 *             through Graph (`$expand=alerts`, 50 a page), one message per incident
 * - baseline: what a user builds from core nodes: function (bearer header) → http request (parsed JSON)
 *             → split → sink
 * - floor:    no Node-RED: download the body, JSON.parse it (one object per detection), count them
 * - floor-streamed: no Node-RED, the product's parser: each detection parsed as its bytes arrive
 *
 * Each runs once with a small query first (token, keep-alive connection, compiled code paths), then the
 * measured pull starts from a collected heap.
 */
import http from 'node:http';
import { performance } from 'node:perf_hooks';
import { JsonArraySplitter } from '../src/defender/services/json-array';
import { Measurement } from './measure';
import { FlowNode, startNodeRed } from './node-red';
import { PullConfig, PullResult, report } from './protocol';
import { sinkFor } from './sinks';

const WARM_UP = 200;
const TIMEOUT_MS = 240_000;

const INCIDENTS = (config: PullConfig): boolean => config.variant === 'product-incidents';

/** The measured query: every detection of the group (every incident of the window); `limit` for the warm-up. */
function query(config: PullConfig, limit?: number): Record<string, string> {
  return {
    sinceTimeUtc: config.sinceTimeUtc,
    untilTimeUtc: config.untilTimeUtc,
    ...(INCIDENTS(config) ? {} : { machinegroups: config.machineGroup }),
    ...(limit !== undefined ? { limit: String(limit) } : {}),
  };
}

function alertsUrl(config: PullConfig, limit?: number): string {
  return `${config.url}/api/alerts?${new URLSearchParams(query(config, limit)).toString()}`;
}

async function token(config: PullConfig): Promise<string> {
  const res = await fetch(`${config.url}/${config.tenantId}/oauth2/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      resource: 'https://graph.windows.net',
      client_id: config.clientId,
      client_secret: config.clientSecret,
      grant_type: 'client_credentials',
    }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  if (!body.access_token) throw new Error(`no token from the emulator: HTTP ${res.status}`);
  return body.access_token;
}

async function product(config: PullConfig): Promise<PullResult> {
  const incremental = config.variant !== 'product';
  const confirm = config.variant === 'product-confirmed' ? { confirm: 'nodes', confirmNodes: ['out'] } : {};
  // Incidents: Graph's list, whatever the config node's api. Its rate limit (about 140 requests a minute) is
  // lifted so that the pull's own cost is measured; the parent reports the requests, which that limit paces.
  const pulling = INCIDENTS(config)
    ? { type: 'defender-incidents', alerts: 'include' }
    : { type: 'defender-detections', machinegroups: config.machineGroup };
  const rate = INCIDENTS(config) ? { graphRequestsPerMinute: 1_000_000, graphBurst: 1000 } : {};
  const flows: FlowNode[] = [
    { id: 'tab', type: 'tab', label: 'product' },
    {
      id: 'cfg', type: 'defender-config', name: 'emulator', tenantId: config.tenantId, clientId: config.clientId, region: 'custom',
      api: 'siem', apiBaseUrl: config.url, authorityUrl: config.url, resource: '', ...rate,
    },
    {
      id: 'det', z: 'tab', name: '', defender: 'cfg', incremental, initialAgo: 'PT2H', overlap: 'PT5M',
      ...pulling, requestTimeout: 300, maxRetries: 0, maxResponseMB: 2048, ...confirm, wires: [['out'], ['summary']],
    },
    { id: 'out', type: 'bench-sink', z: 'tab', wires: [] },
    { id: 'summary', type: 'bench-sink', z: 'tab', wires: [] },
    { id: 'catch', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['errors']] },
    { id: 'errors', type: 'bench-sink', z: 'tab', wires: [] },
  ];
  const red = await startNodeRed(flows, { cfg: { clientSecret: config.clientSecret } });
  const det = red.node('det');
  const out = sinkFor('out');
  const summary = sinkFor('summary');
  const errors = sinkFor('errors');
  // The warm-up is an explicit query in both modes, so the incremental checkpoint is still empty after it.
  const pull = async (msg: Record<string, unknown>): Promise<void> => {
    det.receive(msg);
    await Promise.race([
      summary.until(1, TIMEOUT_MS),
      errors.until(1, TIMEOUT_MS).then(() => {
        throw new Error(`the pull failed: ${JSON.stringify(errors.last)}`);
      }),
    ]);
  };
  await pull({ query: query(config, WARM_UP) });
  out.reset();
  summary.reset();

  const measurement = new Measurement();
  measurement.start();
  const startedAt = performance.now();
  await pull(incremental ? { payload: Date.now() } : { query: query(config) });
  const sample = await measurement.stop(out.lastAt);
  if (process.env.BENCH_HEAP) {
    // What the pull left behind once it is over: the heap after a full collection.
    await new Promise((resolve) => setTimeout(resolve, 500));
    (global as { gc?: () => void }).gc?.();
    console.log(`  ${config.variant} heap after the pull: ${(process.memoryUsage().heapUsed / 1024 / 1024).toFixed(1)} MB`);
  }
  await red.stop();
  return {
    variant: config.variant,
    count: config.count,
    received: out.count,
    sample,
    firstMessageMs: out.firstAt - startedAt,
    sendingMs: out.lastAt - out.firstAt,
  };
}

async function baseline(config: PullConfig): Promise<PullResult> {
  const bearer = await token(config);
  const url = alertsUrl(config);
  const flows: FlowNode[] = [
    { id: 'tab', type: 'tab', label: 'baseline' },
    {
      id: 'fn', type: 'function', z: 'tab', name: 'bearer header', outputs: 1, noerr: 0, initialize: '', finalize: '', libs: [],
      func: `msg.url = ${JSON.stringify(url)} + (msg.limit ? '&limit=' + msg.limit : '');\nmsg.headers = { Authorization: 'Bearer ' + ${JSON.stringify(bearer)} };\nreturn msg;`,
      wires: [['req']],
    },
    {
      id: 'req', type: 'http request', z: 'tab', name: '', method: 'GET', ret: 'obj', paytoqs: 'ignore', url: '', tls: '',
      persist: true, proxy: '', insecureHTTPParser: false, authType: '', senderr: true, headers: [], wires: [['split']],
    },
    {
      id: 'split', type: 'split', z: 'tab', name: '', splt: '\\n', spltType: 'str', arraySplt: 1, arraySpltType: 'len',
      stream: false, addname: '', property: 'payload', wires: [['out']],
    },
    { id: 'out', type: 'bench-sink', z: 'tab', wires: [] },
    { id: 'catch', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['errors']] },
    { id: 'errors', type: 'bench-sink', z: 'tab', wires: [] },
  ];
  const red = await startNodeRed(flows);
  const fn = red.node('fn');
  const out = sinkFor('out');
  const errors = sinkFor('errors');
  const pull = async (count: number, limit?: number): Promise<void> => {
    fn.receive({ limit });
    await Promise.race([
      out.until(count, TIMEOUT_MS),
      errors.until(1, TIMEOUT_MS).then(() => {
        throw new Error(`the baseline flow failed: ${JSON.stringify(errors.last)}`);
      }),
    ]);
  };
  await pull(WARM_UP, WARM_UP);
  out.reset();

  const measurement = new Measurement();
  measurement.start();
  await pull(config.count);
  const sample = await measurement.stop(out.lastAt);
  await red.stop();
  return { variant: 'baseline', count: config.count, received: out.count, sample };
}

function download(url: string, bearer: string, agent: http.Agent): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, headers: { Authorization: `Bearer ${bearer}`, Accept: 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => (res.statusCode === 200 ? resolve(Buffer.concat(chunks)) : reject(new Error(`HTTP ${res.statusCode}`))));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

/** The floors' common run: a warm-up download, then one measured download of the whole window. */
async function measureFloor(
  config: PullConfig,
  download: (bearer: string, agent: http.Agent, limit?: number) => Promise<{ objects: number; bytes: number }>,
): Promise<PullResult> {
  const bearer = await token(config);
  const agent = new http.Agent({ keepAlive: true });
  await download(bearer, agent, WARM_UP);
  const measurement = new Measurement();
  measurement.start();
  const { objects, bytes } = await download(bearer, agent);
  const sample = await measurement.stop();
  agent.destroy();
  return { variant: config.variant, count: config.count, received: objects, bodyBytes: bytes, sample };
}

function floor(config: PullConfig): Promise<PullResult> {
  return measureFloor(config, async (bearer, agent, limit) => {
    const body = await download(alertsUrl(config, limit), bearer, agent);
    const parsed = JSON.parse(body.toString('utf8')) as Array<Record<string, unknown>>;
    let objects = 0;
    for (const d of parsed) if (d && typeof d === 'object') objects++;
    return { objects, bytes: body.length };
  });
}

/** The floor with the product's own parser: the body split and parsed as it streams in, no Node-RED. */
function floorStreamed(config: PullConfig): Promise<PullResult> {
  return measureFloor(
    config,
    (bearer, agent, limit) =>
      new Promise((resolve, reject) => {
        const req = http.get(alertsUrl(config, limit), { agent, headers: { Authorization: `Bearer ${bearer}`, Accept: 'application/json' } }, (res) => {
          const splitter = new JsonArraySplitter<Record<string, unknown>>({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] });
          const detections: Array<Record<string, unknown>> = [];
          res.on('data', (chunk: Buffer) => {
            for (const d of splitter.write(chunk)) detections.push(d);
          });
          res.on('end', () => {
            try {
              splitter.end();
              resolve({ objects: detections.length, bytes: splitter.bytes });
            } catch (err) {
              reject(err);
            }
          });
          res.on('error', reject);
        });
        req.on('error', reject);
      }),
  );
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as PullConfig;
  const run = { product, 'product-incremental': product, 'product-confirmed': product, 'product-incidents': product, baseline, floor, 'floor-streamed': floorStreamed }[config.variant];
  report({ type: 'pull-result', result: await run(config) });
}

main().catch((err: unknown) => report({ type: 'failed', message: err instanceof Error ? err.stack ?? err.message : String(err) }));
