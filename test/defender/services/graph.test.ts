import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DefenderError } from '../../../src/defender/errors';
import { GraphClient, type GraphClientOptions, type GraphSession, graphQuery, graphRequestQuery } from '../../../src/defender/services/graph';
import { GRAPH_NATIVE_ACCESSOR, type GraphAlert } from '../../../src/defender/services/graph-mapping';
import { RateLimiter } from '../../../src/defender/services/graph-rate';
import type { HttpResponse, HttpTransport } from '../../../src/defender/transport/http';
import { resolveConnection } from '../../../src/defender/services/regions';
import { TokenProvider } from '../../../src/defender/sign-in/token';

const NOW = Date.parse('2024-05-01T12:00:00.000Z');
const connection = resolveConnection({ tenantId: 'contoso.onmicrosoft.com', clientId: 'app', region: 'eu', api: 'graph' });

const params = (entries: Record<string, string | string[]>): URLSearchParams => {
  const p = new URLSearchParams();
  for (const [k, v] of Object.entries(entries)) for (const value of Array.isArray(v) ? v : [v]) p.append(k, value);
  return p;
};

const alert = (id: string, minutesAgo: number, group = 'UKMachines', tags: string[] = []): GraphAlert => ({
  id,
  title: `alert ${id}`,
  severity: 'medium',
  lastUpdateDateTime: `${new Date(NOW - minutesAgo * 60_000).toISOString().slice(0, 23)}1234Z`,
  evidence: [{ '@odata.type': '#microsoft.graph.security.deviceEvidence', deviceDnsName: `${id}.contoso.com`, rbacGroupName: group, tags }],
});

function json(status: number, body: unknown, headers: Record<string, string> = {}): HttpResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) };
}

/** A transport that answers from a script, recording each URL and bearer token it was asked with. */
class ScriptedTransport implements Pick<HttpTransport, 'get'> {
  readonly asked: Array<{ url: URL; token: string }> = [];
  constructor(private readonly answer: (url: URL, call: number) => HttpResponse) {}
  async get<T>(url: string, headers: Record<string, string>): Promise<HttpResponse<T>> {
    const parsed = new URL(url);
    this.asked.push({ url: parsed, token: headers.Authorization.replace(/^Bearer /, '') });
    return this.answer(parsed, this.asked.length) as HttpResponse<T>;
  }
}

/** Serves `alerts` newest first like Graph with $orderby, in pages of $top, following a $skiptoken offset. */
function graphLike(alerts: GraphAlert[], options: { orderBy?: 'refused' | 'ignored' } = {}): (url: URL) => HttpResponse {
  return (url) => {
    const orderBy = url.searchParams.get('$orderby');
    if (orderBy && options.orderBy === 'refused') return json(400, { error: { code: 'BadRequest', message: "Query option 'OrderBy' is not allowed." } });
    const list = orderBy && options.orderBy !== 'ignored' ? [...alerts].sort((a, b) => String(b.lastUpdateDateTime).localeCompare(String(a.lastUpdateDateTime))) : alerts;
    const top = Number(url.searchParams.get('$top') ?? 100);
    const skip = Number(url.searchParams.get('$skiptoken') ?? 0);
    const page = list.slice(skip, skip + top);
    const next = new URL(url);
    next.searchParams.set('$skiptoken', String(skip + top));
    return json(200, { value: page, ...(skip + top < list.length ? { '@odata.nextLink': next.toString() } : {}) });
  };
}

function client(transport: ScriptedTransport, options: Partial<GraphClientOptions> = {}, session?: GraphSession) {
  let issued = 0;
  const tokens = new TokenProvider(async () => ({ value: `token-${++issued}`, expiresAt: Date.now() + 3600_000 }));
  const shared = session ?? { limiter: new RateLimiter({ perMinute: 1_000_000, burst: 1000 }) };
  const graph = new GraphClient(transport, connection, tokens, shared, {
    timeoutMs: 1000,
    maxResponseBytes: 1024 * 1024,
    retry: { maxRetries: 2, baseDelayMs: 1, maxDelayMs: 5, maxRetryAfterMs: 5000 },
    now: () => NOW,
    ...options,
  });
  return { graph, session: shared, tokens: () => issued };
}

