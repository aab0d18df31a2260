import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { backoff, DeliveryLedger, type DeliveryPolicy, inherit, isOwedList, MAX_IN_FLIGHT, type Owed } from '../../../src/defender/delivery/ledger';
import type { Verdict } from '../../../src/defender/pulling/lifecycle';

const POLICY: DeliveryPolicy = { timeoutMs: 1000, maxDeliveries: 3, baseDelayMs: 100, maxDelayMs: 350 };
const NEW: Verdict = { event: 'new', changes: null, send: true };
/** Sends delivery `attempt` of `key` at `now`. */
function send(ledger: DeliveryLedger, key: string, attempt: number, now: number, time = `2024-05-01T12:00:0${key.length}.0000000`): void {
  ledger.sent(key, key.split('|')[0], time, NEW, attempt, now);
}

/** A ledger with MAX_IN_FLIGHT deliveries on their way, for a few seconds (a test that fails does not wait long). */
function full(): DeliveryLedger {
  const ledger = new DeliveryLedger(undefined, { ...POLICY, timeoutMs: 5000 });
  for (let i = 0; i < MAX_IN_FLIGHT; i++) send(ledger, `k${i}|1`, 1, Date.now());
  return ledger;
}

describe('DeliveryLedger', () => {
  it('backs off by doubling from the base delay, up to the largest', () => {
    assert.deepEqual([1, 2, 3, 4, 5].map((n) => backoff(POLICY, n)), [100, 200, 350, 350, 350]);
  });

  it('owes a version from its delivery until the flow confirms it, and waits for the confirmation until the timeout and the backoff after it', () => {
    const ledger = new DeliveryLedger(undefined, POLICY);
    send(ledger, 'a|1', 1, 0);
    const owed = ledger.get('a|1') as Owed;
    assert.equal(owed.attempt, 1);
    assert.equal(ledger.inFlight(999), 1);
    assert.equal(ledger.inFlight(1000), 0, 'timed out');
    assert.equal(ledger.decide(owed, 500), 'wait', 'on its way');
    assert.equal(ledger.decide(owed, 1099), 'wait', 'timed out, backing off');
    assert.equal(ledger.decide(owed, 1100), 'again');
    assert.equal(ledger.outcome('a|1', 1, 'delivered', 1200), 'delivered');
    assert.equal(ledger.size, 0);
  });

  it('after a failure, sends again once the backoff passed, and gives up after maxDeliveries', () => {
    const ledger = new DeliveryLedger(undefined, POLICY);
    send(ledger, 'a|1', 1, 0);
    assert.equal(ledger.outcome('a|1', 1, 'failed', 10), undefined, 'still owed');
    const owed = ledger.get('a|1') as Owed;
    assert.equal(ledger.inFlight(20), 0, 'a failed delivery is no longer on its way');
    assert.equal(ledger.decide(owed, 109), 'wait');
    assert.equal(ledger.decide(owed, 110), 'again');
    send(ledger, 'a|1', 3, 200);
    assert.equal(ledger.outcome('a|1', 3, 'failed', 210), undefined);
    assert.equal(ledger.decide(ledger.get('a|1') as Owed, 10_000), 'give-up');
  });

  it('takes a late confirmation of an earlier try, but not a late failure or drop of one', () => {
    const ledger = new DeliveryLedger(undefined, POLICY);
    send(ledger, 'a|1', 1, 0);
    send(ledger, 'a|1', 2, 2000);
    assert.equal(ledger.outcome('a|1', 1, 'failed', 2100), undefined);
    assert.equal(ledger.outcome('a|1', 1, 'filtered', 2100), undefined);
    assert.equal(ledger.inFlight(2100), 1, 'the second try is still on its way');
    assert.equal(ledger.outcome('a|1', 1, 'delivered', 2200), 'delivered');
    assert.equal(ledger.size, 0);
  });

  it('stores only what a committed checkpoint covers, and forgets what was sent since on a rollback', () => {
    const changes: number[] = [];
    const ledger = new DeliveryLedger(undefined, POLICY, () => changes.push(ledger.size));
    send(ledger, 'a|1', 1, 0);
    ledger.commit();
    send(ledger, 'b|22', 1, 0);
    send(ledger, 'a|1', 2, 5000);
    assert.deepEqual(ledger.state().map((o) => [o.key, o.attempt]), [['a|1', 2]], 'a try of a version owed before is stored at once');
    ledger.rollback();
    assert.equal(ledger.get('b|22'), undefined);
    assert.equal(ledger.get('a|1')?.attempt, 2);
    assert.ok(changes.length >= 3);
    const again = new DeliveryLedger(JSON.parse(JSON.stringify(ledger.state())) as Owed[], POLICY);
    assert.equal(again.get('a|1')?.attempt, 2, 'read back from the store as it was written');
    assert.ok(isOwedList(ledger.state()));
    assert.equal(isOwedList([{ key: 'a|1' }]), false);
  });

  it('tells the oldest time owed, and the newest version owed of each alert', () => {
    const ledger = new DeliveryLedger(undefined, POLICY);
    send(ledger, 'a|5', 1, 0, '2024-05-01T12:00:05.0000000');
    send(ledger, 'b|3', 1, 0, '2024-05-01T12:00:03.0000000');
    assert.equal(ledger.lowWater(), '2024-05-01T12:00:03.0000000');
    send(ledger, 'a|4', 1, 0, '2024-05-01T12:00:04.0000000');
    assert.deepEqual([...ledger.byAlert()].map(([alert, o]) => [alert, o.key]), [['a', 'a|5'], ['b', 'b|3']]);
    ledger.settle('b|3');
    assert.equal(ledger.lowWater(), '2024-05-01T12:00:04.0000000');
  });

  it('settles as gone a version two full pulls did not meet, and keeps one met again', () => {
    const ledger = new DeliveryLedger(undefined, POLICY);
    send(ledger, 'a|1', 1, 0);
    send(ledger, 'b|22', 1, 0);
    ledger.commit();
    assert.deepEqual(ledger.missed(['a|1', 'b|22']), []);
    ledger.met('b|22');
    assert.deepEqual(ledger.missed(['a|1', 'b|22']), ['a|1']);
    assert.equal(ledger.get('b|22')?.missed, 1);
  });

  it('makes a pull wait while MAX_IN_FLIGHT deliveries are on their way, until one is confirmed', async () => {
    const ledger = full();
    const wait = ledger.room(Date.now());
    assert.ok(wait, 'no room');
    let resolved = false;
    void wait.then(() => (resolved = true));
    await new Promise((r) => setImmediate(r));
    assert.equal(resolved, false);
    ledger.outcome('k7|1', 1, 'delivered', Date.now());
    await wait;
    assert.equal(ledger.room(Date.now()), undefined);
  });

  it('lets a waiting pull go on as soon as a delivery fails, not only once one times out', async () => {
    const ledger = full();
    const wait = ledger.room(Date.now());
    assert.ok(wait, 'no room');
    ledger.outcome('k7|1', 1, 'failed', Date.now());
    const first = await Promise.race([wait.then(() => 'room'), new Promise((r) => setTimeout(() => r('still waiting'), 200))]);
    assert.equal(first, 'room');
    assert.equal(ledger.room(Date.now()), undefined);
  });
});

describe('inherit', () => {
  it('sends a later version of an alert whose new version was never delivered as new', () => {
    const owed: Owed = { key: 'a|1', alert: 'a', time: 't', attempt: 1, due: 0, event: 'new', changes: null };
    assert.deepEqual(inherit(owed, { event: 'update', changes: ['status'], previous: { status: 'new' }, send: false }), NEW);
  });

  it('counts an update’s changes from the version the flow last got: both updates’ changes, the earlier values of the owed one', () => {
    const owed: Owed = { key: 'a|2', alert: 'a', time: 't', attempt: 1, due: 0, event: 'update', changes: ['status'], previous: { status: 'new' } };
    const later: Verdict = { event: 'update', changes: ['status', 'assignedTo'], previous: { status: 'inProgress', assignedTo: null }, send: false };
    assert.deepEqual(inherit(owed, later), { event: 'update', changes: ['status', 'assignedTo'], previous: { status: 'new', assignedTo: null }, send: true });
  });
});
