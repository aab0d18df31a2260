/**
 * The emulator's Defender incidents over plain HTTP: GET /v1.0/security/incidents built from its alerts (with
 * and without @odata.nextLink, `$expand=alerts` and the 500 it meets on large tenants), GET, PATCH and comments
 * of one incident, an analyst's edits and Defender's merges, on a hand-moved clock.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import type { Emulator } from '../../src/emulator';
import { ManualClock, T0, TENANT, adminCall, graphAccessToken, withClockedEmulator } from './fixtures';

const MINUTE = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();

type Incident = Record<string, unknown> & {
  id: string;
  status: string;
  severity: string;
  displayName: string;
  lastUpdateDateTime: string;
  createdDateTime: string;
  customTags: string[];
  comments: Array<Record<string, unknown>>;
  alerts?: Array<Record<string, unknown> & { id: string; incidentId: string; lastUpdateDateTime: string }>;
};
interface Answer {
  status: number;
  body: Record<string, unknown> & { value?: Incident[]; '@odata.nextLink'?: string; error?: { code: string; message: string } };
}

async function call(url: string, token: string, method = 'GET', body?: unknown, prefer = true): Promise<Answer> {
  const headers: Record<string, string> = { Authorization: `Bearer ${token}`, ...(prefer ? { Prefer: 'include-unknown-enum-members' } : {}) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: res.status, body: (await res.json()) as Answer['body'] };
}

function list(base: string, options: Record<string, string> = {}): string {
  const parts = Object.entries(options).map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return `${base}/v1.0/security/incidents${parts.length ? `?${parts.join('&')}` : ''}`;
}

/** Every page of a listing, following @odata.nextLink. */
async function allPages(first: string, token: string): Promise<{ incidents: Incident[]; pages: number }> {
  const incidents: Incident[] = [];
  let pages = 0;
  for (let url: string | undefined = first; url; ) {
    const page = await call(url, token);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    pages++;
    incidents.push(...(page.body.value ?? []));
    url = page.body['@odata.nextLink'];
  }
  return { incidents, pages };
}

/** Three alerts on one device within the hour, one on another device: two incidents. */
function twoIncidents(emulator: Emulator): { ransomware: string[]; lone: string } {
  const device = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
  const ransomware = [
    emulator.addDetection({ AlertId: 'da-r1', DeviceID: device, Severity: 'Medium', Category: 'Execution', AlertTime: '2024-01-15T11:05:00.1234567Z', LastProcessedTimeUtc: T0 - 50 * MINUTE }),
    emulator.addDetection({ AlertId: 'da-r2', DeviceID: device, Severity: 'High', Category: 'Ransomware', AlertTime: '2024-01-15T11:20:00.0000000Z', LastProcessedTimeUtc: T0 - 30 * MINUTE }),
    emulator.addDetection({ AlertId: 'da-r3', DeviceID: device, Severity: 'Low', Category: 'CredentialAccess', AlertTime: '2024-01-15T11:40:00.0000000Z', LastProcessedTimeUtc: T0 - 20 * MINUTE }),
  ].map((d) => String(d.AlertId));
  const lone = String(emulator.addDetection({ AlertId: 'da-lone', DeviceID: 'ffff', Severity: 'Low', AlertTitle: 'Suspicious file dropped', AlertTime: '2024-01-15T11:10:00.0000000Z', LastProcessedTimeUtc: T0 - 40 * MINUTE }).AlertId);
  return { ransomware, lone };
}

