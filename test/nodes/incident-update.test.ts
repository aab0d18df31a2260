/**
 * The defender-incident-update node in a real Node-RED runtime against the emulator's Microsoft Graph: where it
 * finds the incident, what it sends, what it answers, and how it fails. What it shares with the alert update
 * node (retries, 204, token refresh, legacy flows) is tested there; here what an incident adds.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { INCIDENT_ENUMS } from '../../src/defender/writing/incident-update';
import { type GraphAlert, toSiemDetection } from '../../src/defender/services/graph-mapping';
import type { Emulator } from '../../src/emulator';
import { assertNoSecret } from '../fixtures/sign-in';
import { assertEveryEnumValue, assertRefused, caught, everythingShown, FAST_GRAPH, flowOf, helper, loadIncidentUpdateRig, type Message, recent, SECRET, TENANT, withEmulatorSuite } from '../fixtures/harness';

type Incident = Record<string, unknown> & { id: string; status: string; assignedTo: string | null; customTags: string[]; comments: Array<{ comment: string }> };

const incidentOf = (m: Message | undefined): Incident => m?.payload as Incident;

describe('defender-incident-update', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 41 }, (e) => (emulator = e));

  /** One stored alert in an incident of its own: the alert as the SIEM API and as Graph show it, and the incident's id. */
  const incident = () => {
    const [siem] = emulator.addDetections(1, recent());
    const alert = emulator.graphAlert(String(siem.AlertId), TENANT) as Record<string, unknown> & { incidentId: string };
    return { siem, alert, id: alert.incidentId };
  };
  const stored = (id: string): Incident | undefined => emulator.graphIncidents(TENANT).find((i) => i.id === id) as Incident | undefined;
  const writes = () => emulator.requests.filter((r) => r.endpoint === 'graph-incident' || r.endpoint === 'graph-incident-comments');
  const patches = () => writes().filter((r) => r.method === 'PATCH').map((r) => JSON.parse(r.body ?? '{}') as Record<string, unknown>);

  it('changes the incident msg.incidentId names, with a Graph token from a SIEM config node, and sends the incident after the change', async () => {
    const { id } = incident();
    const rig = await loadIncidentUpdateRig(emulator, { incidentStatus: 'inProgress', assignedTo: 'soc@contoso.com' });
    const { output, error } = await rig.update({ incidentId: id, topic: 'kept' });
    assert.equal(error, undefined, JSON.stringify(error?.error));
    const changed = incidentOf(output);
    assert.deepEqual([changed.id, changed.status, changed.assignedTo], [id, 'inProgress', 'soc@contoso.com']);
    assert.equal(output?.incidentId, id);
    assert.equal(output?.topic, 'kept', 'the input message travels on');
    assert.deepEqual(patches(), [{ status: 'inProgress', assignedTo: 'soc@contoso.com' }], 'only what is given is sent');
    assert.deepEqual(emulator.requests.map((r) => `${r.method} ${r.path} ${r.status}`).slice(1), [`PATCH /v1.0/security/incidents/${id} 200`]);
    assert.equal(emulator.requests[0].endpoint, 'graph-token');
    assert.deepEqual([stored(id)?.status, stored(id)?.assignedTo], ['inProgress', 'soc@contoso.com']);
    assert.deepEqual(rig.statuses[0], { fill: 'blue', shape: 'ring', text: 'updating…' });
    assert.equal(rig.statuses.at(-1)?.fill, 'green');
    assert.match(String(rig.statuses.at(-1)?.text), /^inProgress at \d\d:\d\d:\d\d$/);
    assert.equal(rig.completions.messages.length, 1);
  });

  it('finds the incident in msg.incidentId first, else in an alert\'s incidentId, else in a SIEM-shaped IncidentId (a number too)', async () => {
    const a = incident();
    const b = incident();
    const c = incident();
    assert.equal(new Set([a.id, b.id, c.id]).size, 3, 'three incidents');
    const rig = await loadIncidentUpdateRig(emulator, { incidentStatus: 'resolved' }, { config: FAST_GRAPH });
    const given = await rig.update({ incidentId: a.id, payload: b.alert });
    assert.equal(given.output?.incidentId, a.id);
    const alert = await rig.update({ payload: b.alert });
    assert.equal(alert.output?.incidentId, b.id);
    const siem = await rig.update({ payload: { ...c.siem, IncidentId: Number(c.id) } });
    assert.equal(siem.error, undefined, JSON.stringify(siem.error?.error));
    assert.equal(siem.output?.incidentId, c.id);
    const number = await rig.update({ incidentId: Number(a.id), update: { status: 'active' } });
    assert.equal(incidentOf(number.output).status, 'active');
    // A detection as a detections node on Graph sends it in shape siem: no IncidentId, but its incident's link.
    const linked = await rig.update({ payload: toSiemDetection(b.alert as GraphAlert), update: { status: 'inProgress' } });
    assert.equal(linked.error, undefined, JSON.stringify(linked.error?.error));
    assert.equal(linked.output?.incidentId, b.id);
    assert.deepEqual(writes().map((r) => r.path), [a.id, b.id, c.id, a.id, b.id].map((id) => `/v1.0/security/incidents/${id}`));
  });

  it('refuses a message without an incident id, saying where it looked, and sends nothing', async () => {
    const { alert } = incident();
    const rig = await loadIncidentUpdateRig(emulator, { incidentStatus: 'resolved' });
    // An alert's own id is not an incident's: the update alert node is the one for it.
    for (const msg of [{ payload: 'resolve it' }, { payload: { id: alert.id } }, { alertId: alert.id }]) {
      const { error, output } = await rig.update(msg);
      assert.equal(output, undefined);
      assert.equal(caught(error).code, 'INVALID_QUERY');
      assert.equal(caught(error).message, 'no incident id: set msg.incidentId, or send one of its alerts as msg.payload (its incidentId, or IncidentId or the incident IncidentLinkToMTP links to in the SIEM shape; the SIEM API\'s own detections link no incident)');
    }
    assert.deepEqual(emulator.requests, [], 'nothing was sent');
  });

  it('takes every status, classification and determination a client may set, in any case, and sends it in Graph\'s casing', async () => {
    const { id } = incident();
    const rig = await loadIncidentUpdateRig(emulator, {}, { config: FAST_GRAPH });
    const expected = await assertEveryEnumValue(rig, { incidentId: id }, INCIDENT_ENUMS);
    assert.deepEqual(patches(), expected);
  });

  it('refuses the statuses Defender sets (redirected, awaitingAction) with their own error, from msg.update or the node, and sends nothing', async () => {
    const { id } = incident();
    const rig = await loadIncidentUpdateRig(emulator, { assignedTo: 'soc@contoso.com' });
    for (const status of ['redirected', 'AwaitingAction']) {
      const { error, output } = await rig.update({ incidentId: id, update: { status } });
      assert.equal(output, undefined);
      assert.equal(caught(error).code, 'INVALID_QUERY');
      assert.match(caught(error).message, /^status (redirected|awaitingAction) is set by Defender, not by a client \(redirected when it merges incidents, awaitingAction by Defender Experts\): give active, inProgress or resolved$/);
    }
    await helper.unload();
    const node = await loadIncidentUpdateRig(emulator, { incidentStatus: 'redirected' });
    const { error } = await node.update({ incidentId: id });
    assert.equal(caught(error).code, 'INVALID_CONFIG');
    assert.match(caught(error).message, /^node default: status redirected is set by Defender/);
    assert.equal(node.statuses.at(-1)?.fill, 'red');
    assert.deepEqual(emulator.requests, [], 'nothing was sent');
  });

  it('sets the tags from the field\'s comma-separated text or msg.update\'s list, empties them with [], and refuses tags that are not texts', async () => {
    const { id } = incident();
    const rig = await loadIncidentUpdateRig(emulator, { customTags: ' Ransomware, VIP ,' }, { config: FAST_GRAPH });
    assert.deepEqual(incidentOf((await rig.update({ incidentId: id })).output).customTags, ['Ransomware', 'VIP']);
    assert.deepEqual(incidentOf((await rig.update({ incidentId: id, update: { customTags: ['Payroll', ' Finance '] } })).output).customTags, ['Payroll', 'Finance']);
    assert.deepEqual(incidentOf((await rig.update({ incidentId: id, update: { customTags: 'Escalated' } })).output).customTags, ['Escalated']);
    assert.deepEqual(incidentOf((await rig.update({ incidentId: id, update: { customTags: [] } })).output).customTags, []);
    assert.deepEqual(patches(), [{ customTags: ['Ransomware', 'VIP'] }, { customTags: ['Payroll', 'Finance'] }, { customTags: ['Escalated'] }, { customTags: [] }]);
    const before = emulator.requests.length;
    for (const [tags, shown] of [[42, '42'], [['VIP', 7], '["VIP",7]'], [{ tag: 'VIP' }, '{"tag":"VIP"}']] as const) {
      const { error } = await rig.update({ incidentId: id, update: { customTags: tags } });
      assert.equal(caught(error).code, 'INVALID_QUERY');
      assert.equal(caught(error).message, `customTags must be a list of tags, or tags separated by commas (an empty list removes them all), got ${shown}`);
    }
    assert.equal(emulator.requests.length, before, 'nothing was sent for bad tags');
  });

  it('lets msg.update override the node\'s values, a key given empty keep the node\'s value out, and null unassign', async () => {
    const { id } = incident();
    const rig = await loadIncidentUpdateRig(emulator, { incidentStatus: 'inProgress', classification: 'truePositive', assignedTo: 'soc@contoso.com', customTags: 'VIP' }, { config: FAST_GRAPH });
    await rig.update({ incidentId: id, update: { Status: 'resolved', classification: '', Determination: 'multistagedattack', CUSTOMTAGS: '' } });
    const { output } = await rig.update({ incidentId: id, update: { assignedTo: null } });
    assert.deepEqual(patches(), [
      { status: 'resolved', determination: 'multiStagedAttack', assignedTo: 'soc@contoso.com' },
      { status: 'inProgress', classification: 'truePositive', assignedTo: null, customTags: ['VIP'] },
    ]);
    assert.equal(incidentOf(output).assignedTo, null);
  });

  it('adds a comment and answers the incident with it, read again after the comment', async () => {
    const { id } = incident();
    const rig = await loadIncidentUpdateRig(emulator, { incidentStatus: 'inProgress', comment: 'E-mailed to the SOC' });
    const changed = incidentOf((await rig.update({ incidentId: id })).output);
    assert.deepEqual(changed.comments.map((c) => c.comment), ['E-mailed to the SOC']);
    assert.equal(changed.status, 'inProgress');
    assert.deepEqual(writes().map((r) => `${r.method} ${r.endpoint}`), ['PATCH graph-incident', 'POST graph-incident-comments', 'GET graph-incident']);
    const posted = writes().find((r) => r.method === 'POST');
    assert.deepEqual(JSON.parse(posted?.body ?? '{}'), { '@odata.type': 'microsoft.graph.security.alertComment', comment: 'E-mailed to the SOC' });
    assert.deepEqual(stored(id)?.comments.map((c) => c.comment), ['E-mailed to the SOC']);
  });

  it('reads values from the message and flow context for every message, and from env at deploy', async () => {
    const { id } = incident();
    const rig = await loadIncidentUpdateRig(
      emulator,
      {
        incidentStatus: 'triage.status', incidentStatusType: 'msg',
        assignedTo: 'SOC_MAILBOX', assignedToType: 'env',
        customTags: 'tags', customTagsType: 'flow',
        comment: 'topic', commentType: 'msg',
      },
      { config: FAST_GRAPH, tabEnv: [{ name: 'SOC_MAILBOX', value: 'soc@contoso.com', type: 'str' }] },
    );
    flowOf(rig.node).set('tags', ['Ransomware']);
    const first = await rig.update({ incidentId: id, triage: { status: 'inprogress' }, topic: 'taken by the flow' });
    assert.equal(first.error, undefined, JSON.stringify(first.error?.error));
    flowOf(rig.node).set('tags', 'Ransomware, Contained');
    await rig.update({ incidentId: id, triage: { status: 'RESOLVED' }, topic: 'closed' });
    assert.deepEqual(patches(), [
      { status: 'inProgress', assignedTo: 'soc@contoso.com', customTags: ['Ransomware'] },
      { status: 'resolved', assignedTo: 'soc@contoso.com', customTags: ['Ransomware', 'Contained'] },
    ]);
    assert.deepEqual(stored(id)?.comments.map((c) => c.comment), ['taken by the flow', 'closed']);
    const missing = await rig.update({ incidentId: id, topic: 'no status' });
    assert.equal(caught(missing.error).code, 'INVALID_QUERY');
    assert.match(caught(missing.error).message, /^status is to come from msg\.triage\.status, which this message does not have/);
  });

  it('never reads a status object the editor saved as `status`: its status is incidentStatus', async () => {
    const { id } = incident();
    // The editor keeps a node's runtime status as its `status`, and a deploy saves that object.
    const shown = { fill: 'green', shape: 'dot', text: 'inProgress at 10:42:07' };
    const rig = await loadIncidentUpdateRig(emulator, { incidentStatus: 'resolved', status: shown, statusType: 'str' });
    const { output, error } = await rig.update({ incidentId: id });
    assert.equal(error, undefined, JSON.stringify(error?.error));
    assert.equal(incidentOf(output).status, 'resolved');
    assert.deepEqual(patches(), [{ status: 'resolved' }]);
  });

  it('refuses an unknown value, nothing to change, a bad id and a bad msg.update, sends nothing, and stays ready', async () => {
    const { id } = incident();
    const rig = await loadIncidentUpdateRig(emulator, { assignedTo: 'soc@contoso.com' });
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ incidentId: id, update: { status: 'new' } }, /^status must be one of active, inProgress, resolved \(in any case\), got "new"$/],
      [{ incidentId: id, update: { classification: 'benign' } }, /^classification must be one of unknown, falsePositive, truePositive, informationalExpectedActivity \(in any case\), got "benign"$/],
      [{ incidentId: id, update: { assignedTo: '' } }, /^nothing to change: give status, classification, determination, assignedTo, customTags or comment in the node or in msg.update$/],
      [{ incidentId: '../alerts_v2' }, /^the incident id in msg.incidentId must be an id such as 29135 .*, got "..\/alerts_v2"$/],
      [{ incidentId: -3 }, /^the incident id in msg.incidentId must be an id such as 29135 .*, got -3$/],
      [{ payload: { incidentId: '1?$expand=alerts' } }, /^the incident id in msg.payload.incidentId must be/],
      [{ incidentId: id, update: ['resolved'] }, /^msg.update must be an object such as \{"status": "inProgress"\}, got an array$/],
      [{ incidentId: id, update: { severity: 'low' } }, /^unknown property "severity" in msg.update: the known ones are status, classification, determination, assignedTo, customTags, comment$/],
      [{ incidentId: id, update: { status: null } }, /^status cannot be null \(only assignedTo can, to unassign the incident\)/],
    ];
    await assertRefused(rig, cases);
    assert.deepEqual(emulator.requests, [], 'no request for invalid input');
    const { output } = await rig.update({ incidentId: id });
    assert.equal(incidentOf(output).assignedTo, 'soc@contoso.com', 'the node still works');
  });

  it('fails at once on 403 naming SecurityIncident.ReadWrite.All, on 404 saying the id is unknown, and works again once granted', async () => {
    const { id } = incident();
    emulator.setGraphPermissions(['SecurityIncident.Read.All', 'SecurityAlert.ReadWrite.All']);
    const rig = await loadIncidentUpdateRig(emulator, { incidentStatus: 'inProgress' });
    const forbidden = await rig.update({ incidentId: id });
    assert.equal(caught(forbidden.error).code, 'HTTP_403');
    assert.equal(forbidden.error?.statusCode, 403);
    assert.match(caught(forbidden.error).message, /^Microsoft Graph answered HTTP 403: forbidden: changing incidents needs the SecurityIncident\.ReadWrite\.All application permission of Microsoft Graph, with admin consent/);
    assert.equal(rig.statuses.at(-1)?.fill, 'red');
    assert.equal(writes().length, 1, '403 is not retried');

    emulator.setGraphPermissions(['SecurityIncident.ReadWrite.All']);
    emulator.revokeTokens();
    const missing = await rig.update({ incidentId: '999999' });
    assert.equal(caught(missing.error).code, 'HTTP_404');
    assert.equal(missing.error?.statusCode, 404);
    assert.match(caught(missing.error).message, /^Microsoft Graph answered HTTP 404: not found: this tenant has no incident with the id "999999"/);

    const { output, error } = await rig.update({ incidentId: id });
    assert.equal(error, undefined, JSON.stringify(error?.error));
    assert.equal(incidentOf(output).status, 'inProgress');
  });

  it('keeps the secret and the tokens out of messages, statuses and logs', async () => {
    const { id } = incident();
    const rig = await loadIncidentUpdateRig(emulator, { incidentStatus: 'inProgress', comment: 'seen' });
    await rig.update({ incidentId: id });
    emulator.injectFault({ kind: 'echo' });
    await rig.update({ incidentId: id });
    emulator.setGraphPermissions([]);
    emulator.revokeTokens();
    await rig.update({ incidentId: id });
    assert.ok(rig.errors.messages.length >= 2);
    assertNoSecret(everythingShown(rig), [SECRET, ...emulator.issuedTokens]);
  });
});
