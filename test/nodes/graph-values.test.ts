/**
 * Graph's values as a flow meets them, in a real Node-RED runtime against the emulator: every Graph request
 * the nodes make says `Prefer: include-unknown-enum-members` (pulls, the update node's writes and reads, Test
 * connection), so members Graph added after `unknownFutureValue` reach the flow as Graph has them; the
 * placeholder itself is no value in the SIEM shape and its topic; Category comes from `categories` too.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Detection } from '../../src/defender/services/detection';
import type { Emulator, GraphOverrides } from '../../src/emulator';
import configNode from '../../src/nodes/defender-config';
import { adminPost, configFlowNode, everythingShown, helper, loadRig, loadUpdateRig, type Message, recent, SECRET, startEmulator, withEmulatorSuite } from '../fixtures/harness';

const PREFER = 'include-unknown-enum-members';
const GRAPH = { api: 'graph' };
const MINUTE = 60_000;

type Alert = Record<string, unknown> & { evidence: Array<Record<string, unknown>> };
const evidenceOf = (alert: Alert, type: string): Record<string, unknown> | undefined =>
  alert.evidence.find((e) => e['@odata.type'] === `#microsoft.graph.security.${type}`);

describe('Graph requests ask for the enum members added after unknownFutureValue', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 41, graphMaxPageSize: 2 }, (e) => (emulator = e));

  /** Every request to a Graph API endpoint (not the token endpoint), with the Prefer header it carried. */
  const graphCalls = () => emulator.requests.filter((r) => r.endpoint.startsWith('graph-') && r.endpoint !== 'graph-token');
  const assertEveryGraphCallPrefers = (least: number): void => {
    const calls = graphCalls();
    assert.ok(calls.length >= least, `expected at least ${least} Graph requests, got ${calls.length}`);
    for (const call of calls) assert.equal(call.prefer, PREFER, `${call.method} ${call.path} without the Prefer header`);
  };

  /** An alert whose detection source and evidence remediation status Graph added after unknownFutureValue. */
  const evolvableAlert = (at = recent().lastProcessedAt): string =>
    String(emulator.addDetection({ Source: 'MicrosoftThreatIntelligence', LastProcessedTimeUtc: at }, { graph: { remediationStatus: 'unremediated' } }).AlertId);

  it('sends it on every page of an incremental pull, and a native alert carries the members as Graph has them', async () => {
    const id = evolvableAlert();
    emulator.addDetections(4, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 10 * MINUTE });
    const rig = await loadRig(emulator, { shape: 'native' }, { config: GRAPH });
    const { detections, error } = await rig.pull();
    assert.equal(error, undefined, JSON.stringify(error?.error));
    assert.equal(detections.length, 5);
    assertEveryGraphCallPrefers(3);
    const alert = detections.find((m) => (m.payload as Alert).id === id)?.payload as Alert;
    assert.equal(alert.detectionSource, 'microsoftThreatIntelligence');
    assert.equal(evidenceOf(alert, 'fileEvidence')?.remediationStatus, 'unremediated');
  });

  it('sends it with an explicit limit, and when Graph refuses $orderby and the window is read whole', async () => {
    emulator.addDetections(5, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 10 * MINUTE });
    const rig = await loadRig(emulator, {}, { config: GRAPH });
    const limited = await rig.pull({ query: { ago: 'PT1H', limit: 3 } });
    assert.equal(limited.detections.length, 3);
    assertEveryGraphCallPrefers(2);
    await helper.unload();

    const refusing = await startEmulator({ graphOrderBy: 'refused', graphMaxPageSize: 2 });
    try {
      refusing.addDetections(5, { lastProcessedAt: Date.now() - MINUTE, spreadMs: 10 * MINUTE });
      const fallback = await loadRig(refusing, {}, { config: GRAPH });
      assert.equal((await fallback.pull()).detections.length, 5);
      const calls = refusing.requests.filter((r) => r.endpoint === 'graph-alerts');
      assert.ok(calls.length >= 3 && calls.every((r) => r.prefer === PREFER));
    } finally {
      await helper.unload();
      await refusing.close();
    }
  });

  for (const api of ['graph', 'siem'] as const) {
    it(`sends it on the update node's PATCH, comment and read with a ${api} config node, and answers the alert with Graph's members`, async () => {
      const id = evolvableAlert();
      const rig = await loadUpdateRig(emulator, { status: 'inProgress', comment: 'taken by the SOC' }, { config: { api } });
      const { output, error } = await rig.update({ alertId: id });
      assert.equal(error, undefined, JSON.stringify(error?.error));
      assert.deepEqual(graphCalls().map((r) => `${r.method} ${r.endpoint}`), ['PATCH graph-alert', 'POST graph-comments', 'GET graph-alert']);
      assertEveryGraphCallPrefers(3);
      const alert = (output as Message).payload as Alert;
      assert.equal(alert.detectionSource, 'microsoftThreatIntelligence');
      assert.equal(evidenceOf(alert, 'fileEvidence')?.remediationStatus, 'unremediated');
    });
  }

  it('sends it from Test connection with api graph', async () => {
    await helper.load([configNode], [configFlowNode(emulator, GRAPH)], { cfg: { clientSecret: SECRET } });
    const { id: _id, type: _type, name: _name, ...dialog } = configFlowNode(emulator, GRAPH);
    const answer = await adminPost('/defender-config/cfg/test', { ...dialog, clientSecret: '__PWRD__' });
    assert.deepEqual(answer.body, { ok: true, detections: 0 });
    assertEveryGraphCallPrefers(1);
  });
});

