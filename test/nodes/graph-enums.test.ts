/**
 * Graph's evolvable enums in a real Node-RED runtime against the emulator: every Graph request the nodes
 * make says `Prefer: include-unknown-enum-members` (pulls, the update node's writes and reads, Test
 * connection), so members Graph added after `unknownFutureValue` reach the flow as Graph has them.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import configNode from '../../src/nodes/defender-config';
import { adminPost, configFlowNode, helper, loadRig, loadUpdateRig, type Message, recent, SECRET, startEmulator, withEmulatorSuite } from '../fixtures/harness';

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