describe('graphQuery', () => {
  it('turns the SIEM time range into lastUpdateDateTime bounds and asks for Defender for Endpoint only', () => {
    const q = graphQuery(params({ sinceTimeUtc: '2024-05-01T10:00:00.000Z', untilTimeUtc: '2024-05-01T11:00:00.000Z', limit: '20' }), NOW);
    assert.equal(q.filter, "serviceSource eq 'microsoftDefenderForEndpoint' and lastUpdateDateTime ge 2024-05-01T10:00:00.000Z and lastUpdateDateTime le 2024-05-01T11:00:00.000Z");
    assert.equal(q.limit, 20);
    assert.deepEqual(q.device, {});
  });

  it('counts ago, and the SIEM API’s default two hours, from now', () => {
    assert.equal(graphQuery(params({ ago: 'PT10M' }), NOW).filter, "serviceSource eq 'microsoftDefenderForEndpoint' and lastUpdateDateTime ge 2024-05-01T11:50:00.000Z");
    assert.equal(graphQuery(params({}), NOW).filter, "serviceSource eq 'microsoftDefenderForEndpoint' and lastUpdateDateTime ge 2024-05-01T10:00:00.000Z");
  });

  it('keeps machine groups and tags for the device evidence', () => {
    const q = graphQuery(params({ machinegroups: ['UKMachines', 'FranceMachines'], DeviceCreatedMachineTags: 'VIP', CloudCreatedMachineTags: 'Finance' }), NOW);
    assert.deepEqual(q.device, { machinegroups: ['UKMachines', 'FranceMachines'], tags: ['VIP', 'Finance'] });
  });

  it('writes the request with %20 for spaces, $orderby only when newest first is wanted', () => {
    const q = graphQuery(params({ sinceTimeUtc: '2024-05-01T10:00:00.000Z' }), NOW);
    const text = graphRequestQuery(q, 5, 'desc');
    assert.match(text, /^\$filter=serviceSource%20eq%20'microsoftDefenderForEndpoint'%20and%20lastUpdateDateTime%20ge%202024-05-01T10%3A00%3A00.000Z&\$orderby=lastUpdateDateTime%20desc&\$top=5$/);
    assert.doesNotMatch(graphRequestQuery(q, 5), /orderby/);
    assert.doesNotMatch(text, /\+/);
  });
});

