import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DETECTION_FIELDS } from '../../src/defender/services/detection';
import { Emulator } from '../../src/emulator';
import {
  CLIENT_ID, ManualClock, RESOURCE, SECRET, T0, TENANT, accessToken, adminCall, errorOf, fullIds, getAlerts,
  requestToken, rows, startEmulator, withClockedEmulator } from './fixtures';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const iso = (ms: number): string => new Date(ms).toISOString();
/** An epoch-ms instant in the 7-digit form of LastProcessedTimeUtc, so the two compare as strings. */
const at7 = (ms: number): string => `${iso(ms).slice(0, 23)}0000Z`;

describe('the token endpoint', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  withClockedEmulator(clock, {}, (e) => (emulator = e));

  it('answers client credentials with an Azure AD v1 token whose numbers are strings', async () => {
    const res = await requestToken(emulator.url);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^application\/json/);
    const body = (await res.json()) as Record<string, unknown>;
    assert.deepEqual(Object.keys(body), ['token_type', 'expires_in', 'ext_expires_in', 'expires_on', 'not_before', 'resource', 'access_token']);
    assert.equal(body.token_type, 'Bearer');
    assert.equal(body.expires_in, '3599');
    assert.equal(body.ext_expires_in, '3599');
    assert.equal(body.expires_on, String(T0 / 1000 + 3599));
    assert.equal(body.not_before, String(T0 / 1000));
    assert.equal(body.resource, RESOURCE);
    assert.equal(typeof body.access_token, 'string');
    assert.ok((body.access_token as string).length > 40);
    const second = await accessToken(emulator.url);
    assert.notEqual(second, body.access_token, 'every token is new');
    assert.equal(emulator.stats.tokenRequests, 2);
    assert.deepEqual(emulator.issuedTokens, [body.access_token, second]);
  });

  it('refuses a wrong secret with 401 invalid_client and AADSTS7000215, without echoing any secret', async () => {
    const wrong = 'not-the-secret-6c1e2a';
    const res = await requestToken(emulator.url, { client_secret: wrong });
    assert.equal(res.status, 401);
    const text = await res.text();
    const body = JSON.parse(text) as { error: string; error_description: string; error_codes: number[] };
    assert.equal(body.error, 'invalid_client');
    assert.deepEqual(body.error_codes, [7000215]);
    assert.match(body.error_description, /^AADSTS7000215: Invalid client secret/);
    assert.ok(!text.includes(wrong), 'the wrong secret was echoed');
    assert.ok(!text.includes(SECRET), 'the right secret was echoed');
    assert.equal(emulator.requests[0].authorized, false);
  });

  it('refuses an unknown client id, another grant type and a missing resource with 400', async () => {
    const unknownClient = await requestToken(emulator.url, { client_id: 'someone-else' });
    assert.equal(unknownClient.status, 400);
    assert.equal(((await unknownClient.json()) as { error: string }).error, 'unauthorized_client');

    const password = await requestToken(emulator.url, { grant_type: 'password' });
    assert.equal(password.status, 400);
    assert.equal(((await password.json()) as { error: string }).error, 'unsupported_grant_type');

    const noResource = await requestToken(emulator.url, { resource: undefined });
    assert.equal(noResource.status, 400);
    const body = (await noResource.json()) as { error: string; error_description: string };
    assert.equal(body.error, 'invalid_request');
    assert.match(body.error_description, /'resource'/);

    const noSecret = await requestToken(emulator.url, { client_secret: undefined });
    assert.equal(noSecret.status, 401);
  });

  it('accepts the credentials as HTTP Basic authentication too', async () => {
    const res = await fetch(`${emulator.url}/${TENANT}/oauth2/token`, {
      method: 'POST',
      headers: {
        'Content-Type': 'application/x-www-form-urlencoded',
        Authorization: `Basic ${Buffer.from(`${encodeURIComponent(CLIENT_ID)}:${encodeURIComponent(SECRET)}`).toString('base64')}`,
      },
      body: `grant_type=client_credentials&resource=${encodeURIComponent(RESOURCE)}`,
    });
    assert.equal(res.status, 200);
  });

  it('answers 405 to anything but POST', async () => {
    const res = await fetch(`${emulator.url}/${TENANT}/oauth2/token`);
    assert.equal(res.status, 405);
  });

  it('lets tokens expire on the emulator clock after tokenLifetimeSeconds', async () => {
    const short = await startEmulator({ now: clock.now, tokenLifetimeSeconds: 60 });
    try {
      const res = await requestToken(short.url);
      const body = (await res.json()) as { expires_in: string; expires_on: string; access_token: string };
      assert.equal(body.expires_in, '60');
      assert.equal(body.expires_on, String(T0 / 1000 + 60));
      clock.advance(59_999);
      assert.equal((await getAlerts(short.url, body.access_token)).status, 200);
      clock.advance(1);
      const expired = await getAlerts(short.url, body.access_token);
      assert.equal(expired.status, 401);
      assert.match(errorOf(expired).message, /expired/);
    } finally {
      await short.close();
    }
  });
});

