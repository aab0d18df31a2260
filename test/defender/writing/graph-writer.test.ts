/**
 * The Graph writer of a config node's Tenant against the emulator over loopback HTTP: which requests a
 * change set makes, with which token, and what it answers.
 */
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import type { AlertChanges } from '../../../src/defender/writing/alert-update';
import { DefenderError } from '../../../src/defender/errors';
import { DEFAULT_RETRY_POLICY } from '../../../src/defender/transport/retry';
import { Tenant } from '../../../src/defender/tenant';
import type { Emulator } from '../../../src/emulator';
import { CLIENT_ID, SECRET, TENANT, startEmulator } from '../../emulator/fixtures';

describe('AlertWriter', () => {
  let emulator: Emulator;
  const tenants: Tenant[] = [];
  before(async () => {
    emulator = await startEmulator({ seed: 8 });
  });
  afterEach(() => {
    for (const t of tenants.splice(0)) t.close();
    emulator.reset();
  });
  after(() => emulator.close());

  function tenant(api: 'siem' | 'graph'): Tenant {
    const t = new Tenant({ tenantId: TENANT, clientId: CLIENT_ID, region: 'custom', api, apiBaseUrl: emulator.url, authorityUrl: emulator.url }, { clientSecret: SECRET }, {
      retry: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1 },
    });
    tenants.push(t);
    return t;
  }
  const options = { timeoutMs: 5000, maxResponseBytes: 1 << 20, retry: { ...DEFAULT_RETRY_POLICY, baseDelayMs: 1 } };
  const update = (t: Tenant, id: string, changes: AlertChanges) => t.alerts(options).update(id, changes);
  const sent = (from = 0) => emulator.requests.slice(from).filter((r) => r.endpoint.startsWith('graph-alert') || r.endpoint === 'graph-comments').map((r) => `${r.method} ${r.endpoint}`);
  const oneAlert = (): string => String(emulator.addDetections(1, { lastProcessedAt: Date.now() - 60_000 })[0].AlertId);

  it('sends a PATCH in Graph\'s casing and answers the alert Graph answers, with a Graph token even for a SIEM config node', async () => {
    const id = oneAlert();
    const t = tenant('siem');
    const alert = await update(t, id, { status: 'inProgress', assignedTo: 'soc@contoso.com' });
    assert.deepEqual([alert.id, alert.status, alert.assignedTo], [id, 'inProgress', 'soc@contoso.com']);
    assert.equal(alert['@odata.context'], undefined, 'the OData envelope is not part of the alert');
    assert.deepEqual(sent(), ['PATCH graph-alert']);
    assert.deepEqual(emulator.requests.map((r) => r.endpoint), ['graph-token', 'graph-alert']);
    // The SIEM API's token cache is not touched; the Graph one is reused.
    assert.equal(t.tokens.requests, 0);
    await update(t, id, { classification: 'truePositive' });
    assert.equal(t.graphTokens.requests, 1);
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'graph-token').length, 1);
  });

  it('shares the token cache of a Graph config node', async () => {
    const id = oneAlert();
    const t = tenant('graph');
    assert.equal(t.graphTokens, t.tokens);
    await t.detections(options).fetchPage(new URLSearchParams({ ago: 'PT1H' }));
    await update(t, id, { status: 'resolved' });
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'graph-token').length, 1);
  });

  it('patches, then comments, then reads the alert again, so the answer is the alert after every change', async () => {
    const id = oneAlert();
    const t = tenant('siem');
    const alert = await update(t, id, { determination: 'malware', comment: 'E-mailed to the SOC' });
    assert.deepEqual(sent(), ['PATCH graph-alert', 'POST graph-comments', 'GET graph-alert']);
    const comments = alert.comments as Array<{ comment: string; createdDateTime: string }>;
    assert.deepEqual(comments.map((c) => c.comment), ['E-mailed to the SOC']);
    assert.equal(alert.lastUpdateDateTime, comments[0].createdDateTime);
    const bodies = emulator.requests.filter((r) => r.body !== undefined).map((r) => JSON.parse(r.body ?? '') as unknown);
    assert.deepEqual(bodies, [{ determination: 'malware' }, { '@odata.type': 'microsoft.graph.security.alertComment', comment: 'E-mailed to the SOC' }]);
    const from = emulator.requests.length;
    await update(t, oneAlert(), { comment: 'only a comment' });
    assert.deepEqual(sent(from), ['POST graph-comments', 'GET graph-alert']);
  });

  it('refuses a bad id or an empty change set before any request', async () => {
    const t = tenant('siem');
    await assert.rejects(update(t, 'x/../../users', { status: 'new' }), (err: DefenderError) => err.code === 'INVALID_QUERY');
    await assert.rejects(update(t, 'da1_2', { status: undefined, comment: undefined }), /nothing to change/);
    assert.deepEqual(emulator.requests, []);
  });

  it('names the permission on 403 and the id on 404, without retrying either', async () => {
    const t = tenant('siem');
    await assert.rejects(update(t, 'da404_1', { status: 'new' }), (err: DefenderError) => {
      assert.equal(err.code, 'HTTP_404');
      assert.equal(err.statusCode, 404);
      assert.match(err.message, /^Microsoft Graph answered HTTP 404: not found: this tenant has no alert with the id "da404_1"/);
      return true;
    });
    emulator.setGraphPermissions(['SecurityAlert.Read.All']);
    const reader = tenant('graph');
    await assert.rejects(update(reader, oneAlert(), { status: 'resolved' }), (err: DefenderError) => {
      assert.equal(err.code, 'HTTP_403');
      assert.match(err.message, /changing alerts needs the SecurityAlert\.ReadWrite\.All application permission/);
      assert.match(err.message, /the service said: Missing role permissions on the request/);
      return true;
    });
    assert.equal(sent().length, 2);
  });

  it('takes its turns from the config node\'s Graph rate limit', async () => {
    const t = tenant('siem');
    const before = t.graph.limiter.granted;
    await update(t, oneAlert(), { status: 'inProgress', comment: 'x' });
    assert.equal(t.graph.limiter.granted - before, 3);
  });

  it('refuses an answer that is not an alert, with what it began with', async () => {
    const t = tenant('siem');
    emulator.injectFault({ kind: 'html' });
    await assert.rejects(update(t, oneAlert(), { status: 'inProgress' }), (err: DefenderError) => {
      assert.equal(err.code, 'BAD_RESPONSE');
      assert.match(err.message, /^Microsoft Graph answered HTTP 200 \(text\/html; charset=utf-8, \d+ bytes\) with a body that is not JSON; expected the alert as a JSON object\. It began: "<!DOCTYPE html>/);
      return true;
    });
  });
});
