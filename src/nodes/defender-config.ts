import type { Node, NodeAPI } from 'node-red';
import { DefenderError } from '../defender/errors';
import { Tenant } from '../defender/tenant';
import type { DefenderConfigDef, DefenderConfigNode } from './config-node';

export = function register(RED: NodeAPI): void {
  function DefenderConfig(this: DefenderConfigNode, def: DefenderConfigDef): void {
    RED.nodes.createNode(this, def);
    try {
      this.tenant = new Tenant(def, this.credentials?.clientSecret ?? '');
    } catch (err) {
      this.configError = err instanceof DefenderError ? err : new DefenderError('INVALID_CONFIG', String(err));
    }
    this.on('close', () => this.tenant?.close());
  }

  // Node-RED's typings say credentials are `unknown` until read; ours are declared just below.
  RED.nodes.registerType('defender-config', DefenderConfig as (this: Node, def: DefenderConfigDef) => void, {
    credentials: { clientSecret: { type: 'password' } },
  });
};
