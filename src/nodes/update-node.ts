import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { DefenderError, invalidConfig } from '../defender/errors';
import { message } from '../defender/messages';
import type { GraphEntity } from '../defender/services/graph';
import { ALERT_UPDATE, findAlertId } from '../defender/writing/alert-update';
import { findIncidentId, INCIDENT_UPDATE } from '../defender/writing/incident-update';
import { type DefenderConfigNode, tenantOf } from './config-node';
import { handleInOrder, type Send } from './in-order';
import { runtimeTranslate } from './language';
import { readPerMessage } from './node-property';
import { UpdateStatus } from './status';
import { readUpdateRequest } from './update-input';
import type { UpdateNodeKind } from './update-kind';
import { readUpdateSettings, sourcedChanges, type UpdateNodeProperties, type UpdateSettings } from './update-settings';

/** defender-alert-update: an alerts_v2 alert. */
export const ALERT_UPDATE_NODE: UpdateNodeKind = {
  type: 'defender-alert-update',
  kind: ALERT_UPDATE,
  statusProperty: 'alertStatus',
  idProperty: 'alertId',
  findId: findAlertId,
  writer: (tenant, options) => tenant.alerts(options),
};

/** defender-incident-update: a Defender incident. */
export const INCIDENT_UPDATE_NODE: UpdateNodeKind = {
  type: 'defender-incident-update',
  kind: INCIDENT_UPDATE,
  statusProperty: 'incidentStatus',
  idProperty: 'incidentId',
  findId: findIncidentId,
  writer: (tenant, options) => tenant.incidentWriter(options),
};

/**
 * Registers an update node: each message changes one entity through Microsoft Graph with the values of the
 * node's fields, of msg.update, or read from the message or context, and goes on with the entity as Graph
 * answers it after the change.
 */
export function registerUpdateNode(RED: NodeAPI, spec: UpdateNodeKind): void {
  function DefenderUpdate(this: Node, def: NodeDef & UpdateNodeProperties): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new UpdateStatus(node, (key, vars) => RED._(key, vars), spec.type);
    const translate = runtimeTranslate(RED);
    const config = RED.nodes.getNode(def.defender ?? '') as DefenderConfigNode | null;
    let settings: UpdateSettings | undefined;
    let settingsError: DefenderError | undefined;
    try {
      settings = readUpdateSettings(spec, def, (name) => RED.util.getSetting(node, name));
    } catch (err) {
      settingsError = err as DefenderError;
      status.failed(settingsError.code, settingsError.translated(translate).message);
    }

    async function update(msg: NodeMessageInFlow, send: Send, signal: AbortSignal): Promise<string> {
      if (settingsError || !settings) throw settingsError ?? invalidConfig(message('settings.none'));
      const tenant = tenantOf(config);
      const s = settings;
      const request = readUpdateRequest(spec, msg, s.timeoutMs);
      // What msg.update gives wins, so only the rest is read from the message or context.
      const pending = s.sourced.filter((from) => !request.given.has(from.key));
      const fromSources = pending.length ? sourcedChanges(spec, await Promise.all(pending.map((from) => readPerMessage(RED, node, from, msg)))) : {};
      const changes = { ...s.changes, ...fromSources, ...request.changes };

      const writer = spec.writer(tenant, {
        timeoutMs: request.timeoutMs,
        maxResponseBytes: s.maxResponseBytes,
        retry: s.retry,
        signal,
        onRetry: status.retryReporter(s.retry.maxRetries),
      });
      const entity: GraphEntity = await writer.update(request.id, changes);
      const out = msg as NodeMessageInFlow & Record<string, unknown>;
      out.payload = entity;
      out[spec.idProperty] = request.id;
      send(out);
      return typeof entity.status === 'string' ? entity.status : '';
    }

    // Messages are written one at a time, in arrival order, so the status tells of the latest one.
    handleInOrder(node, status, translate, async (msg, send, signal) => {
      status.writing();
      status.done(await update(msg, send, signal));
    });
  }

  RED.nodes.registerType(spec.type, DefenderUpdate);
}
