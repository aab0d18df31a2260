import type { Request, Response } from 'express';
import type { NodeAPI } from 'node-red';
import type { TransportOptions } from '../defender/transport/http';
import { reasonOf } from '../defender/realm';
import { DEFAULT_RETRY_POLICY } from '../defender/transport/retry';
import { type CertificateFacts, certificateFacts, checkValidAt, readCertificate } from '../defender/sign-in/certificate';
import { ClientCertificateCredential } from '../defender/sign-in/client-certificate';
import type { SignInCredentials } from '../defender/sign-in/modes';
import { Tenant } from '../defender/tenant';
import { failureOf, languageTag, runtimeTranslate } from './language';
import { propertyNames, withDefaults } from './properties';

/**
 * What the config dialog asks the runtime while the user edits it: Test connection, and the facts of the
 * certificate pasted for certificate sign-in. Both take the dialog's values as they are, use a stored
 * credential for a password field left unchanged, and never answer with a secret.
 */

/** What the editor sends for a password credential the user left as it was. */
const UNCHANGED_PASSWORD = '__PWRD__';

/** A test is a person waiting on a button: no retries, and an answer within seconds. */
const TEST_TIMEOUT_MS = 20_000;

/** What the dialogs read: the connection and sign-in settings, not the name or the network config nodes. */
const SETTINGS = propertyNames('defender-config').filter((name) => name !== 'name' && name !== 'proxy' && name !== 'tls');

const CREDENTIALS = ['clientSecret', 'privateKey', 'privateKeyPassphrase'] as const satisfies ReadonlyArray<keyof SignInCredentials>;

/**
 * Secrets shorter than this are not blanked out of an answer's text: the library never puts a secret there,
 * and blanking a four-letter passphrase would garble every word that holds it.
 */
const SHORTEST_BLANKED = 8;

/** The answer of POST /defender-config/:id/test. Never holds a secret or a token. */
type ConnectionTestResult = { ok: true; detections: number } | { ok: false; code: string; message: string; statusCode?: number };

/** The answer of POST /defender-config/:id/certificate: what the dialog shows beside the certificate. */
interface CertificateAnswer {
  facts?: CertificateFacts;
  /** Whether the private key was there to be checked against the certificate (and matched it). */
  keyChecked: boolean;
  problem?: { code: string; message: string };
}

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export function registerConfigEndpoints(RED: NodeAPI, transportOptions: (proxy: string | undefined, tls: string | undefined) => TransportOptions): void {
  /**
   * The answers go to a dialog, so they are said in its language, which the dialog sends as `lang` (the
   * runtime's own, from settings.js or the process locale, may differ: a Japanese editor on an English server).
   */
  const languageOf = (body: Record<string, unknown>): string | undefined => languageTag(body.lang);
  const said = (key: string, lang: string | undefined): string => RED._(key, lang ? { lng: lang } : {});

  /** The dialog's credentials: each as typed, or the one stored with the deployed node when left unchanged. */
  function dialogCredentials(id: string, body: Record<string, unknown>): SignInCredentials {
    const stored = (RED.nodes.getCredentials(id) ?? {}) as SignInCredentials;
    const out: SignInCredentials = {};
    for (const name of CREDENTIALS) {
      const typed = text(body[name]);
      out[name] = typed === UNCHANGED_PASSWORD ? (stored[name] ?? '') : typed;
    }
    return out;
  }

  /** The error as the answer gives it: in the runtime's language, with every secret of the dialog blanked out. */
  function shown(err: unknown, credentials: SignInCredentials, lang: string | undefined): { code: string; message: string; statusCode?: number } {
    const error = failureOf(err, runtimeTranslate(RED, lang));
    let said = error.message;
    // The library keeps secrets out of its errors; this answer goes to a browser, so make sure.
    for (const name of CREDENTIALS) {
      const secret = credentials[name] ?? '';
      if (secret.length >= SHORTEST_BLANKED) said = said.split(secret).join('***');
    }
    return { code: error.code, message: said, ...(error.statusCode !== undefined ? { statusCode: error.statusCode } : {}) };
  }

  /**
   * Test connection: the dialog's current values, a token, and one call for one detection, with a throwaway
   * Tenant so the deployed node's token cache is not touched.
   */
  async function testConnection(id: string, body: Record<string, unknown>): Promise<ConnectionTestResult> {
    // What the dialog left empty means the default, as it does for the deployed node.
    const settings = withDefaults('defender-config', Object.fromEntries(SETTINGS.map((key) => [key, text(body[key]) || undefined])));
    const credentials = dialogCredentials(id, body);
    if (settings.auth === 'secret' && !credentials.clientSecret) {
      const stored = text(body.clientSecret) === UNCHANGED_PASSWORD;
      return { ok: false, code: 'INVALID_CONFIG', message: said(`defender-config.test.${stored ? 'no-stored-secret' : 'no-secret'}`, languageOf(body)) };
    }
    let tenant: Tenant | undefined;
    try {
      const retry = { ...DEFAULT_RETRY_POLICY, maxRetries: 0 };
      tenant = new Tenant(settings, credentials, { tokenTimeoutMs: TEST_TIMEOUT_MS, retry, transport: transportOptions(text(body.proxy) || undefined, text(body.tls) || undefined) });
      const page = await tenant.detections({ timeoutMs: TEST_TIMEOUT_MS, maxResponseBytes: 16 * 1024 * 1024, retry }).fetchPage(new URLSearchParams({ limit: '1' }));
      return { ok: true, detections: page.length };
    } catch (err) {
      return { ok: false, ...shown(err, credentials, languageOf(body)) };
    } finally {
      tenant?.close();
    }
  }

  /**
   * The certificate's thumbprint and dates, so the user can find it among the app registration's, and, when
   * the key is there, whether it belongs to it: the checks a deploy would make, without deploying.
   */
  function certificateInfo(id: string, body: Record<string, unknown>): CertificateAnswer {
    const credentials = dialogCredentials(id, body);
    const certificate = text(body.certificate);
    const privateKey = credentials.privateKey ?? '';
    let facts: CertificateFacts | undefined;
    try {
      facts = certificateFacts(readCertificate(certificate.trim() !== '' ? certificate : privateKey));
      if (privateKey === '') {
        checkValidAt(facts, Date.now());
        return { facts, keyChecked: false };
      }
      ClientCertificateCredential.load({ certificate, privateKey, passphrase: credentials.privateKeyPassphrase ?? '' }, Date.now());
      return { facts, keyChecked: true };
    } catch (err) {
      const problem = shown(err, credentials, languageOf(body));
      return { ...(facts ? { facts } : {}), keyChecked: false, problem: { code: problem.code, message: problem.message } };
    }
  }

  const body = (req: Request): Record<string, unknown> => (req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {});

  RED.httpAdmin.post('/defender-config/:id/test', RED.auth.needsPermission('defender-config.write'), (req: Request, res: Response) => {
    testConnection(String(req.params.id), body(req)).then(
      (result) => res.json(result),
      (err: unknown) => {
        RED.log.warn(`defender-config: the connection test failed unexpectedly: ${reasonOf(err)}`);
        res.status(500).json({ ok: false, code: 'INTERNAL', message: said('defender-config.test.unexpected', languageOf(body(req))) });
      },
    );
  });

  // Write permission, as for the test: a stored private key is read to check it against the certificate.
  RED.httpAdmin.post('/defender-config/:id/certificate', RED.auth.needsPermission('defender-config.write'), (req: Request, res: Response) => {
    res.json(certificateInfo(String(req.params.id), body(req)));
  });
}
