import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { HttpResponse } from '../../../src/defender/transport/http';
import { bodyExcerpt, serviceErrorText } from '../../../src/defender/transport/response';

const SECRET = 'Ab3~d+ef/gh=ij_kl.mn0pQ';
const answer = (body: string): HttpResponse => ({ status: 400, headers: { 'content-type': 'text/plain' }, body: Buffer.from(body) });

describe('the service\'s words in an error', () => {
  it('blanks a secret the service quotes back, as sent, URL-encoded or form-encoded', () => {
    const forms = [SECRET, encodeURIComponent(SECRET), new URLSearchParams({ s: SECRET }).toString().slice(2)];
    for (const form of forms) {
      const text = serviceErrorText(answer(`Bad request. You sent: client_id=app&client_secret=${form}&grant_type=client_credentials`), [SECRET]);
      assert.match(text, /client_secret=\*\*\*&grant_type/);
      assert.ok(!text.includes(form), `the ${form} form got through`);
    }
  });

  // Whitespace is folded into one space, so what follows a long run of it is shown.
  it('blanks the start of a secret that the 4 KB excerpt cuts in two', () => {
    for (const at of [4096 - 10, 4096 - SECRET.length + 6, 4096 - 7]) {
      const body = `${'\n'.repeat(at - 9)}You sent:${SECRET} and more`;
      const text = serviceErrorText(answer(body), [SECRET]);
      const head = SECRET.slice(0, 4096 - at);
      assert.ok(!text.includes(head), `${head.length} characters of the secret got through`);
    }
  });

  it('blanks the start of a token that a body excerpt cuts in two', () => {
    const token = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.payload.signature';
    const excerpt = bodyExcerpt(Buffer.from(`${' '.repeat(380)}Bearer ${token}`), [token]);
    assert.ok(!excerpt.includes('eyJ0eX'), excerpt);
  });

  it('keeps a text that only looks like the start of a secret in its middle', () => {
    assert.equal(serviceErrorText(answer(`${SECRET.slice(0, 8)} is fine here, the end is not it`), [SECRET]), `${SECRET.slice(0, 8)} is fine here, the end is not it`);
  });
});
