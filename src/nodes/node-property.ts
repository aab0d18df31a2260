import type { Node, NodeAPI, NodeMessageInFlow } from 'node-red';
import { invalidConfig } from '../defender/errors';
import { message } from '../defender/messages';
import { reasonOf } from '../defender/realm';

/** A node setting whose value is read for each message: from the message, or from flow or global context. */
export interface PerMessageSource<K extends string = string> {
  key: K;
  scope: 'msg' | 'flow' | 'global';
  /** The message property or context key as typed (a context key may carry a `#:(store)::` prefix). */
  name: string;
}

/**
 * Reads one such value the way Node-RED's own nodes do (a context store may answer asynchronously); a
 * store that fails, or a property expression that cannot be read, is INVALID_CONFIG naming the setting. A
 * message property under a parent the message does not have (`triage.status` without `msg.triage`) is
 * not set, as for the core change node, rather than unreadable: Node-RED's reader throws a TypeError there.
 */
export function readPerMessage<S extends PerMessageSource>(RED: NodeAPI, node: Node, from: S, msg: NodeMessageInFlow): Promise<{ from: S; value: unknown }> {
  return new Promise((resolve, reject) => {
    const fail = (err: unknown): void =>
      reject(invalidConfig(message('settings.context-unreadable', { key: from.key, scope: from.scope, name: from.name, reason: reasonOf(err) })));
    try {
      RED.util.evaluateNodeProperty(from.name, from.scope, node, msg, (err, value: unknown) => {
        if (err && from.scope === 'msg' && err instanceof TypeError) resolve({ from, value: undefined });
        else if (err) fail(err);
        else resolve({ from, value });
      });
    } catch (err) {
      fail(err);
    }
  });
}
