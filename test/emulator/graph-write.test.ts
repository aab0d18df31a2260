/**
 * The emulator's Microsoft Graph writes over plain HTTP: PATCH /v1.0/security/alerts_v2/{id}, POST
 * …/{id}/comments and GET …/{id}, checked and answered as Graph does, on a hand-moved clock.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { Detection } from '../../src/defender/services/detection';
import type { Emulator } from '../../src/emulator';
import { CLIENT_ID, ManualClock, T0, TENANT, accessToken, graphAccessToken, withClockedEmulator } from './fixtures';

type Alert = Record<string, unknown> & { id: string; status: string; lastUpdateDateTime: string; comments: Array<Record<string, unknown>> };
interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown> & { error?: { code: string; message: string; innerError?: Record<string, string> } };
}

const MINUTE = 60_000;

async function call(url: string, method: string, token: string | undefined, body?: unknown, contentType = 'application/json'): Promise<Answer> {
  const headers: Record<string, string> = token === undefined ? {} : { Authorization: `Bearer ${token}` };
  if (body !== undefined) headers['Content-Type'] = contentType;
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body) });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Answer['body'] };
}

describe('PATCH, comments and GET of one alerts_v2 alert', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  let alert: Detection;
  let url: string;
  withClockedEmulator(clock, { seed: 3 }, (e) => (emulator = e));
  beforeEach(async () => {
    [alert] = emulator.addDetections(1, { lastProcessedAt: T0 - 10 * MINUTE });
    url = `${emulator.url}/v1.0/security/alerts_v2/${String(alert.AlertId)}`;
    token = await graphAccessToken(emulator.url);
  });
  const listed = async (filter: string): Promise<string[]> => {
    const res = await call(`${emulator.url}/v1.0/security/alerts_v2?$filter=${encodeURIComponent(filter)}`, 'GET', token);
    return (res.body.value as Alert[]).map((a) => a.id);
  };

  it('changes status, classification, determination and owner, answers the changed alert and moves its lastUpdateDateTime', async () => {
    clock.advance(MINUTE);
    const before = (await call(url, 'GET', token)).body as Alert;
    assert.equal(before.status, 'new');
    const res = await call(url, 'PATCH', token, { status: 'resolved', classification: 'truePositive', determination: 'malware', assignedTo: 'soc@contoso.com' });
    assert.equal(res.status, 200);
    const after = res.body as Alert;
    assert.equal(after['@odata.context'], `${emulator.url}/v1.0/$metadata#security/alerts_v2/$entity`);
    assert.deepEqual([after.id, after.status, after.classification, after.determination, after.assignedTo], [alert.AlertId, 'resolved', 'truePositive', 'malware', 'soc@contoso.com']);
    assert.ok(after.lastUpdateDateTime > before.lastUpdateDateTime, 'lastUpdateDateTime moved');
    assert.match(after.lastUpdateDateTime, /^2024-01-15T12:01:00\.\d{7}Z$/);
    assert.equal(after.resolvedDateTime, after.lastUpdateDateTime);
    assert.equal(after.title, before.title, 'the rest of the alert is as it was');
    // The listing shows the same: a pull of the last minutes sees the alert again, and $filter reads the new values.
    assert.deepEqual(await listed(`lastUpdateDateTime gt ${before.lastUpdateDateTime}`), [alert.AlertId]);
    assert.deepEqual(await listed("status eq 'resolved' and classification eq 'truePositive' and assignedTo eq 'soc@contoso.com'"), [alert.AlertId]);
    assert.deepEqual(await listed("status eq 'new'"), []);
    assert.deepEqual(JSON.parse(emulator.requests.filter((r) => r.endpoint === 'graph-alert' && r.method === 'PATCH')[0].body ?? ''), {
      status: 'resolved', classification: 'truePositive', determination: 'malware', assignedTo: 'soc@contoso.com',
    });
    // Reopening clears resolvedDateTime; null unassigns.
    const reopened = (await call(url, 'PATCH', token, { status: 'inProgress', assignedTo: null })).body as Alert;
    assert.deepEqual([reopened.status, reopened.resolvedDateTime, reopened.assignedTo], ['inProgress', null, null]);
  });

  it('moves lastUpdateDateTime only when something changed', async () => {
    const first = (await call(url, 'PATCH', token, { status: 'inProgress' })).body as Alert;
    clock.advance(MINUTE);
    const same = (await call(url, 'PATCH', token, { status: 'inProgress' })).body as Alert;
    assert.equal(same.lastUpdateDateTime, first.lastUpdateDateTime);
  });

  it('adds a comment with the app as its author, answers every comment, and moves lastUpdateDateTime', async () => {
    clock.advance(2 * MINUTE);
    const body = { '@odata.type': 'microsoft.graph.security.alertComment', comment: 'E-mailed to the SOC' };
    const first = await call(`${url}/comments`, 'POST', token, body);
    assert.equal(first.status, 200);
    assert.equal(first.body['@odata.context'], `${emulator.url}/v1.0/$metadata#security/alerts_v2('${String(alert.AlertId)}')/comments`);
    const second = await call(`${url}/comments`, 'POST', token, { comment: 'Ticket INC-42' });
    const comments = second.body.value as Array<Record<string, string>>;
    assert.deepEqual(comments.map((c) => [c.comment, c.createdByDisplayName]), [['E-mailed to the SOC', CLIENT_ID], ['Ticket INC-42', CLIENT_ID]]);
    assert.match(comments[0].createdDateTime, /^2024-01-15T12:02:00\.\d{7}Z$/);
    const now = (await call(url, 'GET', token)).body as Alert;
    assert.deepEqual(now.comments, comments);
    assert.equal(now.lastUpdateDateTime, comments[1].createdDateTime);
  });

  it('answers 400 as Graph does for values, properties and bodies it does not take, and changes nothing', async () => {
    const before = (await call(url, 'GET', token)).body as Alert;
    const refused: Array<[unknown, RegExp]> = [
      [{ status: 'InProgress' }, /Cannot convert the literal 'InProgress' to the expected type 'microsoft\.graph\.security\.alertStatus'/],
      [{ status: 'closed' }, /alertStatus/],
      [{ status: 'unknownFutureValue' }, /alertStatus/],
      [{ classification: 'benign' }, /alertClassification/],
      [{ determination: 'clean' }, /alertDetermination/],
      [{ assignedTo: 42 }, /Edm\.String/],
      [{ severity: 'low' }, /The property 'severity' cannot be updated/],
      [{ owner: 'me' }, /The property 'owner' does not exist on type 'microsoft\.graph\.security\.alert'/],
      ['{"status": ', /Unable to read JSON request payload/],
      [[{ status: 'new' }], /Unable to read JSON request payload/],
    ];
    for (const [body, message] of refused) {
      const res = await call(url, 'PATCH', token, body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(res.body.error?.code, 'BadRequest');
      assert.match(String(res.body.error?.message), message);
      assert.match(String(res.body.error?.innerError?.['request-id']), /^[0-9a-f-]{36}$/);
      assert.match(String(res.body.error?.innerError?.date), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d$/);
    }
    const comment = await call(`${url}/comments`, 'POST', token, { '@odata.type': 'microsoft.graph.security.alertComment' });
    assert.equal(comment.status, 400);
    assert.match(String(comment.body.error?.message), /'comment' is required/);
    assert.equal((await call(`${url}/comments`, 'POST', token, { '@odata.type': 'microsoft.graph.security.alert', comment: 'x' })).status, 400);
    assert.equal((await call(url, 'PATCH', token, 'status=new', 'application/x-www-form-urlencoded')).status, 415);
    assert.deepEqual((await call(url, 'GET', token)).body, before);
  });

  it('answers 404 for an alert id it does not know, or one not visible yet', async () => {
    const unknown = `${emulator.url}/v1.0/security/alerts_v2/da000000000000000000_1`;
    for (const [target, method, body] of [[unknown, 'GET'], [unknown, 'PATCH', { status: 'new' }], [`${unknown}/comments`, 'POST', { comment: 'x' }]] as const) {
      const res = await call(target, method, token, body);
      assert.equal(res.status, 404, `${method} ${target}`);
      assert.equal(res.body.error?.code, 'NotFound');
      assert.match(String(res.body.error?.message), /da000000000000000000_1/);
    }
    const [later] = emulator.addDetections(1, { visibleAt: T0 + MINUTE });
    assert.equal((await call(`${emulator.url}/v1.0/security/alerts_v2/${String(later.AlertId)}`, 'GET', token)).status, 404);
  });

  it('answers 403 naming SecurityAlert.ReadWrite.All when the app may only read, and still lets it read', async () => {
    emulator.setGraphPermissions(['SecurityAlert.Read.All']);
    const reader = await graphAccessToken(emulator.url);
    const res = await call(url, 'PATCH', reader, { status: 'inProgress' });
    assert.equal(res.status, 403);
    assert.equal(res.body.error?.code, 'Forbidden');
    assert.equal(res.body.error?.message, "Missing role permissions on the request. API requires one of 'SecurityAlert.ReadWrite.All'. Roles on the request 'SecurityAlert.Read.All'.");
    assert.equal((await call(`${url}/comments`, 'POST', reader, { comment: 'x' })).status, 403);
    assert.equal((await call(url, 'GET', reader)).status, 200);
    // A token keeps the roles it was issued with, as in Azure AD.
    assert.equal((await call(url, 'PATCH', token, { status: 'inProgress' })).status, 200);
    // The admin endpoint grants it again; reset() restores the permissions of the construction.
    const admin = await fetch(`${emulator.url}/emulator/permissions`, { method: 'PUT', body: JSON.stringify({ graph: ['SecurityAlert.ReadWrite.All'] }) });
    assert.deepEqual(await admin.json(), { graph: ['SecurityAlert.ReadWrite.All'] });
    assert.equal((await call(url, 'PATCH', await graphAccessToken(emulator.url), { status: 'resolved' })).status, 200);
    emulator.setGraphPermissions([]);
    emulator.reset();
    assert.deepEqual(emulator.grantedGraphPermissions, ['SecurityAlert.Read.All', 'SecurityAlert.ReadWrite.All', 'SecurityIncident.Read.All', 'SecurityIncident.ReadWrite.All']);
  });

  it('wants a valid v2.0 token, and refuses other methods', async () => {
    assert.equal((await call(url, 'PATCH', undefined, { status: 'new' })).status, 401);
    const v1 = await call(url, 'PATCH', await accessToken(emulator.url), { status: 'new' });
    assert.equal(v1.status, 401);
    assert.match(String(v1.body.error?.message), /Invalid audience/);
    const put = await call(url, 'PUT', token, { status: 'new' });
    assert.equal(put.status, 405);
    assert.equal(put.headers.get('allow'), 'GET, HEAD, PATCH');
    assert.equal((await call(`${url}/comments`, 'GET', token)).status, 405);
  });

  it('applies the fault switches to the writes too', async () => {
    emulator.injectFault({ kind: 'http429', retryAfter: '7' });
    const throttled = await call(url, 'PATCH', token, { status: 'inProgress' });
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '7');
    assert.equal(((await call(url, 'GET', token)).body as Alert).status, 'new', 'a refused write changed nothing');
    emulator.injectFault({ kind: 'http403' });
    const forbidden = await call(url, 'PATCH', token, { status: 'inProgress' });
    assert.equal(forbidden.status, 403);
    assert.match(String(forbidden.body.error?.message), /SecurityAlert\.ReadWrite\.All/);
  });

  it('makes the change and answers 204 without a body under http204, as Graph does when brief; a refusal comes in full', async () => {
    emulator.injectFault({ kind: 'http204' });
    const brief = await fetch(url, { method: 'PATCH', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: JSON.stringify({ status: 'resolved' }) });
    assert.deepEqual([brief.status, await brief.text(), brief.headers.get('content-type')], [204, '', null]);
    assert.equal(((await call(url, 'GET', token)).body as Alert).status, 'resolved', 'the change was made');
    emulator.injectFault({ kind: 'http204' });
    const refused = await call(url, 'PATCH', token, { status: 'closed' });
    assert.equal(refused.status, 400);
    assert.match(String(refused.body.error?.message), /Cannot convert the literal 'closed'/);
    assert.deepEqual(emulator.requests.filter((r) => r.method === 'PATCH').map((r) => r.status), [204, 400]);
  });

  it('shows the alert to the tenant that asks, and forgets its triage on reset', async () => {
    await call(url, 'PATCH', token, { status: 'resolved' });
    assert.equal(emulator.graphAlert(String(alert.AlertId), TENANT)?.status, 'resolved');
    assert.equal(emulator.graphAlert(String(alert.AlertId), 'other-tenant')?.tenantId, 'other-tenant');
    emulator.reset();
    assert.equal(emulator.graphAlert(String(alert.AlertId), TENANT), undefined);
    const [again] = emulator.addDetections(1, { lastProcessedAt: T0 - MINUTE });
    assert.equal(emulator.graphAlert(String(again.AlertId), TENANT)?.status, 'new');
  });
});
