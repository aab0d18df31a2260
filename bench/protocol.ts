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

export type ChildMessage =
  | { type: 'pull-result'; result: PullResult }
  | { type: 'lifecycle-result'; result: LifecycleResult }
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