describe('GET /v1.0/security/incidents', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  withClockedEmulator(clock, { seed: 5 }, (e) => (emulator = e));
  beforeEach(async () => {
    token = await graphAccessToken(emulator.url);
  });

  it("groups one device's alerts of the hour into one incident: the highest severity, the first created, the last updated, a name from its alerts", async () => {
    const { ransomware, lone } = twoIncidents(emulator);
    const { incidents } = await allPages(list(emulator.url, { $expand: 'alerts' }), token);
    assert.equal(incidents.length, 2);
    const [big, small] = incidents;
    assert.deepEqual(big.alerts?.map((a) => a.id), ransomware, 'newest incident first, its alerts oldest first');
    assert.equal(big.severity, 'high');
    assert.equal(big.createdDateTime, '2024-01-15T11:05:00.1234567Z');
    assert.equal(big.lastUpdateDateTime, big.alerts?.[2].lastUpdateDateTime);
    assert.equal(big.displayName, 'Multi-stage incident involving Execution & Ransomware & Credential access on one endpoint');
    assert.deepEqual([big.status, big.classification, big.determination, big.assignedTo, big.redirectIncidentId], ['active', null, null, null, null]);
    assert.equal(big.tenantId, TENANT);
    assert.equal(big.incidentWebUrl, `https://security.microsoft.com/incidents/${big.id}?tid=${TENANT}`);
    for (const alert of big.alerts ?? []) assert.equal(alert.incidentId, big.id, 'each alert names its incident');
    assert.deepEqual(small.alerts?.map((a) => a.id), [lone]);
    assert.equal(small.displayName, 'Suspicious file dropped on one endpoint');
    assert.notEqual(small.id, big.id);
    // Without $expand there are no alerts in the answer; the alerts_v2 listing names the same incidents.
    const bare = await call(list(emulator.url), token);
    assert.equal(bare.body.value?.[0].alerts, undefined);
    const alerts = (await call(`${emulator.url}/v1.0/security/alerts_v2`, token)).body.value as unknown as Array<{ id: string; incidentId: string }>;
    assert.equal(alerts.find((a) => a.id === lone)?.incidentId, small.id);
  });

  it('puts an alert pinned to an incident there, whatever its device', async () => {
    emulator.addDetection({ AlertId: 'da-p1' }, { graph: { incidentId: '424242' } });
    emulator.addDetection({ AlertId: 'da-p2' }, { graph: { incidentId: '424242' } });
    const { incidents } = await allPages(list(emulator.url, { $expand: 'alerts' }), token);
    assert.deepEqual(incidents.map((i) => [i.id, i.alerts?.map((a) => a.id).sort()]), [['424242', ['da-p1', 'da-p2']]]);
  });

  it('moves an incident when an alert of it changes or joins it, and filters and orders on lastUpdateDateTime', async () => {
    twoIncidents(emulator);
    const before = (await allPages(list(emulator.url), token)).incidents;
    const [newest, small] = before;
    clock.advance(MINUTE);
    emulator.addDetection({ AlertId: 'da-late', DeviceID: 'ffff', AlertTime: '2024-01-15T11:15:00.0000000Z', LastProcessedTimeUtc: T0 + MINUTE - 1 });
    const after = await allPages(list(emulator.url, { $filter: `lastUpdateDateTime gt ${newest.lastUpdateDateTime}`, $expand: 'alerts' }), token);
    assert.deepEqual(after.incidents.map((i) => i.id), [small.id], 'only the incident an alert joined is newer');
    assert.equal(after.incidents[0].alerts?.length, 2);
    const ascending = (await allPages(list(emulator.url, { $orderby: 'lastUpdateDateTime asc' }), token)).incidents;
    assert.deepEqual(ascending.map((i) => i.id), [newest.id, small.id]);
  });

  it('filters on status, severity, assignedTo, classification and determination, with or-groups', async () => {
    twoIncidents(emulator);
    const [big, small] = (await allPages(list(emulator.url), token)).incidents;
    emulator.editIncident(small.id, { status: 'inProgress', assignedTo: 'soc@contoso.com', classification: 'truePositive', determination: 'malware' });
    const ids = async (filter: string): Promise<string[]> => (await allPages(list(emulator.url, { $filter: filter }), token)).incidents.map((i) => i.id);
    assert.deepEqual(await ids("status eq 'active'"), [big.id]);
    assert.deepEqual(await ids("(status eq 'active' or status eq 'inProgress')"), [small.id, big.id]);
    assert.deepEqual(await ids("severity eq 'high'"), [big.id]);
    assert.deepEqual(await ids("assignedTo eq 'soc@contoso.com' and classification eq 'truePositive' and determination eq 'malware'"), [small.id]);
    assert.deepEqual(await ids(`createdDateTime ge ${iso(T0 - 52 * MINUTE)}`), [small.id]);
    const refused = await call(list(emulator.url, { $filter: "title eq 'x'" }), token);
    assert.equal(refused.status, 400);
    assert.match(String(refused.body.error?.message), /assignedTo, classification, createdDateTime, determination, lastUpdateDateTime, severity, status/);
  });

  it('answers 50 incidents a page at most, whatever $top asks, and pages by @odata.nextLink', async () => {
    for (let i = 0; i < 60; i++) emulator.addDetection({ LastProcessedTimeUtc: T0 - (i + 1) * 1000 }, { graph: { incidentId: String(5000 + i) } });
    const first = await call(list(emulator.url, { $top: '1000' }), token);
    assert.equal(first.body.value?.length, 50);
    assert.match(String(first.body['@odata.nextLink']), /\/v1\.0\/security\/incidents\?\$top=1000&\$skiptoken=/);
    const { incidents, pages } = await allPages(list(emulator.url, { $top: '1000' }), token);
    assert.equal(pages, 2);
    assert.equal(new Set(incidents.map((i) => i.id)).size, 60);
  });

  it('shows awaitingAction, which Graph added after unknownFutureValue, only to a client that asks for it', async () => {
    twoIncidents(emulator);
    const [big] = (await allPages(list(emulator.url), token)).incidents;
    emulator.editIncident(big.id, { status: 'awaitingAction' });
    assert.equal((await call(list(emulator.url), token)).body.value?.[0].status, 'awaitingAction');
    assert.equal((await call(list(emulator.url), token, 'GET', undefined, false)).body.value?.[0].status, 'unknownFutureValue');
  });

  it('needs SecurityIncident.Read.All (or ReadWrite.All) and a Graph token', async () => {
    twoIncidents(emulator);
    emulator.setGraphPermissions(['SecurityAlert.Read.All']);
    const forbidden = await call(list(emulator.url), await graphAccessToken(emulator.url));
    assert.equal(forbidden.status, 403);
    assert.match(String(forbidden.body.error?.message), /SecurityIncident\.Read\.All, SecurityIncident\.ReadWrite\.All/);
    emulator.setGraphPermissions(['SecurityIncident.Read.All']);
    assert.equal((await call(list(emulator.url), await graphAccessToken(emulator.url))).status, 200);
    assert.equal((await call(list(emulator.url), 'not-a-token')).status, 401);
  });
});

