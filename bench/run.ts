/**
 * `npm run bench`: the emulator in this process, each measured variant in a child process of its own (so
 * its RSS holds nothing else), a table at the end.
 *
 *   node dist/bench/run.js [--sizes 10000,100000] [--runs 3] [--tenants 50] [--nodes-per-tenant 4]
 *                          [--seconds 60] [--no-tenants] [--no-pulls] [--variants product,product-confirmed]
 *                          [--old-space 128]   (each measured child with --max-old-space-size=128, a small device)
 *                          [--incidents-up-to 10000] [--alerts-per-incident 3]
 *
 * 1. One large pull of N detections, by the product node (explicit window, and incremental first pull), by
 *    the core-node baseline (function → http request → split), by the floor (download + JSON.parse, no
 *    Node-RED) and by the floor with the product's streaming parser: wall and CPU time from trigger to the
 *    last downstream message, the longest event-loop stall, peak RSS growth. Median of `runs`. And one pull
 *    of N incidents with their alerts by the incidents node (product-incidents, sizes up to 10 000 unless told).
 * 2. Many tenants: config and detections nodes polling every second for a minute (see tenants.ts).
 */
import { fork } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { GRAPH_RATE_LIMIT } from '../src/defender/services/graph-rate';
import { Emulator } from '../src/emulator';
import type { ChildMessage, LifecycleResult, PullConfig, PullResult, TenantsConfig, TenantsResult, Target, Variant } from './protocol';

const CLIENT_ID = 'bench-client-id';
const CLIENT_SECRET = 'bench-client-secret';
const TENANT = '11111111-2222-3333-4444-555555555555';
const VARIANTS: Variant[] = ['floor', 'floor-streamed', 'baseline', 'product', 'product-incremental', 'product-confirmed', 'product-incidents'];
const CHILD_TIMEOUT_MS = 10 * 60_000;

interface Options {
  sizes: number[];
  runs: number;
  tenants: number;
  nodesPerTenant: number;
  seconds: number;
  pulls: boolean;
  tenantsRun: boolean;
  lifecycle: boolean;
  /** Alerts remembered in the lifecycle measurement. */
  remembered: number;
  /** Above this many detections only the streamed floor and the product run: the core-node baseline would need gigabytes, the floor a string longer than V8 allows. */
  baselineUpTo: number;
  /** The pull variants to run (all by default). */
  variants: Variant[];
  /** --max-old-space-size of each measured child, in MB: a small device or container; none by default. */
  oldSpaceMb?: number;
  /** Above this many, no incidents pull: the emulator builds every incident of its alerts for each page it answers. */
  incidentsUpTo: number;
  alertsPerIncident: number;
}

function options(argv: string[]): Options {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  return {
    sizes: (value('sizes') ?? '10000,100000,500000').split(',').map(Number),
    runs: Number(value('runs') ?? 3),
    tenants: Number(value('tenants') ?? 50),
    nodesPerTenant: Number(value('nodes-per-tenant') ?? 4),
    seconds: Number(value('seconds') ?? 60),
    pulls: !argv.includes('--no-pulls'),
    tenantsRun: !argv.includes('--no-tenants'),
    lifecycle: !argv.includes('--no-lifecycle'),
    remembered: Number(value('remembered') ?? 100_000),
    baselineUpTo: Number(value('baseline-up-to') ?? 100_000),
    variants: (value('variants')?.split(',') as Variant[] | undefined) ?? VARIANTS,
    oldSpaceMb: value('old-space') ? Number(value('old-space')) : undefined,
    incidentsUpTo: Number(value('incidents-up-to') ?? 10_000),
    alertsPerIncident: Number(value('alerts-per-incident') ?? 3),
  };
}

