import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { alertsUrl, resolveConnection, tokenUrl, validateTenantId } from '../../../src/defender/services/regions';

const base = { tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47', clientId: 'app' };

describe('regions', () => {
  it('maps each documented region to its detections host and login authority', () => {
    const cases: Array<[string, string, string]> = [
      ['eu', 'https://wdatp-alertexporter-eu.windows.com', 'https://login.microsoftonline.com'],
      ['us', 'https://wdatp-alertexporter-us.windows.com', 'https://login.microsoftonline.com'],
      ['uk', 'https://wdatp-alertexporter-uk.windows.com', 'https://login.microsoftonline.com'],
      ['us-gcc', 'https://wdatp-alertexporter-us.gcc.securitycenter.windows.us', 'https://login.microsoftonline.com'],
      ['us-gcc-high', 'https://wdatp-alertexporter-us.securitycenter.windows.us', 'https://login.microsoftonline.us'],
    ];
    for (const [region, api, login] of cases) {
      const c = resolveConnection({ ...base, region });
      assert.equal(alertsUrl(c), `${api}/api/alerts`);
      assert.equal(tokenUrl(c), `${login}/${base.tenantId}/oauth2/token`);
      assert.equal(c.resource, 'https://graph.windows.net');
    }
  });

  it('uses the custom URLs, http only to loopback', () => {
    const c = resolveConnection({ ...base, region: 'custom', apiBaseUrl: 'http://127.0.0.1:8080/', authorityUrl: 'http://localhost:8080' });
    assert.equal(alertsUrl(c), 'http://127.0.0.1:8080/api/alerts');
    assert.equal(tokenUrl(c), `http://localhost:8080/${base.tenantId}/oauth2/token`);
    assert.throws(
      () => resolveConnection({ ...base, region: 'custom', apiBaseUrl: 'http://example.com', authorityUrl: 'https://login.example.com' }),
      /apiBaseUrl must use https:\/\/ \(http:\/\/ is allowed only to localhost or 127.0.0.1\)/,
    );
    assert.throws(() => resolveConnection({ ...base, region: 'custom', apiBaseUrl: 'https://a.example' }), /authorityUrl is missing/);
  });

  it('accepts a GUID or a domain as tenant and refuses anything that could change the token URL', () => {
    assert.equal(validateTenantId(' contoso.onmicrosoft.com '), 'contoso.onmicrosoft.com');
    for (const bad of ['', 'a/b', 'x?y', 'x#y', '%2e%2e', 'user@contoso.com', 'a\\b', 'a b', 'contoso..com', 'localhost']) {
      assert.throws(() => validateTenantId(bad), (err: Error & { code?: string }) => err.code === 'INVALID_CONFIG', bad);
    }
  });

  it('refuses an unknown region and names the known ones', () => {
    assert.throws(() => resolveConnection({ ...base, region: 'mars' }), /region must be one of eu, us, uk, us-gcc, us-gcc-high, custom, got "mars"/);
  });
});