describe('bearer tokens on GET /api/alerts', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator({ initialDetections: 3 });
  });
  after(() => emulator.close());

  it('answers 401 with a JSON error when the Authorization header is missing', async () => {
    const answer = await getAlerts(emulator.url, undefined);
    assert.equal(answer.status, 401);
    assert.equal(errorOf(answer).code, 'Unauthorized');
    assert.match(answer.headers.get('www-authenticate') ?? '', /^Bearer/);
    const recorded = emulator.requests.at(-1);
    assert.equal(recorded?.endpoint, 'alerts');
    assert.equal(recorded?.hadAuthorizationHeader, false);
    assert.equal(recorded?.authorized, false);
    assert.equal(recorded?.status, 401);
  });

  it('answers 401 to a token it did not issue and to a header that is not Bearer', async () => {
    const forged = await getAlerts(emulator.url, 'eyJ0eXAiOiJKV1QifQ.e30.c2lnbmF0dXJl');
    assert.equal(forged.status, 401);
    assert.match(errorOf(forged).message, /not issued/);
    const basic = await fetch(`${emulator.url}/api/alerts`, { headers: { Authorization: 'Basic Zm9vOmJhcg==' } });
    assert.equal(basic.status, 401);
    assert.equal(emulator.requests.at(-1)?.hadAuthorizationHeader, true);
  });

  it('answers 200 with a JSON array to a token it issued, with or without a trailing slash', async () => {
    const token = await accessToken(emulator.url);
    const answer = await getAlerts(emulator.url, token);
    assert.equal(answer.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(rows(answer).length, 3);
    assert.equal(answer.headers.get('content-length'), String(Buffer.byteLength(answer.text)));
    const slash = await fetch(`${emulator.url}/api/alerts/`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(slash.status, 200);
    assert.equal(((await slash.json()) as unknown[]).length, 3);
    assert.equal(emulator.requests.at(-1)?.authorized, true);
  });

  it('refuses every earlier token after revokeTokens, and accepts a new one', async () => {
    const token = await accessToken(emulator.url);
    emulator.revokeTokens();
    const refused = await getAlerts(emulator.url, token);
    assert.equal(refused.status, 401);
    assert.match(errorOf(refused).message, /revoked/);
    assert.equal((await getAlerts(emulator.url, await accessToken(emulator.url))).status, 200);
  });

  it('answers 404 on unknown paths and records them as other', async () => {
    const res = await fetch(`${emulator.url}/api/machines`);
    assert.equal(res.status, 404);
    assert.equal(emulator.requests.at(-1)?.endpoint, 'other');
  });
});

