/**
 * Child process: many tenants. `tenants` defender-config nodes, `nodesPerTenant` defender-detections nodes
 * on each (incremental mode, the defaults), every node triggered every `intervalMs` for `seconds`, like an
 * inject node each (a timer per node here, so the harness knows exactly how many triggers went out).
 * Then the emulator's stream stops and every node pulls once more: each must have delivered every detection
 * exactly once, every trigger must have ended in a summary or an error, and no two pulls of a node may
 * have run at the same time: a Status node follows every node's status, which turns blue ("pulling") when
 * a pull starts and green or red when it ends, so a second blue before the end is an overlap.
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { settle } from './measure';
import { FlowNode, InputNode, startNodeRed } from './node-red';
import { ChildMessage, ParentMessage, report, TenantsConfig, TenantsResult } from './protocol';
import { sinkFor } from './sinks';

interface SummaryRecord {
  at: number;
  triggeredAt: number;
  durationMs: number;
}

type StatusFill = 'blue' | 'yellow' | 'green' | 'red' | 'grey' | undefined;

function tenantId(i: number): string {
  return `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`;
}

function percentiles(values: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...values].sort((a, b) => a - b);
  const at = (q: number): number => (sorted.length === 0 ? 0 : sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]);
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0 };
}

function askParent(message: ChildMessage, answer: ParentMessage['type']): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (m: ParentMessage): void => {
      if (m.type !== answer) return;
      process.off('message', onMessage);
      resolve();
    };
    process.on('message', onMessage);
    process.send?.(message);
  });
}

async function main(): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? '{}') as TenantsConfig;
  const flows: FlowNode[] = [{ id: 'tab', type: 'tab', label: 'tenants' }];
  const credentials: Record<string, Record<string, string>> = {};
  const detectionNodes: string[] = [];
  for (let t = 0; t < config.tenants; t++) {
    const cfg = `cfg${t}`;
    flows.push({
      id: cfg, type: 'defender-config', name: `tenant ${t}`, tenantId: tenantId(t), clientId: config.clientId, region: 'custom',
      api: 'siem', apiBaseUrl: config.url, authorityUrl: config.url, resource: '',
    });
    credentials[cfg] = { clientSecret: config.clientSecret };
    for (let k = 0; k < config.nodesPerTenant; k++) {
      const id = `det${t}_${k}`;
      detectionNodes.push(id);
      flows.push({ id, type: 'defender-detections', z: 'tab', name: '', defender: cfg, wires: [['out'], ['summary']] });
    }
  }
  flows.push(
    { id: 'out', type: 'bench-sink', z: 'tab', wires: [] },
    { id: 'summary', type: 'bench-sink', z: 'tab', wires: [] },
    { id: 'catch', type: 'catch', z: 'tab', scope: null, uncaught: false, wires: [['errors']] },
    { id: 'errors', type: 'bench-sink', z: 'tab', wires: [] },
    { id: 'status', type: 'status', z: 'tab', scope: null, wires: [['statuses']] },
    { id: 'statuses', type: 'bench-sink', z: 'tab', wires: [] },
  );
  const red = await startNodeRed(flows, credentials);
  const out = sinkFor('out');
  const summary = sinkFor('summary');
  const errors = sinkFor('errors');
  out.keep = (msg) => {
    const d = msg.payload as { FullId?: unknown; LastProcessedTimeUtc?: unknown };
    return `${String(d.FullId)}|${String(d.LastProcessedTimeUtc)}`;
  };
  summary.keep = (msg, at): SummaryRecord => ({
    at,
    triggeredAt: Number((msg as { triggeredAt?: unknown }).triggeredAt),
    durationMs: Number((msg.payload as { durationMs?: unknown }).durationMs),
  });
  const statuses = sinkFor('statuses');
  statuses.groupOf = (msg) => String((msg as { status?: { source?: { id?: unknown } } }).status?.source?.id);
  statuses.keep = (msg): StatusFill => (msg as { status?: { fill?: StatusFill } }).status?.fill;
  const errorCodes: Record<string, number> = {};
  errors.keep = (msg) => {
    const code = String((msg as { error?: { code?: unknown } }).error?.code);
    errorCodes[code] = (errorCodes[code] ?? 0) + 1;
    return code;
  };

  const nodes = new Map<string, InputNode>(detectionNodes.map((id) => [id, red.node(id)]));
  const triggers = new Map<string, number>(detectionNodes.map((id) => [id, 0]));
  const trigger = (id: string): void => {
    triggers.set(id, (triggers.get(id) ?? 0) + 1);
    nodes.get(id)?.receive({ payload: Date.now(), source: id, triggeredAt: performance.now() });
  };
  const total = (): number => [...triggers.values()].reduce((a, b) => a + b, 0);
  /** Resolves once every trigger so far has ended in a summary or an error. */
  const settled = (): Promise<void> =>
    new Promise<void>((resolve, reject) => {
      const deadline = Date.now() + 120_000;
      const poll = setInterval(() => {
        if (summary.count + errors.count >= total()) {
          clearInterval(poll);
          resolve();
        } else if (Date.now() > deadline) {
          clearInterval(poll);
          reject(new Error(`pulls did not finish: ${summary.count + errors.count} of ${total()}`));
        }
      }, 50);
    });

  // ---- the measured minute ----
  settle();
  const histogram = monitorEventLoopDelay({ resolution: 10 });
  histogram.enable();
  const cpuBefore = process.cpuUsage();
  const rssStart = process.memoryUsage.rss();
  let rssMax = rssStart;
  const rssTimer = setInterval(() => {
    rssMax = Math.max(rssMax, process.memoryUsage.rss());
  }, 250);
  const startedAt = performance.now();
  const timers: NodeJS.Timeout[] = [];
  detectionNodes.forEach((id, i) => {
    // Spread over the interval, as inject nodes deployed at different times would be.
    const phase = Math.floor((i / detectionNodes.length) * config.intervalMs);
    timers.push(
      setTimeout(() => {
        trigger(id);
        timers.push(setInterval(() => trigger(id), config.intervalMs));
      }, phase),
    );
  });
  await new Promise((resolve) => setTimeout(resolve, config.seconds * 1000));
  for (const timer of timers) clearTimeout(timer);
  const windowMs = performance.now() - startedAt;
  const cpu = process.cpuUsage(cpuBefore);
  histogram.disable();
  await settled();
  clearInterval(rssTimer);
  const rssEnd = process.memoryUsage.rss();

  // ---- the check: no new detections, one more pull each; every node must now have every detection ----
  await askParent({ type: 'stop-stream' }, 'stream-stopped');
  for (const id of detectionNodes) trigger(id);
  await settled();

  let overlapping = 0;
  const pullMs: number[] = [];
  const lagMs: number[] = [];
  const delivered: number[] = [];
  const distinct: number[] = [];
  let duplicatesDelivered = 0;
  for (const id of detectionNodes) {
    const records = (summary.bySource.get(id) ?? []) as SummaryRecord[];
    records.sort((a, b) => a.at - b.at);
    for (const record of records) {
      pullMs.push(record.durationMs);
      lagMs.push(record.at - record.triggeredAt);
    }
    const fills = (statuses.bySource.get(id) ?? []) as StatusFill[];
    if (fills.length < 2 * records.length) throw new Error(`the Status node saw ${fills.length} statuses of ${id} for ${records.length} pulls`);
    let pulling = false;
    for (const fill of fills) {
      if (fill === 'blue') {
        if (pulling) overlapping++;
        pulling = true;
      } else if (fill === 'green' || fill === 'red' || fill === 'grey') {
        pulling = false;
      }
    }
    const keys = (out.bySource.get(id) ?? []) as string[];
    const unique = new Set(keys).size;
    delivered.push(keys.length);
    distinct.push(unique);
    duplicatesDelivered += keys.length - unique;
  }
  const result: TenantsResult = {
    triggers: total(),
    summaries: summary.count,
    errors: errors.count,
    errorCodes,
    lost: total() - summary.count - errors.count,
    overlapping,
    deliveredMin: Math.min(...delivered),
    deliveredMax: Math.max(...delivered),
    distinctMin: Math.min(...distinct),
    distinctMax: Math.max(...distinct),
    duplicatesDelivered,
    pullMs: percentiles(pullMs),
    lagMs: percentiles(lagMs),
    windowMs,
    cpuPercent: ((cpu.user + cpu.system) / 1000 / windowMs) * 100,
    rssStartBytes: rssStart,
    rssMaxBytes: rssMax,
    rssEndBytes: rssEnd,
    maxDelayMs: histogram.max / 1e6,
    p99DelayMs: histogram.percentile(99) / 1e6,
  };
  await red.stop();
  report({ type: 'tenants-result', result });
}

main().catch((err: unknown) => report({ type: 'failed', message: err instanceof Error ? err.stack ?? err.message : String(err) }));