/** Runs a child to completion; `onMessage` answers what it asks on the way. */
function child<T>(script: string, config: object, onMessage: (m: ChildMessage, reply: (r: object) => void) => T | undefined, oldSpaceMb?: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const proc = fork(path.join(__dirname, script), [JSON.stringify(config)], {
      execArgv: [
        '--expose-gc',
        ...(oldSpaceMb ? [`--max-old-space-size=${oldSpaceMb}`] : []),
        ...(process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : []),
      ],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled = false;
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      if (!settled) reject(new Error(`${script} took longer than ${CHILD_TIMEOUT_MS / 1000} s`));
      settled = true;
    }, CHILD_TIMEOUT_MS);
    proc.on('message', (m: ChildMessage) => {
      if (m.type === 'failed') {
        settled = true;
        reject(new Error(`${script}: ${m.message}`));
        return;
      }
      const result = onMessage(m, (r) => proc.send(r));
      if (result !== undefined) {
        settled = true;
        resolve(result);
      }
    });
    proc.on('exit', (code) => {
      clearTimeout(timer);
      if (!settled) reject(new Error(`${script} exited with code ${code} before reporting`));
    });
  });
}

const mb = (bytes: number): string => (bytes / 1024 / 1024).toFixed(1);
const ms = (n: number): string => (n >= 100 ? n.toFixed(0) : n.toFixed(1));
const ratio = (a: number, b: number): string => (b > 0 ? (a / b).toFixed(2) : 'n/a');

function median(results: PullResult[], pick: (r: PullResult) => number): number {
  const values = results.map(pick).sort((a, b) => a - b);
  const mid = Math.floor(values.length / 2);
  return values.length % 2 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
}

function machine(): string[] {
  const cpus = os.cpus();
  return [
    `node ${process.version}, ${os.platform()} ${os.release()}`,
    `${cpus.length} CPU(s): ${cpus[0]?.model ?? 'unknown'}`,
    `memory ${mb(os.totalmem())} MB total, ${mb(os.freemem())} MB free at start`,
    `load average at start ${os.loadavg().map((l) => l.toFixed(2)).join(' ')} (anything else running skews the numbers)`,
  ];
}

/**
 * An emulator holding `count` incidents of `alerts` alerts each, changed over the hour before the last ten
 * minutes, and nothing else (its own: the detections of the other variants would make incidents of their own).
 */
async function incidentsEmulator(count: number, alerts: number, now: number): Promise<{ emulator: Emulator; url: string }> {
  const emulator = new Emulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, seed: 3 });
  const url = await emulator.listen(0, '127.0.0.1');
  const t0 = Date.now();
  const newest = now - 10 * 60_000;
  for (let i = 0; i < count; i++) {
    const at = newest - Math.floor(((count - i) * 60 * 60_000) / count);
    for (let a = 0; a < alerts; a++) emulator.addDetection({ LastProcessedTimeUtc: at - a }, { graph: { incidentId: String(10_000 + i) } });
  }
  console.log(`emulator on ${url} with ${count} incidents of ${alerts} alerts (generated in ${Date.now() - t0} ms)`);
  return { emulator, url };
}