describe('query parameters of GET /api/alerts', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  withClockedEmulator(clock, {}, (e) => (emulator = e));
  beforeEach(async () => {
    token = await accessToken(emulator.url);
  });

  /** A detection last processed at the given instant; returns its FullId. */
  function at(lastProcessed: string | number, fields: Record<string, unknown> = {}): string {
    return String(emulator.addDetection({ LastProcessedTimeUtc: lastProcessed, ...fields }).FullId);
  }

  it('compares sinceTimeUtc at full precision, inclusive, against 7-digit LastProcessedTimeUtc', async () => {
    const a = at('2024-01-15T11:30:00.0779765Z');
    const since = async (value: string): Promise<string[]> => fullIds(await getAlerts(emulator.url, token, { sinceTimeUtc: value }));
    assert.deepEqual(await since('2024-01-15T11:30:00.077Z'), [a], 'the truncated millisecond is before the stored ticks');
    assert.deepEqual(await since('2024-01-15T11:30:00.0779765Z'), [a], 'the bound is inclusive');
    assert.deepEqual(await since('2024-01-15T11:30:00.0779766Z'), []);
    assert.deepEqual(await since('2024-01-15T11:30:00.078Z'), [], 'rounding up loses the detection');
  });

  it('compares untilTimeUtc at full precision, inclusive', async () => {
    const a = at('2024-01-15T11:30:00.0779765Z');
    const until = async (value: string): Promise<string[]> =>
      fullIds(await getAlerts(emulator.url, token, { sinceTimeUtc: '2024-01-15T11:00:00Z', untilTimeUtc: value }));
    assert.deepEqual(await until('2024-01-15T11:30:00.077Z'), [], '.0770000 is before .0779765');
    assert.deepEqual(await until('2024-01-15T11:30:00.0779765Z'), [a], 'the bound is inclusive');
    assert.deepEqual(await until('2024-01-15T11:30:00.078Z'), [a]);
  });

  it('reads a date-time without a zone as UTC and applies offsets, even an unencoded "+"', async () => {
    const a = at('2024-01-15T11:30:00.0779765Z');
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { sinceTimeUtc: '2024-01-15T11:30:00.077' })), [a]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { sinceTimeUtc: '2024-01-15T11:30:00.078' })), []);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { sinceTimeUtc: '2024-01-15T13:30:00.077+02:00' })), [a]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, '?sinceTimeUtc=2024-01-15T13:30:00.078+02:00')), []);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, '?sinceTimeUtc=2024-01-15T13:30:00.077+02:00')), [a]);
  });

  it('returns the window newest first', async () => {
    const older = at('2024-01-15T11:00:00.0000001Z');
    const newer = at('2024-01-15T11:00:00.0000002Z');
    const middle = at('2024-01-15T11:00:00.0000001Z', { MachineGroup: 'Servers' });
    const answer = await getAlerts(emulator.url, token, { sinceTimeUtc: '2024-01-15T10:00:00Z' });
    assert.equal(fullIds(answer)[0], newer);
    assert.deepEqual(new Set(fullIds(answer).slice(1)), new Set([older, middle]));
  });

  it('answers the last two hours when no time parameter is given, up to now', async () => {
    const inside = at(T0 - 119 * MINUTE);
    at(T0 - 121 * MINUTE);
    const now = at(T0);
    at(T0 + MINUTE);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token)), [now, inside]);
  });

  it('reads sinceTimeUtc alone as the range from it to now', async () => {
    const old = at(T0 - 5 * HOUR);
    at(T0 + 5 * MINUTE);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { sinceTimeUtc: iso(T0 - 6 * HOUR) })), [old]);
  });

  it('reads ago as an ISO 8601 duration back from now', async () => {
    const five = at(T0 - 5 * MINUTE);
    const fifteen = at(T0 - 15 * MINUTE);
    const day = at(T0 - 20 * HOUR);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { ago: 'PT10M' })), [five]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { ago: 'PT1H' })), [five, fifteen]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { ago: 'P1D' })), [five, fifteen, day]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { ago: 'PT0.2H' })), [five], 'a fractional 12 minutes');
  });

  it('refuses ago together with sinceTimeUtc or untilTimeUtc, and a malformed ago, with 400', async () => {
    const both = await getAlerts(emulator.url, token, { ago: 'PT10M', sinceTimeUtc: iso(T0 - HOUR) });
    assert.equal(both.status, 400);
    assert.match(errorOf(both).message, /ago/);
    const withUntil = await getAlerts(emulator.url, token, { ago: 'PT10M', untilTimeUtc: iso(T0) });
    assert.equal(withUntil.status, 400);
    for (const bad of ['10m', 'PT', 'P', '-PT10M', 'PT10X']) {
      const answer = await getAlerts(emulator.url, token, { ago: bad });
      assert.equal(answer.status, 400, `ago=${bad}`);
      assert.match(errorOf(answer).message, /^ago must be an ISO 8601 duration/);
    }
  });

  it('refuses unparseable date-times with 400 naming the parameter', async () => {
    for (const [name, value] of [['sinceTimeUtc', 'yesterday'], ['sinceTimeUtc', '2024-02-30T00:00:00Z'], ['untilTimeUtc', '2024-13-01'], ['untilTimeUtc', '']]) {
      const answer = await getAlerts(emulator.url, token, [[name, value]]);
      assert.equal(answer.status, 400, `${name}=${value}`);
      assert.equal(errorOf(answer).code, 'BadRequest');
      assert.match(errorOf(answer).message, new RegExp(`^${name} must be an ISO 8601 date-time`));
    }
  });

  it('returns only the most recent N with limit', async () => {
    const ids = [5, 4, 3, 2, 1].map((m) => at(T0 - m * MINUTE));
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { limit: '2' })), [ids[4], ids[3]]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { limit: '10' })), [...ids].reverse());
    const windowed = await getAlerts(emulator.url, token, { limit: '2', untilTimeUtc: iso(T0 - 2.5 * MINUTE), sinceTimeUtc: iso(T0 - HOUR) });
    assert.deepEqual(fullIds(windowed), [ids[2], ids[1]], 'the most recent N of the window, not of everything');
  });

  it('refuses a limit that is not a positive integer with 400 naming limit', async () => {
    for (const bad of ['0', '-1', 'abc', '1.5', '']) {
      const answer = await getAlerts(emulator.url, token, { limit: bad });
      assert.equal(answer.status, 400, `limit=${bad}`);
      assert.equal(errorOf(answer).message, `limit must be a positive integer, got ${JSON.stringify(bad)}`);
    }
  });

  it('filters on repeated machinegroups', async () => {
    const uk = at(T0 - 1 * MINUTE, { MachineGroup: 'UKMachines' });
    const fr = at(T0 - 2 * MINUTE, { MachineGroup: 'FranceMachines' });
    const servers = at(T0 - 3 * MINUTE, { MachineGroup: 'Servers' });
    at(T0 - 4 * MINUTE, { MachineGroup: '' });
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, '?machinegroups=UKMachines&machinegroups=FranceMachines')), [uk, fr]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { machinegroups: 'Servers' })), [servers]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { machinegroups: 'Nowhere' })), []);
  });

  it('filters on a single DeviceCreatedMachineTags or CloudCreatedMachineTags tag among the comma-separated ones', async () => {
    const both = at(T0 - 1 * MINUTE, { DeviceCreatedMachineTags: 'VIP,Finance', CloudCreatedMachineTags: 'Critical' });
    const finance = at(T0 - 2 * MINUTE, { DeviceCreatedMachineTags: 'Finance', CloudCreatedMachineTags: '' });
    at(T0 - 3 * MINUTE, { DeviceCreatedMachineTags: '', CloudCreatedMachineTags: 'Critical,HR' });
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { DeviceCreatedMachineTags: 'Finance' })), [both, finance]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { DeviceCreatedMachineTags: 'VIP' })), [both]);
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, { DeviceCreatedMachineTags: 'Fin' })), [], 'a whole tag, not a prefix');
    const critical = await getAlerts(emulator.url, token, { CloudCreatedMachineTags: 'Critical' });
    assert.equal(fullIds(critical).length, 2);
    assert.equal(fullIds(critical)[0], both);
  });

  it('matches parameter names case-insensitively and ignores unknown ones', async () => {
    const uk = at(T0 - 1 * MINUTE, { MachineGroup: 'UKMachines', DeviceCreatedMachineTags: 'VIP' });
    at(T0 - 2 * MINUTE, { MachineGroup: 'UKMachines', DeviceCreatedMachineTags: '' });
    const older = at(T0 - 3 * HOUR, { MachineGroup: 'UKMachines', DeviceCreatedMachineTags: 'VIP' });
    at(T0 - 4 * MINUTE, { MachineGroup: 'Servers', DeviceCreatedMachineTags: 'VIP' });
    const answer = await getAlerts(emulator.url, token, [
      ['SINCETIMEUTC', iso(T0 - 4 * HOUR)], ['MachineGroups', 'UKMachines'], ['devicecreatedmachinetags', 'VIP'],
      ['LIMIT', '5'], ['$top', '1'], ['foo', 'bar'],
    ]);
    assert.deepEqual(fullIds(answer), [uk, older]);
    assert.deepEqual(emulator.requests.at(-1)?.query.slice(0, 2), [['SINCETIMEUTC', iso(T0 - 4 * HOUR)], ['MachineGroups', 'UKMachines']]);
  });
});