describe('incidents without @odata.nextLink and with the $expand fault of large tenants', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  withClockedEmulator(clock, { seed: 5, graphNextLink: false, graphExpandFailsAbove: 2 }, (e) => (emulator = e));
  beforeEach(async () => {
    token = await graphAccessToken(emulator.url);
  });

  it('answers a full page without nextLink and refuses a $skip above 500', async () => {
    for (let i = 0; i < 60; i++) emulator.addDetection({ LastProcessedTimeUtc: T0 - (i + 1) * 1000 }, { graph: { incidentId: String(5000 + i) } });
    const page = await call(list(emulator.url, { $top: '50' }), token);
    assert.equal(page.body.value?.length, 50);
    assert.equal(page.body['@odata.nextLink'], undefined);
    assert.equal((await call(list(emulator.url, { $top: '50', $skip: '50' }), token)).body.value?.length, 10);
    assert.equal((await call(list(emulator.url, { $skip: '501' }), token)).status, 400);
  });

  it('answers 500 to $filter with $expand=alerts when an incident of the page has many alerts, and answers without either, and one incident with its alerts', async () => {
    const { ransomware } = twoIncidents(emulator);
    const filter = `lastUpdateDateTime ge ${iso(T0 - 2 * 60 * MINUTE)}`;
    const failing = await call(list(emulator.url, { $filter: filter, $expand: 'alerts' }), token);
    assert.equal(failing.status, 500);
    assert.equal(failing.body.error?.code, 'InternalServerError');
    assert.equal((await call(list(emulator.url, { $filter: filter }), token)).status, 200);
    assert.equal((await call(list(emulator.url, { $expand: 'alerts' }), token)).status, 200);
    // The page of the small incident alone expands fine.
    assert.equal((await call(list(emulator.url, { $filter: `${filter} and severity eq 'low'`, $expand: 'alerts' }), token)).status, 200);
    const big = (await call(list(emulator.url, { $filter: "severity eq 'high'" }), token)).body.value?.[0] as Incident;
    const one = await call(`${emulator.url}/v1.0/security/incidents/${big.id}?$expand=alerts`, token);
    assert.equal(one.status, 200);
    assert.deepEqual((one.body as Incident).alerts?.map((a) => a.id), ransomware);
    assert.equal((await call(`${emulator.url}/v1.0/security/incidents/${big.id}?$expand=evidence`, token)).status, 400);
  });
});

