import type { Node, NodeMessage, NodeMessageInFlow } from 'node-red';
import type { Translate } from '../defender/messages';
import { failureOf } from './language';

export type Send = (msg: NodeMessage | Array<NodeMessage | null>) => void;
type Done = (err?: Error) => void;

/** What the queue needs of a node's status: a short reason on failure, and clearing on close. */
export interface FailureStatus {
  failed(code: string, message: string, statusCode?: number): void;
  clear(): void;
}

/**
 * Handles a node's messages one at a time, in the order they arrived, so its status tells of the latest
 * one and a pull or a write never overtakes another. `work` does one message (and sets the status for
 * it); a failure is said in the runtime's language, sets `msg.statusCode` when a service answered (a Catch
 * node sees only the error's message, code and stack) and goes to done(err) exactly once. On close (a
 * redeploy or stop) `signal` aborts the message under way, messages still waiting are dropped quietly,
 * and the close waits for the one under way.
 */
export function handleInOrder(
  node: Node,
  status: FailureStatus,
  translate: Translate,
  work: (msg: NodeMessageInFlow, send: Send, signal: AbortSignal) => Promise<void>,
): void {
  const closing = new AbortController();
  let queue: Promise<void> = Promise.resolve();
  node.on('input', (msg: NodeMessageInFlow, send: Send, done: Done) => {
    queue = queue.then(async () => {
      if (closing.signal.aborted) return done();
      try {
        await work(msg, send, closing.signal);
        done();
      } catch (err) {
        // The code stays the same in every language, for a Catch node's switch.
        const error = failureOf(err, translate);
        if (error.statusCode !== undefined) (msg as NodeMessageInFlow & { statusCode?: number }).statusCode = error.statusCode;
        status.failed(error.code, error.message, error.statusCode);
        done(error);
      }
    });
  });
  node.on('close', (_removed: boolean, done: () => void) => {
    closing.abort();
    queue.then(() => {
      status.clear();
      done();
    }, done);
  });
}