describe('visibility, late arrivals and updates', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  withClockedEmulator(clock, {}, (e) => (emulator = e));
  beforeEach(async () => {
    token = await accessToken(emulator.url);
  });

  it('hides a detection until its visibleAt, then shows it with its old LastProcessedTimeUtc (a late arrival)', async () => {
    const late = emulator.addDetection({ LastProcessedTimeUtc: T0 - 30 * MINUTE }, { visibleAt: T0 + MINUTE });
    const query = { sinceTimeUtc: iso(T0 - HOUR) };
    assert.deepEqual(fullIds(await getAlerts(emulator.url, token, query)), []);
    assert.equal(emulator.detections.length, 1, 'stored though not yet visible');
    clock.advance(MINUTE);
    const answer = await getAlerts(emulator.url, token, query);
    assert.deepEqual(fullIds(answer), [late.FullId]);
    assert.equal(rows(answer)[0].LastProcessedTimeUtc, late.LastProcessedTimeUtc);
    assert.ok(String(late.LastProcessedTimeUtc) < at7(T0 - 29 * MINUTE));
  });

  it('applies visibleAt to addDetections too', async () => {
    emulator.addDetections(3, { lastProcessedAt: T0 - 10 * MINUTE, spreadMs: 1000, visibleAt: T0 + 1000 });
    assert.equal(rows(await getAlerts(emulator.url, token)).length, 0);
    clock.advance(1000);
    assert.equal(rows(await getAlerts(emulator.url, token)).length, 3);
  });

  it('replaces a detection by its new version on updateDetection: same ids, later LastProcessedTimeUtc', async () => {
    const original = emulator.addDetection({ LastProcessedTimeUtc: T0 - 10 * MINUTE });
    clock.advance(MINUTE);
    const updated = emulator.updateDetection(String(original.FullId));
    assert.equal(updated.FullId, original.FullId);
    assert.equal(updated.AlertId, original.AlertId);
    assert.ok(String(updated.LastProcessedTimeUtc) > String(original.LastProcessedTimeUtc));
    assert.ok(String(updated.LastProcessedTimeUtc).startsWith(iso(T0 + MINUTE).slice(0, 23)));
    assert.equal(emulator.detections.length, 1);
    const all = rows(await getAlerts(emulator.url, token, { sinceTimeUtc: iso(T0 - HOUR) }));
    assert.equal(all.length, 1, 'only the newest version is served');
    assert.equal(all[0].LastProcessedTimeUtc, updated.LastProcessedTimeUtc);
    const oldWindow = await getAlerts(emulator.url, token, { sinceTimeUtc: iso(T0 - HOUR), untilTimeUtc: iso(T0 - 5 * MINUTE) });
    assert.deepEqual(fullIds(oldWindow), []);
    const explicit = emulator.updateDetection(String(original.FullId), T0 - 2 * MINUTE);
    assert.ok(String(explicit.LastProcessedTimeUtc).startsWith(iso(T0 - 2 * MINUTE).slice(0, 23)));
    assert.throws(() => emulator.updateDetection('no-such-id'), /no stored detection/);
  });

  it('keeps adding detections while a stream runs, with late arrivals and updates', async () => {
    emulator.startStream({ everyMs: 10, perTick: 10, lateMs: 10 * MINUTE });
    const deadline = Date.now() + 3000;
    while (emulator.detections.length < 60 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    emulator.stopStream();
    const added = emulator.detections;
    assert.ok(added.length >= 60, `only ${added.length} detections streamed in 3 s`);
    assert.ok(added.some((d) => String(d.LastProcessedTimeUtc) < at7(T0 - 1000)), 'no late arrival');
    assert.ok(added.some((d) => String(d.LastProcessedTimeUtc) >= at7(T0)), 'no on-time arrival');
    await new Promise((resolve) => setTimeout(resolve, 40));
    assert.equal(emulator.detections.length, added.length, 'stopStream stops it');

    clock.advance(MINUTE);
    emulator.startStream({ everyMs: 10, updateRatio: 1 });
    await new Promise((resolve) => setTimeout(resolve, 60));
    emulator.stopStream();
    assert.equal(emulator.detections.length, added.length, 'updates add no detection');
    assert.ok(emulator.detections.some((d) => String(d.LastProcessedTimeUtc) >= at7(T0 + MINUTE)), 'nothing was updated');
  });
});

