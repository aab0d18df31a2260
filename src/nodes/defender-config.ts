import type { Request, Response } from 'express';
import type { Node, NodeAPI } from 'node-red';
import { DefenderError } from '../defender/errors';
import { message } from '../defender/messages';
import { reasonOf } from '../defender/realm';
import { DEFAULT_RETRY_POLICY } from '../defender/retry';
import type { TransportOptions } from '../defender/http';
import type { TlsSettings } from '../defender/proxy';
import { Tenant } from '../defender/tenant';
import type { DefenderConfigDef, DefenderConfigNode, DefenderCredentials } from './config-node';
import { failureOf, runtimeTranslate } from './language';
import { propertyNames, withDefaults } from './properties';

/** What the editor sends for a password credential the user left as it was. */
const UNCHANGED_PASSWORD = '__PWRD__';

/** A test is a person waiting on a button: no retries, and an answer within seconds. */
const TEST_TIMEOUT_MS = 20_000;

/** The answer of POST /defender-config/:id/test. Never holds the secret or the token. */
type ConnectionTestResult = { ok: true; detections: number } | { ok: false; code: string; message: string; statusCode?: number };

/** What Test connection reads of the dialog: the connection settings, not the name or the network config nodes. */
const SETTINGS = propertyNames('defender-config').filter((name) => name !== 'name' && name !== 'proxy' && name !== 'tls');

function text(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

export = function register(RED: NodeAPI): void {
  const translate = runtimeTranslate(RED);
  function DefenderConfig(this: DefenderConfigNode, def: DefenderConfigDef): void {
    RED.nodes.createNode(this, def);
    try {
      // A property the flow leaves out means its declared default, as it does in the editor.
      const settings = withDefaults('defender-config', def);
      this.tenant = new Tenant(settings, this.credentials ?? {}, { transport: transportOptions(settings.proxy || undefined, settings.tls || undefined) });
    } catch (err) {
      this.configError = err instanceof DefenderError ? err : new DefenderError('INVALID_CONFIG', String(err));
    }
    this.on('close', () => this.tenant?.close());
  }

  /**
   * Proxy and TLS as the core http request node takes them: a chosen `http proxy` node (its URL, its
   * no-proxy list, its login), else the environment; a chosen `tls-config` node's certificates.
   */
  function transportOptions(proxyId: string | undefined, tlsId: string | undefined): TransportOptions {
    const options: TransportOptions = {};
    const proxyNode = proxyId ? (RED.nodes.getNode(proxyId) as (Node<{ username?: string; password?: string }> & { url?: string; noproxy?: string[] }) | null) : null;
    if (proxyId && !proxyNode) throw new DefenderError('INVALID_CONFIG', message('config.proxy-missing'));
    if (proxyNode?.url) {
      options.proxy = {
        url: proxyNode.url,
        noProxy: proxyNode.noproxy ?? [],
        ...(proxyNode.credentials?.username ? { username: proxyNode.credentials.username, password: proxyNode.credentials.password ?? '' } : {}),
      };
    }
    const tlsNode = tlsId ? (RED.nodes.getNode(tlsId) as (Node & { addTLSOptions(opts: Record<string, unknown>): void }) | null) : null;
    if (tlsId && !tlsNode) throw new DefenderError('INVALID_CONFIG', message('config.tls-missing'));
    if (tlsNode) {
      const tls: Record<string, unknown> = {};
      tlsNode.addTLSOptions(tls);
      options.tls = tls as TlsSettings;
    }
    return options;
  }

  // Node-RED's typings say credentials are `unknown` until read; ours are declared just below.
  RED.nodes.registerType('defender-config', DefenderConfig as (this: Node, def: DefenderConfigDef) => void, {
    credentials: { clientSecret: { type: 'password' } },
  });

  /**
   * Test connection: the dialog's current values, a token, and one call for one detection, with a
   * throwaway Tenant so the deployed node's token cache is not touched. A secret left unchanged in the
   * dialog arrives as __PWRD__ and means the one stored for this config node.
   */
  async function testConnection(id: string, body: Record<string, unknown>): Promise<ConnectionTestResult> {
    // What the dialog left empty means the default, as it does for the deployed node.
    const settings = withDefaults('defender-config', Object.fromEntries(SETTINGS.map((key) => [key, text(body[key]) || undefined])));
    let secret = text(body.clientSecret);
    if (secret === UNCHANGED_PASSWORD) {
      const stored = RED.nodes.getCredentials(id) as DefenderCredentials | undefined;
      if (!stored?.clientSecret) {
        return { ok: false, code: 'INVALID_CONFIG', message: RED._('defender-config.test.no-stored-secret') };
      }
      secret = stored.clientSecret;
    }
    if (secret === '') return { ok: false, code: 'INVALID_CONFIG', message: RED._('defender-config.test.no-secret') };
    let tenant: Tenant | undefined;
    try {
      const retry = { ...DEFAULT_RETRY_POLICY, maxRetries: 0 };
      tenant = new Tenant(settings, { clientSecret: secret }, { tokenTimeoutMs: TEST_TIMEOUT_MS, retry, transport: transportOptions(text(body.proxy) || undefined, text(body.tls) || undefined) });
      const page = await tenant.detections({ timeoutMs: TEST_TIMEOUT_MS, maxResponseBytes: 16 * 1024 * 1024, retry }).fetchPage(new URLSearchParams({ limit: '1' }));
      return { ok: true, detections: page.length };
    } catch (err) {
      const error = failureOf(err, translate);
      // The library keeps the secret out of its errors; this answer goes to a browser, so make sure.
      const shown = error.message.split(secret).join('***');
      return { ok: false, code: error.code, message: shown, ...(error.statusCode !== undefined ? { statusCode: error.statusCode } : {}) };
    } finally {
      tenant?.close();
    }
  }

  RED.httpAdmin.post('/defender-config/:id/test', RED.auth.needsPermission('defender-config.write'), (req: Request, res: Response) => {
    const body = req.body && typeof req.body === 'object' ? (req.body as Record<string, unknown>) : {};
    testConnection(String(req.params.id), body).then(
      (result) => res.json(result),
      (err: unknown) => {
        RED.log.warn(`defender-config: the connection test failed unexpectedly: ${reasonOf(err)}`);
        res.status(500).json({ ok: false, code: 'INTERNAL', message: 'the connection test failed unexpectedly; see the Node-RED log' });
      },
    );
  });
};
