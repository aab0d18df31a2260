import { createPublicKey, generateKeyPairSync, type KeyObject, randomBytes, sign } from 'node:crypto';

/**
 * Throwaway self-signed certificates, as a user makes one with `openssl req -x509` to upload to an app
 * registration: for the emulator's certificate sign-in, the `npm start` demo and the tests. Node has no
 * API that writes an X.509 certificate, so the few DER structures one needs are written here (X.690).
 */

/** One DER element: its tag, its length (short form below 128, else the byte count and the bytes), its content. */
function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  const length = n < 0x80 ? [n] : [0x80 | bytes.length, ...bytes];
  return Buffer.concat([Buffer.from([tag, ...length]), content]);
}

const sequence = (...parts: Buffer[]): Buffer => der(0x30, Buffer.concat(parts));
const set = (...parts: Buffer[]): Buffer => der(0x31, Buffer.concat(parts));
/** A non-negative INTEGER: a leading zero byte keeps a set high bit from reading as a sign. */
const integer = (bytes: Buffer): Buffer => der(0x02, bytes[0] & 0x80 ? Buffer.concat([Buffer.from([0]), bytes]) : bytes);
const utf8String = (text: string): Buffer => der(0x0c, Buffer.from(text, 'utf8'));
const bitString = (bytes: Buffer): Buffer => der(0x03, Buffer.concat([Buffer.from([0]), bytes]));
const NULL = Buffer.from([0x05, 0x00]);

function objectId(dotted: string): Buffer {
  const [first, second, ...rest] = dotted.split('.').map(Number);
  const bytes = [40 * first + second];
  for (const arc of rest) {
    const groups: number[] = [];
    let value = arc;
    do {
      groups.unshift(value & 0x7f);
      value = Math.floor(value / 128);
    } while (value > 0);
    bytes.push(...groups.map((g, i) => (i < groups.length - 1 ? g | 0x80 : g)));
  }
  return der(0x06, Buffer.from(bytes));
}

/** RFC 5280: UTCTime through 2049, GeneralizedTime from 2050. */
function time(date: Date): Buffer {
  const iso = date.toISOString().replace(/[-:T]/g, '').slice(0, 14);
  return date.getUTCFullYear() < 2050 ? der(0x17, Buffer.from(`${iso.slice(2)}Z`)) : der(0x18, Buffer.from(`${iso}Z`));
}

const SHA256_WITH_RSA = sequence(objectId('1.2.840.113549.1.1.11'), NULL);
const COMMON_NAME = '2.5.4.3';

export interface CertificateOptions {
  /** Subject and issuer CN (default "node-red-defender-detections"). */
  commonName?: string;
  /** Default: a minute ago, so a clock a little behind still takes it. */
  notBefore?: Date;
  /** Default: a year after notBefore. */
  notAfter?: Date;
}

/** A self-signed X.509 v3 certificate for an RSA private key, signed SHA-256 with RSA, as PEM. */
export function selfSignedCertificate(key: KeyObject, options: CertificateOptions = {}): string {
  const notBefore = options.notBefore ?? new Date(Date.now() - 60_000);
  const notAfter = options.notAfter ?? new Date(notBefore.getTime() + 365 * 24 * 3600_000);
  const name = sequence(set(sequence(objectId(COMMON_NAME), utf8String(options.commonName ?? 'node-red-defender-detections'))));
  // A positive serial in its minimal encoding: no high bit (no sign) and no leading zero byte, which DER
  // forbids and OpenSSL refuses (1 certificate in about 230 was unreadable with only the high bit cleared).
  const serial = randomBytes(8);
  serial[0] = (serial[0] & 0x7f) | 0x01;
  const publicKey = createPublicKey(key).export({ type: 'spki', format: 'der' });
  const tbs = sequence(der(0xa0, integer(Buffer.from([2]))), integer(serial), SHA256_WITH_RSA, name, sequence(time(notBefore), time(notAfter)), name, publicKey);
  const certificate = sequence(tbs, SHA256_WITH_RSA, bitString(sign('sha256', tbs, key)));
  const lines = certificate.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

export interface ThrowawayCertificate {
  privateKey: KeyObject;
  /** PKCS#8, unencrypted. */
  privateKeyPem: string;
  certificatePem: string;
}

/** A fresh RSA key and its self-signed certificate: what the demo's certificate sign-in uses. */
export function throwawayCertificate(options: CertificateOptions & { modulusLength?: number } = {}): ThrowawayCertificate {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: options.modulusLength ?? 2048 });
  return {
    privateKey,
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    certificatePem: selfSignedCertificate(privateKey, options),
  };
}
