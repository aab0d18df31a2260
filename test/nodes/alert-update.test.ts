/**
 * The defender-alert-update node in a real Node-RED runtime against the emulator's Microsoft Graph: where it
 * finds the alert, what it sends, what it answers, and how it fails.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ALERT_ENUMS } from '../../src/defender/writing/alert-update';
import type { Emulator } from '../../src/emulator';
import configNode from '../../src/nodes/defender-config';
import updateNode from '../../src/nodes/defender-alert-update';
import detectionsNode from '../../src/nodes/defender-detections';
import { assertNoSecret } from '../fixtures/sign-in';
import { assertEveryEnumValue, assertRefused, caught, everythingShown, FAST_GRAPH, flowOf, globalOf, helper, loadUpdateRig, type Message, Probe, readFlow, recent, runnableFlow, SECRET, startEmulator, TENANT, type UpdateRig, withEmulatorSuite } from '../fixtures/harness';

type Alert = Record<string, unknown> & { id: string; status: string; lastUpdateDateTime: string; comments: Array<{ comment: string }> };

const alertOf = (m: Message | undefined): Alert => m?.payload as Alert;

describe('defender-alert-update', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 31 }, (e) => (emulator = e));

  /** One stored detection: its SIEM shape (as a SIEM pull sends it) and its alert id. */
  const detection = () => {
    const [d] = emulator.addDetections(1, recent());
    return { siem: d, id: String(d.AlertId) };
  };
  const writes = () => emulator.requests.filter((r) => r.endpoint === 'graph-alert' || r.endpoint === 'graph-comments');
  const patches = () => writes().filter((r) => r.method === 'PATCH').map((r) => JSON.parse(r.body ?? '{}') as Record<string, unknown>);

  it('changes the alert a SIEM-shaped detection names, with a Graph token from a SIEM config node, and sends the alert after the change', async () => {
    const { siem, id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress', assignedTo: 'soc@contoso.com' });
    const { output, error } = await rig.update({ payload: siem, topic: 'kept' });
    assert.equal(error, undefined, JSON.stringify(error?.error));
    const alert = alertOf(output);
    assert.deepEqual([alert.id, alert.status, alert.assignedTo], [id, 'inProgress', 'soc@contoso.com']);
    assert.equal(output?.alertId, id);
    assert.equal(output?.topic, 'kept', 'the input message travels on');
    assert.deepEqual(patches(), [{ status: 'inProgress', assignedTo: 'soc@contoso.com' }]);
    // The config node reads the SIEM API, yet the write went to Graph with a v2.0 token for Graph's scope.
    assert.deepEqual(emulator.requests.map((r) => `${r.endpoint} ${r.status}`), ['graph-token 200', 'graph-alert 200']);
    assert.equal(emulator.graphAlert(id, '11111111-2222-3333-4444-555555555555')?.status, 'inProgress');
    assert.deepEqual(rig.statuses[0], { fill: 'blue', shape: 'ring', text: 'updating…' });
    assert.equal(rig.statuses.at(-1)?.fill, 'green');
    assert.match(String(rig.statuses.at(-1)?.text), /^inProgress at \d\d:\d\d:\d\d$/);
    assert.equal(rig.completions.messages.length, 1);
  });

  it('finds the alert in msg.alertId first, else in a native alert\'s id', async () => {
    const a = detection();
    const b = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'resolved' }, { config: FAST_GRAPH });
    const native = { id: b.id, status: 'new' };
    assert.equal((await rig.update({ alertId: a.id, payload: native })).output?.alertId, a.id);
    assert.equal((await rig.update({ payload: native })).output?.alertId, b.id);
    assert.deepEqual(writes().map((r) => r.path), [`/v1.0/security/alerts_v2/${a.id}`, `/v1.0/security/alerts_v2/${b.id}`]);
  });

  it('takes every value of each enum in any case and sends it in Graph\'s casing', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, {}, { config: FAST_GRAPH });
    const expected = await assertEveryEnumValue(rig, { alertId: id }, ALERT_ENUMS);
    assert.deepEqual(patches(), expected);
  });

  it('lets msg.update override the node\'s values, and a key given empty keep the node\'s value out', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress', classification: 'truePositive', assignedTo: 'soc@contoso.com' }, { config: FAST_GRAPH });
    await rig.update({ alertId: id, update: { Status: 'resolved', classification: '', determination: 'malware' } });
    await rig.update({ alertId: id, update: { assignedTo: null } });
    assert.deepEqual(patches(), [
      { status: 'resolved', determination: 'malware', assignedTo: 'soc@contoso.com' },
      { status: 'inProgress', classification: 'truePositive', assignedTo: null },
    ]);
  });

  it('counts a PATCH answered 204 without a body as done, and reads the alert back to send it on', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress' });
    emulator.injectFault({ kind: 'http204' });
    const { output, error } = await rig.update({ alertId: id });
    assert.equal(error, undefined, JSON.stringify(error?.error));
    assert.deepEqual([alertOf(output).id, alertOf(output).status], [id, 'inProgress']);
    assert.deepEqual(writes().map((r) => `${r.method} ${r.status}`), ['PATCH 204', 'GET 200']);
    assert.equal(rig.statuses.at(-1)?.fill, 'green');
  });

  it('adds a comment and answers the alert with it, read again after the comment', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress', comment: 'E-mailed to the SOC' });
    const alert = alertOf((await rig.update({ alertId: id })).output);
    assert.deepEqual(alert.comments.map((c) => c.comment), ['E-mailed to the SOC']);
    assert.equal(alert.status, 'inProgress');
    assert.deepEqual(writes().map((r) => `${r.method} ${r.endpoint}`), ['PATCH graph-alert', 'POST graph-comments', 'GET graph-alert']);
  });

  for (const answer of ['created', 'empty'] as const) {
    it(`takes a stored comment answered ${answer === 'created' ? 'with 201 and the one comment' : 'with 204 and no body'} for what it is, not for an error to send again`, async () => {
      const other = await startEmulator({ seed: 32, graphCommentAnswer: answer });
      try {
        const [d] = other.addDetections(1, recent());
        const id = String(d.AlertId);
        const rig = await loadUpdateRig(other, { comment: 'E-mailed to the SOC' });
        const { output, error } = await rig.update({ alertId: id });
        assert.equal(error, undefined, JSON.stringify(error?.error));
        assert.deepEqual(alertOf(output).comments.map((c) => c.comment), ['E-mailed to the SOC']);
        const calls = other.requests.filter((r) => r.endpoint === 'graph-comments' || r.endpoint === 'graph-alert');
        assert.deepEqual(calls.map((r) => `${r.method} ${r.status}`), [`POST ${answer === 'created' ? 201 : 204}`, 'GET 200']);
        assert.equal((other.graphAlert(id, TENANT)?.comments as unknown[]).length, 1, 'added once');
      } finally {
        await helper.unload();
        await other.close();
      }
    });
  }

  it('fails a comment a gateway answered for Graph (200, not JSON) when the alert does not show it, saying it can be sent again', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { comment: 'E-mailed to the SOC' });
    emulator.injectFault({ kind: 'html' });
    const { error } = await rig.update({ alertId: id });
    const failure = caught(error);
    assert.equal(failure.code, 'BAD_RESPONSE');
    assert.match(failure.message, /with a body that is not JSON; expected a JSON object with a "value" array of comments\. It began: "<!DOCTYPE html>.*" The alert read after it does not show the comment: it was not stored, and sending the message again is safe$/);
    assert.equal((emulator.graphAlert(id, TENANT)?.comments as unknown[]).length, 0);
    const again = await rig.update({ alertId: id });
    assert.equal(again.error, undefined, 'sent again, it is stored once');
    assert.deepEqual(alertOf(again.output).comments.map((c) => c.comment), ['E-mailed to the SOC']);
  });

  it('reads the status of a node saved before alertStatus existed, and never a status object the editor saved in its place', async () => {
    const { id } = detection();
    // As a flow written before the rename, or deployed by a pipeline, holds it.
    const legacy = await loadUpdateRig(emulator, { status: 'resolved', statusType: 'str' });
    assert.equal((await legacy.update({ alertId: id })).error, undefined);
    await helper.unload();
    // The editor keeps a node's runtime status as its `status`, and a deploy saves that object.
    const shown = { fill: 'green', shape: 'dot', text: 'inProgress at 10:42:07' };
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress', status: shown as unknown as string });
    const { output, error } = await rig.update({ alertId: id });
    assert.equal(error, undefined, JSON.stringify(error?.error));
    assert.equal(alertOf(output).status, 'inProgress');
    assert.deepEqual(patches(), [{ status: 'resolved' }, { status: 'inProgress' }]);
  });

  it('reads values from the message, flow and global context for every message, and from env at deploy', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(
      emulator,
      {
        alertStatus: 'triage.status', alertStatusType: 'msg',
        classification: 'verdict', classificationType: 'flow',
        determination: 'kind', determinationType: 'global',
        assignedTo: 'SOC_MAILBOX', assignedToType: 'env',
        comment: 'topic', commentType: 'msg',
      },
      { config: FAST_GRAPH, tabEnv: [{ name: 'SOC_MAILBOX', value: 'soc@contoso.com', type: 'str' }] },
    );
    flowOf(rig.node).set('verdict', 'FalsePositive');
    globalOf(rig.node).set('kind', 'notMalicious');
    const first = await rig.update({ alertId: id, triage: { status: 'resolved' }, topic: 'closed by the flow' });
    assert.equal(first.error, undefined, JSON.stringify(first.error?.error));
    flowOf(rig.node).set('verdict', 'truePositive');
    globalOf(rig.node).set('kind', '');
    await rig.update({ alertId: id, triage: { status: 'inprogress' }, topic: 'reopened', update: { determination: 'malware' } });
    assert.deepEqual(patches(), [
      { status: 'resolved', classification: 'falsePositive', determination: 'notMalicious', assignedTo: 'soc@contoso.com' },
      { status: 'inProgress', classification: 'truePositive', determination: 'malware', assignedTo: 'soc@contoso.com' },
    ]);
    const comments = writes().filter((r) => r.endpoint === 'graph-comments').map((r) => (JSON.parse(r.body ?? '{}') as { comment: string }).comment);
    assert.deepEqual(comments, ['closed by the flow', 'reopened']);
  });

  it('refuses a message property or context key that is not set, and sends nothing', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'triage.status', alertStatusType: 'msg', classification: 'verdict', classificationType: 'flow' });
    const noStatus = caught((await rig.update({ alertId: id })).error);
    assert.equal(noStatus.code, 'INVALID_QUERY');
    assert.match(noStatus.message, /^status is to come from msg\.triage\.status, which this message does not have/);
    const noVerdict = caught((await rig.update({ alertId: id, triage: { status: 'resolved' } })).error);
    assert.equal(noVerdict.code, 'INVALID_CONFIG');
    assert.match(noVerdict.message, /^classification is to come from flow context "verdict", which is not set/);
    const badVerdict = await (async () => {
      flowOf(rig.node).set('verdict', 'benign');
      return caught((await rig.update({ alertId: id, triage: { status: 'resolved' } })).error);
    })();
    assert.equal(badVerdict.code, 'INVALID_CONFIG');
    assert.match(badVerdict.message, /^classification from flow context "verdict": classification must be one of unknown, falsePositive/);
    assert.deepEqual(emulator.requests, [], 'nothing was sent');
  });

  it('takes a message property or context value of null as not set, not as "unassign", and sends nothing', async () => {
    const { id } = detection();
    const cases: Array<[string, string, RegExp]> = [
      ['msg', 'INVALID_QUERY', /^assignedTo is to come from msg\.owner, which this message does not have/],
      ['flow', 'INVALID_CONFIG', /^assignedTo is to come from flow context "owner", which is not set/],
      ['global', 'INVALID_CONFIG', /^assignedTo is to come from global context "owner", which is not set/],
    ];
    for (const [source, code, reason] of cases) {
      const rig = await loadUpdateRig(emulator, { assignedTo: 'owner', assignedToType: source });
      flowOf(rig.node).set('owner', null);
      globalOf(rig.node).set('owner', null);
      const { error } = await rig.update({ alertId: id, owner: null });
      assert.equal(caught(error).code, code, source);
      assert.match(caught(error).message, reason);
      await helper.unload();
    }
    assert.deepEqual(emulator.requests, [], 'nothing was sent: the alert was not unassigned');
  });

  it('refuses a bad value from a message property as the message\'s fault, INVALID_QUERY, naming the property', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'triage.status', alertStatusType: 'msg' });
    const { error } = await rig.update({ alertId: id, triage: { status: 'closed' } });
    assert.equal(caught(error).code, 'INVALID_QUERY');
    assert.match(caught(error).message, /^msg\.triage\.status: status must be one of new, inProgress, resolved \(in any case\), got "closed"$/);
    assert.deepEqual(emulator.requests, []);
  });

  it('refuses a bad value from an environment variable as INVALID_CONFIG naming the variable, and never shows the value', async () => {
    const { id } = detection();
    const value = 'hunter2-a-secret-chosen-by-mistake';
    const rig = await loadUpdateRig(emulator, { alertStatus: 'SOC_STATUS', alertStatusType: 'env' }, { tabEnv: [{ name: 'SOC_STATUS', value, type: 'str' }] });
    const { error } = await rig.update({ alertId: id });
    assert.equal(caught(error).code, 'INVALID_CONFIG');
    assert.match(caught(error).message, /^the environment variable SOC_STATUS does not hold a valid status/);
    assert.equal(rig.statuses.at(-1)?.fill, 'red');
    assertNoSecret(everythingShown(rig), [value]);
    assert.deepEqual(emulator.requests, []);
  });

  it('does not read the message property or context key of a field msg.update gives', async () => {
    const { id } = detection();
    // Neither msg.triage.status nor the flow context's "verdict" is set: reading either would refuse the message.
    const rig = await loadUpdateRig(emulator, { alertStatus: 'triage.status', alertStatusType: 'msg', classification: 'verdict', classificationType: 'flow' }, { config: FAST_GRAPH });
    const given = await rig.update({ alertId: id, update: { status: 'resolved', classification: 'falsePositive' } });
    assert.equal(given.error, undefined, JSON.stringify(given.error?.error));
    const keptOut = await rig.update({ alertId: id, update: { Status: '', classification: '', assignedTo: 'soc@contoso.com' } });
    assert.equal(keptOut.error, undefined, JSON.stringify(keptOut.error?.error));
    assert.deepEqual(patches(), [{ status: 'resolved', classification: 'falsePositive' }, { assignedTo: 'soc@contoso.com' }]);
  });

  it('refuses msg.update of null, "", 0 or false as not an object, and sends nothing', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress' });
    for (const [update, got] of [[null, 'null'], ['', 'string'], [0, 'number'], [false, 'boolean']] as const) {
      const { error, output } = await rig.update({ alertId: id, update });
      assert.equal(output, undefined, `msg.update ${JSON.stringify(update)} was taken as no update`);
      assert.equal(caught(error).code, 'INVALID_QUERY');
      assert.equal(caught(error).message, `msg.update must be an object such as {"status": "inProgress"}, got ${got}`);
    }
    assert.deepEqual(emulator.requests, [], 'nothing was sent');
  });

  it('refuses an unknown value, nothing to change, a missing or bad id and a bad msg.update, sends nothing, and stays ready', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { assignedTo: 'soc@contoso.com' });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ alertId: id, update: { status: 'closed' } }, /^status must be one of new, inProgress, resolved \(in any case\), got "closed"$/],
      [{ alertId: id, update: { determination: 'clean' } }, /^determination must be one of unknown, apt, malware, securityPersonnel, .*, lineOfBusinessApplication \(in any case\), got "clean"$/],
      [{ alertId: id, update: { assignedTo: '' } }, /^nothing to change: give status, classification, determination, assignedTo or comment in the node or in msg.update$/],
      [{ payload: 1700000000000 }, /^no alert id: set msg.alertId, or send the alert itself as msg.payload/],
      [{ alertId: '../../users' }, /^the alert id in msg.alertId must be an id such as .*, got "..\/..\/users"$/],
      [{ payload: { id: 'a?b=c' } }, /^the alert id in msg.payload.id must be/],
      [{ alertId: id, update: 'resolved' }, /^msg.update must be an object such as \{"status": "inProgress"\}, got string$/],
      [{ alertId: id, update: { state: 'new' } }, /^unknown property "state" in msg.update: the known ones are status, classification, determination, assignedTo, comment$/],
    ];
    await assertRefused(rig, cases);
    assert.deepEqual(emulator.requests, [], 'no request for invalid input');
    const { output } = await rig.update({ alertId: id });
    assert.equal(alertOf(output).assignedTo, 'soc@contoso.com', 'the node still works');
  });

  it('reports a value in the node Graph does not know at deploy, before any message', async () => {
    const rig = await loadUpdateRig(emulator, { alertStatus: 'closed' });
    const { error } = await rig.update({ alertId: 'da1_2' });
    assert.deepEqual(rig.statuses.at(-1)?.fill, 'red');
    assert.equal(caught(error).code, 'INVALID_CONFIG');
    assert.match(caught(error).message, /^node default: status must be one of new, inProgress, resolved/);
    assert.deepEqual(emulator.requests, []);
  });

  it('fails at once on 403 naming SecurityAlert.ReadWrite.All, and on 404 saying the id is unknown', async () => {
    const { id } = detection();
    emulator.setGraphPermissions(['SecurityAlert.Read.All']);
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress' });
    const forbidden = await rig.update({ alertId: id });
    assert.equal(caught(forbidden.error).code, 'HTTP_403');
    assert.equal(forbidden.error?.statusCode, 403);
    assert.match(caught(forbidden.error).message, /^Microsoft Graph answered HTTP 403: forbidden: changing alerts needs the SecurityAlert\.ReadWrite\.All application permission of Microsoft Graph, with admin consent — the service said: Missing role permissions/);
    // The short reason comes from the catalog (test/nodes/status.test.ts); the test helper has none, so the message shows.
    assert.deepEqual(rig.statuses.at(-1), { fill: 'red', shape: 'ring', text: 'Microsoft Graph answered HTTP 403: forbidden: changing aler…' });
    assert.equal(writes().length, 1, '403 is not retried');

    // Granted (admin consent); a token keeps its roles, so the next write needs a new one.
    emulator.setGraphPermissions(['SecurityAlert.ReadWrite.All']);
    emulator.revokeTokens();

    const missing = await rig.update({ alertId: 'da000000000000000000_1' });
    assert.equal(caught(missing.error).code, 'HTTP_404');
    assert.equal(missing.error?.statusCode, 404);
    assert.match(caught(missing.error).message, /^Microsoft Graph answered HTTP 404: not found: this tenant has no alert with the id "da000000000000000000_1"/);
  });

  it('reports a 400 Graph answers as HTTP_400 with its words, the token blanked out', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress' });
    // A gateway that quotes the request back, bearer token and all.
    emulator.injectFault({ kind: 'echo' });
    const { error } = await rig.update({ alertId: id });
    assert.equal(caught(error).code, 'HTTP_400');
    assert.equal(error?.statusCode, 400);
    assert.match(caught(error).message, /^Microsoft Graph answered HTTP 400: bad request: Graph refused the change — the service said: Request refused \(HTTP 400\)\. You sent: Authorization: Bearer \*\*\*$/);
  });

  it('retries a 429 after the Retry-After Graph asks for, and 5xx answers, then succeeds', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress' });
    emulator.injectFault({ kind: 'http429', retryAfter: '1' });
    const started = Date.now();
    const throttled = await rig.update({ alertId: id });
    assert.equal(throttled.error, undefined);
    assert.ok(Date.now() - started >= 950, `waited ${Date.now() - started} ms, not the second Graph asked for`);
    assert.ok(rig.statuses.some((s) => s.fill === 'yellow' && s.text === 'retrying (1/4)…'));
    assert.deepEqual(writes().map((r) => r.status), [429, 200]);

    emulator.injectFault({ kind: 'http500' });
    emulator.injectFault({ kind: 'http503', retryAfter: '0' });
    const recovered = await rig.update({ alertId: id, update: { status: 'resolved' } });
    assert.equal(alertOf(recovered.output).status, 'resolved');
    assert.deepEqual(writes().map((r) => r.status), [429, 200, 500, 503, 200]);
  });

  it('reports HTTP_429 when Graph keeps throttling after the retries', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress' });
    emulator.injectFault({ kind: 'http429', retryAfter: '0', times: Infinity });
    const { error } = await rig.update({ alertId: id });
    assert.equal(caught(error).code, 'HTTP_429');
    assert.equal(error?.statusCode, 429);
    assert.equal(writes().length, 5, 'the first try and 4 retries');
    assert.equal(rig.statuses.at(-1)?.fill, 'red');
  });

  it('fetches one new token when Graph refuses the current one', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress' });
    await rig.update({ alertId: id });
    emulator.injectFault({ kind: 'http401' });
    const { output, error } = await rig.update({ alertId: id, update: { status: 'resolved' } });
    assert.equal(error, undefined);
    assert.equal(alertOf(output).status, 'resolved');
    assert.deepEqual(emulator.requests.map((r) => `${r.endpoint} ${r.status}`), ['graph-token 200', 'graph-alert 200', 'graph-alert 401', 'graph-token 200', 'graph-alert 200']);
  });

  it('makes the detections node (api graph) pull the alert again with its new status', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'resolved', classification: 'falsePositive' }, {
      config: { api: 'graph' },
      extraNodes: [
        { id: 'det', type: 'defender-detections', z: 'tab', defender: 'cfg', shape: 'native', incremental: true, initialAgo: 'PT1H', overlap: 'PT5M', wires: [['pulled'], ['summary']] },
        { id: 'pulled', type: 'helper', z: 'tab' },
        { id: 'summary', type: 'helper', z: 'tab' },
      ],
    });
    const pulled = new Probe(helper.getNode('pulled'));
    const summaries = new Probe(helper.getNode('summary'));
    const det = helper.getNode('det') as UpdateRig['node'];
    det.receive({ payload: 1 });
    await summaries.until(1);
    const before = alertOf(pulled.messages[0]);
    assert.deepEqual([pulled.messages.length, before.id, before.status], [1, id, 'new']);

    const { output } = await rig.update({ payload: pulled.messages[0].payload });
    det.receive({ payload: 2 });
    await summaries.until(2);
    assert.equal(pulled.messages.length, 2, 'the changed alert came again');
    const again = alertOf(pulled.messages[1]);
    assert.deepEqual([again.id, again.status, again.classification], [id, 'resolved', 'falsePositive']);
    assert.ok(again.lastUpdateDateTime > before.lastUpdateDateTime);
    assert.equal(again.lastUpdateDateTime, alertOf(output).lastUpdateDateTime);
    // One Graph token for the pulls and the write: the config node reads from Graph.
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'graph-token').length, 1);
  });

  it('keeps the secret and the tokens out of messages, statuses and logs', async () => {
    const { id } = detection();
    const rig = await loadUpdateRig(emulator, { alertStatus: 'inProgress', comment: 'seen' });
    await rig.update({ alertId: id });
    emulator.injectFault({ kind: 'echo' });
    await rig.update({ alertId: id });
    emulator.setGraphPermissions([]);
    emulator.revokeTokens();
    await rig.update({ alertId: id });
    const shown = everythingShown(rig);
    assert.ok(rig.errors.messages.length >= 2);
    assertNoSecret(shown, [SECRET, ...emulator.issuedTokens]);
  });

  it('runs example 05: each inject button\'s msg.alertId and msg.update change the alert', async () => {
    const flow = readFlow('examples', '05 Triage an alert from inject buttons.json');
    const { id } = detection();
    // Our nodes as shipped, the config node pointed at the emulator, every other node a probe with its wires.
    const runnable = runnableFlow(flow, emulator, ['defender-alert-update']);
    const configId = String(flow.find((n) => n.type === 'defender-config')?.id);
    await helper.load([configNode, detectionsNode, updateNode], runnable, { [configId]: { clientSecret: SECRET } });
    const update = flow.find((n) => n.type === 'defender-alert-update');
    const shown = new Probe(helper.getNode(String((update?.wires as string[][])[0][0])));
    const injects = flow.filter((n) => n.type === 'inject');
    assert.equal(injects.length, 2);
    for (const [i, inject] of injects.entries()) {
      // What the inject node sends, with the example's placeholder id replaced by a stored alert's.
      const msg: Record<string, unknown> = {};
      for (const prop of inject.props as Array<{ p: string; v: string; vt: string }>) msg[prop.p] = prop.vt === 'json' ? JSON.parse(prop.v) : prop.v;
      msg.alertId = id;
      (helper.getNode(String(update?.id)) as UpdateRig['node']).receive(msg);
      await shown.until(i + 1);
    }
    const [taken, closed] = shown.messages.map(alertOf);
    assert.deepEqual([taken.status, taken.assignedTo, taken.comments.map((c) => c.comment)], ['inProgress', 'soc@contoso.com', ['Taken by the SOC from Node-RED']]);
    assert.deepEqual([closed.status, closed.classification, closed.determination], ['resolved', 'falsePositive', 'notMalicious']);
  });
});
