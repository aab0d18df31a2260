import type { KeyObject, X509Certificate } from 'node:crypto';
import { invalidConfig } from '../errors';
import { message } from '../messages';
import type { Connection } from '../services/regions';
import type { AccessToken } from './token';
import { type CertificateFacts, certificateFacts, checkValidAt, pemBlocks, readCertificate, readPrivateKey } from './certificate';
import { clientAssertion } from './client-assertion';
import type { CredentialSource, TokenRequestContext } from './credential';
import { postClientAssertion } from './token-request';

/** The texts of certificate sign-in: the key and its passphrase are Node-RED credentials, the certificate a property. */
export interface CertificateTexts {
  certificate: string;
  privateKey: string;
  passphrase: string;
}

/**
 * `auth: certificate`: client credentials with a JWT assertion signed by the certificate's private key.
 * The key is checked against the certificate once, at deploy; the validity dates at every token request,
 * since a certificate may expire while the flow runs.
 */
export class ClientCertificateCredential implements CredentialSource {
  readonly mode = 'certificate';
  readonly facts: CertificateFacts;

  private constructor(
    private readonly key: KeyObject,
    private readonly certificate: X509Certificate,
  ) {
    this.facts = certificateFacts(certificate);
  }

  /**
   * Reads and checks the key and certificate: INVALID_CONFIG, before any request, for a missing or
   * unreadable one, a wrong passphrase, a key of another certificate, or a certificate out of its dates.
   * The certificate may also follow the key in the privateKey text, as in a combined PEM file.
   */
  static load(texts: CertificateTexts, nowMs: number): ClientCertificateCredential {
    const key = readPrivateKey(texts.privateKey, texts.passphrase);
    const fromKeyText = pemBlocks(texts.privateKey).some((b) => b.label === 'CERTIFICATE');
    const certificate = readCertificate(texts.certificate.trim() === '' && fromKeyText ? texts.privateKey : texts.certificate);
    const credential = new ClientCertificateCredential(key, certificate);
    if (!certificate.checkPrivateKey(key)) throw invalidConfig(message('signin.key-mismatch', { thumbprint: credential.facts.thumbprint }));
    checkValidAt(credential.facts, nowMs);
    return credential;
  }

  requestToken(connection: Connection, context: TokenRequestContext): Promise<AccessToken> {
    const now = context.now ?? Date.now;
    const assertion = (audience: string): string => {
      checkValidAt(this.facts, now());
      return clientAssertion({ key: this.key, certificateDer: this.certificate.raw, clientId: connection.clientId, audience, nowMs: now() });
    };
    return postClientAssertion(connection, assertion, message('signin.check-certificate'), context);
  }
}
