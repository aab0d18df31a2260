/**
 * The emulator's side of the sign-in modes other than a secret: client assertions signed with a certificate
 * it was given, federated tokens it was told about, and the two shapes of the managed identity endpoint.
 */
import assert from 'node:assert/strict';
import { constants, createHash, generateKeyPairSync, type KeyObject, randomUUID, sign, X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { Emulator, selfSignedCertificate } from '../../src/emulator';
import { adminCall, CLIENT_ID, ManualClock, RESOURCE, T0, TENANT, withClockedEmulator } from './fixtures';

const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';
const HOUR = 3600_000;
const b64 = (value: unknown): string => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');

/** A JWT written by hand, so each test can get one thing wrong. */
function jwt(header: Record<string, unknown>, claims: Record<string, unknown>, key: KeyObject, padding = constants.RSA_PKCS1_PSS_PADDING): string {
  const input = `${b64(header)}.${b64(claims)}`;
  return `${input}.${sign('sha256', Buffer.from(input), { key, padding, saltLength: 32 }).toString('base64url')}`;
}

const x5t = (pem: string): string => createHash('sha256').update(new X509Certificate(pem).raw).digest('base64url');

async function postToken(url: string, form: Record<string, string>, version: 'v1' | 'v2' = 'v1'): Promise<{ status: number; body: Record<string, unknown> }> {
  const path = version === 'v1' ? 'oauth2/token' : 'oauth2/v2.0/token';
  const res = await fetch(`${url}/${TENANT}/${path}`, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams(form).toString() });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('certificate client assertions', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  let key: KeyObject;
  let certificate: string;
  let other: KeyObject;
  before(() => {
    ({ privateKey: key } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
    ({ privateKey: other } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
    certificate = selfSignedCertificate(key, { notBefore: new Date(T0 - 24 * HOUR), notAfter: new Date(T0 + 24 * HOUR) });
  });
  withClockedEmulator(clock, {}, (e) => (emulator = e));

  const tokenUrl = (version: 'v1' | 'v2' = 'v1'): string => `${emulator.url}/${TENANT}/${version === 'v1' ? 'oauth2/token' : 'oauth2/v2.0/token'}`;
  const claims = (overrides: Record<string, unknown> = {}): Record<string, unknown> => {
    const now = Math.floor(clock.ms / 1000);
    return { aud: tokenUrl(), iss: CLIENT_ID, sub: CLIENT_ID, jti: randomUUID(), nbf: now, iat: now, exp: now + 600, ...overrides };
  };
  const header = (): Record<string, unknown> => ({ alg: 'PS256', typ: 'JWT', 'x5t#S256': x5t(certificate) });
  const form = (assertion: string, extra: Record<string, string> = { resource: RESOURCE }): Record<string, string> => ({
    ...extra, client_id: CLIENT_ID, client_assertion_type: JWT_BEARER, client_assertion: assertion, grant_type: 'client_credentials',
  });
  const refusal = (answer: { body: Record<string, unknown> }): string => String(answer.body.error_description).split('\r\n')[0];

  it('issues a token for an assertion signed with the key of a certificate it was given, on v1 and v2', async () => {
    emulator.setCertificates([certificate]);
    const v1 = await postToken(emulator.url, form(jwt(header(), claims(), key)));
    assert.equal(v1.status, 200, JSON.stringify(v1.body));
    assert.equal(v1.body.resource, RESOURCE);
    const v2 = await postToken(emulator.url, form(jwt(header(), claims({ aud: tokenUrl('v2') }), key), { scope: 'https://graph.microsoft.com/.default' }), 'v2');
    assert.equal(v2.status, 200, JSON.stringify(v2.body));
    assert.equal(emulator.requests.every((r) => r.authorized), true);
    assert.equal(emulator.clientAssertions.length, 2);
  });

  it('gives a v2.0 assertion for the SIEM API\'s scope a token the SIEM API takes and Graph does not', async () => {
    emulator.setCertificates([certificate]);
    emulator.addDetections(2, { lastProcessedAt: T0 - 60_000 });
    const answer = await postToken(emulator.url, form(jwt(header(), claims({ aud: tokenUrl('v2') }), key), { scope: `${RESOURCE}/.default` }), 'v2');
    assert.equal(answer.status, 200, JSON.stringify(answer.body));
    const token = String(answer.body.access_token);
    const claimsOf = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as Record<string, unknown>;
    assert.deepEqual([claimsOf.aud, claimsOf.ver, claimsOf.roles], [RESOURCE, '2.0', ['Alert.Read.All']]);
    const siem = await fetch(`${emulator.url}/api/alerts`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(siem.status, 200);
    assert.equal(((await siem.json()) as unknown[]).length, 2);
    const graph = await fetch(`${emulator.url}/v1.0/security/alerts_v2`, { headers: { Authorization: `Bearer ${token}` } });
    assert.equal(graph.status, 401);
    assert.match(((await graph.json()) as { error: { message: string } }).error.message, /Invalid audience/);
    // And the other way round: a Graph token is no token for the SIEM API.
    const graphToken = await postToken(emulator.url, form(jwt(header(), claims({ aud: tokenUrl('v2') }), key), { scope: 'https://graph.microsoft.com/.default' }), 'v2');
    const refused = await fetch(`${emulator.url}/api/alerts`, { headers: { Authorization: `Bearer ${String(graphToken.body.access_token)}` } });
    assert.equal(refused.status, 401);
    assert.match(((await refused.json()) as { error: { message: string } }).error.message, /the access token is for Microsoft Graph, not this API/);
  });

  it('refuses what Microsoft Entra ID refuses, each with its reason', async () => {
    emulator.setCertificates([certificate]);
    const now = Math.floor(clock.ms / 1000);
    const cases: Array<[string, string, RegExp]> = [
      ['unknown certificate', jwt({ ...header(), 'x5t#S256': 'bm90LXRoaXMtb25l' }, claims(), key), /^AADSTS700027: .*The key was not found/],
      ['another key', jwt(header(), claims(), other), /^AADSTS700027: Client assertion failed signature validation\.$/],
      ['PKCS#1 v1.5 padding under PS256', jwt(header(), claims(), key, constants.RSA_PKCS1_PADDING), /^AADSTS700027: Client assertion failed signature validation\.$/],
      ['RS256', jwt({ ...header(), alg: 'RS256' }, claims(), key, constants.RSA_PKCS1_PADDING), /^AADSTS50027: .*PS256/],
      ['audience of the other endpoint', jwt(header(), claims({ aud: tokenUrl('v2') }), key), /^AADSTS700016: The audience .* is not the token endpoint/],
      ['subject of another app', jwt(header(), claims({ sub: 'another-app' }), key), /^AADSTS700021: /],
      ['expired', jwt(header(), claims({ nbf: now - 1200, iat: now - 1200, exp: now - 600 }), key), /^AADSTS700024: Client assertion is not within its valid time range/],
      ['not yet valid', jwt(header(), claims({ nbf: now + 900, iat: now + 900, exp: now + 1500 }), key), /^AADSTS700024: /],
      ['no jti', jwt(header(), claims({ jti: undefined }), key), /^AADSTS50027: .*no jti/],
      ['not a JWT', 'not.a-jwt', /^AADSTS50027: JWT token is invalid or malformed/],
    ];
    for (const [what, assertion, reason] of cases) {
      const answer = await postToken(emulator.url, form(assertion));
      assert.ok(answer.status === 401 || answer.status === 400, `${what}: HTTP ${answer.status}`);
      assert.match(refusal(answer), reason, what);
    }
    const wrongType = await postToken(emulator.url, { ...form(jwt(header(), claims(), key)), client_assertion_type: 'urn:other' });
    assert.equal(wrongType.status, 400);
    assert.equal(emulator.requests.filter((r) => r.authorized).length, 0);
  });

  it('takes each jti once while the assertion lives', async () => {
    emulator.setCertificates([certificate]);
    const assertion = jwt(header(), claims(), key);
    assert.equal((await postToken(emulator.url, form(assertion))).status, 200);
    const again = await postToken(emulator.url, form(assertion));
    assert.equal(again.status, 401);
    assert.match(refusal(again), /already used/);
  });

  it('refuses a certificate it was given once it has expired, and one it was not given', async () => {
    emulator.setCertificates([certificate]);
    clock.advance(25 * HOUR);
    const late = await postToken(emulator.url, form(jwt(header(), claims(), key)));
    assert.match(refusal(late), /^AADSTS700027: The certificate .* is expired/);
    emulator.setCertificates([]);
    clock.ms = T0;
    assert.match(refusal(await postToken(emulator.url, form(jwt(header(), claims(), key)))), /The key was not found/);
  });

  it('is told about certificates and federated tokens on its admin endpoints', async () => {
    assert.equal((await adminCall(emulator.url, 'POST', 'certificates', { certificates: [certificate] })).status, 200);
    assert.equal((await postToken(emulator.url, form(jwt(header(), claims(), key)))).status, 200);
    assert.equal((await adminCall(emulator.url, 'POST', 'certificates', { certificates: ['not a certificate'] })).status, 400);
    assert.equal((await adminCall(emulator.url, 'POST', 'federated-tokens', { tokens: ['federated.token.one'] })).status, 200);
    assert.equal((await postToken(emulator.url, form('federated.token.one'))).status, 200);
    assert.equal((await adminCall(emulator.url, 'POST', 'federated-tokens', { tokens: 'x' })).status, 400);
  });
});

describe('federated tokens (workload identity)', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  const federated = `${b64({ alg: 'RS256', kid: 'k8s' })}.${b64({ iss: 'https://oidc.example/cluster', sub: 'system:serviceaccount:nodered:defender', aud: 'api://AzureADTokenExchange' })}.c2ln`;
  withClockedEmulator(clock, { federatedTokens: [federated] }, (e) => (emulator = e));
  const form = (assertion: string): Record<string, string> => ({
    resource: RESOURCE, client_id: CLIENT_ID, client_assertion_type: JWT_BEARER, client_assertion: assertion, grant_type: 'client_credentials',
  });

  it('accepts a federated token it was told about, and no other once it was told of a newer one', async () => {
    assert.equal((await postToken(emulator.url, form(federated))).status, 200);
    const rotated = federated.replace(/c2ln$/, 'bmV3');
    emulator.setFederatedTokens([rotated]);
    const stale = await postToken(emulator.url, form(federated));
    assert.equal(stale.status, 401);
    assert.match(String(stale.body.error_description), /^AADSTS70021: No matching federated identity record/);
    assert.equal((await postToken(emulator.url, form(rotated))).status, 200);
  });
});

describe('the managed identity endpoint', () => {
  const clock = new ManualClock();
  let emulator: Emulator;
  const HEADER = 'a-secret-the-platform-gave';
  withClockedEmulator(clock, { managedIdentity: { identityHeader: HEADER, userAssignedClientIds: ['user-assigned-1'], tenantId: TENANT } }, (e) => (emulator = e));

  async function identity(path: string, query: Record<string, string>, headers: Record<string, string>): Promise<{ status: number; body: Record<string, unknown> }> {
    const res = await fetch(`${emulator.url}${path}?${new URLSearchParams(query)}`, { headers });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }
  const imds = (query: Record<string, string> = {}, headers: Record<string, string> = { Metadata: 'true' }) =>
    identity('/metadata/identity/oauth2/token', { 'api-version': '2018-02-01', resource: RESOURCE, ...query }, headers);
  const appService = (query: Record<string, string> = {}, headers: Record<string, string> = { 'X-IDENTITY-HEADER': HEADER }) =>
    identity('/msi/token', { 'api-version': '2019-08-01', resource: RESOURCE, ...query }, headers);

  it('answers the instance metadata service\'s shape, numbers as strings, for the system-assigned identity', async () => {
    const answer = await imds();
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body).sort(), ['access_token', 'client_id', 'expires_in', 'expires_on', 'ext_expires_in', 'not_before', 'refresh_token', 'resource', 'token_type']);
    assert.equal(answer.body.expires_on, String(Math.floor(T0 / 1000) + 3599));
    assert.equal(answer.body.expires_in, '3599');
    assert.equal(answer.body.client_id, 'emulator-managed-identity');
    assert.equal(answer.body.resource, RESOURCE);
  });

  it('answers App Service\'s shape when the identity header is right', async () => {
    const answer = await appService({ client_id: 'user-assigned-1' });
    assert.equal(answer.status, 200);
    assert.deepEqual(Object.keys(answer.body).sort(), ['access_token', 'client_id', 'expires_on', 'resource', 'token_type']);
    assert.equal(answer.body.client_id, 'user-assigned-1');
    assert.equal(typeof answer.body.expires_on, 'string');
  });

  it('refuses a request without its header, with a wrong version, without a resource or for an unknown identity', async () => {
    assert.deepEqual([(await imds({}, {})).status, (await imds({}, {})).body.error_description], [400, 'Required metadata header not specified']);
    assert.equal((await imds({}, { Metadata: 'true', 'X-Forwarded-For': '10.0.0.1' })).status, 400);
    assert.equal((await imds({ 'api-version': '2019-08-01' })).status, 400);
    assert.equal((await imds({ client_id: 'nobody' })).body.error_description, 'Identity not found');
    assert.equal((await appService({}, {})).status, 401);
    assert.equal((await appService({}, { 'X-IDENTITY-HEADER': 'guessed' })).status, 401);
    assert.equal((await appService({ resource: '' })).status, 400);
    assert.match(String((await appService({ client_id: 'nobody' })).body.message), /No User Assigned/);
    assert.equal(emulator.requests.filter((r) => r.endpoint === 'managed-identity' && r.authorized).length, 0);
  });

  it('issues tokens the SIEM API takes, and Graph takes when they are for Graph', async () => {
    const siem = String((await imds()).body.access_token);
    assert.equal((await fetch(`${emulator.url}/api/alerts`, { headers: { Authorization: `Bearer ${siem}` } })).status, 200);
    assert.equal((await fetch(`${emulator.url}/v1.0/security/alerts_v2`, { headers: { Authorization: `Bearer ${siem}` } })).status, 401, 'a token for graph.windows.net is not one for Graph');
    const graph = String((await appService({ resource: 'https://graph.microsoft.com' })).body.access_token);
    assert.equal((await fetch(`${emulator.url}/v1.0/security/alerts_v2`, { headers: { Authorization: `Bearer ${graph}` } })).status, 200);
  });

  it('answers 404 or 410 in its own shape while it starts or is updated (http404, http410), then tokens again', async () => {
    emulator.injectFault({ kind: 'http404', on: 'token' });
    emulator.injectFault({ kind: 'http410', on: 'token' });
    const starting = await imds();
    assert.deepEqual([starting.status, starting.body.error], [404, 'invalid_request']);
    assert.match(String(starting.body.error_description), /being updated: retry/);
    const updating = await appService();
    assert.deepEqual([updating.status, updating.body.statusCode], [410, 410]);
    assert.match(String(updating.body.message), /available again within 70 seconds/);
    assert.equal((await imds()).status, 200);
  });

  it('takes the token faults, and the echo fault quotes the identity header back', async () => {
    emulator.injectFault({ kind: 'echo', on: 'token', status: 503 });
    const res = await fetch(`${emulator.url}/msi/token?api-version=2019-08-01&resource=x`, { headers: { 'X-IDENTITY-HEADER': HEADER } });
    assert.equal(res.status, 503);
    assert.ok((await res.text()).includes(`X-IDENTITY-HEADER: ${HEADER}`));
  });
});