describe('Graph\'s enum values and categories in the shapes siem and native', () => {
  let emulator: Emulator;
  withEmulatorSuite({ seed: 43 }, (e) => (emulator = e));

  /**
   * Three alerts: one with members Graph added after unknownFutureValue, one with values v1.0 does not list
   * (Graph sends the placeholder for them, with the Prefer header too), one with only `categories`.
   */
  const storeAlerts = (): { evolvable: string; placeholder: string; categorised: string } => {
    const at = Date.now() - MINUTE;
    const add = (fields: Record<string, unknown>, graph: GraphOverrides, offset: number): string =>
      String(emulator.addDetection({ Severity: 'High', ...fields, LastProcessedTimeUtc: at - offset }, { graph }).AlertId);
    return {
      evolvable: add({ Source: 'MicrosoftThreatIntelligence' }, { remediationStatus: 'unremediated' }, 3000),
      placeholder: add({ Severity: 'Critical', Source: 'MicrosoftFutureSensor' }, { remediationStatus: 'quarantinedInOrbit' }, 2000),
      categorised: add({}, { category: null, categories: ['Malware', 'Execution'] }, 1000),
    };
  };
  const byId = (messages: Message[], key: string): Map<string, Message> => new Map(messages.map((m) => [String((m.payload as Record<string, unknown>)[key]), m]));

  it('shape siem: added members become SIEM words, the placeholder no value, Category the categories joined', async () => {
    const ids = storeAlerts();
    const rig = await loadRig(emulator, {}, { config: GRAPH });
    const { detections, error } = await rig.pull();
    assert.equal(error, undefined, JSON.stringify(error?.error));
    const got = byId(detections, 'AlertId');
    const evolvable = got.get(ids.evolvable)?.payload as Detection;
    assert.deepEqual([evolvable.Source, evolvable.RemediationAction, evolvable.RemediationIsSuccess], ['MicrosoftThreatIntelligence', 'unremediated', false]);
    const placeholder = got.get(ids.placeholder) as Message;
    const p = placeholder.payload as Detection;
    assert.deepEqual([p.Severity, p.Source, p.RemediationAction, p.RemediationIsSuccess], ['', '', '', null]);
    assert.match(String(placeholder.topic), /^\[Unknown\] /);
    assert.equal((got.get(ids.categorised)?.payload as Detection).Category, 'Malware,Execution');
    assert.ok(!everythingShown(rig).toLowerCase().includes('unknownfuturevalue'), 'the placeholder reached the flow as text');
  });

  it('shape native: the alert as Graph sent it, added members and placeholder alike, and a topic without the placeholder', async () => {
    const ids = storeAlerts();
    const rig = await loadRig(emulator, { shape: 'native' }, { config: GRAPH });
    const { detections } = await rig.pull();
    const got = byId(detections, 'id');
    const evolvable = got.get(ids.evolvable)?.payload as Alert;
    assert.deepEqual([evolvable.detectionSource, evidenceOf(evolvable, 'fileEvidence')?.remediationStatus], ['microsoftThreatIntelligence', 'unremediated']);
    const placeholder = got.get(ids.placeholder) as Message;
    const p = placeholder.payload as Alert;
    assert.deepEqual([p.severity, p.detectionSource, evidenceOf(p, 'fileEvidence')?.remediationStatus], ['unknownFutureValue', 'unknownFutureValue', 'unknownFutureValue']);
    assert.match(String(placeholder.topic), /^\[Unknown\] /);
    assert.deepEqual((got.get(ids.categorised)?.payload as Alert).categories, ['Malware', 'Execution']);
  });
});
