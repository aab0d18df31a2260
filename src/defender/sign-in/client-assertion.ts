import { constants, createHash, type KeyObject, randomUUID, sign } from 'node:crypto';

/** The client_assertion_type of a JWT client assertion (RFC 7523). */
export const JWT_BEARER = 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer';

/** Microsoft's identity platform documents an assertion's lifetime as ten minutes at most. */
export const ASSERTION_LIFETIME_S = 600;

/** SHA-256 is 32 bytes, and PS256 (RFC 7518 §3.5) wants the salt as long as the hash. */
const PS256_SALT_LENGTH = 32;

const base64url = (data: string | Buffer): string => Buffer.from(data).toString('base64url');

/** The x5t#S256 header: the base64url SHA-256 of the certificate's DER, so Entra ID knows which key to verify with. */
export function x5tS256(certificateDer: Buffer): string {
  return base64url(createHash('sha256').update(certificateDer).digest());
}

export interface AssertionClaims {
  aud: string;
  iss: string;
  sub: string;
  jti: string;
  nbf: number;
  iat: number;
  exp: number;
}

/**
 * A client assertion as Microsoft's identity platform documents certificate credentials: PS256 with the
 * certificate's x5t#S256, `aud` the exact token URL the request goes to, `iss` = `sub` = the client id,
 * a fresh `jti` (Entra ID takes each one once), valid from now for ten minutes.
 */
export function clientAssertion(options: { key: KeyObject; certificateDer: Buffer; clientId: string; audience: string; nowMs: number }): string {
  const now = Math.floor(options.nowMs / 1000);
  const header = { alg: 'PS256', typ: 'JWT', 'x5t#S256': x5tS256(options.certificateDer) };
  const claims: AssertionClaims = {
    aud: options.audience,
    iss: options.clientId,
    sub: options.clientId,
    jti: randomUUID(),
    nbf: now,
    iat: now,
    exp: now + ASSERTION_LIFETIME_S,
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(claims))}`;
  const signature = sign('sha256', Buffer.from(signingInput), {
    key: options.key,
    padding: constants.RSA_PKCS1_PSS_PADDING,
    saltLength: PS256_SALT_LENGTH,
  });
  return `${signingInput}.${base64url(signature)}`;
}
