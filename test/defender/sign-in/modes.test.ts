import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DefenderError } from '../../../src/defender/errors';
import { graphConnection, tokenUrl } from '../../../src/defender/services/regions';
import { identityEndpoint, ManagedIdentityCredential } from '../../../src/defender/sign-in/managed-identity';
import { authMode, resolveSignIn } from '../../../src/defender/sign-in/modes';
import { WorkloadIdentityCredential } from '../../../src/defender/sign-in/workload-identity';

const TENANT = '72f988bf-86f1-41af-91ab-2d7cd011db47';
const base = { tenantId: TENANT, clientId: 'app', region: 'eu' };

const invalid = (reason: RegExp) => (e: unknown): boolean => e instanceof DefenderError && e.code === 'INVALID_CONFIG' && reason.test(e.message);

describe('the auth property', () => {
  it('means the client secret when absent or empty, as flows saved before it existed did', () => {
    assert.equal(authMode(undefined), 'secret');
    assert.equal(authMode(''), 'secret');
    assert.equal(authMode('certificate'), 'certificate');
    assert.equal(resolveSignIn(base, { clientSecret: 's' }, {}).credential.mode, 'secret');
  });

  it('refuses another value, listing the modes', () => {
    assert.throws(() => authMode('password'), invalid(/auth must be one of secret, certificate, managed-identity, workload-identity, got "password"/));
  });
});

describe('managed identity', () => {
  it('needs neither tenant, client id nor the custom authority, and checks them when given', () => {
    const signIn = resolveSignIn({ region: 'custom', apiBaseUrl: 'http://127.0.0.1:1', auth: 'managed-identity', tenantId: '', clientId: '' }, {}, {});
    assert.equal(signIn.connection.clientId, '');
    assert.equal(signIn.credential.mode, 'managed-identity');
    assert.throws(() => resolveSignIn({ ...base, tenantId: 'a/b', auth: 'managed-identity' }, {}, {}), invalid(/tenantId/));
  });

  it('uses App Service\'s endpoint when IDENTITY_ENDPOINT and IDENTITY_HEADER are set, else IMDS, whose host can be overridden', () => {
    assert.deepEqual(identityEndpoint({ IDENTITY_ENDPOINT: 'http://127.0.0.1:41000/msi/token', IDENTITY_HEADER: 'h' }), { kind: 'app-service', url: 'http://127.0.0.1:41000/msi/token', header: 'h' });
    assert.deepEqual(identityEndpoint({}), { kind: 'imds', url: 'http://169.254.169.254/metadata/identity/oauth2/token' });
    assert.deepEqual(identityEndpoint({ AZURE_POD_IDENTITY_AUTHORITY_HOST: 'http://127.0.0.1:9999/' }), { kind: 'imds', url: 'http://127.0.0.1:9999/metadata/identity/oauth2/token' });
    const credential = ManagedIdentityCredential.fromEnvironment(' ', {});
    assert.equal(credential.endpoint.kind, 'imds');
  });

  it('refuses IDENTITY_ENDPOINT without IDENTITY_HEADER, and a variable that is no URL without quoting it', () => {
    assert.throws(() => identityEndpoint({ IDENTITY_ENDPOINT: 'http://127.0.0.1:41000/msi/token' }), invalid(/IDENTITY_ENDPOINT is set but IDENTITY_HEADER is not/));
    assert.throws(() => identityEndpoint({ IDENTITY_ENDPOINT: 'sekrit-value', IDENTITY_HEADER: 'h' }), (e: unknown) => invalid(/IDENTITY_ENDPOINT must hold an http or https URL/)(e) && !(e as Error).message.includes('sekrit'));
    assert.throws(() => identityEndpoint({ AZURE_POD_IDENTITY_AUTHORITY_HOST: 'ftp://x' }), invalid(/AZURE_POD_IDENTITY_AUTHORITY_HOST must hold/));
  });
});

describe('workload identity', () => {
  const env = { AZURE_FEDERATED_TOKEN_FILE: '/var/run/secrets/azure/tokens/azure-identity-token', AZURE_CLIENT_ID: 'env-app', AZURE_TENANT_ID: TENANT, AZURE_AUTHORITY_HOST: 'http://127.0.0.1:7000/' };

  it('takes the ids from the environment where the node leaves them empty; the node\'s own win', () => {
    const fromEnv = resolveSignIn({ region: 'eu', tenantId: '', clientId: '', auth: 'workload-identity' }, {}, env);
    assert.deepEqual([fromEnv.connection.tenantId, fromEnv.connection.clientId], [TENANT, 'env-app']);
    const own = resolveSignIn({ ...base, tenantId: 'contoso.onmicrosoft.com', auth: 'workload-identity' }, {}, env);
    assert.deepEqual([own.connection.tenantId, own.connection.clientId], ['contoso.onmicrosoft.com', 'app']);
    assert.equal((own.credential as WorkloadIdentityCredential).tokenFile, env.AZURE_FEDERATED_TOKEN_FILE);
  });

  it('signs in at AZURE_AUTHORITY_HOST when the custom region leaves the authority URL empty', () => {
    const custom = { region: 'custom', apiBaseUrl: 'http://127.0.0.1:7001', authorityUrl: '', tenantId: '', clientId: '', auth: 'workload-identity' };
    assert.equal(tokenUrl(resolveSignIn(custom, {}, env).connection), `http://127.0.0.1:7000/${TENANT}/oauth2/token`);
    assert.equal(tokenUrl(resolveSignIn({ ...custom, authorityUrl: 'http://127.0.0.1:7002' }, {}, env).connection), `http://127.0.0.1:7002/${TENANT}/oauth2/token`);
    assert.equal(tokenUrl(resolveSignIn({ ...base, auth: 'workload-identity' }, {}, env).connection), `https://login.microsoftonline.com/${TENANT}/oauth2/token`);
  });

  it('says which variable is missing', () => {
    assert.throws(() => resolveSignIn({ ...base, auth: 'workload-identity' }, {}, { ...env, AZURE_FEDERATED_TOKEN_FILE: '' }), invalid(/AZURE_FEDERATED_TOKEN_FILE names, and it is not set/));
    assert.throws(() => resolveSignIn({ ...base, clientId: '', auth: 'workload-identity' }, {}, { ...env, AZURE_CLIENT_ID: undefined }), invalid(/clientId is missing: .*AZURE_CLIENT_ID/));
  });
});

describe('Graph for a SIEM config node (the update node)', () => {
  it('keeps the tenant and app a workload identity took from the environment, in the same cloud', () => {
    const env = { AZURE_FEDERATED_TOKEN_FILE: '/tokens/t', AZURE_CLIENT_ID: 'env-app', AZURE_TENANT_ID: TENANT };
    const signIn = resolveSignIn({ region: 'us-gcc-high', tenantId: '', clientId: '', auth: 'workload-identity' }, {}, env);
    const graph = graphConnection(signIn.connection);
    assert.deepEqual([graph.api, graph.tenantId, graph.clientId, graph.resource], ['graph', TENANT, 'env-app', 'https://graph.microsoft.us']);
    assert.equal(tokenUrl(graph), `https://login.microsoftonline.us/${TENANT}/oauth2/v2.0/token`);
  });
});