describe('PATCH, comments and GET of one incident, an analyst\'s edits and Defender\'s merges', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  let big: Incident;
  let small: Incident;
  let url: string;
  withClockedEmulator(clock, { seed: 5 }, (e) => (emulator = e));
  beforeEach(async () => {
    twoIncidents(emulator);
    token = await graphAccessToken(emulator.url);
    [big, small] = (await allPages(list(emulator.url), token)).incidents;
    url = `${emulator.url}/v1.0/security/incidents/${big.id}`;
  });

  it('changes status, classification, determination, owner and tags, answers the incident and moves its lastUpdateDateTime', async () => {
    clock.advance(MINUTE);
    const res = await call(url, token, 'PATCH', { status: 'resolved', classification: 'truePositive', determination: 'multiStagedAttack', assignedTo: 'soc@contoso.com', customTags: ['Ransomware', 'VIP'] });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const after = res.body as Incident;
    assert.equal(after['@odata.context'], `${emulator.url}/v1.0/$metadata#security/incidents/$entity`);
    assert.deepEqual([after.status, after.classification, after.determination, after.assignedTo, after.customTags], ['resolved', 'truePositive', 'multiStagedAttack', 'soc@contoso.com', ['Ransomware', 'VIP']]);
    assert.match(after.lastUpdateDateTime, /^2024-01-15T12:01:00\.\d{7}Z$/);
    assert.ok(after.lastUpdateDateTime > big.lastUpdateDateTime);
    // The same again changes nothing, and does not move it.
    const again = (await call(url, token, 'PATCH', { status: 'resolved' })).body as Incident;
    assert.equal(again.lastUpdateDateTime, after.lastUpdateDateTime);
    assert.equal(((await call(url, token)).body as Incident).status, 'resolved');
  });

  it('refuses what Graph refuses: the statuses Defender sets, wrong casing, read-only and unknown properties, non-list tags', async () => {
    for (const [body, pattern] of [
      [{ status: 'redirected' }, /status 'redirected' is set by the service/],
      [{ status: 'awaitingAction' }, /status 'awaitingAction' is set by the service/],
      [{ status: 'InProgress' }, /incidentStatus/],
      [{ severity: 'low' }, /cannot be updated. Updatable properties of an incident: status, classification, determination, assignedTo, customTags/],
      [{ colour: 'red' }, /does not exist on type 'microsoft.graph.security.incident'/],
      [{ customTags: 'VIP' }, /Collection\(Edm.String\)/],
    ] as const) {
      const res = await call(url, token, 'PATCH', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.match(String(res.body.error?.message), pattern);
    }
    assert.equal(((await call(url, token)).body as Incident).lastUpdateDateTime, big.lastUpdateDateTime, 'nothing changed');
  });

  it('adds a comment, answering the incident\'s comments, and needs SecurityIncident.ReadWrite.All to write; 404 for an unknown id', async () => {
    const res = await call(`${url}/comments`, token, 'POST', { '@odata.type': 'microsoft.graph.security.alertComment', comment: 'Isolated the device' });
    assert.equal(res.status, 200);
    assert.deepEqual((res.body.value as unknown as Array<{ comment: string }>).map((c) => c.comment), ['Isolated the device']);
    assert.equal(((await call(url, token)).body as Incident).comments[0].comment, 'Isolated the device');
    emulator.setGraphPermissions(['SecurityIncident.Read.All']);
    const reader = await graphAccessToken(emulator.url);
    const forbidden = await call(url, reader, 'PATCH', { status: 'inProgress' });
    assert.equal(forbidden.status, 403);
    assert.match(String(forbidden.body.error?.message), /'SecurityIncident.ReadWrite.All'/);
    assert.equal((await call(url, reader)).status, 200);
    const missing = await call(`${emulator.url}/v1.0/security/incidents/999999`, token, 'PATCH', { status: 'inProgress' });
    assert.equal(missing.status, 404);
    assert.match(String(missing.body.error?.message), /No incident with the id '999999'/);
  });

  it('shows an analyst\'s edit in the portal as a new version of the incident', async () => {
    clock.advance(MINUTE);
    const answer = await adminCall(emulator.url, 'POST', `incidents/${small.id}`, { assignedTo: 'alice@contoso.com', customTags: ['Phishing'], comment: 'Looking', by: 'alice@contoso.com' });
    assert.equal(answer.status, 200);
    const edited = (await call(`${emulator.url}/v1.0/security/incidents/${small.id}`, token)).body as Incident;
    assert.deepEqual([edited.assignedTo, edited.customTags, edited.lastModifiedBy, edited.comments[0].createdByDisplayName], ['alice@contoso.com', ['Phishing'], 'alice@contoso.com', 'alice@contoso.com']);
    assert.ok(edited.lastUpdateDateTime > small.lastUpdateDateTime);
    assert.throws(() => emulator.editIncident(small.id, { status: 'closed' }), /not one Defender takes/);
  });

  it('merges an incident into another: it is redirected there, with a new lastUpdateDateTime, and its alerts move', async () => {
    clock.advance(MINUTE);
    assert.equal((await adminCall(emulator.url, 'POST', `incidents/${small.id}/merge`, { into: big.id })).status, 200);
    const { incidents } = await allPages(list(emulator.url, { $expand: 'alerts' }), token);
    const merged = incidents.find((i) => i.id === small.id) as Incident;
    const target = incidents.find((i) => i.id === big.id) as Incident;
    assert.deepEqual([merged.status, merged.redirectIncidentId, merged.alerts?.length, merged.displayName], ['redirected', big.id, 0, small.displayName]);
    assert.ok(merged.lastUpdateDateTime > small.lastUpdateDateTime);
    assert.equal(target.alerts?.length, 4);
    assert.ok(target.lastUpdateDateTime > big.lastUpdateDateTime);
    for (const alert of target.alerts ?? []) assert.equal(alert.incidentId, big.id);
    assert.throws(() => emulator.mergeIncidents(small.id, big.id), /merged into/);
  });

  it('moves the incident when one of its alerts is triaged', async () => {
    clock.advance(MINUTE);
    const alert = await call(`${emulator.url}/v1.0/security/alerts_v2/da-r1`, token, 'PATCH', { status: 'inProgress' });
    assert.equal(alert.status, 200);
    const now = (await call(url, token)).body as Incident;
    assert.ok(now.lastUpdateDateTime > big.lastUpdateDateTime);
  });
});