describe('faults', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let token: string;
  withClockedEmulator(clock, {}, (e) => (emulator = e));
  beforeEach(async () => {
    emulator.addDetections(6, { spreadMs: 30 * MINUTE });
    token = await accessToken(emulator.url);
  });

  async function statuses(count: number): Promise<number[]> {
    const out: number[] = [];
    for (let i = 0; i < count; i++) out.push((await getAlerts(emulator.url, token)).status);
    return out;
  }

  it('http401 answers 401 and revokes the token used', async () => {
    emulator.injectFault({ kind: 'http401' });
    const refused = await getAlerts(emulator.url, token);
    assert.equal(refused.status, 401);
    assert.equal(errorOf(refused).code, 'Unauthorized');
    assert.equal((await getAlerts(emulator.url, token)).status, 401, 'the same token stays refused');
    assert.equal((await getAlerts(emulator.url, await accessToken(emulator.url))).status, 200);
  });

  it('http403 answers 403 saying the tenant is not authorized', async () => {
    emulator.injectFault({ kind: 'http403' });
    const answer = await getAlerts(emulator.url, token);
    assert.equal(answer.status, 403);
    assert.match(errorOf(answer).message, /tenant is not authorized/i);
    assert.equal((await getAlerts(emulator.url, token)).status, 200, 'once by default');
  });

  it('http429 and http503 send Retry-After, in seconds or as an HTTP date', async () => {
    const date = new Date(T0 + 30_000).toUTCString();
    emulator.injectFault({ kind: 'http429', retryAfter: '7' });
    emulator.injectFault({ kind: 'http503', retryAfter: date });
    emulator.injectFault({ kind: 'http429' });
    const first = await getAlerts(emulator.url, token);
    assert.equal(first.status, 429);
    assert.equal(first.headers.get('retry-after'), '7');
    assert.equal(errorOf(first).code, 'TooManyRequests');
    const second = await getAlerts(emulator.url, token);
    assert.equal(second.status, 503);
    assert.equal(second.headers.get('retry-after'), date);
    assert.equal((await getAlerts(emulator.url, token)).headers.get('retry-after'), '1', 'default Retry-After');
    assert.equal((await getAlerts(emulator.url, token)).status, 200);
  });

  it('http404 and http410 answer Not Found and Gone in the service\'s error shape', async () => {
    emulator.injectFault({ kind: 'http404' });
    emulator.injectFault({ kind: 'http410' });
    const [missing, gone] = [await getAlerts(emulator.url, token), await getAlerts(emulator.url, token)];
    assert.deepEqual([missing.status, errorOf(missing).code, gone.status, errorOf(gone).code], [404, 'NotFound', 410, 'Gone']);
    assert.equal((await getAlerts(emulator.url, token)).status, 200);
  });

  it('http500 answers a JSON service error', async () => {
    emulator.injectFault({ kind: 'http500' });
    const answer = await getAlerts(emulator.url, token);
    assert.equal(answer.status, 500);
    assert.equal(errorOf(answer).code, 'InternalServerError');
  });

  it('starts after `after` normal requests and lasts `times` requests, in injection order', async () => {
    emulator.injectFault({ kind: 'http500', after: 2, times: 2 });
    assert.deepEqual(await statuses(5), [200, 200, 500, 500, 200]);
    emulator.injectFault({ kind: 'http500' });
    emulator.injectFault({ kind: 'http429' });
    assert.deepEqual(await statuses(3), [500, 429, 200]);
    emulator.injectFault({ kind: 'http503', times: Infinity });
    assert.deepEqual(await statuses(3), [503, 503, 503]);
    emulator.clearFaults();
    assert.deepEqual(await statuses(1), [200]);
  });

  it('hits the token endpoint with on: "token", in Azure AD error shape, leaving alerts alone', async () => {
    emulator.injectFault({ kind: 'http503', on: 'token', retryAfter: '3' });
    assert.equal((await getAlerts(emulator.url, token)).status, 200);
    const res = await requestToken(emulator.url);
    assert.equal(res.status, 503);
    assert.equal(res.headers.get('retry-after'), '3');
    const body = (await res.json()) as { error: string; error_codes: number[] };
    assert.equal(typeof body.error, 'string');
    assert.ok(Array.isArray(body.error_codes));
    assert.equal((await requestToken(emulator.url)).status, 200);
    emulator.injectFault({ kind: 'http401', on: 'token' });
    assert.equal((await requestToken(emulator.url)).status, 401);
  });

  it('delay waits delayMs, then answers normally', async () => {
    emulator.injectFault({ kind: 'delay', delayMs: 300 });
    const started = Date.now();
    const answer = await getAlerts(emulator.url, token);
    assert.ok(Date.now() - started >= 290, `answered after ${Date.now() - started} ms`);
    assert.equal(rows(answer).length, 6);
  });

  it('delay gives up cleanly when the client goes away', async () => {
    emulator.injectFault({ kind: 'delay', delayMs: 5000 });
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 50);
    await assert.rejects(getAlerts(emulator.url, token, '', { signal: controller.signal }), { name: 'AbortError' });
    const started = Date.now();
    assert.equal(rows(await getAlerts(emulator.url, token)).length, 6);
    assert.ok(Date.now() - started < 1000);
    await new Promise((resolve) => setTimeout(resolve, 20));
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'alerts')[0].status, 0, 'the abandoned request got no answer');
  });

  it('truncated sends half of the real body as JSON without Content-Length, then ends normally', async () => {
    const full = await getAlerts(emulator.url, token);
    emulator.injectFault({ kind: 'truncated' });
    const cut = await getAlerts(emulator.url, token);
    assert.equal(cut.status, 200);
    assert.equal(cut.headers.get('content-type'), 'application/json; charset=utf-8');
    assert.equal(cut.headers.get('content-length'), null);
    assert.equal(cut.json, undefined, 'the body must not parse');
    assert.equal(cut.text, full.text.slice(0, Math.floor(full.text.length / 2)));
  });

  it('html answers 200 with a sign-in page', async () => {
    emulator.injectFault({ kind: 'html' });
    const answer = await getAlerts(emulator.url, token);
    assert.equal(answer.status, 200);
    assert.match(answer.headers.get('content-type') ?? '', /^text\/html/);
    assert.match(answer.text, /<html>[\s\S]*Sign in[\s\S]*<\/html>/);
  });

  it('redirect answers 302 to /redirected/api/alerts with the same query, which records the Authorization header', async () => {
    const query = `?limit=3&sinceTimeUtc=${encodeURIComponent(iso(T0 - HOUR))}`;
    emulator.injectFault({ kind: 'redirect', times: 2 });
    const res = await fetch(`${emulator.url}/api/alerts${query}`, { headers: { Authorization: `Bearer ${token}` }, redirect: 'manual' });
    assert.equal(res.status, 302);
    const location = res.headers.get('location');
    assert.equal(location, `${emulator.url}/redirected/api/alerts${query}`);
    await res.arrayBuffer();

    const bare = await fetch(location as string);
    assert.equal(bare.status, 200);
    assert.deepEqual(await bare.json(), []);
    let recorded = emulator.requests.at(-1);
    assert.equal(recorded?.endpoint, 'redirected');
    assert.equal(recorded?.hadAuthorizationHeader, false);
    assert.deepEqual(recorded?.query, [['limit', '3'], ['sinceTimeUtc', iso(T0 - HOUR)]]);

    const followed = await getAlerts(emulator.url, token, query);
    assert.deepEqual(followed.json, []);
    recorded = emulator.requests.at(-1);
    assert.equal(recorded?.endpoint, 'redirected');
    assert.equal(recorded?.hadAuthorizationHeader, true, 'fetch keeps Authorization on a same-origin redirect');
    assert.equal(recorded?.authorized, true);
    assert.equal(emulator.stats.alertRequests, 2, 'the redirected endpoint is not the alerts endpoint');
  });

  it('reset drops the connection without an answer', async () => {
    emulator.injectFault({ kind: 'reset' });
    await assert.rejects(getAlerts(emulator.url, token), TypeError);
    assert.equal(rows(await getAlerts(emulator.url, token)).length, 6);
    const alerts = emulator.requests.filter((r) => r.endpoint === 'alerts');
    assert.deepEqual(alerts.map((r) => r.status), [0, 200]);
  });

  it('echo quotes the request back with any status: the bearer token, or the token form with the secret', async () => {
    emulator.injectFault({ kind: 'echo' });
    const refused = await getAlerts(emulator.url, token);
    assert.equal(refused.status, 400);
    assert.equal(refused.text, `Request refused (HTTP 400). You sent: Authorization: Bearer ${token}`);
    assert.equal(refused.headers.get('retry-after'), null);
    emulator.injectFault({ kind: 'echo', on: 'token', status: 429, retryAfter: '3' });
    const throttled = await requestToken(emulator.url);
    assert.equal(throttled.status, 429);
    assert.equal(throttled.headers.get('retry-after'), '3');
    assert.ok((await throttled.text()).includes(`client_secret=${encodeURIComponent(SECRET)}`), 'the form is quoted as sent');
    emulator.injectFault({ kind: 'echo', on: 'token', status: 502, retryAfter: '0' });
    const failing = await requestToken(emulator.url);
    assert.deepEqual([failing.status, failing.headers.get('retry-after')], [502, '0']);
    assert.match(await failing.text(), /^Request refused \(HTTP 502\)\. You sent: resource=/);
    assert.throws(() => emulator.injectFault({ kind: 'echo', status: 700 }), /HTTP status from 200 to 599/);
  });

  it('refuses a fault it does not know', () => {
    assert.throws(() => emulator.injectFault({ kind: 'http418' as 'http500' }), /fault kind must be one of/);
    assert.throws(() => emulator.injectFault({ kind: 'http500', times: 0 }), /times/);
    assert.throws(() => emulator.injectFault({ kind: 'http500', after: -1 }), /after/);
  });
});

