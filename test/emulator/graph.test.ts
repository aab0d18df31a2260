import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Detection } from '../../src/defender/services/detection';
import { Emulator } from '../../src/emulator';
import { ManualClock, T0, TENANT, accessToken, graphAccessToken, graphToken, startEmulator, withClockedEmulator } from './fixtures';

const MINUTE = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();

type Alert = Record<string, unknown> & { id: string; lastUpdateDateTime: string; evidence: Array<Record<string, unknown>> };
interface Page {
  status: number;
  headers: Headers;
  body: { value?: Alert[]; '@odata.nextLink'?: string; '@odata.context'?: string; '@odata.count'?: number; error?: { code: string; message: string } };
}

/** GET alerts_v2 with OData options written as Graph clients write them ($ literal, %20 for spaces). */
async function alertsV2(url: string, token: string | undefined): Promise<Page> {
  const res = await fetch(url, { headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Page['body'] };
}

function query(baseUrl: string, options: Record<string, string>): string {
  const parts = Object.entries(options).map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  return `${baseUrl}/v1.0/security/alerts_v2${parts.length ? `?${parts.join('&')}` : ''}`;
}

/** Every page of a query, following @odata.nextLink. */
async function allPages(first: string, token: string): Promise<{ alerts: Alert[]; pages: number }> {
  const alerts: Alert[] = [];
  let pages = 0;
  for (let url: string | undefined = first; url; ) {
    const page = await alertsV2(url, token);
    assert.equal(page.status, 200, JSON.stringify(page.body));
    pages++;
    alerts.push(...(page.body.value ?? []));
    url = page.body['@odata.nextLink'];
  }
  return { alerts, pages };
}

const evidence = (a: Alert, type: string): Array<Record<string, unknown>> => a.evidence.filter((e) => e['@odata.type'] === `#microsoft.graph.security.${type}`);

describe('the Graph v2.0 token endpoint', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  withClockedEmulator(clock, {}, (e) => (emulator = e));

  it('answers client credentials with a scope with a v2.0 token: numbers as numbers, no resource, no expires_on', async () => {
    const res = await graphToken(emulator.url);
    assert.equal(res.status, 200);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['token_type', 'expires_in', 'ext_expires_in', 'access_token']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, 3599);
    assert.equal(body.ext_expires_in, 3599);
    const claims = JSON.parse(Buffer.from(String(body.access_token).split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    assert.equal(claims.aud, 'https://graph.microsoft.com');
    // The emulated app is granted reading and writing alerts and incidents unless told otherwise (graphPermissions).
    assert.deepEqual(claims.roles, ['SecurityAlert.Read.All', 'SecurityAlert.ReadWrite.All', 'SecurityIncident.Read.All', 'SecurityIncident.ReadWrite.All']);
    assert.equal(emulator.requests[0].endpoint, 'graph-token');
    assert.equal(emulator.requests[0].authorized, true);
    assert.equal(emulator.stats.tokenRequests, 1);
  });

  it('refuses a resource, a missing or non-/.default scope and a wrong secret the way the v2.0 endpoint does', async () => {
    const resource = await graphToken(emulator.url, { scope: undefined, resource: 'https://graph.microsoft.com' });
    assert.equal(resource.status, 400);
    assert.match(((await resource.json()) as { error_description: string }).error_description, /^AADSTS901002: The 'resource' request parameter is not supported/);
    const missing = await graphToken(emulator.url, { scope: undefined });
    assert.match(((await missing.json()) as { error_description: string }).error_description, /^AADSTS900144: .*'scope'/);
    const delegated = await graphToken(emulator.url, { scope: 'https://graph.microsoft.com/SecurityAlert.Read.All' });
    assert.equal(delegated.status, 400);
    assert.equal(((await delegated.json()) as { error: string }).error, 'invalid_scope');
    const wrong = await graphToken(emulator.url, { client_secret: 'nope' });
    assert.equal(wrong.status, 401);
    assert.match(((await wrong.json()) as { error_description: string }).error_description, /^AADSTS7000215/);
  });

  it('takes the token faults too', async () => {
    emulator.injectFault({ kind: 'http429', on: 'token', retryAfter: '3' });
    const res = await graphToken(emulator.url);
    assert.equal(res.status, 429);
    assert.equal(res.headers.get('retry-after'), '3');
  });
});

describe('GET /v1.0/security/alerts_v2', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  let stored: Detection[];
  withClockedEmulator(clock, { seed: 11, graphMaxPageSize: 4 }, (e) => (emulator = e));
  beforeEach(async () => {
    stored = emulator.addDetections(10, { lastProcessedAt: T0 - 10 * MINUTE, spreadMs: 60 * MINUTE });
    token = await graphAccessToken(emulator.url);
  });

  it('shows each stored detection as an alerts_v2 alert with realistic evidence', async () => {
    const { alerts } = await allPages(query(emulator.url, {}), token);
    assert.equal(alerts.length, 10);
    const byId = new Map(alerts.map((a) => [a.id, a]));
    for (const d of stored) {
      const a = byId.get(String(d.AlertId));
      assert.ok(a, `no alert for ${String(d.AlertId)}`);
      assert.equal(a['@odata.type'], '#microsoft.graph.security.alert');
      assert.equal(a.title, d.AlertTitle);
      assert.equal(a.severity, String(d.Severity).toLowerCase());
      assert.equal(a.category, d.Category);
      assert.equal(a.serviceSource, 'microsoftDefenderForEndpoint');
      assert.equal(a.createdDateTime, d.AlertTime);
      assert.equal(a.lastUpdateDateTime, d.LastProcessedTimeUtc);
      assert.equal(a.tenantId, TENANT);
      assert.match(String(a.alertWebUrl), new RegExp(`^https://security.microsoft.com/alerts/${String(d.AlertId)}\\?tid=${TENANT}$`));
      assert.match(String(a.incidentWebUrl), /^https:\/\/security.microsoft.com\/incidents\/\d+\?tid=/);
      assert.ok(Array.isArray(a.mitreTechniques));
      const [device] = evidence(a, 'deviceEvidence');
      assert.equal(device.deviceDnsName, d.ComputerDnsName);
      assert.equal(device.mdeDeviceId, d.DeviceID);
      assert.equal(device.rbacGroupName, d.MachineGroup === '' ? null : d.MachineGroup);
      assert.match(String(device.osPlatform), /^Windows/);
      const [file] = evidence(a, 'fileEvidence');
      assert.equal((file.fileDetails as Record<string, unknown>).sha1, d.Sha1);
      assert.equal((file.fileDetails as Record<string, unknown>).fileName, d.FileName);
      assert.equal(evidence(a, 'processEvidence').length, d.CommandLine === '' ? 0 : 1);
      assert.equal(evidence(a, 'ipEvidence').length, d.IpAddress === '' ? 0 : 1);
      assert.equal(evidence(a, 'urlEvidence').length, d.Url === '' ? 0 : 1);
      assert.equal(evidence(a, 'userEvidence').length, d.UserName === '' ? 0 : 1);
    }
    // Derived, not random per request: the same alert twice is the same JSON.
    const again = await allPages(query(emulator.url, {}), token);
    assert.deepEqual(again.alerts, alerts);
  });

  it('lists the most recent first and pages through @odata.nextLink, each alert exactly once', async () => {
    const first = await alertsV2(query(emulator.url, { $top: '3' }), token);
    assert.equal(first.status, 200);
    assert.match(first.headers.get('content-type') ?? '', /^application\/json/);
    assert.equal(first.body['@odata.context'], `${emulator.url}/v1.0/$metadata#security/alerts_v2`);
    assert.equal(first.body.value?.length, 3);
    assert.match(String(first.body['@odata.nextLink']), /^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/security\/alerts_v2\?\$top=3&\$skiptoken=/);
    const { alerts, pages } = await allPages(query(emulator.url, { $top: '3' }), token);
    assert.equal(pages, 4);
    const expected = [...stored].sort((a, b) => String(b.LastProcessedTimeUtc).localeCompare(String(a.LastProcessedTimeUtc)));
    assert.deepEqual(alerts.map((a) => a.id), expected.map((d) => d.AlertId));
    // $top above the largest page is capped; the rest comes by nextLink.
    assert.equal((await allPages(query(emulator.url, { $top: '1000' }), token)).pages, 3);
  });

  it('keeps paging stable while new alerts arrive', async () => {
    const first = await alertsV2(query(emulator.url, { $top: '4' }), token);
    emulator.addDetections(3, { lastProcessedAt: T0 - MINUTE });
    const rest = await allPages(String(first.body['@odata.nextLink']), token);
    const ids = [...(first.body.value ?? []), ...rest.alerts].map((a) => a.id);
    assert.equal(new Set(ids).size, 10);
  });

  it('filters on lastUpdateDateTime (ge, le, gt, lt) and serviceSource, and orders by lastUpdateDateTime', async () => {
    const sorted = [...stored].sort((a, b) => String(a.LastProcessedTimeUtc).localeCompare(String(b.LastProcessedTimeUtc)));
    const lower = String(sorted[2].LastProcessedTimeUtc);
    const upper = String(sorted[7].LastProcessedTimeUtc);
    const ge = `serviceSource eq 'microsoftDefenderForEndpoint' and lastUpdateDateTime ge ${lower} and lastUpdateDateTime le ${upper}`;
    const asc = await allPages(query(emulator.url, { $filter: ge, $orderby: 'lastUpdateDateTime asc' }), token);
    assert.deepEqual(asc.alerts.map((a) => a.id), sorted.slice(2, 8).map((d) => d.AlertId));
    const desc = await allPages(query(emulator.url, { $filter: ge, $orderby: 'lastUpdateDateTime desc', $top: '2' }), token);
    assert.deepEqual(desc.alerts.map((a) => a.id), sorted.slice(2, 8).reverse().map((d) => d.AlertId));
    const strict = await allPages(query(emulator.url, { $filter: `lastUpdateDateTime gt ${lower} and lastUpdateDateTime lt ${upper}` }), token);
    assert.equal(strict.alerts.length, 4);
    const other = await allPages(query(emulator.url, { $filter: "serviceSource eq 'microsoftDefenderForIdentity'" }), token);
    assert.equal(other.alerts.length, 0);
  });

  it('filters on severity: exactly the alerts of that severity, whatever the seed generated', async () => {
    emulator.reset();
    const severities = ['High', 'Low', 'High', 'Medium', 'Informational'];
    severities.forEach((Severity, i) => emulator.addDetection({ AlertId: `da-pinned-${i}`, Severity, LastProcessedTimeUtc: T0 - (i + 1) * MINUTE }));
    token = await graphAccessToken(emulator.url);
    const high = await allPages(query(emulator.url, { $filter: "severity eq 'high'" }), token);
    assert.deepEqual(high.alerts.map((a) => a.id), ['da-pinned-0', 'da-pinned-2']);
    const others = await allPages(query(emulator.url, { $filter: "severity ne 'high'" }), token);
    assert.deepEqual(others.alerts.map((a) => a.id), ['da-pinned-1', 'da-pinned-3', 'da-pinned-4']);
    // A parenthesised group joins clauses with "or", as a client asks for any of several values.
    const either = await allPages(query(emulator.url, { $filter: `(severity eq 'low' or severity eq 'medium') and lastUpdateDateTime ge ${iso(T0 - 4 * MINUTE)}` }), token);
    assert.deepEqual(either.alerts.map((a) => a.id), ['da-pinned-1', 'da-pinned-3']);
  });

  it('counts with $count=true and skips with $skip', async () => {
    const counted = await alertsV2(query(emulator.url, { $count: 'true', $top: '2', $skip: '1' }), token);
    assert.equal(counted.body['@odata.count'], 10);
    assert.equal(counted.body.value?.length, 2);
  });

  it('answers 400 with the service’s words for filters it does not support', async () => {
    for (const filter of ["title eq 'x'", 'lastUpdateDateTime ge yesterday', "severity gt 'low'", "severity eq 'high' or severity eq 'low'", "(severity eq 'high' and status eq 'new')", "(severity eq 'high'", "not severity eq 'high'"]) {
      const res = await alertsV2(query(emulator.url, { $filter: filter }), token);
      assert.equal(res.status, 400, filter);
      assert.equal(res.body.error?.code, 'BadRequest');
      assert.match(String(res.body.error?.message), /filter/i, filter);
    }
    assert.equal((await alertsV2(query(emulator.url, { $orderby: 'title' }), token)).status, 400);
    assert.equal((await alertsV2(query(emulator.url, { $skiptoken: 'garbage' }), token)).status, 400);
  });

  it('answers every error of the list in Graph\'s shape, with innerError, as its single-alert routes do', async () => {
    const answers = [await alertsV2(query(emulator.url, { $filter: "title eq 'x'" }), token), await alertsV2(query(emulator.url, {}), undefined)];
    emulator.injectFault({ kind: 'http429', retryAfter: '1' });
    emulator.injectFault({ kind: 'http403' });
    answers.push(await alertsV2(query(emulator.url, {}), token), await alertsV2(query(emulator.url, {}), token));
    assert.deepEqual(answers.map((a) => [a.status, a.body.error?.code]), [[400, 'BadRequest'], [401, 'InvalidAuthenticationToken'], [429, 'TooManyRequests'], [403, 'Forbidden']]);
    for (const { body, headers } of answers) {
      const inner = (body.error as { innerError?: Record<string, string> }).innerError;
      assert.match(String(inner?.['request-id']), /^[0-9a-f-]{36}$/);
      assert.equal(inner?.['request-id'], headers.get('request-id'));
      assert.match(String(inner?.date), /^2024-01-15T12:00:00$/);
    }
  });

  it('answers a fresh alert\'s classification and determination as null, as tenants do (not the docs\' "unknown")', async () => {
    const { alerts } = await allPages(query(emulator.url, {}), token);
    assert.deepEqual(new Set(alerts.map((a) => `${String(a.classification)}|${String(a.determination)}`)), new Set(['null|null']));
    const unclassified = await allPages(query(emulator.url, { $filter: 'classification eq null' }), token);
    assert.equal(unclassified.alerts.length, 10);
    assert.equal((await allPages(query(emulator.url, { $filter: "classification eq 'unknown'" }), token)).alerts.length, 0);
  });

  it('wants a valid v2.0 token for Graph', async () => {
    const none = await alertsV2(query(emulator.url, {}), undefined);
    assert.equal(none.status, 401);
    assert.equal(none.body.error?.code, 'InvalidAuthenticationToken');
    const v1 = await alertsV2(query(emulator.url, {}), await accessToken(emulator.url));
    assert.equal(v1.status, 401);
    assert.match(String(v1.body.error?.message), /Invalid audience/);
    clock.advance(3600 * 1000);
    const expired = await alertsV2(query(emulator.url, {}), token);
    assert.equal(expired.status, 401);
    assert.match(String(expired.body.error?.message), /expired/);
    const recorded = emulator.requests.filter((r) => r.endpoint === 'graph-alerts');
    assert.deepEqual(recorded.map((r) => [r.status, r.authorized]), [[401, false], [401, false], [401, false]]);
  });

  it('answers with the injected faults of the detections API: 429 with Retry-After, 500, truncated', async () => {
    emulator.injectFault({ kind: 'http429', retryAfter: '7' });
    emulator.injectFault({ kind: 'http500' });
    emulator.injectFault({ kind: 'truncated' });
    const throttled = await alertsV2(query(emulator.url, {}), token);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '7');
    assert.equal((await alertsV2(query(emulator.url, {}), token)).status, 500);
    const cut = await fetch(query(emulator.url, {}), { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(cut.status, 200);
    await assert.rejects(cut.json());
    assert.equal((await alertsV2(query(emulator.url, {}), token)).status, 200);
    assert.equal(emulator.stats.alertRequests, 4);
  });

  it('shows an update of a detection as an update of the alert', async () => {
    const target = stored[0];
    const updated = emulator.updateDetection(String(target.FullId));
    const { alerts } = await allPages(query(emulator.url, { $filter: `lastUpdateDateTime ge ${iso(T0 - MINUTE)}` }), token);
    assert.deepEqual(alerts.map((a) => [a.id, a.lastUpdateDateTime]), [[target.AlertId, updated.LastProcessedTimeUtc]]);
  });
});

describe('GET alerts_v2 on an emulator that refuses $orderby', () => {
  let emulator: Emulator;
  before(async () => {
    emulator = await startEmulator({ graphOrderBy: 'refused' });
  });
  after(() => emulator.close());

  it('answers 400 as an OData service that does not allow the option', async () => {
    const token = await graphAccessToken(emulator.url);
    const res = await alertsV2(query(emulator.url, { $orderby: 'lastUpdateDateTime desc' }), token);
    assert.equal(res.status, 400);
    assert.match(String(res.body.error?.message), /Query option 'OrderBy' is not allowed/);
    assert.equal((await alertsV2(query(emulator.url, {}), token)).status, 200);
  });

  it('refuses nonsense options at construction', () => {
    assert.throws(() => new Emulator({ graphOrderBy: 'maybe' as never }), /graphOrderBy must be/);
    assert.throws(() => new Emulator({ graphMaxPageSize: 0 }), /graphMaxPageSize must be a positive integer/);
  });
});

describe('evolvable enums behind Prefer: include-unknown-enum-members', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  let id: string;
  withClockedEmulator(clock, { seed: 4 }, (e) => (emulator = e));
  beforeEach(async () => {
    const d = emulator.addDetection(
      { Source: 'MicrosoftThreatIntelligence', Severity: 'Critical', Category: 'Malware', LastProcessedTimeUtc: T0 - MINUTE },
      { graph: { remediationStatus: 'unremediated', category: null, categories: ['Malware', 'Execution'] } },
    );
    id = String(d.AlertId);
    token = await graphAccessToken(emulator.url);
  });
  const read = async (url: string, prefer?: string): Promise<{ alert: Alert; applied: string | null }> => {
    const res = await fetch(url, { headers: { Authorization: `Bearer ${token}`, ...(prefer === undefined ? {} : { Prefer: prefer }) } });
    const body = (await res.json()) as Alert & { value?: Alert[] };
    return { alert: body.value ? body.value[0] : body, applied: res.headers.get('preference-applied') };
  };
  const enums = (a: Alert): unknown[] => [a.detectionSource, a.severity, evidence(a, 'fileEvidence')[0].remediationStatus];

  it('serves members added after unknownFutureValue as unknownFutureValue without the header, on the list and on one alert', async () => {
    for (const url of [query(emulator.url, {}), `${emulator.url}/v1.0/security/alerts_v2/${id}`]) {
      const { alert, applied } = await read(url);
      assert.deepEqual(enums(alert), ['unknownFutureValue', 'unknownFutureValue', 'unknownFutureValue'], url);
      assert.equal(applied, null);
    }
  });

  it('serves them as they are with the header, and a value v1.0 does not list (severity "critical") still as unknownFutureValue', async () => {
    for (const url of [query(emulator.url, {}), `${emulator.url}/v1.0/security/alerts_v2/${id}`]) {
      const { alert, applied } = await read(url, 'odata.maxpagesize=5, include-unknown-enum-members');
      assert.deepEqual(enums(alert), ['microsoftThreatIntelligence', 'unknownFutureValue', 'unremediated'], url);
      assert.equal(applied, 'include-unknown-enum-members');
    }
    assert.deepEqual(emulator.requests.filter((r) => r.endpoint !== 'graph-token').map((r) => r.prefer), ['odata.maxpagesize=5, include-unknown-enum-members', 'odata.maxpagesize=5, include-unknown-enum-members']);
  });

  it('serves categories beside the deprecated category, and an alert that has only categories', async () => {
    const { alert } = await read(query(emulator.url, {}), 'include-unknown-enum-members');
    assert.deepEqual([alert.category, alert.categories], [null, ['Malware', 'Execution']]);
    const other = emulator.addDetection({ Category: 'Execution', LastProcessedTimeUtc: T0 - 2 * MINUTE });
    const plain = (await read(`${emulator.url}/v1.0/security/alerts_v2/${String(other.AlertId)}`)).alert;
    assert.deepEqual([plain.category, plain.categories], ['Execution', ['Execution']]);
  });
});

