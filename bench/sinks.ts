/**
 * What the `bench-sink` nodes saw. The harness runs in the same process as Node-RED and reads them here.
 */
import { performance } from 'node:perf_hooks';
import type { NodeMessageInFlow } from 'node-red';

export class SinkState {
  count = 0;
  firstAt = 0;
  lastAt = 0;
  /** What `keep` kept, per group (the many-tenants run tags each trigger with its node in msg.source). */
  readonly bySource = new Map<string, unknown[]>();
  /** What to keep of each message, per group (msg.source unless `groupOf` says otherwise); nothing when unset. */
  keep?: (msg: NodeMessageInFlow, at: number) => unknown;
  groupOf: (msg: NodeMessageInFlow) => string = (msg) => String((msg as { source?: unknown }).source);
  /** The last message's msg.error (Catch nodes), for reports. */
  last: unknown;
  private waiters: Array<{ count: number; resolve: () => void }> = [];

  take(msg: NodeMessageInFlow): void {
    const now = performance.now();
    if (this.count === 0) this.firstAt = now;
    this.lastAt = now;
    this.count++;
    this.last = (msg as { error?: unknown }).error;
    if (this.keep) {
      const group = this.groupOf(msg);
      let list = this.bySource.get(group);
      if (!list) this.bySource.set(group, (list = []));
      list.push(this.keep(msg, now));
    }
    if (this.waiters.length > 0) {
      this.waiters = this.waiters.filter((w) => {
        if (this.count < w.count) return true;
        w.resolve();
        return false;
      });
    }
  }

  /** Resolves once `count` messages in all have arrived. */
  until(count: number, timeoutMs: number): Promise<void> {
    if (this.count >= count) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms with ${this.count} of ${count} messages`)), timeoutMs);
      this.waiters.push({
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  reset(): void {
    this.count = 0;
    this.firstAt = 0;
    this.lastAt = 0;
    this.bySource.clear();
  }
}

const sinks = new Map<string, SinkState>();

/** The state of the sink node with this id (created on first ask, by the harness or the node). */
export function sinkFor(id: string): SinkState {
  let state = sinks.get(id);
  if (!state) sinks.set(id, (state = new SinkState()));
  return state;
}
