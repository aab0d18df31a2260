/**
 * Several Node-RED instances, one poll (SPEC section 13), as users run them: two real Node-RED runtimes (child
 * processes) with the same flow, one real redis-server (with persistence, as the README recommends) and the
 * emulator over loopback. Each instance POSTs what its detections node says to a webhook of the test, tagged
 * with its name. The scenarios follow one another on the same instances, as a deployment lives them.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import { startEmulator } from '../fixtures/harness';
import { Webhook } from '../fixtures/receivers';
import { startRedis, type RedisServer } from '../fixtures/redis-server';
import { replica, type Replica } from '../fixtures/replica';

const POLL_S = 1;
const LEASE_TTL_S = 2;
const PASSWORD = 'redis-pass-Zx81!';

type Body = Record<string, unknown>;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));


describe('two Node-RED instances coordinated through Redis', () => {
  let redis: RedisServer;
  let emulator: Emulator;
  let hook: Webhook;
  let a: Replica;
  let b: Replica;
  /** When each body arrived (epoch ms), beside the webhook's list. */
  const arrived: number[] = [];

  /** What the instances said from `since` on: by when they said it (`at`), else by when it arrived. */
  const bodies = (since = 0): Body[] => hook.received.map((r) => r.body).filter((x, i) => (x.at === undefined ? arrived[i] : Number(x.at)) >= since);
  const detections = (since = 0): Body[] => bodies(since).filter((x) => typeof x.AlertId === 'string');
  const of = (kind: string, name?: string, since = 0): Body[] => bodies(since).filter((x) => x.kind === kind && (name === undefined || x.replica === name));
  const allIds = (): string[] => [...emulator.detections.map((d) => String(d.AlertId))];
  const delivered = (): Set<string> => new Set(detections().map((d) => String(d.AlertId)));
  const missing = (): string[] => allIds().filter((id) => !delivered().has(id));
  /** Waits until `ok`; on a time-out, says what the instances said last. */
  async function until(what: string, ok: () => boolean, timeoutMs = 60_000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (!ok()) {
      if (Date.now() > end) {
        const said = bodies().filter((x) => x.kind !== undefined).slice(-12).map((x) => JSON.stringify(x));
        throw new Error(`timed out waiting until ${what}; ${detections().length} detections so far; last said:\n${said.join('\n')}`);
      }
      await sleep(50);
    }
  }
  const pullingSince = (since: number): Body[] => of('status', undefined, since).filter((s) => String(s.text).startsWith('pulling'));

  before(async () => {
    redis = await startRedis({ persist: true, password: PASSWORD });
    emulator = await startEmulator({ initialDetections: 0 });
    hook = await Webhook.start();
    const record = hook.received.push.bind(hook.received);
    hook.received.push = (...items) => {
      for (let i = 0; i < items.length; i++) arrived.push(Date.now());
      return record(...items);
    };
    const common = { emulatorUrl: emulator.url, webhookUrl: hook.url, pollSeconds: POLL_S, leaseTtl: LEASE_TTL_S, confirm: true };
    // The password in the URL for one, in the config node's credentials for the other: neither may show it.
    a = replica({ ...common, name: 'A', redisUrl: `redis://:${encodeURIComponent(PASSWORD)}@127.0.0.1:${redis.port}` });
    b = replica({ ...common, name: 'B', redisUrl: redis.url, redisPassword: PASSWORD });
  });

  after(async () => {
    await Promise.all([a?.stop(), b?.stop()]);
    await hook?.close();
    await emulator?.close();
    await redis?.dispose();
    // Whatever happened, the password went nowhere: no message, status, error or log line.
    for (const body of hook?.received ?? []) assert.ok(!JSON.stringify(body).includes(PASSWORD), `the password in ${JSON.stringify(body)}`);
    for (const r of [a, b]) assert.ok(!r?.output().includes(PASSWORD) && !r?.output().includes(encodeURIComponent(PASSWORD)), `the password in ${r?.name}'s log`);
  });

  it('both up: each detection goes out exactly once in total, the standby makes no call and says so', async () => {
    emulator.addDetections(40, { lastProcessedAt: Date.now() - 1000, spreadMs: 10 * 60_000 });
    await Promise.all([a.start(), b.start()]);
    await until('both instances have stood by or pulled a few times', () => of('summary', 'A').length >= 3 && of('summary', 'B').length >= 3);
    await until('every detection went out', () => missing().length === 0);
    await sleep(3 * POLL_S * 1000);
    const ids = detections().map((d) => String(d.AlertId));
    assert.equal(ids.length, 40, `each detection once in total, got ${ids.length}`);
    assert.equal(new Set(ids).size, 40);
    const leaders = new Set(detections().map((d) => d.replica));
    assert.equal(leaders.size, 1, 'one instance pulls');
    const standby = leaders.has('A') ? 'B' : 'A';
    assert.ok(of('summary', standby).every((s) => s.standby === true && s.count === 0 && s.requests === 0));
    assert.ok(of('status', standby).some((s) => String(s.text).startsWith('standby')));
    // The standby never signed in: one token for the one instance that pulls, and every call is in its summaries.
    assert.equal(emulator.stats.tokenRequests, 1);
    const leaderRequests = of('summary', [...leaders][0] as string).reduce((n, s) => n + Number(s.requests), 0);
    // The leader keeps polling: its pull under way may have made its call and not yet sent its summary.
    const unaccounted = emulator.stats.alertRequests - leaderRequests;
    assert.ok(unaccounted === 0 || unaccounted === 1, `${unaccounted} calls not in the leader's summaries`);
  });

  it('a leader paused past its lease finds its commit refused (LEASE_LOST) and stands by; the other goes on, nothing lost', async () => {
    const leader = detections()[0].replica === 'A' ? a : b;
    const other = leader === a ? b : a;
    // Each answer takes a while, so the pull is under way when the leader freezes.
    emulator.injectFault({ kind: 'delay', delayMs: 1500, times: 3 });
    emulator.addDetections(10, { lastProcessedAt: Date.now() - 1000, spreadMs: 60_000 });
    const from = Date.now();
    await until('the leader is pulling', () => pullingSince(from).some((s) => s.replica === leader.name));
    leader.pause();
    await sleep((LEASE_TTL_S + POLL_S) * 1000 + 1500);
    await until('the other instance took over', () => pullingSince(from).some((s) => s.replica === other.name));
    leader.resume();
    await until('the frozen leader reported LEASE_LOST', () => of('error', leader.name, from).some((e) => e.code === 'LEASE_LOST'));
    await until('every detection went out', () => missing().length === 0);
    const resumed = Date.now();
    await sleep(3 * POLL_S * 1000);
    assert.ok(of('summary', leader.name, resumed).length > 0 && of('summary', leader.name, resumed).every((s) => s.standby === true), 'the former leader stands by');
    assert.equal(detections(resumed).length, 0, 'nothing went out twice after the takeover settled');
  });

  it('the leader killed with SIGKILL mid-pull: the other takes over within the lease time plus one poll, nothing lost', async () => {
    emulator.clearFaults();
    const leader = detections().at(-1)?.replica === 'A' ? a : b;
    const other = leader === a ? b : a;
    // A backlog of several slices (750 each), each answer slowed: the pull takes seconds.
    emulator.injectFault({ kind: 'delay', delayMs: 700, times: Infinity });
    const before = detections().length;
    // Within the overlap (5 min) behind the checkpoint: detections stamped earlier are not asked for again by design.
    const backlog = new Set(emulator.addDetections(2000, { lastProcessedAt: Date.now() - 1000, spreadMs: 4 * 60_000 }).map((d) => String(d.AlertId)));
    await until('the leader delivered part of the backlog', () => detections().length - before >= 750);
    const killedAt = Date.now();
    await leader.kill();
    await until('the other instance pulls', () => pullingSince(killedAt).some((s) => s.replica === other.name), 30_000);
    const takeoverMs = Number(pullingSince(killedAt).find((s) => s.replica === other.name)?.at) - killedAt;
    console.log(`# takeover after SIGKILL: ${takeoverMs} ms (lease ${LEASE_TTL_S} s, poll ${POLL_S} s)`);
    await until('every detection went out', () => missing().length === 0, 180_000);
    // Lease time plus one poll, and what a loaded machine adds to a trigger.
    assert.ok(takeoverMs <= (LEASE_TTL_S + POLL_S) * 1000 + 1500, `takeover took ${takeoverMs} ms`);
    const ids = detections().map((d) => String(d.AlertId)).filter((id) => backlog.has(id));
    // With delivery confirmation, what was on its way, unconfirmed, when the leader died is owed and goes out again.
    console.log(`# after the kill: ${ids.length - backlog.size} of the ${backlog.size} detections of the backlog went out twice`);
  });

  it('the killed instance, back, stays standby while the other holds the lease', async () => {
    emulator.clearFaults();
    const dead = [a, b].find((r) => r.pid() === undefined) as Replica;
    const back = Date.now();
    await dead.start();
    emulator.addDetections(5, { lastProcessedAt: Date.now() - 1000 });
    await until('every detection went out', () => missing().length === 0);
    await sleep(3 * POLL_S * 1000);
    assert.ok(of('summary', dead.name, back).length >= 2);
    assert.ok(of('summary', dead.name, back).every((s) => s.standby === true), 'the instance that came back pulled');
    assert.equal(detections(back).filter((d) => d.replica === dead.name).length, 0);
  });

  it('Redis restarted: no instance pulls meanwhile, each reports COORDINATION_UNAVAILABLE once, then nothing is lost', async () => {
    await redis.stop();
    // A pull that began under a valid lease just before may still deliver what its window holds (its commit
    // then fails, and that comes again); from the next trigger on, nobody pulls.
    await sleep(POLL_S * 1000 + 1000);
    const down = Date.now();
    emulator.addDetections(7, { lastProcessedAt: Date.now() - 500 });
    await sleep((LEASE_TTL_S + 3 * POLL_S) * 1000);
    assert.equal(detections(down).length, 0, 'an instance pulled without coordination');
    await redis.restart();
    await until('every detection went out', () => missing().length === 0);
    await sleep(2 * POLL_S * 1000);
    for (const name of ['A', 'B']) {
      const reported = of('error', name, down - POLL_S * 1000 - 1000).filter((e) => e.code === 'COORDINATION_UNAVAILABLE');
      assert.equal(reported.length, 1, `${name} reported the outage ${reported.length} times`);
      assert.match(String(reported[0].message), /coordination unavailable: the Redis server at redis:\/\/127\.0\.0\.1:\d+ cannot be used/);
    }
    const ids = detections(down).map((d) => String(d.AlertId));
    assert.equal(ids.length, 7, 'each detection of the outage once');
  });
});