describe('admin endpoints', () => {
  let emulator: Emulator;
  let token: string;

  before(async () => {
    emulator = await startEmulator();
    token = await accessToken(emulator.url);
  });
  after(() => emulator.close());

  it('injects, lists and clears faults; times may be "Infinity"', async () => {
    const created = await adminCall(emulator.url, 'POST', 'faults', { kind: 'http500', times: 'Infinity' });
    assert.equal(created.status, 201);
    assert.deepEqual((created.json as { fault: unknown }).fault, { kind: 'http500', on: 'alerts', after: 0, times: 'Infinity', retryAfter: '1', delayMs: 2000, status: 400 });
    assert.equal((await getAlerts(emulator.url, token)).status, 500);
    assert.equal((await getAlerts(emulator.url, token)).status, 500);
    const listed = await adminCall(emulator.url, 'GET', 'faults');
    assert.equal((listed.json as { pending: unknown[] }).pending.length, 1);
    assert.equal((await adminCall(emulator.url, 'DELETE', 'faults')).status, 200);
    assert.equal((await getAlerts(emulator.url, token)).status, 200);
  });

  it('refuses a malformed fault with 400 saying what would be right', async () => {
    const bad = await adminCall(emulator.url, 'POST', 'faults', { kind: 'teapot' });
    assert.equal(bad.status, 400);
    assert.match((bad.json as { error: { message: string } }).error.message, /http401, http403/);
    const notJson = await fetch(`${emulator.url}/emulator/faults`, { method: 'POST', body: '{nope' });
    assert.equal(notJson.status, 400);
  });

  it('adds generated detections and answers them', async () => {
    const before = emulator.detections.length;
    const added = await adminCall(emulator.url, 'POST', 'detections', { count: 3 });
    assert.equal(added.status, 201);
    const list = added.json as Array<Record<string, unknown>>;
    assert.equal(list.length, 3);
    assert.deepEqual(Object.keys(list[0]), [...DETECTION_FIELDS]);
    assert.equal(emulator.detections.length, before + 3);
    const served = fullIds(await getAlerts(emulator.url, token));
    for (const d of list) assert.ok(served.includes(String(d.FullId)));
    assert.equal((await adminCall(emulator.url, 'POST', 'detections', { count: 0 })).status, 400);
  });

  it('reports stats and resets everything', async () => {
    const stats = await adminCall(emulator.url, 'GET', 'stats');
    assert.equal(stats.status, 200);
    const s = stats.json as { tokenRequests: number; alertRequests: number; detections: number };
    assert.equal(s.tokenRequests, emulator.stats.tokenRequests);
    assert.equal(s.alertRequests, emulator.stats.alertRequests);
    assert.ok(s.alertRequests > 0);
    assert.equal(s.detections, emulator.detections.length);

    assert.equal((await adminCall(emulator.url, 'POST', 'reset')).status, 200);
    assert.deepEqual(emulator.stats, { tokenRequests: 0, alertRequests: 0 });
    assert.equal(emulator.detections.length, 0);
    assert.deepEqual(emulator.requests, []);
    assert.equal((await getAlerts(emulator.url, token)).status, 401, 'tokens are forgotten');
  });

  it('answers 404 on an unknown admin route', async () => {
    assert.equal((await adminCall(emulator.url, 'GET', 'nothing')).status, 404);
  });
});