describe('GET alerts_v2 without @odata.nextLink (graphNextLink: false)', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  withClockedEmulator(clock, { seed: 12, graphNextLink: false, graphMaxPageSize: 4 }, (e) => (emulator = e));
  beforeEach(async () => {
    emulator.addDetections(1200, { lastProcessedAt: T0 - MINUTE, spreadMs: 60 * MINUTE });
    token = await graphAccessToken(emulator.url);
  });

  it('clamps $top at 1000 whatever graphMaxPageSize says, and sends no nextLink however many alerts follow', async () => {
    for (const [top, expected] of [['1500', 1000], [undefined, 1000], ['3', 3]] as const) {
      const page = await alertsV2(query(emulator.url, top === undefined ? {} : { $top: top }), token);
      assert.equal(page.status, 200);
      assert.equal(page.body.value?.length, expected, `$top ${top ?? 'absent'}`);
      assert.equal(page.body['@odata.nextLink'], undefined);
    }
  });

  it('takes $skip up to 500 and refuses more with 400 in Graph\'s error shape', async () => {
    const last = await alertsV2(query(emulator.url, { $skip: '500', $top: '10', $orderby: 'lastUpdateDateTime asc' }), token);
    assert.equal(last.status, 200);
    assert.equal(last.body.value?.length, 10);
    const refused = await alertsV2(query(emulator.url, { $skip: '501', $top: '10' }), token);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error?.code, 'BadRequest');
    assert.match(String(refused.body.error?.message), /\$skip, 501, exceeds the maximum of 500/);
    assert.match(String((refused.body.error as { innerError?: Record<string, string> }).innerError?.['request-id']), /^[0-9a-f-]{36}$/);
  });
});
