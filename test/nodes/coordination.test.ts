/**
 * One Node-RED runtime (the test helper) with coordination through a real redis-server: the node as a
 * standby, Redis unreachable (reported once per outage), and bad coordination settings. Two runtimes at once
 * are in replicas.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RedisLink } from '../../src/defender/coordination/redis-link';
import { coordinationSettings, type RedisSettings } from '../../src/defender/coordination/settings';
import type { Emulator } from '../../src/emulator';
import { loadIncidentsRig, loadRig, recent, withEmulatorSuite } from '../fixtures/harness';
import { freePort } from '../fixtures/free-port';
import { startRedis, type RedisServer } from '../fixtures/redis-server';

const PASSWORD = 'not-to-be-seen-7Qx';

describe('coordination in one Node-RED', () => {
  let emulator: Emulator;
  let redis: RedisServer;
  withEmulatorSuite({ seed: 22 }, (e) => (emulator = e));
  before(async () => {
    redis = await startRedis({ password: PASSWORD });
  });
  after(() => redis.dispose());
  const coordinated = (url: string, extra: Record<string, unknown> = {}) => ({
    config: { coordination: 'redis', redisUrl: url, redisKeyPrefix: 'one:', leaseTtl: 5, ...extra },
    credentials: { clientSecret: 'emulator-client-secret', redisPassword: PASSWORD },
  });

  it('pulls as the lease holder, and stands by without a call while another instance holds the lease', async () => {
    emulator.addDetections(3, recent());
    const rig = await loadRig(emulator, {}, coordinated(redis.url));
    const first = await rig.pull();
    assert.equal(first.detections.length, 3);
    // Another instance takes the lease (this one's ran out while it was paused, say): this one stands by.
    const other = new RedisLink(coordinationSettings({ coordination: 'redis', redisUrl: redis.url, redisKeyPrefix: 'one:' }, { redisPassword: PASSWORD }) as RedisSettings);
    try {
      for (let i = 0; i < 100 && !other.ready; i++) await new Promise((r) => setTimeout(r, 20));
      await other.eval("return redis.call('SET', KEYS[1], 'elsewhere#1#x', 'PX', 60000)", ['one:{det}:lease'], []);
      const standby = rig;
      emulator.addDetections(2, recent());
      const calls = emulator.stats.alertRequests;
      const { detections, summary, error } = await standby.pull();
      assert.equal(error, undefined);
      assert.equal(detections.length, 0);
      assert.deepEqual(summary?.payload, { standby: true, count: 0, requests: 0 });
      assert.equal(emulator.stats.alertRequests, calls, 'the standby called the API');
      assert.match(String(standby.statuses.at(-1)?.text), /^standby \(\d\d:\d\d:\d\d\)$/);
      // The lease is free again: this instance takes it and goes on from the checkpoint in Redis.
      await other.eval("return redis.call('DEL', KEYS[1])", ['one:{det}:lease'], []);
      const next = await standby.pull();
      assert.equal(next.detections.length, 2, 'the new holder did not go on from the last commit');
    } finally {
      await other.close();
    }
  });

  it('coordinates the incidents node the same way: it stands by without a call, and its successor goes on from Redis', async () => {
    const now = Date.now();
    const incident = (id: number, at: number) => emulator.addDetection({ LastProcessedTimeUtc: at, Severity: 'High' }, { graph: { incidentId: String(id) } });
    incident(8101, now - 3000);
    incident(8102, now - 2000);
    const rig = await loadIncidentsRig(emulator, { id: 'inc' }, coordinated(redis.url, { redisKeyPrefix: 'inc:' }));
    assert.deepEqual((await rig.pull()).detections.map((m) => m.incidentId), ['8101', '8102']);
    const other = new RedisLink(coordinationSettings({ coordination: 'redis', redisUrl: redis.url, redisKeyPrefix: 'inc:' }, { redisPassword: PASSWORD }) as RedisSettings);
    try {
      for (let i = 0; i < 100 && !other.ready; i++) await new Promise((r) => setTimeout(r, 20));
      const held = Number(await other.eval("return redis.call('EXISTS', KEYS[1])", ['inc:{inc}:lease'], []));
      assert.equal(held, 1, 'the incidents node took no lease in Redis');
      await other.eval("return redis.call('SET', KEYS[1], 'elsewhere#1#x', 'PX', 60000)", ['inc:{inc}:lease'], []);
      incident(8103, Date.now() - 1000);
      const asked = emulator.requests.length;
      const standby = await rig.pull();
      assert.deepEqual(standby.summary?.payload, { standby: true, count: 0, requests: 0 });
      assert.equal(standby.detections.length, 0);
      assert.equal(emulator.requests.length, asked, 'the standby incidents node called the service');
      await other.eval("return redis.call('DEL', KEYS[1])", ['inc:{inc}:lease'], []);
      assert.deepEqual((await rig.pull()).detections.map((m) => m.incidentId), ['8103'], 'not on from the checkpoint in Redis');
    } finally {
      await other.close();
    }
  });

  it('reports an unreachable Redis once per outage, pulls nothing meanwhile, and never shows the password', async () => {
    const port = await freePort();
    const rig = await loadRig(emulator, {}, coordinated(`redis://:${PASSWORD}@127.0.0.1:${port}`));
    const calls = emulator.stats.alertRequests;
    const first = await rig.pull();
    const second = await rig.pull();
    const third = await rig.pull();
    const error = first.error?.error as { code: string; message: string };
    assert.equal(error.code, 'COORDINATION_UNAVAILABLE');
    assert.match(error.message, new RegExp(`the Redis server at redis://127\\.0\\.0\\.1:${port} cannot be used`));
    assert.equal(second.error, undefined, 'reported again in the same outage');
    assert.equal(third.error, undefined);
    assert.equal(rig.summaries.messages.length, 0);
    assert.equal(emulator.stats.alertRequests, calls);
    assert.match(String(rig.statuses.at(-1)?.text), /coordination unavailable/);
    const seen = JSON.stringify([rig.shown.map((p) => p.messages), rig.statuses, rig.errors.messages]);
    assert.ok(!seen.includes(PASSWORD), 'the password was shown');
  });

  it('refuses bad coordination settings with what is expected, and the node stays deployed and answers each message', async () => {
    const bad = await loadRig(emulator, {}, coordinated('http://127.0.0.1:6379'));
    const calls = emulator.stats.alertRequests;
    for (let i = 0; i < 2; i++) {
      const { error } = await bad.pull();
      const e = error?.error as { code: string; message: string };
      assert.equal(e.code, 'INVALID_CONFIG');
      assert.match(e.message, /redisUrl must start with redis:\/\/ or rediss:\/\/ \(TLS\), got http:\/\//);
    }
    assert.equal(emulator.stats.alertRequests, calls, 'a node pulled without the coordination it was given');
  });

  it('refuses an empty key prefix, saying what is expected', async () => {
    const noPrefix = await loadRig(emulator, {}, coordinated(redis.url, { redisKeyPrefix: '' }));
    const { error } = await noPrefix.pull();
    assert.equal((error?.error as { code: string }).code, 'INVALID_CONFIG');
    assert.match(String((error?.error as { message: string }).message), /redisKeyPrefix is missing: expected a prefix for this deployment's keys/);
  });
});
