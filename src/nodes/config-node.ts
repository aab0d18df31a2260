import type { Node, NodeDef } from 'node-red';
import type { DefenderError } from '../defender/errors';
import type { ConnectionSettings } from '../defender/regions';
import type { Tenant } from '../defender/tenant';

/** A defender-config node as the editor saves it: the connection settings, plus the network config nodes. */
export interface DefenderConfigDef extends NodeDef, ConnectionSettings {
  /** Id of a core `http proxy` config node, if one is chosen. */
  proxy?: string;
  /** Id of a core `tls-config` node, if one is chosen. */
  tls?: string;
}

export interface DefenderCredentials {
  clientSecret?: string;
}

/** What a defender-detections node finds when it looks up its config node. */
export interface DefenderConfigNode extends Node<DefenderCredentials> {
  /** Present when the settings are valid. */
  tenant?: Tenant;
  /** Why there is no tenant: reported on every pull, before any request. */
  configError?: DefenderError;
}

