import { type AlertChanges, type AlertUpdateField, findAlertId, parseUpdateObject } from '../defender/writing/alert-update';
import { readRequestTimeout } from './input';

/** What one input message of the update node asks for, validated in one place before anything is sent. */
export interface UpdateRequest {
  alertId: string;
  /** What msg.update gives; a field given as "" is present and undefined: it keeps the node's value out. */
  changes: AlertChanges;
  /** The fields msg.update gives: the node need not read them from the message or context. */
  given: ReadonlySet<AlertUpdateField>;
  timeoutMs: number;
}

/** The alert id (msg.alertId, msg.payload.id, msg.payload.AlertId), msg.update and msg.requestTimeout. */
export function readUpdateRequest(msg: Record<string, unknown>, defaultTimeoutMs: number): UpdateRequest {
  const alertId = findAlertId(msg);
  const changes = msg.update === undefined ? {} : parseUpdateObject(msg.update);
  return {
    alertId,
    changes,
    given: new Set(Object.keys(changes) as AlertUpdateField[]),
    timeoutMs: readRequestTimeout(msg, defaultTimeoutMs),
  };
}
