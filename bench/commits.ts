/**
 * Child process: what one pull's commit costs in Redis at N remembered alerts (issue 21: a commit's cost
 * follows its slice, not the memory). The real store (src/defender/coordination/redis-checkpoints.ts) against
 * the redis-server the parent started: after each slice of `slice` changed alerts, a commit as the store makes
 * it (the records changed since the last commit, appended to the list beside the base; now and then the whole
 * memory again, its compaction), then commits that write the whole memory (a store that has not written this
 * memory yet writes it whole, as after a write that failed), and the read-back of another replica (base and
 * changes) after a restart.
 */
import { performance } from 'node:perf_hooks';
import { RedisCoordination } from '../src/defender/coordination/coordination';
import { nodeKeys } from '../src/defender/coordination/lease';
import { RedisCheckpoints } from '../src/defender/coordination/redis-checkpoints';
import type { Checkpoint } from '../src/defender/pulling/checkpoint';
import { AlertMemory, graphFacts } from '../src/defender/pulling/lifecycle';
import { alert, DAY, versionTime } from './alerts';
import { type CommitsConfig, type CommitsResult, report } from './protocol';

const NODE = 'bench-node';
const KEY = 'checkpoint';
const TTL_MS = 10 * 60_000;

async function main(config: CommitsConfig): Promise<CommitsResult> {
  const { count, slice } = config;
  const now = Date.now();
  const memory = new AlertMemory(undefined, now, 30 * DAY);
  for (let i = 0; i < count; i++) memory.observe(graphFacts(alert(i, 0, now)), versionTime(i, 0, now), 'all');
  memory.settle(memory.position);
  let version = 0;
  let next = 0;
  /** A slice: `slice` alerts (the next ones round the memory) in a later version each, all sent. */
  const pullSlice = (): void => {
    version++;
    for (let j = 0; j < slice; j++, next = (next + 1) % count) memory.observe(graphFacts(alert(next, version, now)), versionTime(next, version, now), 'all');
    memory.settle(memory.position);
  };
  const checkpoint = (): Checkpoint => ({ version: 1, highest: new Date(now).toISOString(), keys: [], alerts: memory.state });

  const prefix = `bench-commits-${count}:`;
  const settings = { url: config.redisUrl, keyPrefix: prefix, leaseTtlMs: TTL_MS };
  const writer = new RedisCoordination(settings);
  const reader = new RedisCoordination(settings);
  try {
    const own = writer.forNode(NODE);
    if ((await own.lease.acquire()) === 'standby') throw new Error('the bench could not take its lease');
    const name = nodeKeys(prefix, NODE).checkpoint(KEY);
    /** What the last commit wrote: the checkpoint, and the last change appended or else the whole base. */
    const written = async (): Promise<{ bytes: number; whole: boolean; changes: number }> => {
      const [checkpointBytes, baseBytes, changes, last] = (await writer.link.eval(
        "return {redis.call('STRLEN', KEYS[1]), redis.call('STRLEN', KEYS[2]), redis.call('LLEN', KEYS[3]), redis.call('LINDEX', KEYS[3], -1)}",
        [name, `${name}:alerts`, `${name}:alerts-changes`],
        [],
      )) as [number, number, number, string | null];
      const whole = Number(changes) === 0;
      return { bytes: Number(checkpointBytes) + (whole ? Number(baseBytes) : (last ?? '').length), whole, changes: Number(changes) };
    };
    const timed = async (store: RedisCheckpoints): Promise<{ ms: number; bytes: number; whole: boolean; changes: number }> => {
      const t0 = performance.now();
      await store.save(KEY, checkpoint());
      const ms = performance.now() - t0;
      return { ms, ...(await written()) };
    };

    // The first commit writes the base; then the commits of slices, as the store makes them.
    await timed(own.checkpoints);
    const delta: CommitsResult['delta'] = [];
    const compactions: CommitsResult['compactions'] = [];
    let changesAtEnd = 0;
    for (let c = 0; c < config.commits; c++) {
      pullSlice();
      const r = await timed(own.checkpoints);
      (r.whole ? compactions : delta).push({ ms: r.ms, bytes: r.bytes });
      changesAtEnd = r.changes;
    }

    // Another replica after a restart: reads the base and applies the changes.
    const read: number[] = [];
    let readSize = 0;
    for (let r = 0; r < config.reads; r++) {
      const t0 = performance.now();
      const loaded = await reader.forNode(NODE).checkpoints.load(KEY);
      read.push(performance.now() - t0);
      readSize = loaded?.alerts && 'size' in loaded.alerts ? (loaded.alerts as { size: number }).size : 0;
    }
    if (readSize !== memory.size) throw new Error(`read back ${readSize} of ${memory.size} alerts`);

    // The whole memory at each commit: a store that has not written this memory yet writes all of it.
    const whole: CommitsResult['whole'] = [];
    for (let w = 0; w < config.wholeRuns; w++) {
      pullSlice();
      const r = await timed(new RedisCheckpoints(writer.link, own.lease, nodeKeys(prefix, NODE), TTL_MS));
      if (!r.whole) throw new Error('a fresh store wrote changes, not the whole memory');
      whole.push({ ms: r.ms, bytes: r.bytes });
    }
    await writer.link.eval("for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end return 1", [], [`${prefix}*`]);
    return { count, slice, delta, compactions, whole, read, readChanges: changesAtEnd, remembered: memory.size };
  } finally {
    await writer.close();
    await reader.close();
  }
}

const config = JSON.parse(process.argv[2] ?? '{}') as CommitsConfig;
main(config).then(
  (result) => report({ type: 'commits-result', result }),
  (err: unknown) => report({ type: 'failed', message: err instanceof Error ? err.stack ?? err.message : String(err) }),
);