describe('generated detections', () => {
  it('carry the 50 documented fields in the documented order, in the formats of the sample', async () => {
    const emulator = new Emulator({ seed: 11, initialDetections: 300, now: () => T0 });
    for (const d of emulator.detections) {
      assert.deepEqual(Object.keys(d), [...DETECTION_FIELDS]);
      const alertId = String(d.AlertId);
      assert.match(alertId, /^da\d{18}_\d+$/);
      assert.match(String(d.IocUniqueId), /^[A-Za-z0-9+/]{43}=$/);
      assert.equal(d.FullId, `${alertId}:${String(d.IocUniqueId)}`);
      assert.match(String(d.LastProcessedTimeUtc), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      assert.match(String(d.AlertTime), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z$/);
      assert.ok(String(d.AlertTime) < String(d.LastProcessedTimeUtc));
      assert.ok(String(d.LastProcessedTimeUtc) >= at7(T0 - 2 * HOUR) && String(d.LastProcessedTimeUtc) <= `${iso(T0).slice(0, 23)}9999Z`);
      assert.equal(d.LinkToWDATP, `https://securitycenter.windows.com/alert/${alertId}`);
      assert.equal(d.IncidentLinkToWDATP, `https://securitycenter.windows.com/incidents/byalert?alertId=${alertId}&source=SIEM`);
      assert.equal(d.LinkToMTP, `https://security.microsoft.com/alert/${alertId}`);
      assert.equal(d.IncidentLinkToMTP, `https://security.microsoft.com/incidents/byalert?alertId=${alertId}&source=SIEM`);
      assert.match(String(d.Sha1), /^[0-9a-f]{40}$/);
      assert.equal(d.FileHash, d.Sha1);
      assert.match(String(d.Md5), /^[0-9a-f]{32}$/);
      assert.match(String(d.Sha256), /^([0-9a-f]{64})?$/);
      assert.match(String(d.DeviceID), /^[0-9a-f]{40}$/);
      assert.match(String(d.ExternalId), /^[0-9A-F]{40}$/);
      assert.equal(d.ComputerDnsName, `${String(d.MachineName)}.${String(d.MachineDomain)}`);
      assert.match(String(d.FilePath), /^C:\\/);
      assert.match(String(d.InternalIPv4List), /^\d+\.\d+\.\d+\.\d+(;\d+\.\d+\.\d+\.\d+)*$/);
      assert.ok(Number.isInteger(d.ReportID));
      assert.equal(d.AlertPart, 0);
      assert.ok(d.RemediationIsSuccess === null || typeof d.RemediationIsSuccess === 'boolean');
      assert.ok(d.WasExecutingWhileDetected === null || typeof d.WasExecutingWhileDetected === 'boolean');
      assert.ok(['Informational', 'Low', 'Medium', 'High'].includes(String(d.Severity)));
      assert.ok(['UKMachines', 'FranceMachines', 'Servers', ''].includes(String(d.MachineGroup)));
      const size = Buffer.byteLength(JSON.stringify(d));
      assert.ok(size > 1000 && size < 2600, `a detection of ${size} bytes`);
      if (d.Source === 'Antivirus') assert.notEqual(d.ThreatName, '');
      else assert.equal(d.ThreatName, '');
    }
  });

  it('vary in severity, source, group and tags, and in the sub-millisecond digits of LastProcessedTimeUtc', () => {
    const all = new Emulator({ seed: 3, initialDetections: 300, now: () => T0 }).detections;
    const subMs = new Set(all.map((d) => String(d.LastProcessedTimeUtc).slice(23, 27)));
    assert.ok(subMs.size > 100, 'the digits past the millisecond must matter');
    const distinct = (field: string): Set<unknown> => new Set(all.map((d) => d[field]));
    assert.equal(distinct('Severity').size, 4);
    for (const source of ['EDR', 'Antivirus', 'AutomatedInvestigation']) assert.ok(distinct('Source').has(source), source);
    assert.equal(distinct('MachineGroup').size, 4);
    assert.ok(distinct('AlertTitle').size >= 10);
    assert.ok(all.some((d) => String(d.DeviceCreatedMachineTags).includes(',')));
    assert.ok(all.some((d) => d.CloudCreatedMachineTags === ''));
    assert.equal(new Set(all.map((d) => d.FullId)).size, all.length, 'FullIds are unique');
  });

  it('are the same for the same seed and clock, and differ for another seed', () => {
    const make = (seed: number): Emulator => new Emulator({ seed, initialDetections: 20, now: () => T0 });
    const a = make(42);
    const b = make(42);
    assert.deepEqual(a.detections, b.detections);
    assert.deepEqual(a.addDetections(5), b.addDetections(5));
    const other = make(43).detections.map((d) => d.FullId);
    assert.ok(!other.includes(a.detections[0].FullId));
  });

  it('lay given fields over a generated detection, deriving FullId and links from a given AlertId', () => {
    const emulator = new Emulator({ now: () => T0 });
    const d = emulator.addDetection({ AlertId: 'da637370718981685665_16349121', Severity: 'Low', MachineGroup: 'Servers' });
    assert.equal(d.Severity, 'Low');
    assert.equal(d.MachineGroup, 'Servers');
    assert.match(String(d.ComputerDnsName), /^srv-/, 'a device of the group');
    assert.ok(String(d.FullId).startsWith('da637370718981685665_16349121:'));
    assert.equal(d.LinkToMTP, 'https://security.microsoft.com/alert/da637370718981685665_16349121');
    assert.deepEqual(Object.keys(d), [...DETECTION_FIELDS]);
    assert.throws(() => emulator.addDetection({ LastProcessedTimeUtc: 'soon' }), /LastProcessedTimeUtc/);
    assert.ok(Object.isFrozen(d));
  });
});

describe('a large store', () => {
  let emulator: Emulator;

  before(async () => {
    emulator = await startEmulator({ now: () => T0 });
    emulator.addDetections(20_000, { spreadMs: HOUR });
  });
  after(() => emulator.close());

  it('serves 20 000 detections in one answer, newest first, with a correct Content-Length', async () => {
    const answer = await getAlerts(emulator.url, await accessToken(emulator.url));
    const list = rows(answer);
    assert.equal(list.length, 20_000);
    assert.equal(answer.headers.get('content-length'), String(Buffer.byteLength(answer.text)));
    for (let i = 1; i < list.length; i++) {
      assert.ok(String(list[i - 1].LastProcessedTimeUtc) >= String(list[i].LastProcessedTimeUtc), `out of order at ${i}`);
    }
  });
});

describe('listen and close', () => {
  it('listens on 127.0.0.1 by default and closes promptly despite keep-alive connections', async () => {
    const emulator = new Emulator();
    assert.throws(() => emulator.url, /not listening/);
    const url = await emulator.listen();
    assert.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.equal(emulator.url, url);
    assert.equal((await getAlerts(url, undefined)).status, 401);
    const started = Date.now();
    await emulator.close();
    assert.ok(Date.now() - started < 1000);
    await assert.rejects(fetch(`${url}/api/alerts`), TypeError);
  });
});
