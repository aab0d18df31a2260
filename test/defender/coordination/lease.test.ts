/**
 * The lease and the fenced checkpoint store against a real redis-server: one holder at a time, a commit of
 * a holder whose lease passed on is refused inside Redis, Redis down is COORDINATION_UNAVAILABLE, and the
 * password never shows in an error.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RedisCoordination } from '../../../src/defender/coordination/coordination';
import { coordinationSettings, type RedisSettings } from '../../../src/defender/coordination/settings';
import type { Checkpoint } from '../../../src/defender/pulling/checkpoint';
import { DefenderError } from '../../../src/defender/errors';
import { startRedis, withRedisSuite } from '../../fixtures/redis-server';

const checkpoint = (highest: string): Checkpoint => ({ version: 1, highest, keys: [`da1|${highest}`] });

function settings(url: string, extra: Partial<RedisSettings> = {}): RedisSettings {
  return { ...(coordinationSettings({ coordination: 'redis', redisUrl: url, redisKeyPrefix: 'test:', leaseTtl: 2 }, {}) as RedisSettings), ...extra };
}

async function rejectsWith(promise: Promise<unknown>, code: string): Promise<DefenderError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof DefenderError, `expected a DefenderError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}`);
}

describe('the lease and the checkpoints in Redis', () => {
  const redis = withRedisSuite();
  const replica = (url = redis.url(), extra: Partial<RedisSettings> = {}): RedisCoordination => redis.replica(settings(url, extra));
  const ready = async (c: RedisCoordination): Promise<void> => {
    for (let i = 0; i < 100 && !c.link.ready; i++) await new Promise((r) => setTimeout(r, 20));
  };

  it('lets one replica hold a node\'s lease; the other stands by until it is given up', async () => {
    const [a, b] = [replica(), replica()];
    await Promise.all([ready(a), ready(b)]);
    const [na, nb] = [a.forNode('n1'), b.forNode('n1')];
    assert.equal(await na.lease.acquire(), 'new-leader');
    assert.equal(await nb.lease.acquire(), 'standby');
    assert.equal(await na.lease.acquire(), 'leader', 'the holder keeps it from trigger to trigger');
    // Another node's lease is its own.
    assert.equal(await b.forNode('n2').lease.acquire(), 'new-leader');
    await na.lease.release();
    assert.equal(await nb.lease.acquire(), 'new-leader');
    await nb.lease.release();
  });

  it('keeps the lease past its time while the holder lives, by renewing it', async () => {
    const [a, b] = [replica(), replica()];
    await Promise.all([ready(a), ready(b)]);
    const [na, nb] = [a.forNode('n3'), b.forNode('n3')];
    assert.equal(await na.lease.acquire(), 'new-leader');
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await nb.lease.acquire(), 'standby');
    assert.equal(await na.lease.acquire(), 'leader');
    await na.lease.release();
  });

  it('refuses the commit of a holder whose lease passed to another (LEASE_LOST), and keeps the new holder\'s checkpoint', async () => {
    const [a, b] = [replica(), replica()];
    await Promise.all([ready(a), ready(b)]);
    const [na, nb] = [a.forNode('n4'), b.forNode('n4')];
    assert.equal(await na.lease.acquire(), 'new-leader');
    await na.checkpoints.save('checkpoint', checkpoint('2026-01-01T00:00:00.0000000Z'));
    // A is paused past its lease (a long garbage collection, a frozen VM): in Redis the lease ends, B takes it.
    await a.link.eval("return redis.call('DEL', KEYS[1])", ['test:{n4}:lease'], []);
    assert.equal(await nb.lease.acquire(), 'new-leader');
    await nb.checkpoints.save('checkpoint', checkpoint('2026-01-01T00:10:00.0000000Z'));
    // A wakes up still believing it holds the lease, and commits an older checkpoint.
    const lostBefore = na.lease.signal;
    const error = await rejectsWith(na.checkpoints.save('checkpoint', checkpoint('2026-01-01T00:05:00.0000000Z')), 'LEASE_LOST');
    assert.match(error.message, /another Node-RED instance took over/);
    assert.ok(lostBefore.aborted, 'a pull under way is told to stop');
    assert.equal((await nb.checkpoints.load('checkpoint'))?.highest, '2026-01-01T00:10:00.0000000Z', 'the checkpoint was rolled back');
    assert.equal(await na.lease.acquire(), 'standby');
    await rejectsWith(na.checkpoints.clear(), 'LEASE_LOST');
    assert.ok(await nb.checkpoints.load('checkpoint'), 'a stale reset cleared the checkpoint');
    await nb.lease.release();
  });

  it('answers COORDINATION_UNAVAILABLE at once while Redis is down, and works again once it is back', async () => {
    const own = await startRedis();
    try {
      const a = replica(own.url);
      await ready(a);
      const n = a.forNode('n5');
      assert.equal(await n.lease.acquire(), 'new-leader');
      await own.stop();
      const started = Date.now();
      await rejectsWith(n.lease.acquire(), 'COORDINATION_UNAVAILABLE');
      await rejectsWith(n.checkpoints.save('checkpoint', checkpoint('2026-01-01T00:00:00.0000000Z')), 'COORDINATION_UNAVAILABLE');
      assert.ok(Date.now() - started < 1000, 'a command waited for Redis rather than failing');
      await own.restart();
      for (let i = 0; i < 150 && !a.link.ready; i++) await new Promise((r) => setTimeout(r, 20));
      // Without persistence the lease went with the data: taken anew.
      assert.equal(await n.lease.acquire(), 'new-leader');
    } finally {
      await own.dispose();
    }
  });

  it('never shows the Redis password in an error, whether given in the URL or in the credentials', async () => {
    const password = 'Sw0rdfish-%2F-secret';
    const guarded = await startRedis({ password: 'the-real-one' });
    try {
      const inUrl = replica(`redis://:${encodeURIComponent(password)}@127.0.0.1:${guarded.port}`);
      const inCredentials = redis.replica(
        coordinationSettings({ coordination: 'redis', redisUrl: `redis://127.0.0.1:${guarded.port}`, redisKeyPrefix: 'test:' }, { redisPassword: password }) as RedisSettings,
      );
      const down = replica(`redis://user:${encodeURIComponent(password)}@127.0.0.1:1`);
      for (const c of [inUrl, inCredentials, down]) {
        await new Promise((r) => setTimeout(r, 200));
        const error = await rejectsWith(c.forNode('n6').lease.acquire(), 'COORDINATION_UNAVAILABLE');
        for (const shown of [error.message, error.stack ?? '', JSON.stringify(c.settings.url)]) {
          assert.ok(!shown.includes(password) && !shown.includes(encodeURIComponent(password)), `the password shows in: ${shown}`);
        }
      }
    } finally {
      await guarded.dispose();
    }
  });
});

describe('coordination settings', () => {
  const read = (props: Record<string, unknown>, credentials: Record<string, string> = {}) => () => coordinationSettings({ coordination: 'redis', redisKeyPrefix: 'p:', ...props }, credentials);

  it('keeps today\'s behaviour by default', () => {
    assert.equal(coordinationSettings({}, {}), undefined);
    assert.equal(coordinationSettings({ coordination: 'none', redisUrl: 'nonsense' }, {}), undefined);
  });

  it('says what was wrong and what is expected, without repeating a URL that may hold a password', () => {
    assert.throws(read({ redisUrl: '' }), /redisUrl is missing: expected the Redis server's URL/);
    assert.throws(read({ redisUrl: 'http://127.0.0.1:6379' }), /must start with redis:\/\/ or rediss:\/\/ \(TLS\), got http:\/\//);
    assert.throws(read({ redisUrl: 'redis://:hunter2@[bad' }), (err: Error) => /not a valid URL/.test(err.message) && !err.message.includes('hunter2'));
    assert.throws(read({ redisUrl: 'redis://h:6379/x?y=1' }), /database number as its path/);
    assert.throws(read({ redisUrl: 'redis://h:6379', redisKeyPrefix: '' }), /redisKeyPrefix is missing: expected a prefix/);
    assert.throws(read({ redisUrl: 'redis://h:6379', redisKeyPrefix: 'a b' }), /redisKeyPrefix must be/);
    assert.throws(read({ redisUrl: 'redis://h:6379', leaseTtl: 'soon' }), /leaseTtl must be a number of seconds from 2 to 3600, got "soon"/);
    assert.throws(() => coordinationSettings({ coordination: 'zookeeper' }, {}), /coordination must be "none" or "redis"/);
  });

  it('takes the password out of the URL, and prefers the one in the credentials', () => {
    const fromUrl = read({ redisUrl: 'rediss://me:s%40cret@redis.example.com:6380/2', leaseTtl: '45' })();
    assert.deepEqual(fromUrl, { url: 'rediss://redis.example.com:6380/2', username: 'me', password: 's@cret', keyPrefix: 'p:', leaseTtlMs: 45_000 });
    assert.equal(read({ redisUrl: 'redis://:old@h:6379' }, { redisPassword: 'new' })()?.password, 'new');
    assert.equal(read({ redisUrl: 'redis://h' })()?.leaseTtlMs, 30_000);
  });
});