async function pulls(opts: Options): Promise<string[]> {
  const lines: string[] = [];
  for (const count of opts.sizes) {
    // An emulator per size, holding that size's detections (and a tenth as many of another group, which the
    // query filters out): a pull of 100 000 is not slowed by an emulator holding the 500 000 of the next row.
    const emulator = new Emulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, seed: 1 });
    const url = await emulator.listen(0, '127.0.0.1');
    const now = Date.now();
    const t0 = Date.now();
    emulator.addDetections(count, { lastProcessedAt: now - 10 * 60_000, spreadMs: 60 * 60_000, machineGroup: `bench-${count}` });
    emulator.addDetections(Math.ceil(count / 10), { lastProcessedAt: now - 10 * 60_000, spreadMs: 60 * 60_000, machineGroup: 'bench-other' });
    const target: Target = { url, tenantId: TENANT, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET };
    const window = { sinceTimeUtc: new Date(now - 2 * 3600_000).toISOString(), untilTimeUtc: new Date(now).toISOString() };
    console.log(`emulator on ${url} with ${emulator.detections.length} detections (generated in ${Date.now() - t0} ms)`);
    const results: Record<Variant, PullResult[]> = { floor: [], 'floor-streamed': [], baseline: [], product: [], 'product-incremental': [], 'product-confirmed': [], 'product-incidents': [] };
    const variants = opts.variants.filter(
      (v) => (count <= opts.baselineUpTo || (v !== 'floor' && v !== 'baseline')) && (v !== 'product-incidents' || count <= opts.incidentsUpTo),
    );
    const incidents = variants.includes('product-incidents') ? await incidentsEmulator(count, opts.alertsPerIncident, now) : undefined;
    /** Graph requests of each incidents pull (the child's warm-up of 200 incidents, 4 pages, included). */
    const incidentRequests: number[] = [];
    for (let run = 1; run <= opts.runs; run++) {
      for (const variant of variants) {
        const at = variant === 'product-incidents' && incidents ? { ...target, url: incidents.url } : target;
        const config: PullConfig = { ...at, ...window, variant, count, machineGroup: `bench-${count}` };
        const asked = incidents?.emulator.requests.length ?? 0;
        const result = await child<PullResult>('pull.js', config, (m) => (m.type === 'pull-result' ? m.result : undefined), opts.oldSpaceMb);
        if (variant === 'product-incidents' && incidents) {
          incidentRequests.push(incidents.emulator.requests.slice(asked).filter((r) => r.endpoint === 'graph-incidents' || r.endpoint === 'graph-incident').length);
        }
        if (result.received !== count) throw new Error(`${variant} delivered ${result.received} of ${count} detections`);
        results[variant].push(result);
        const s = result.sample;
        console.log(
          `  N=${count} run ${run} ${variant.padEnd(14)} ${ms(s.wallMs).padStart(7)} ms  max stall ${ms(s.maxDelayMs).padStart(6)} ms  ` +
            `RSS +${mb(s.rssGrowthBytes)} MB${s.peakExact ? '' : ' (lifetime peak)'}  CPU ${ms(s.cpuMs)} ms` +
            (result.firstMessageMs !== undefined ? `  [first message ${ms(result.firstMessageMs)} ms, sending ${ms(result.sendingMs ?? 0)} ms]` : ''),
        );
      }
    }
    const body = (results.floor[0] ?? results['floor-streamed'][0])?.bodyBytes ?? 0;
    const row = (variant: Variant): string => {
      const r = results[variant];
      const growth = median(r, (x) => x.sample.rssGrowthBytes);
      // The body is the detections' one: an incidents pull downloads another.
      const perBody = variant === 'product-incidents' ? 'n/a' : ratio(growth, body);
      return `| ${count} | ${variant} | ${ms(median(r, (x) => x.sample.wallMs))} | ${ms(median(r, (x) => x.sample.cpuMs))} | ${ms(median(r, (x) => x.sample.maxDelayMs))} | ${ms(median(r, (x) => x.sample.p99DelayMs))} | ${mb(growth)} | ${perBody} |`;
    };
    const m = (variant: Variant, pick: (r: PullResult) => number): number => median(results[variant], pick);
    const wall = (x: PullResult): number => x.sample.wallMs;
    const stall = (x: PullResult): number => x.sample.maxDelayMs;
    const rss = (x: PullResult): number => x.sample.rssGrowthBytes;
    const cpu = (x: PullResult): number => x.sample.cpuMs;
    lines.push(
      '',
      variants.every((v) => v === 'product-incidents')
        ? `N = ${count} incidents, median of ${opts.runs} runs`
        : `N = ${count} detections, body ${mb(body)} MB (${Math.round(body / count)} bytes per detection), median of ${opts.runs} runs`,
      '',
      '| N | variant | wall ms | CPU ms | max event-loop delay ms | p99 delay ms | peak RSS growth MB | growth / body |',
      '|---|---|---|---|---|---|---|---|',
      ...variants.map(row),
      '',
      ...(['product', 'product-incremental', 'product-confirmed'] as const).filter((p) => variants.includes(p)).flatMap((p) => [
        ...(variants.includes('baseline') && variants.includes('floor')
          ? [
              `${p} / baseline: time ${ratio(m(p, wall), m('baseline', wall))}, CPU ${ratio(m(p, cpu), m('baseline', cpu))}, max delay ${ratio(m(p, stall), m('baseline', stall))}, RSS growth ${ratio(m(p, rss), m('baseline', rss))}`,
              `${p} / floor: time ${ratio(m(p, wall), m('floor', wall))}, CPU ${ratio(m(p, cpu), m('floor', cpu))}, max delay ${ratio(m(p, stall), m('floor', stall))}, RSS growth ${ratio(m(p, rss), m('floor', rss))}`,
            ]
          : []),
        `${p} / floor-streamed: time ${ratio(m(p, wall), m('floor-streamed', wall))}, CPU ${ratio(m(p, cpu), m('floor-streamed', cpu))}, RSS growth ${ratio(m(p, rss), m('floor-streamed', rss))}`,
        `${p}: trigger to first message (download, parse, sort${p === 'product' ? '' : ', dedupe, checkpoint'}${p === 'product-confirmed' ? ', delivery ledger' : ''}) ${ms(m(p, (x) => x.firstMessageMs ?? 0))} ms; first to last message (one Node-RED message per detection) ${ms(m(p, (x) => x.sendingMs ?? 0))} ms`,
      ]),
      ...(variants.includes('product-incidents')
        ? [
            `product-incidents: ${count} incidents of ${opts.alertsPerIncident} alerts, the node's Graph rate limit lifted; trigger to first message ${ms(m('product-incidents', (x) => x.firstMessageMs ?? 0))} ms, ` +
              `first to last ${ms(m('product-incidents', (x) => x.sendingMs ?? 0))} ms; Graph requests per pull ${incidentRequests.join(', ')} (warm-up included), ` +
              `at the node's default Graph rate (${GRAPH_RATE_LIMIT.perMinute} a minute) at least ${((Math.max(...incidentRequests) / GRAPH_RATE_LIMIT.perMinute) * 60).toFixed(0)} s`,
          ]
        : []),
    );
    await incidents?.emulator.close();
    await emulator.close();
  }
  return lines;
}

