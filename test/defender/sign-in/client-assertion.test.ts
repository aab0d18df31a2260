import assert from 'node:assert/strict';
import { constants, createHash, generateKeyPairSync, type KeyObject, verify, X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { ASSERTION_LIFETIME_S, clientAssertion } from '../../../src/defender/sign-in/client-assertion';
import { selfSignedCertificate } from '../../../src/emulator';

const decode = (part: string): Record<string, unknown> => JSON.parse(Buffer.from(part, 'base64url').toString('utf8')) as Record<string, unknown>;

describe('the client assertion', () => {
  let key: KeyObject;
  let certificate: X509Certificate;
  const audience = 'https://login.microsoftonline.com/72f988bf-86f1-41af-91ab-2d7cd011db47/oauth2/v2.0/token';
  const nowMs = Date.UTC(2030, 0, 1, 12, 0, 0, 500);
  before(() => {
    ({ privateKey: key } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
    certificate = new X509Certificate(selfSignedCertificate(key));
  });
  const make = (): string => clientAssertion({ key, certificateDer: certificate.raw, clientId: 'app-id', audience, nowMs });

  it('has the header Microsoft documents: PS256, JWT and the certificate\'s SHA-256 thumbprint', () => {
    const [header] = make().split('.');
    assert.deepEqual(decode(header), { alg: 'PS256', typ: 'JWT', 'x5t#S256': createHash('sha256').update(certificate.raw).digest('base64url') });
  });

  it('names the exact token URL, the app as issuer and subject, a fresh jti and ten minutes from now', () => {
    const first = decode(make().split('.')[1]);
    const second = decode(make().split('.')[1]);
    const now = Math.floor(nowMs / 1000);
    assert.deepEqual({ ...first, jti: undefined }, { aud: audience, iss: 'app-id', sub: 'app-id', jti: undefined, nbf: now, iat: now, exp: now + 600 });
    assert.equal(ASSERTION_LIFETIME_S, 600);
    assert.match(String(first.jti), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(first.jti, second.jti);
  });

  it('is signed RSA-PSS with SHA-256 and a 32-byte salt, verifiable with the certificate', () => {
    const [header, claims, signature] = make().split('.');
    const data = Buffer.from(`${header}.${claims}`);
    const sig = Buffer.from(signature, 'base64url');
    assert.ok(verify('sha256', data, { key: certificate.publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, sig));
    assert.ok(!verify('sha256', data, { key: certificate.publicKey, padding: constants.RSA_PKCS1_PADDING }, sig), 'PKCS#1 v1.5 would be RS256');
  });
});
