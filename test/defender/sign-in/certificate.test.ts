import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, type KeyObject, X509Certificate } from 'node:crypto';
import { before, describe, it } from 'node:test';
import { DefenderError } from '../../../src/defender/errors';
import { certificateFacts, pemBlocks, readCertificate, readPrivateKey } from '../../../src/defender/sign-in/certificate';
import { ClientCertificateCredential } from '../../../src/defender/sign-in/client-certificate';
import { selfSignedCertificate } from '../../../src/emulator';

const PASSPHRASE = 'correct horse battery staple';
const DAY = 24 * 3600_000;

/** INVALID_CONFIG whose message matches `reason` and holds none of `hidden`. */
function refused(reason: RegExp, hidden: readonly string[] = []): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof DefenderError, String(e));
    assert.equal(e.code, 'INVALID_CONFIG');
    assert.match(e.message, reason);
    for (const h of hidden) assert.ok(!e.message.includes(h), 'the error quotes what it was given');
    return true;
  };
}

describe('reading the private key', () => {
  let key: KeyObject;
  let formats: Record<string, { pem: string; passphrase: string }>;
  before(() => {
    ({ privateKey: key } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
    const exported = (type: 'pkcs8' | 'pkcs1', encrypted: boolean): string =>
      key.export({ type, format: 'pem', ...(encrypted ? { cipher: 'aes-256-cbc', passphrase: PASSPHRASE } : {}) }).toString();
    formats = {
      'PKCS#8': { pem: exported('pkcs8', false), passphrase: '' },
      'PKCS#1': { pem: exported('pkcs1', false), passphrase: '' },
      'encrypted PKCS#8': { pem: exported('pkcs8', true), passphrase: PASSPHRASE },
      'encrypted PKCS#1': { pem: exported('pkcs1', true), passphrase: PASSPHRASE },
    };
  });

  it('reads PKCS#8 and PKCS#1 keys, encrypted ones with their passphrase', () => {
    assert.match(formats['encrypted PKCS#1'].pem, /Proc-Type: 4,ENCRYPTED/);
    for (const [name, { pem, passphrase }] of Object.entries(formats)) {
      const read = readPrivateKey(pem, passphrase);
      assert.ok(read.equals(key), name);
    }
  });

  it('reads a key whose line breaks a password field dropped or a paste turned into spaces', () => {
    for (const [name, { pem, passphrase }] of Object.entries(formats)) {
      assert.ok(readPrivateKey(pem.replace(/\n/g, ''), passphrase).equals(key), `${name} without line breaks`);
      assert.ok(readPrivateKey(pem.replace(/\n/g, ' '), passphrase).equals(key), `${name} with spaces`);
    }
  });

  it('says what is wrong without quoting the key or the passphrase', () => {
    const { pem } = formats['encrypted PKCS#8'];
    const body = pem.split('\n')[1];
    assert.throws(() => readPrivateKey('', ''), refused(/privateKey is missing/));
    assert.throws(() => readPrivateKey('my-secret-typed-here', ''), refused(/must be a PEM private key/, ['my-secret-typed-here']));
    assert.throws(() => readPrivateKey(pem, ''), refused(/encrypted: enter its passphrase/, [body]));
    assert.throws(() => readPrivateKey(pem, 'wrong passphrase'), refused(/cannot be decrypted with the passphrase/, [body, 'wrong passphrase']));
    assert.throws(() => readPrivateKey(formats['encrypted PKCS#1'].pem, 'wrong passphrase'), refused(/cannot be decrypted/));
    const damaged = formats['PKCS#8'].pem.replace(/\n[A-Za-z0-9+/]{64}\n/, '\nAAAA\n');
    assert.throws(() => readPrivateKey(damaged, ''), refused(/not a valid PKCS#8 or PKCS#1 key/));
  });

  it('takes RSA keys of 2048 bits or more only, as Microsoft Entra ID does', () => {
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(() => readPrivateKey(ec, ''), refused(/is a EC key; Microsoft Entra ID takes RSA keys/));
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    assert.throws(() => readPrivateKey(small, ''), refused(/has 1024 bits; Microsoft Entra ID takes 2048 bits or more/));
  });
});

describe('reading the certificate', () => {
  let key: KeyObject;
  let certificate: string;
  before(() => {
    ({ privateKey: key } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
    certificate = selfSignedCertificate(key, { commonName: 'defender-nodes', notBefore: new Date(Date.UTC(2025, 0, 1)), notAfter: new Date(Date.UTC(2035, 0, 1)) });
  });

  it('gives the thumbprints, subject and dates the dialog shows', () => {
    const facts = certificateFacts(readCertificate(certificate));
    const der = new X509Certificate(certificate).raw;
    assert.equal(facts.thumbprint, createHash('sha1').update(der).digest('hex').toUpperCase());
    assert.equal(facts.thumbprintSha256, createHash('sha256').update(der).digest('hex').toUpperCase());
    assert.equal(facts.subject, 'CN=defender-nodes');
    assert.equal(facts.notBefore, '2025-01-01T00:00:00.000Z');
    assert.equal(facts.notAfter, '2035-01-01T00:00:00.000Z');
  });

  it('takes the first certificate of a chain, and one pasted without line breaks', () => {
    const other = selfSignedCertificate(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey);
    assert.equal(readCertificate(`${certificate}${other}`).fingerprint, new X509Certificate(certificate).fingerprint);
    assert.equal(readCertificate(certificate.replace(/\n/g, '')).fingerprint, new X509Certificate(certificate).fingerprint);
    assert.deepEqual(pemBlocks(`junk ${certificate} more junk`).map((b) => b.label), ['CERTIFICATE']);
  });

  it('says whether the certificate is missing or unreadable', () => {
    assert.throws(() => readCertificate(''), refused(/certificate is missing/));
    assert.throws(() => readCertificate('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----'), refused(/cannot be read as one/));
  });
});

describe('the throwaway certificates of the emulator and the tests', () => {
  it('are always readable: every serial is a positive integer in its minimal DER encoding', () => {
    // The serial is random: a leading zero byte (once in about 230 certificates) made OpenSSL refuse one,
    // and so a test that happened to draw it failed. A thousand draws meet it with near certainty.
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 1024 });
    for (let i = 0; i < 1000; i++) {
      const certificate = new X509Certificate(selfSignedCertificate(privateKey));
      // Eight bytes, the first from 01 to 7F.
      assert.match(certificate.serialNumber, /^(?!00)[0-7][0-9A-F]{15}$/);
    }
  });
});

describe('loading a certificate credential', () => {
  let key: KeyObject;
  let keyPem: string;
  const now = Date.UTC(2030, 5, 1);
  const certificateFor = (k: KeyObject, from: number, to: number): string => selfSignedCertificate(k, { notBefore: new Date(from), notAfter: new Date(to) });
  before(() => {
    ({ privateKey: key } = generateKeyPairSync('rsa', { modulusLength: 2048 }));
    keyPem = key.export({ type: 'pkcs8', format: 'pem' }).toString();
  });

  it('loads a key with its certificate, also when the certificate follows the key in one text', () => {
    const certificate = certificateFor(key, now - DAY, now + DAY);
    assert.equal(ClientCertificateCredential.load({ certificate, privateKey: keyPem, passphrase: '' }, now).mode, 'certificate');
    const combined = ClientCertificateCredential.load({ certificate: '', privateKey: `${keyPem}${certificate}`, passphrase: '' }, now);
    assert.equal(combined.facts.thumbprint, new X509Certificate(certificate).fingerprint.replace(/:/g, ''));
  });

  it('refuses a key of another certificate, naming the certificate', () => {
    const foreign = certificateFor(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey, now - DAY, now + DAY);
    const thumbprint = new X509Certificate(foreign).fingerprint.replace(/:/g, '');
    assert.throws(() => ClientCertificateCredential.load({ certificate: foreign, privateKey: keyPem, passphrase: '' }, now), refused(new RegExp(`does not belong to the certificate ${thumbprint}`)));
  });

  it('refuses a certificate that expired or is not valid yet, with its date', () => {
    assert.throws(
      () => ClientCertificateCredential.load({ certificate: certificateFor(key, now - 10 * DAY, now - DAY), privateKey: keyPem, passphrase: '' }, now),
      refused(/expired on 2030-05-31T00:00:00.000Z/),
    );
    assert.throws(
      () => ClientCertificateCredential.load({ certificate: certificateFor(key, now + DAY, now + 10 * DAY), privateKey: keyPem, passphrase: '' }, now),
      refused(/not valid before 2030-06-02T00:00:00.000Z/),
    );
  });
});
