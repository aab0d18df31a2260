import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DefenderError } from '../../../src/defender/errors';
import { AccessToken, parseTokenResponse, TokenProvider } from '../../../src/defender/sign-in/token';

describe('parseTokenResponse', () => {
  it('reads expires_on and expires_in sent as strings, as Azure AD v1 does', () => {
    assert.deepEqual(parseTokenResponse({ access_token: 't', expires_on: '1488720683', expires_in: '3599' }, 0), { value: 't', expiresAt: 1488720683000 });
    assert.deepEqual(parseTokenResponse({ access_token: 't', expires_in: '3599' }, 1000), { value: 't', expiresAt: 1000 + 3599000 });
    assert.deepEqual(parseTokenResponse({ access_token: 't', expires_in: 60 }, 0), { value: 't', expiresAt: 60000 });
  });

  it('refuses an answer without a token', () => {
    assert.throws(() => parseTokenResponse({ token_type: 'Bearer' }, 0), (e: unknown) => e instanceof DefenderError && e.code === 'TOKEN_FAILED');
  });
});

describe('TokenProvider', () => {
  function provider(lifetimeMs: number) {
    let clock = 0;
    let issued = 0;
    const release: Array<() => void> = [];
    const tokens = new TokenProvider(
      () =>
        new Promise<AccessToken>((resolve) => {
          issued++;
          const value = `token-${issued}`;
          release.push(() => resolve({ value, expiresAt: clock + lifetimeMs }));
        }),
      () => clock,
    );
    return { tokens, advance: (ms: number) => (clock += ms), issued: () => issued, releaseAll: () => release.splice(0).forEach((r) => r()) };
  }

  it('sends one request however many ask at once', async () => {
    const p = provider(3600_000);
    const asks = [p.tokens.get(), p.tokens.get(), p.tokens.get()];
    p.releaseAll();
    assert.deepEqual(await Promise.all(asks), ['token-1', 'token-1', 'token-1']);
    assert.equal(p.issued(), 1);
  });

  it('reuses the token until five minutes before it expires, then renews', async () => {
    const p = provider(3600_000);
    const first = p.tokens.get();
    p.releaseAll();
    await first;
    p.advance(54 * 60_000);
    assert.equal(await p.tokens.get(), 'token-1');
    p.advance(2 * 60_000);
    const renewed = p.tokens.get();
    p.releaseAll();
    assert.equal(await renewed, 'token-2');
  });

  it('renews a short-lived token a tenth of its lifetime early', async () => {
    const p = provider(10_000);
    const first = p.tokens.get();
    p.releaseAll();
    await first;
    p.advance(8_900);
    assert.equal(await p.tokens.get(), 'token-1');
    p.advance(200);
    const renewed = p.tokens.get();
    p.releaseAll();
    assert.equal(await renewed, 'token-2');
  });

  it('drops a refused token but not a newer one', async () => {
    const p = provider(3600_000);
    const first = p.tokens.get();
    p.releaseAll();
    await first;
    p.tokens.invalidate('token-0');
    assert.equal(await p.tokens.get(), 'token-1');
    p.tokens.invalidate('token-1');
    const next = p.tokens.get();
    p.releaseAll();
    assert.equal(await next, 'token-2');
  });

  it('lets a closing caller stop waiting while the request goes on for the others', async () => {
    const p = provider(3600_000);
    const closing = new AbortController();
    const leaving = p.tokens.get({ signal: closing.signal });
    const staying = p.tokens.get();
    closing.abort();
    await assert.rejects(leaving, (e: unknown) => e instanceof DefenderError && e.code === 'CANCELLED');
    p.releaseAll();
    assert.equal(await staying, 'token-1');
  });
});