describe('GraphClient', () => {
  const window = params({ sinceTimeUtc: '2024-05-01T10:00:00.000Z', untilTimeUtc: '2024-05-01T12:00:00.000Z' });

  it('follows @odata.nextLink until the window is drained and maps each alert to SIEM fields', async () => {
    const alerts = Array.from({ length: 7 }, (_, i) => alert(`a${i}`, 10 + i));
    const transport = new ScriptedTransport(graphLike(alerts));
    const { graph } = client(transport, { pageSize: 3 });
    const detections = await graph.fetchPage(window);
    assert.deepEqual(detections.map((d) => d.AlertId), alerts.map((a) => a.id));
    assert.equal(detections[0].ComputerDnsName, 'a0.contoso.com');
    assert.equal(detections[0].Severity, 'Medium');
    assert.equal(transport.asked.length, 3);
    assert.ok(transport.asked.every((r) => r.url.origin === 'https://graph.microsoft.com' && r.url.pathname === '/v1.0/security/alerts_v2'));
    assert.equal(transport.asked[0].url.searchParams.get('$orderby'), null);
    assert.equal(transport.asked[0].url.searchParams.get('$top'), '3');
    assert.equal(graph.accessor.key(detections[0]), `a0|${alerts[0].lastUpdateDateTime}`);
  });

  it('with limit asks newest first and stops after N, as the SIEM API returns the most recent N', async () => {
    const alerts = Array.from({ length: 10 }, (_, i) => alert(`a${i}`, 30 - i));
    const transport = new ScriptedTransport(graphLike(alerts));
    const { graph } = client(transport);
    const detections = await graph.fetchPage(params({ sinceTimeUtc: '2024-05-01T10:00:00.000Z', limit: '4' }));
    assert.deepEqual(detections.map((d) => d.AlertId), ['a9', 'a8', 'a7', 'a6']);
    assert.equal(transport.asked.length, 1);
    assert.equal(transport.asked[0].url.searchParams.get('$orderby'), 'lastUpdateDateTime desc');
    assert.equal(transport.asked[0].url.searchParams.get('$top'), '4');
  });

  it('keeps reading pages until N alerts pass the device filter', async () => {
    const alerts = Array.from({ length: 12 }, (_, i) => alert(`a${i}`, 30 - i, i % 3 === 0 ? 'Servers' : 'UKMachines'));
    const transport = new ScriptedTransport(graphLike(alerts));
    const { graph } = client(transport);
    const detections = await graph.fetchPage(params({ sinceTimeUtc: '2024-05-01T10:00:00.000Z', limit: '3', machinegroups: 'servers' }));
    assert.deepEqual(detections.map((d) => d.AlertId), ['a9', 'a6', 'a3']);
    assert.ok(transport.asked.length >= 3, `expected several pages, got ${transport.asked.length}`);
    assert.ok(detections.every((d) => d.MachineGroup === 'Servers'));
  });

  it('reads the whole window and takes the newest N itself when Graph refuses $orderby, and remembers', async () => {
    const alerts = Array.from({ length: 6 }, (_, i) => alert(`a${i}`, 10 + ((i * 7) % 6)));
    const transport = new ScriptedTransport(graphLike(alerts, { orderBy: 'refused' }));
    const { graph, session } = client(transport, { pageSize: 4 });
    const detections = await graph.fetchPage(params({ sinceTimeUtc: '2024-05-01T10:00:00.000Z', limit: '2' }));
    const newest = [...alerts].sort((a, b) => String(b.lastUpdateDateTime).localeCompare(String(a.lastUpdateDateTime))).slice(0, 2);
    assert.deepEqual(detections.map((d) => d.AlertId), newest.map((a) => a.id));
    assert.equal(session.refused?.has('alerts_v2 $orderby'), true);
    const before = transport.asked.length;
    await graph.fetchPage(params({ sinceTimeUtc: '2024-05-01T10:00:00.000Z', limit: '2' }));
    assert.ok(transport.asked.slice(before).every((r) => r.url.searchParams.get('$orderby') === null), 'asked $orderby again');
  });

  it('notices a page that is not newest first and falls back rather than lose older alerts', async () => {
    const alerts = [alert('old', 50), alert('new', 5), alert('mid', 20)];
    const transport = new ScriptedTransport(graphLike(alerts, { orderBy: 'ignored' }));
    const { graph, session } = client(transport);
    const detections = await graph.fetchPage(params({ sinceTimeUtc: '2024-05-01T10:00:00.000Z', limit: '2' }));
    assert.deepEqual(detections.map((d) => d.AlertId), ['new', 'mid']);
    assert.equal(session.refused?.has('alerts_v2 $orderby'), true);
  });

  it('passes the alerts_v2 object through with shape native', async () => {
    const alerts = [alert('a', 5)];
    const { graph } = client(new ScriptedTransport(graphLike(alerts)), { shape: 'native' });
    assert.equal(graph.accessor, GRAPH_NATIVE_ACCESSOR);
    assert.deepEqual(await graph.fetchPage(window), alerts);
  });

  it('never follows a nextLink to another host, so the token stays with Graph', async () => {
    const transport = new ScriptedTransport(() => json(200, { value: [alert('a', 5)], '@odata.nextLink': 'https://evil.example/v1.0/security/alerts_v2?$skiptoken=1' }));
    const { graph } = client(transport);
    await assert.rejects(graph.fetchPage(window), (e: unknown) => e instanceof DefenderError && e.code === 'BAD_RESPONSE' && /does not point to https:\/\/graph.microsoft.com/.test(e.message));
    assert.equal(transport.asked.length, 1);
  });

  it('names a body that is not an alerts page', async () => {
    for (const body of ['<html>sign in</html>', '[]', '{"error":"x"}']) {
      const { graph } = client(new ScriptedTransport(() => json(200, body, { 'content-type': 'text/html' })));
      await assert.rejects(graph.fetchPage(window), (e: unknown) => e instanceof DefenderError && e.code === 'BAD_RESPONSE' && /expected a JSON object with a "value" array/.test(e.message), body);
    }
  });

  it('fetches one new token after a 401 and then lets a second 401 stand', async () => {
    let calls = 0;
    const transport = new ScriptedTransport(() => (++calls === 1 ? json(401, { error: { code: 'InvalidAuthenticationToken', message: 'expired' } }) : json(200, { value: [] })));
    const { graph, tokens } = client(transport);
    assert.deepEqual(await graph.fetchPage(window), []);
    assert.deepEqual(transport.asked.map((r) => r.token), ['token-1', 'token-2']);
    assert.equal(tokens(), 2);

    const refused = new ScriptedTransport(() => json(401, { error: { code: 'InvalidAuthenticationToken', message: 'Access token validation failure.' } }));
    await assert.rejects(client(refused).graph.fetchPage(window), (e: unknown) => e instanceof DefenderError && e.code === 'HTTP_401' && /Access token validation failure/.test(e.message));
    assert.equal(refused.asked.length, 2);
  });

  it('retries 429 and 5xx, honouring Retry-After, and does not retry 403', async () => {
    let calls = 0;
    const throttled = new ScriptedTransport(() => {
      calls++;
      if (calls === 1) return json(429, { error: { code: 'TooManyRequests', message: 'Rate limit is exceeded.' } }, { 'retry-after': '0' });
      if (calls === 2) return json(503, { error: { code: 'ServiceUnavailable', message: 'try later' } });
      return json(200, { value: [alert('a', 5)] });
    });
    const retries: string[] = [];
    const { graph } = client(throttled, { onRetry: (err, delay) => retries.push(`${err.code}@${delay}`) });
    assert.equal((await graph.fetchPage(window)).length, 1);
    assert.equal(retries[0], 'HTTP_429@0');
    assert.match(retries[1], /^HTTP_503@/);

    const forbidden = new ScriptedTransport(() => json(403, { error: { code: 'Forbidden', message: 'Missing role permissions on the request.' } }));
    await assert.rejects(client(forbidden).graph.fetchPage(window), (e: unknown) =>
      e instanceof DefenderError && e.code === 'HTTP_403' && e.statusCode === 403 && /SecurityAlert\.Read\.All/.test(e.message) && /Missing role permissions/.test(e.message));
    assert.equal(forbidden.asked.length, 1);
  });

  it('takes the shared rate limit before every request, retries and pages included', async () => {
    const alerts = Array.from({ length: 5 }, (_, i) => alert(`a${i}`, 10 + i));
    let calls = 0;
    const page = graphLike(alerts);
    const transport = new ScriptedTransport((url) => (++calls === 2 ? json(500, { error: { message: 'boom' } }) : page(url)));
    const session: GraphSession = { limiter: new RateLimiter({ perMinute: 1_000_000, burst: 1000 }) };
    let requests = 0;
    const { graph } = client(transport, { pageSize: 2, onRequest: () => requests++ }, session);
    await graph.fetchPage(window);
    assert.equal(transport.asked.length, 4);
    assert.equal(requests, 4);
    assert.equal(session.limiter.granted, 4);
  });
});