async function tenants(opts: Options): Promise<string[]> {
  const lifetime = 20;
  const emulator = new Emulator({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, seed: 2, tokenLifetimeSeconds: lifetime });
  const url = await emulator.listen(0, '127.0.0.1');
  emulator.addDetections(40, { lastProcessedAt: Date.now() - 60_000, spreadMs: 100 * 60_000 });
  emulator.startStream({ everyMs: 1000, perTick: 1 });
  const config: TenantsConfig = {
    url, tenantId: '', clientId: CLIENT_ID, clientSecret: CLIENT_SECRET,
    tenants: opts.tenants, nodesPerTenant: opts.nodesPerTenant, seconds: opts.seconds, intervalMs: 1000,
  };
  const cpuBefore = process.cpuUsage();
  const started = Date.now();
  let measuredMs = 0;
  let emulatorCpuMs = 0;
  const result = await child<TenantsResult>('tenants.js', config, (m, reply) => {
    if (m.type === 'stop-stream') {
      emulator.stopStream();
      measuredMs = Date.now() - started;
      const cpu = process.cpuUsage(cpuBefore);
      emulatorCpuMs = (cpu.user + cpu.system) / 1000;
      reply({ type: 'stream-stopped' });
      return undefined;
    }
    return m.type === 'tenants-result' ? m.result : undefined;
  });
  const tokenRequests = new Map<string, number>();
  for (const r of emulator.requests) if (r.endpoint === 'token') tokenRequests.set(r.path, (tokenRequests.get(r.path) ?? 0) + 1);
  const perTenant = [...tokenRequests.values()];
  const alertRequests = emulator.requests.filter((r) => r.endpoint === 'alerts').length;
  const detections = emulator.detections.length;
  await emulator.close();
  // A token is renewed a tenth of its lifetime before it expires.
  const renewEveryS = lifetime - lifetime / 10;
  const runS = measuredMs / 1000;
  const expectedTokens = Math.floor(runS / renewEveryS) + 1;
  const nodes = opts.tenants * opts.nodesPerTenant;
  return [
    '',
    `Many tenants: ${opts.tenants} defender-config nodes, ${nodes} defender-detections nodes (incremental, defaults), each triggered every second for ${opts.seconds} s; token lifetime ${lifetime} s; the emulator adds one detection a second`,
    '',
    '| measure | value |',
    '|---|---|',
    `| pulls triggered / summaries / errors | ${result.triggers} / ${result.summaries} / ${result.errors}${result.errors ? ` ${JSON.stringify(result.errorCodes)}` : ''} |`,
    `| pulls lost / overlapping | ${result.lost} / ${result.overlapping} |`,
    `| detections in the emulator / delivered per node (min–max) / distinct per node / duplicates | ${detections} / ${result.deliveredMin}–${result.deliveredMax} / ${result.distinctMin}–${result.distinctMax} / ${result.duplicatesDelivered} |`,
    `| token requests per tenant (min–max) / expected for ${runS.toFixed(0)} s | ${Math.min(...perTenant)}–${Math.max(...perTenant)} over ${perTenant.length} tenants / ${expectedTokens} |`,
    `| detections API requests | ${alertRequests} |`,
    `| pull duration p50 / p99 / max ms | ${ms(result.pullMs.p50)} / ${ms(result.pullMs.p99)} / ${ms(result.pullMs.max)} |`,
    `| trigger to summary p50 / p99 / max ms | ${ms(result.lagMs.p50)} / ${ms(result.lagMs.p99)} / ${ms(result.lagMs.max)} |`,
    `| Node-RED process CPU over the minute | ${result.cpuPercent.toFixed(1)} % of one core |`,
    `| Node-RED process RSS start / max / end MB | ${mb(result.rssStartBytes)} / ${mb(result.rssMaxBytes)} / ${mb(result.rssEndBytes)} |`,
    `| event-loop delay max / p99 ms | ${ms(result.maxDelayMs)} / ${ms(result.p99DelayMs)} |`,
    `| emulator process CPU (for scale) | ${((emulatorCpuMs / measuredMs) * 100).toFixed(1)} % of one core |`,
  ];
}

