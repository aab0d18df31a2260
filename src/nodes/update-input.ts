import { type Changes, parseUpdate } from '../defender/writing/entity-update';
import { readRequestTimeout } from './input';
import type { UpdateNodeKind } from './update-kind';

/** What one input message of an update node asks for, validated in one place before anything is sent. */
export interface UpdateRequest {
  /** The alert's or incident's id. */
  id: string;
  /** What msg.update gives; a field given as "" is present and undefined: it keeps the node's value out. */
  changes: Changes;
  /** The fields msg.update gives: the node need not read them from the message or context. */
  given: ReadonlySet<string>;
  timeoutMs: number;
}

/** The entity's id (where the kind finds it: msg.alertId, msg.incidentId, the payload…), msg.update and msg.requestTimeout. */
export function readUpdateRequest(spec: Pick<UpdateNodeKind, 'kind' | 'findId'>, msg: Record<string, unknown>, defaultTimeoutMs: number): UpdateRequest {
  const id = spec.findId(msg);
  const changes = msg.update === undefined ? {} : parseUpdate(spec.kind, msg.update);
  return {
    id,
    changes,
    given: new Set(Object.keys(changes)),
    timeoutMs: readRequestTimeout(msg, defaultTimeoutMs),
  };
}
