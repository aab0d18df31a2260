import type { Node, NodeAPI } from 'node-red';
import { RedisCoordination } from '../defender/coordination/coordination';
import { coordinationSettings } from '../defender/coordination/settings';
import { DefenderError } from '../defender/errors';
import type { TransportOptions } from '../defender/transport/http';
import { message } from '../defender/messages';
import type { TlsSettings } from '../defender/transport/proxy';
import { reasonOf } from '../defender/realm';
import { Tenant } from '../defender/tenant';
import { registerConfigEndpoints } from './config-admin';
import type { DefenderConfigDef, DefenderConfigNode } from './config-node';
import { withDefaults } from './properties';

export = function register(RED: NodeAPI): void {
  function DefenderConfig(this: DefenderConfigNode, def: DefenderConfigDef): void {
    RED.nodes.createNode(this, def);
    try {
      // A property the flow leaves out means its declared default, as it does in the editor.
      const settings = withDefaults('defender-config', def);
      this.tenant = new Tenant(settings, this.credentials ?? {}, { transport: transportOptions(settings.proxy || undefined, settings.tls || undefined) });
    } catch (err) {
      this.configError = err instanceof DefenderError ? err : new DefenderError('INVALID_CONFIG', message('config.unexpected', { reason: reasonOf(err) }));
    }
    try {
      const redis = coordinationSettings(withDefaults('defender-config', def), this.credentials ?? {});
      if (redis) this.coordination = new RedisCoordination(redis);
    } catch (err) {
      this.coordinationError = err instanceof DefenderError ? err : new DefenderError('INVALID_CONFIG', message('config.unexpected', { reason: reasonOf(err) }));
    }
    this.on('close', (done: () => void) => {
      this.tenant?.close();
      void (this.coordination?.close() ?? Promise.resolve()).then(done, done);
    });
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
    // Every one a password: the editor (and the credentials API) learns only whether it is set.
    credentials: { clientSecret: { type: 'password' }, privateKey: { type: 'password' }, privateKeyPassphrase: { type: 'password' }, redisPassword: { type: 'password' } },
  });

  registerConfigEndpoints(RED, transportOptions);
};
