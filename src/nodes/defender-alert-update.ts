import type { Node, NodeAPI, NodeDef, NodeMessageInFlow } from 'node-red';
import { DefenderError, invalidConfig } from '../defender/errors';
import { message } from '../defender/messages';
import { type DefenderConfigNode, tenantOf } from './config-node';
import { handleInOrder, type Send } from './in-order';
import { runtimeTranslate } from './language';
import { readPerMessage } from './node-property';
import { UpdateStatus } from './status';
import { readUpdateRequest } from './update-input';
import { readUpdateSettings, sourcedChanges, type UpdateNodeProperties, type UpdateSettings } from './update-settings';

type AlertUpdateDef = NodeDef & UpdateNodeProperties;

export = function register(RED: NodeAPI): void {
  function DefenderAlertUpdate(this: Node, def: AlertUpdateDef): void {
    RED.nodes.createNode(this, def);
    const node = this;
    const status = new UpdateStatus(node, (key, vars) => RED._(key, vars));
    const translate = runtimeTranslate(RED);
    const config = RED.nodes.getNode(def.defender ?? '') as DefenderConfigNode | null;
    let settings: UpdateSettings | undefined;
    let settingsError: DefenderError | undefined;
    try {
      settings = readUpdateSettings(def, (name) => RED.util.getSetting(node, name));
    } catch (err) {
      settingsError = err as DefenderError;
      status.failed(settingsError.code, settingsError.translated(translate).message);
    }

    async function update(msg: NodeMessageInFlow, send: Send, signal: AbortSignal): Promise<string> {
      if (settingsError || !settings) throw settingsError ?? invalidConfig(message('settings.none'));
      const tenant = tenantOf(config);
      const s = settings;
      const request = readUpdateRequest(msg, s.timeoutMs);
      // What msg.update gives wins, so only the rest is read from the message or context.
      const pending = s.sourced.filter((from) => !request.given.has(from.key));
      const fromSources = pending.length ? sourcedChanges(await Promise.all(pending.map((from) => readPerMessage(RED, node, from, msg)))) : {};
      const changes = { ...s.changes, ...fromSources, ...request.changes };

      const writer = tenant.alerts({
        timeoutMs: request.timeoutMs,
        maxResponseBytes: s.maxResponseBytes,
        retry: s.retry,
        signal,
        onRetry: status.retryReporter(s.retry.maxRetries),
      });
      const alert = await writer.update(request.alertId, changes);
      const out = msg as NodeMessageInFlow & Record<string, unknown>;
      out.payload = alert;
      out.alertId = request.alertId;
      send(out);
      return typeof alert.status === 'string' ? alert.status : '';
    }

    // Messages are written one at a time, in arrival order, so the status tells of the latest one.
    handleInOrder(node, status, translate, async (msg, send, signal) => {
      status.writing();
      status.done(await update(msg, send, signal));
    });
  }

  RED.nodes.registerType('defender-alert-update', DefenderAlertUpdate);
};
