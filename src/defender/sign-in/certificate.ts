import { createPrivateKey, type KeyObject, X509Certificate } from 'node:crypto';
import { invalidConfig } from '../errors';
import { message } from '../messages';

/**
 * Reading what a user pastes for certificate sign-in: a PEM private key (PKCS#8 or PKCS#1, encrypted or
 * not) and the PEM certificate uploaded to the app registration. No error ever quotes the text given.
 */

export interface PemBlock {
  /** The word(s) after BEGIN: "CERTIFICATE", "PRIVATE KEY", "RSA PRIVATE KEY", "ENCRYPTED PRIVATE KEY"… */
  label: string;
  /** The block as OpenSSL writes it: armour lines, optional encryption headers, 64-character lines. */
  pem: string;
}

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
/**
 * PKCS#1 encryption headers (OpenSSL's "traditional" format): the cipher and its IV in hex. With the line
 * breaks gone the IV runs into the base64, so its length is taken from the cipher: 16 bytes for AES (and
 * the other 128-bit block ciphers), 8 for DES.
 */
const HEADERS = /^\s*Proc-Type:\s*4,ENCRYPTED\s*DEK-Info:\s*([A-Z0-9-]+),/;

function ivHexLength(cipher: string): number {
  return /^(AES|ARIA|CAMELLIA|SM4)/.test(cipher) ? 32 : 16;
}

/**
 * The PEM blocks of a text, put back into shape. A password field drops line breaks and a paste may turn
 * them into spaces; OpenSSL wants them, so the base64 is wrapped again and the headers get their own lines.
 */
export function pemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const [, label, inner] of text.matchAll(BLOCK)) {
    const headers = HEADERS.exec(inner);
    let rest = (headers ? inner.slice(headers[0].length) : inner).replace(/\s+/g, '');
    let head = '';
    if (headers) {
      const iv = rest.slice(0, ivHexLength(headers[1]));
      if (!/^[0-9A-Fa-f]+$/.test(iv)) continue;
      head = `Proc-Type: 4,ENCRYPTED\nDEK-Info: ${headers[1]},${iv}\n\n`;
      rest = rest.slice(iv.length);
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(rest)) continue;
    const lines = rest.match(/.{1,64}/g) ?? [];
    blocks.push({ label, pem: `-----BEGIN ${label}-----\n${head}${lines.join('\n')}\n-----END ${label}-----\n` });
  }
  return blocks;
}

const KEY_LABELS = ['PRIVATE KEY', 'RSA PRIVATE KEY', 'ENCRYPTED PRIVATE KEY', 'EC PRIVATE KEY'];

/** Microsoft Entra ID refuses RSA keys below 2048 bits for certificate credentials. */
const MIN_RSA_BITS = 2048;

/** The RSA private key in `text`, decrypted with `passphrase` when it is encrypted. */
export function readPrivateKey(text: string, passphrase: string): KeyObject {
  if (text.trim() === '') throw invalidConfig(message('signin.key-missing'));
  const block = pemBlocks(text).find((b) => KEY_LABELS.includes(b.label));
  if (!block) throw invalidConfig(message('signin.key-not-pem'));
  const encrypted = block.label === 'ENCRYPTED PRIVATE KEY' || block.pem.includes('Proc-Type: 4,ENCRYPTED');
  if (encrypted && passphrase === '') throw invalidConfig(message('signin.key-encrypted'));
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: block.pem, format: 'pem', ...(encrypted ? { passphrase } : {}) });
  } catch {
    // OpenSSL's reason adds nothing a user can act on; which of the two it is, they can.
    throw invalidConfig(message(encrypted ? 'signin.key-passphrase' : 'signin.key-unreadable'));
  }
  if (key.asymmetricKeyType !== 'rsa') throw invalidConfig(message('signin.key-not-rsa', { type: String(key.asymmetricKeyType).toUpperCase() }));
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (bits < MIN_RSA_BITS) throw invalidConfig(message('signin.key-too-small', { bits }));
  return key;
}

/** The first certificate in `text`: the one uploaded to the app registration, whatever chain follows it. */
export function readCertificate(text: string): X509Certificate {
  const block = pemBlocks(text).find((b) => b.label === 'CERTIFICATE');
  if (!block) throw invalidConfig(message(/-----BEGIN CERTIFICATE-----/.test(text) ? 'signin.certificate-unreadable' : 'signin.certificate-missing'));
  try {
    return new X509Certificate(block.pem);
  } catch {
    throw invalidConfig(message('signin.certificate-unreadable'));
  }
}

/** What the dialog shows so the user can find the certificate among the app registration's. */
export interface CertificateFacts {
  /** SHA-1 thumbprint in upper-case hex, as the Azure portal lists it under Certificates & secrets. */
  thumbprint: string;
  /** SHA-256 thumbprint in upper-case hex: what the assertion's x5t#S256 header names, base64url-encoded. */
  thumbprintSha256: string;
  subject: string;
  /** ISO 8601. */
  notBefore: string;
  notAfter: string;
}

export function certificateFacts(certificate: X509Certificate): CertificateFacts {
  return {
    thumbprint: certificate.fingerprint.replace(/:/g, ''),
    thumbprintSha256: certificate.fingerprint256.replace(/:/g, ''),
    subject: certificate.subject.replace(/\n/g, ', '),
    notBefore: new Date(certificate.validFrom).toISOString(),
    notAfter: new Date(certificate.validTo).toISOString(),
  };
}

/** Microsoft Entra ID refuses an assertion signed with an expired or not yet valid certificate: so do we, first. */
export function checkValidAt(facts: CertificateFacts, nowMs: number): void {
  if (nowMs > Date.parse(facts.notAfter)) {
    throw invalidConfig(message('signin.certificate-expired', { thumbprint: facts.thumbprint, date: facts.notAfter }));
  }
  if (nowMs < Date.parse(facts.notBefore)) {
    throw invalidConfig(message('signin.certificate-not-yet-valid', { thumbprint: facts.thumbprint, date: facts.notBefore }));
  }
}
