import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Journey, routeTo } from '../../../src/defender/delivery/journey';

/**
 * Example 01's shape: detections → switch → template → e-mail, the switch's other outputs to debug nodes;
 * a link out from the template to a link in before a second delivering node (a webhook).
 */
const FLOW = [
  { id: 'switch', next: ['template', 'debug-medium', 'debug-other'] },
  { id: 'template', next: ['email', 'link-out'] },
  { id: 'email', next: [] },
  { id: 'debug-medium', next: [] },
  { id: 'debug-other', next: [] },
  { id: 'link-out', next: ['link-in'] },
  { id: 'link-in', next: ['webhook'] },
  { id: 'webhook', next: [] },
];

describe('routeTo', () => {
  it('leads on from every node a delivering node can be reached from, and from nodes it does not know', () => {
    const route = routeTo(FLOW, ['email']);
    assert.deepEqual(FLOW.map((s) => s.id).filter((id) => route.leadsOn(id)), ['switch', 'template', 'email']);
    assert.equal(route.delivers('email'), true);
    assert.equal(route.delivers('template'), false);
    assert.equal(route.leadsOn('inside-a-subflow'), true);
    assert.deepEqual(FLOW.map((s) => s.id).filter((id) => routeTo(FLOW, ['webhook']).leadsOn(id)), ['switch', 'template', 'link-out', 'link-in', 'webhook']);
  });
});

describe('Journey', () => {
  const route = routeTo(FLOW, ['email']);

  it('is delivered once the delivering node is done with the message', () => {
    const j = new Journey(route, 100);
    j.queue('switch');
    j.arrive('switch', false, 0);
    j.queue('template');
    j.complete('switch', true);
    assert.equal(j.end(0, false), undefined, 'on its way');
    j.arrive('template', false, 0);
    j.queue('email');
    j.complete('template', true);
    j.arrive('email', false, 0);
    assert.equal(j.end(0, false), undefined, 'being sent');
    j.complete('email', true);
    assert.equal(j.end(0, false), 'delivered');
  });

  it('is dropped on purpose when every copy ended where no delivering node can be reached', () => {
    const j = new Journey(route, 100);
    j.queue('switch');
    j.arrive('switch', false, 0);
    j.queue('debug-medium');
    j.complete('switch', true);
    j.arrive('debug-medium', false, 0);
    assert.equal(j.end(0, false), 'filtered', 'a debug node holding it does not count');
  });

  it('waits a moment on a node that never says it is done: done once it passes the copy on, dropped when it does not', () => {
    const passes = new Journey(route, 100);
    passes.queue('switch');
    passes.arrive('switch', true, 0);
    assert.equal(passes.end(50, false), undefined);
    passes.passOn('switch');
    passes.queue('debug-other');
    assert.equal(passes.end(50, false), 'filtered');

    const drops = new Journey(route, 100);
    drops.queue('switch');
    drops.arrive('switch', true, 0);
    assert.equal(drops.end(99, false), undefined);
    assert.equal(drops.end(100, false), 'filtered', 'a switch whose rules none matched');
    assert.equal(drops.waitsOnSilence, true);
  });

  it('fails when a node on the way fails, done(err) or a report to Catch, and not for a node off the way', () => {
    const off = new Journey(route, 100);
    off.queue('debug-medium');
    off.arrive('debug-medium', false, 0);
    off.complete('debug-medium', false);
    assert.equal(off.end(0, false), 'filtered');

    const reported = new Journey(route, 100);
    reported.queue('email');
    reported.arrive('email', false, 0);
    reported.fail('email');
    assert.equal(reported.end(0, false), 'failed');

    const refused = new Journey(route, 100);
    refused.queue('email');
    refused.arrive('email', false, 0);
    refused.complete('email', false);
    assert.equal(refused.end(0, false), 'failed');
  });

  it('once overdue: timed out while the delivering node holds it or it never got there, delivered when only a node before it still does', () => {
    const holding = new Journey(route, 100);
    holding.queue('email');
    holding.arrive('email', false, 0);
    assert.equal(holding.end(5000, true), 'timed-out');

    const stuck = new Journey(route, 100);
    stuck.queue('template');
    stuck.arrive('template', false, 0);
    assert.equal(stuck.end(5000, true), 'timed-out', 'still before the delivering node');

    const passedBy = new Journey(route, 100);
    passedBy.queue('template');
    passedBy.arrive('template', false, 0);
    passedBy.queue('email');
    passedBy.arrive('email', false, 0);
    passedBy.complete('email', true);
    assert.equal(passedBy.end(0, false), undefined, 'the template never said it is done');
    assert.equal(passedBy.end(5000, true), 'delivered');
  });
});
