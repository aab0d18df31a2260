import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertsUrl, alertUrl, graphConnection, tokenScope, resolveConnection, tokenUrl } from '../../../src/defender/services/regions';
import { clientCredentialsForm } from '../../../src/defender/sign-in/token-request';
import { parseTokenResponse } from '../../../src/defender/sign-in/token';

const base = { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', clientId: 'app' };

describe('regions with api graph', () => {
  it('maps each region to its Graph service root and login authority (GCC keeps the worldwide endpoints)', () => {
    const cases: Array<[string, string, string]> = [
      ['eu', 'https://graph.microsoft.com', 'https://login.microsoftonline.com'],
      ['us', 'https://graph.microsoft.com', 'https://login.microsoftonline.com'],
      ['uk', 'https://graph.microsoft.com', 'https://login.microsoftonline.com'],
      ['us-gcc', 'https://graph.microsoft.com', 'https://login.microsoftonline.com'],
      ['us-gcc-high', 'https://graph.microsoft.us', 'https://login.microsoftonline.us'],
      ['us-dod', 'https://dod-graph.microsoft.us', 'https://login.microsoftonline.us'],
    ];
    for (const [region, graph, login] of cases) {
      const c = resolveConnection({ ...base, region, api: 'graph' });
      assert.equal(alertsUrl(c), `${graph}/v1.0/security/alerts_v2`, region);
      assert.equal(tokenUrl(c), `${login}/${base.tenantId}/oauth2/v2.0/token`, region);
      assert.equal(tokenScope(c), `${graph}/.default`, region);
    }
  });

  it('uses apiBaseUrl as the Graph service root for the custom region', () => {
    const c = resolveConnection({ ...base, region: 'custom', api: 'graph', apiBaseUrl: 'http://127.0.0.1:8080/', authorityUrl: 'http://127.0.0.1:8080' });
    assert.equal(alertsUrl(c), 'http://127.0.0.1:8080/v1.0/security/alerts_v2');
    assert.equal(tokenUrl(c), `http://127.0.0.1:8080/${base.tenantId}/oauth2/v2.0/token`);
    assert.equal(tokenScope(c), 'http://127.0.0.1:8080/.default');
  });

  it('asks the v2.0 endpoint for a scope and never a resource, even one left over from the SIEM API', () => {
    const c = resolveConnection({ ...base, region: 'eu', api: 'graph', resource: 'https://graph.windows.net' });
    assert.deepEqual(clientCredentialsForm(c, { client_secret: 's3cret' }), {
      scope: 'https://graph.microsoft.com/.default',
      client_id: 'app',
      client_secret: 's3cret',
      grant_type: 'client_credentials',
    });
    const siem = resolveConnection({ ...base, region: 'eu' });
    assert.deepEqual(clientCredentialsForm(siem, { client_secret: 's3cret' }), { resource: 'https://graph.windows.net', client_id: 'app', client_secret: 's3cret', grant_type: 'client_credentials' });
  });

  it('reads the v2.0 token answer, whose expires_in is a number and which has no expires_on', () => {
    assert.deepEqual(parseTokenResponse({ token_type: 'Bearer', expires_in: 3599, ext_expires_in: 3599, access_token: 't' }, 1000), { value: 't', expiresAt: 1000 + 3599_000 });
  });

  it('keeps a flow without api on the SIEM API, refuses unknown apis and DoD for the SIEM API', () => {
    assert.equal(resolveConnection({ ...base, region: 'eu' }).api, 'siem');
    assert.equal(resolveConnection({ ...base, region: 'eu', api: '' }).api, 'siem');
    assert.throws(() => resolveConnection({ ...base, region: 'eu', api: 'rest' }), /api must be "siem" or "graph", got "rest"/);
    assert.throws(() => resolveConnection({ ...base, region: 'us-dod' }), /region us-dod is for api "graph"; with the SIEM API choose us-gcc-high/);
    assert.throws(() => resolveConnection({ ...base, region: 'mars', api: 'graph' }), /region must be one of eu, us, uk, us-gcc, us-gcc-high, us-dod, custom, got "mars"/);
  });

  it('gives a SIEM config node the Graph endpoints of its own cloud, for the update node', () => {
    const cases: Array<[string, string, string]> = [
      ['eu', 'https://graph.microsoft.com', 'https://login.microsoftonline.com'],
      ['us-gcc', 'https://graph.microsoft.com', 'https://login.microsoftonline.com'],
      ['us-gcc-high', 'https://graph.microsoft.us', 'https://login.microsoftonline.us'],
    ];
    for (const [region, graph, login] of cases) {
      const siem = resolveConnection({ ...base, region, resource: 'https://graph.windows.net' });
      const c = graphConnection(siem);
      assert.equal(c.api, 'graph', region);
      assert.equal(tokenUrl(c), `${login}/${base.tenantId}/oauth2/v2.0/token`, region);
      assert.deepEqual(clientCredentialsForm(c, { client_secret: 's3cret' }), { scope: `${graph}/.default`, client_id: 'app', client_secret: 's3cret', grant_type: 'client_credentials' }, region);
      assert.equal(alertUrl(c, 'da1_2'), `${graph}/v1.0/security/alerts_v2/da1_2`, region);
      assert.equal(siem.api, 'siem', 'the config node\'s own connection is left as it is');
    }
    // custom: both URLs serve both APIs (the emulator does), so the API base is the Graph root.
    const custom = graphConnection(resolveConnection({ ...base, region: 'custom', apiBaseUrl: 'http://127.0.0.1:8080', authorityUrl: 'http://127.0.0.1:9090' }));
    assert.equal(tokenUrl(custom), `http://127.0.0.1:9090/${base.tenantId}/oauth2/v2.0/token`);
    assert.equal(tokenScope(custom), 'http://127.0.0.1:8080/.default');
    const graph = resolveConnection({ ...base, region: 'eu', api: 'graph' });
    assert.equal(graphConnection(graph), graph);
  });

  it('puts an alert id into the path as one encoded segment', () => {
    const c = resolveConnection({ ...base, region: 'eu', api: 'graph' });
    assert.equal(alertUrl(c, 'a/b?c#d'), 'https://graph.microsoft.com/v1.0/security/alerts_v2/a%2Fb%3Fc%23d');
  });
});
