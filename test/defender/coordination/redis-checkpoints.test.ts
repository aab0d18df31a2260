/**
 * The alert memory in Redis as a base and the changes of each commit (issue 21's "commits proportional to the
 * slice"), against a real redis-server: what another replica reads is the memory the writer has.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RedisCoordination } from '../../../src/defender/coordination/coordination';
import { AlertMemory } from '../../../src/defender/pulling/lifecycle';
import type { Checkpoint } from '../../../src/defender/pulling/checkpoint';
import type { RememberedAlerts } from '../../../src/defender/pulling/remembered-alerts';
import { withRedisSuite } from '../../fixtures/redis-server';

const FIELDS = ['status', 'severity', 'title'];
const DAY = 86_400_000;

function observe(memory: AlertMemory, id: number, status: string, at: number): void {
  const time = `${new Date(at).toISOString().slice(0, 23)}0000Z`;
  memory.observe({ id: `da${id}`, created: '', fields: FIELDS, values: [status, id % 2 ? 'High' : 'Low', `Title ${id % 40}`] }, time, 'all');
}

/** What the memory holds of alert `id`, as a decision reads it. */
function recordOf(alerts: RememberedAlerts, id: number): string {
  const r = alerts.find(`da${id}`);
  if (r < 0) return 'absent';
  return JSON.stringify([alerts.sentTime(r), alerts.sentAsNew(r), alerts.touchedMs(r), FIELDS.map((_, f) => alerts.value(r, f))]);
}

describe('the alert memory in Redis, as a base and changes', () => {
  const redis = withRedisSuite();
  const replica = (): RedisCoordination => redis.replica({ keyPrefix: 'mem:' });

  it('writes at each commit only what changed, and another replica reads the same memory', async () => {
    const own = replica();
    const writer = own.forNode('n1');
    assert.equal(await writer.lease.acquire(), 'new-leader');
    const now = Date.now();
    const memory = new AlertMemory(undefined, now, 30 * DAY);
    for (let id = 0; id < 2000; id++) observe(memory, id, 'new', now - 60_000 + id);
    const checkpoint = (): Checkpoint => ({ version: 1, highest: new Date(now).toISOString(), keys: [], alerts: memory.state });
    const sizes: number[] = [];
    const stored = async (): Promise<number> => {
      const [base, changes] = (await own.link.eval("return {redis.call('STRLEN', KEYS[1]), redis.call('LRANGE', KEYS[2], 0, -1)}", ['mem:{n1}:checkpoint:alerts', 'mem:{n1}:checkpoint:alerts-changes'], [])) as [number, string[]];
      return Number(base) + changes.reduce((n, c) => n + c.length, 0);
    };
    await writer.checkpoints.save('checkpoint', checkpoint());
    sizes.push(await stored());
    // A slice of three: one alert updated, two new ones.
    observe(memory, 7, 'resolved', now);
    observe(memory, 5000, 'new', now);
    observe(memory, 5001, 'new', now);
    await writer.checkpoints.save('checkpoint', checkpoint());
    sizes.push(await stored());
    const commitBytes = sizes[1] - sizes[0];
    assert.ok(commitBytes > 0 && commitBytes < sizes[0] / 50, `the second commit wrote ${commitBytes} bytes of a ${sizes[0]}-byte memory`);
    // A commit with no alert changed writes nothing of the memory.
    await writer.checkpoints.save('checkpoint', checkpoint());
    assert.equal(await stored(), sizes[1]);

    // The writer, still holding its lease, goes on with what it has: nobody else can have written.
    assert.equal((await writer.checkpoints.load('checkpoint'))?.alerts, memory.state);
    const reader = replica().forNode('n1');
    const read = (await reader.checkpoints.load('checkpoint'))?.alerts as RememberedAlerts;
    assert.equal(read.size, memory.size);
    for (const id of [0, 5, 7, 1999, 5000, 5001, 6000]) assert.equal(recordOf(read, id), recordOf(memory.state, id), `alert da${id}`);
    await writer.lease.release();
  });

  it('writes the whole memory again after many changes, or when it was reshaped, and a failed write is not taken as written', async () => {
    const c = replica();
    const writer = c.forNode('n2');
    await writer.lease.acquire();
    const now = Date.now();
    const memory = new AlertMemory(undefined, now, 30 * DAY);
    for (let id = 0; id < 200; id++) observe(memory, id, 'new', now - 60_000 + id);
    const checkpoint = (): Checkpoint => ({ version: 1, highest: new Date(now).toISOString(), keys: [], alerts: memory.state });
    const changes = async (): Promise<number> => Number(await c.link.eval("return redis.call('LLEN', KEYS[1])", ['mem:{n2}:checkpoint:alerts-changes'], []));
    await writer.checkpoints.save('checkpoint', checkpoint());
    for (let i = 1; i <= 70; i++) {
      observe(memory, i, 'inProgress', now + i);
      await writer.checkpoints.save('checkpoint', checkpoint());
    }
    assert.ok((await changes()) < 64, 'the changes were never compacted into a base');
    observe(memory, 1, 'resolved', now + 100);
    // Redis loses the lease under the writer: the write is refused, and the next one writes the base.
    await c.link.eval("return redis.call('DEL', KEYS[1])", ['mem:{n2}:lease'], []);
    await assert.rejects(writer.checkpoints.save('checkpoint', checkpoint()), { code: 'LEASE_LOST' });
    assert.equal(await writer.lease.acquire(), 'new-leader');
    await writer.checkpoints.save('checkpoint', checkpoint());
    assert.equal(await changes(), 0, 'after a refused write the next one must write the whole memory');
    const read = (await replica().forNode('n2').checkpoints.load('checkpoint'))?.alerts as RememberedAlerts;
    assert.equal(recordOf(read, 1), recordOf(memory.state, 1));
  });
});