async function lifecycle(opts: Options): Promise<string[]> {
  const r = await child<LifecycleResult>('lifecycle.js', { count: opts.remembered }, (m) => (m.type === 'lifecycle-result' ? m.result : undefined));
  const perThousand = (total: number): string => ((total / r.count) * 1000).toFixed(2);
  return [
    '',
    `Remembering alerts (events/remember): ${r.count} alerts shaped as Graph's, in one child process`,
    '',
    '| measure | value |',
    '|---|---|',
    `| heap per remembered alert | ${r.bytesPerAlert.toFixed(0)} bytes (${mb(r.bytesPerAlert * r.count)} MB for ${r.count}) |`,
    `| first versions into an empty memory | ${ms(r.buildMs)} ms (${perThousand(r.buildMs)} ms per 1 000) |`,
    `| updates classified against the full memory (events: triage) | ${ms(r.updateMs)} ms (${perThousand(r.updateMs)} ms per 1 000), ${r.updatesSent} sent |`,
    `| written as a file context store writes it (JSON) | ${mb(r.jsonBytes)} MB in ${ms(r.writeMs)} ms |`,
    `| read back after a restart, forgetting what remember no longer covers | ${ms(r.readMs)} ms, ${r.keptAfterRestart} of ${r.count} kept five days later |`,
  ];
}

async function main(): Promise<void> {
  const opts = options(process.argv.slice(2));
  const started = Date.now();
  const lines = ['Machine:', ...machine().map((l) => `- ${l}`)];
  if (opts.pulls) lines.push(...(await pulls(opts)));
  if (opts.tenantsRun) lines.push(...(await tenants(opts)));
  if (opts.lifecycle) lines.push(...(await lifecycle(opts)));
  lines.push('', `bench finished in ${((Date.now() - started) / 1000).toFixed(0)} s, load average at the end ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}`);
  console.log(`\n${lines.join('\n')}`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
