import type { Node } from 'node-red';
import type { NodeCoordination } from '../defender/coordination/coordination';
import { DefenderError } from '../defender/errors';
import { type Checkpoint, CHECKPOINT_KEY, isCheckpoint } from '../defender/pulling/checkpoint';
import type { CheckpointStore } from '../defender/pulling/checkpoint-store';
import type { DefenderConfigNode } from './config-node';

/**
 * Whether this replica pulls now. `lead`: it holds the node's lease (`fresh` when it did not a moment ago:
 * what it holds in memory of the node's state is stale), and `signal` aborts if it loses it. Otherwise it
 * stands by (another replica holds the lease) or nobody pulls (Redis cannot be reached).
 */
export type PullTurn = { lead: true; fresh: boolean; signal?: AbortSignal } | { lead: false; why: 'standby' | 'unavailable' };

/**
 * Where a pull node keeps its checkpoints and whether it may pull: on its own (its context store), or with
 * its config node's coordination (a lease and the checkpoints in Redis). Any node that pulls incrementally
 * (detections, incidents) goes through this: it asks `turn()` before each pull and keeps its state in `store`.
 */
export interface PullCoordination {
  readonly store: CheckpointStore;
  /**
   * Before a pull. Throws what the user must hear of: a coordination that cannot be set up (every time),
   * Redis unreachable (once per outage: later triggers of the same outage answer `unavailable`).
   */
  turn(): Promise<PullTurn>;
  /** A pull failed with `err`: what to report (a pull stopped because the lease was lost is LEASE_LOST). */
  failure(err: unknown, turn: PullTurn): unknown;
  /** The node closes: the lease is given up. */
  close(): Promise<void>;
}

/** A node's checkpoints in its Node-RED context (the `store` chosen on the node). */
export function contextCheckpoints(node: Node, store: string | undefined): CheckpointStore {
  const context = node.context();
  const save = (key: string, value: Checkpoint | undefined): Promise<void> =>
    new Promise((resolve, reject) => context.set(key, value, store, (err: Error) => (err ? reject(err) : resolve())));
  return {
    load: (key) =>
      new Promise((resolve, reject) => context.get(key, store, (err: Error, value: unknown) => (err ? reject(err) : resolve(isCheckpoint(value) ? value : undefined)))),
    save,
    clear: () =>
      new Promise<string[]>((resolve, reject) => context.keys(store, (err: Error, keys: unknown[]) => (err ? reject(err) : resolve(keys.map(String))))).then((keys) =>
        Promise.all(keys.filter((k) => k === CHECKPOINT_KEY || k.startsWith(`${CHECKPOINT_KEY}_`)).map((k) => save(k, undefined))).then(() => undefined),
      ),
  };
}

/** A failure the pull reports itself when it stops: the lease passed to another replica, or Redis is down. */
export function isCoordinationFailure(err: unknown): boolean {
  return err instanceof DefenderError && (err.code === 'LEASE_LOST' || err.code === 'COORDINATION_UNAVAILABLE');
}

/** The coordination of `node` as its config node sets it: none (every replica pulls alone) or through Redis. */
export function pullCoordination(node: Node, config: DefenderConfigNode | null, contextStore: string | undefined): PullCoordination {
  if (config?.coordinationError) return refused(config.coordinationError, contextCheckpoints(node, contextStore));
  if (!config?.coordination) return alone(contextCheckpoints(node, contextStore));
  return leased(config.coordination.forNode(node.id));
}

function alone(store: CheckpointStore): PullCoordination {
  return { store, turn: async () => ({ lead: true, fresh: false }), failure: (err) => err, close: async () => undefined };
}

/** A coordination asked for and not valid: pulling alone would send every detection once per replica. */
function refused(error: DefenderError, store: CheckpointStore): PullCoordination {
  return {
    store,
    turn: async () => {
      throw error;
    },
    failure: (err) => err,
    close: async () => undefined,
  };
}

function leased({ lease, checkpoints, release }: NodeCoordination): PullCoordination {
  let reported = false;
  const unavailable = (err: unknown): boolean => err instanceof DefenderError && err.code === 'COORDINATION_UNAVAILABLE';
  return {
    store: checkpoints,
    async turn() {
      let answer;
      try {
        answer = await lease.acquire();
      } catch (err) {
        if (!unavailable(err) || !reported) {
          reported = unavailable(err);
          throw err;
        }
        return { lead: false, why: 'unavailable' };
      }
      reported = false;
      if (answer === 'standby') return { lead: false, why: 'standby' };
      return { lead: true, fresh: answer === 'new-leader', signal: lease.signal };
    },
    failure(err, turn) {
      if (unavailable(err)) reported = true;
      // The pull was stopped because the lease passed on: that, not "cancelled", is what happened.
      if (turn.lead && turn.signal?.aborted && turn.signal.reason instanceof DefenderError) return turn.signal.reason;
      return err;
    },
    close: release,
  };
}
