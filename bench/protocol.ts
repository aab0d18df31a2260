/** What the benchmark's parent process and its measuring children say to each other. */
import type { Sample } from './measure';

export type Variant = 'floor' | 'floor-streamed' | 'baseline' | 'product' | 'product-incremental' | 'product-confirmed' | 'product-incidents';

/** The emulator and credentials every child talks to. */
export interface Target {
  url: string;
  tenantId: string;
  clientId: string;
  clientSecret: string;
}

export interface PullConfig extends Target {
  variant: Variant;
  count: number;
  /** The window holding the detections, and the device group that holds exactly `count` of them. */
  sinceTimeUtc: string;
  untilTimeUtc: string;
  machineGroup: string;
}

export interface PullResult {
  variant: Variant;
  count: number;
  received: number;
  bodyBytes?: number;
  sample: Sample;
  /** Product: trigger to its first message on output 1 (fetch, parse, sort), then first to last (sending). */
  firstMessageMs?: number;
  sendingMs?: number;
}

export interface TenantsConfig extends Target {
  tenants: number;
  nodesPerTenant: number;
  seconds: number;
  intervalMs: number;
}

export interface TenantsResult {
  triggers: number;
  summaries: number;
  errors: number;
  errorCodes: Record<string, number>;
  /** Triggers that never produced a summary or an error. */
  lost: number;
  /** Pulls that started while another pull of the same node was still running (from the node statuses). */
  overlapping: number;
  /** Per node: detections delivered in all, and distinct ones (FullId|LastProcessedTimeUtc). */
  deliveredMin: number;
  deliveredMax: number;
  distinctMin: number;
  distinctMax: number;
  duplicatesDelivered: number;
  pullMs: { p50: number; p99: number; max: number };
  /** Trigger to summary, queueing included. */
  lagMs: { p50: number; p99: number; max: number };
  windowMs: number;
  cpuPercent: number;
  rssStartBytes: number;
  rssMaxBytes: number;
  rssEndBytes: number;
  maxDelayMs: number;
  p99DelayMs: number;
}

/** What remembering alerts costs (bench/lifecycle.ts). */
export interface LifecycleResult {
  count: number;
  /** Heap per remembered alert, after a collection. */
  bytesPerAlert: number;
  /** Classifying `count` first versions into an empty memory, and `count` updates against the full one. */
  buildMs: number;
  updateMs: number;
  updatesSent: number;
  /** The memory as a file context store writes it, and the time to write and to read it back. */
  jsonBytes: number;
  writeMs: number;
  readMs: number;
  /** Read back five days later: alerts still within `remember`. */
  keptAfterRestart: number;
}

/** One commit's time and what it wrote to Redis (the checkpoint, and the alert memory's change or base). */
export interface CommitCost {
  ms: number;
  bytes: number;
}

/** What a pull's commit costs in Redis at `count` remembered alerts (bench/commits.ts). */
export interface CommitsConfig {
  redisUrl: string;
  count: number;
  /** Alerts changed by each slice before its commit. */
  slice: number;
  /** Commits as the store makes them, then whole-memory commits, then read-backs by another replica. */
  commits: number;
  wholeRuns: number;
  reads: number;
}

export interface CommitsResult {
  count: number;
  slice: number;
  /** Commits that appended the slice's changes. */
  delta: CommitCost[];
  /** Commits among the same ones that wrote the whole memory again (the store's compaction). */
  compactions: CommitCost[];
  /** Commits that wrote the whole memory (a store that had not written it yet). */
  whole: CommitCost[];
  /** Another replica reading the checkpoint: the base and `readChanges` changes. */
  read: number[];
  readChanges: number;
  remembered: number;
}

export type ChildMessage =
  | { type: 'pull-result'; result: PullResult }
  | { type: 'lifecycle-result'; result: LifecycleResult }
  | { type: 'commits-result'; result: CommitsResult }
  | { type: 'tenants-result'; result: TenantsResult }
  | { type: 'stop-stream' }
  | { type: 'failed'; message: string };

export type ParentMessage = { type: 'stream-stopped' };

/** Reports to the parent and ends the process (keep-alive sockets and timers need not wind down). */
export function report(message: ChildMessage): void {
  if (!process.send) {
    console.log(JSON.stringify(message, null, 2));
    process.exit(message.type === 'failed' ? 1 : 0);
  }
  process.send(message, () => process.exit(message.type === 'failed' ? 1 : 0));
}
