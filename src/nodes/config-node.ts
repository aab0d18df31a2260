import type { Node, NodeDef } from 'node-red';
import { type DefenderError, invalidConfig } from '../defender/errors';
import { message } from '../defender/messages';
import type { RedisCoordination } from '../defender/coordination/coordination';
import type { CoordinationProperties } from '../defender/coordination/settings';
import type { ConnectionSettings } from '../defender/services/regions';
import type { SignInCredentials, SignInSettings } from '../defender/sign-in/modes';
import type { Tenant } from '../defender/tenant';

/** A defender-config node as the editor saves it: connection and sign-in settings, plus the network config nodes. */
export interface DefenderConfigDef extends NodeDef, ConnectionSettings, SignInSettings, CoordinationProperties {
  /** Id of a core `http proxy` config node, if one is chosen. */
  proxy?: string;
  /** Id of a core `tls-config` node, if one is chosen. */
  tls?: string;
}

/** The config node's Node-RED credentials: every one a password field, so the editor only learns whether it is set. */
export type DefenderCredentials = SignInCredentials & { redisPassword?: string };

/** What a defender-detections node finds when it looks up its config node. */
export interface DefenderConfigNode extends Node<DefenderCredentials> {
  /** Present when the settings are valid. */
  tenant?: Tenant;
  /** Why there is no tenant: reported on every pull, before any request. */
  configError?: DefenderError;
  /** With `coordination: redis`: the connection its nodes share (SPEC section 13). */
  coordination?: RedisCoordination;
  /** Why the coordination asked for cannot be set up: its nodes pull nothing (pulling alone would duplicate). */
  coordinationError?: DefenderError;
}


/** The config node's tenant, or why a node that uses it must refuse the message before any request. */
export function tenantOf(config: DefenderConfigNode | null): Tenant {
  if (!config) throw invalidConfig(message('settings.no-config'));
  if (!config.tenant) throw config.configError ?? invalidConfig(message('settings.config-invalid'));
  return config.tenant;
}
