import type { Checkpoint } from './checkpoint';

/**
 * Where a node keeps its checkpoints, one per filter (checkpointKey): its Node-RED context, or with
 * coordination a store the replicas share (coordination/redis-checkpoints.ts).
 */
export interface CheckpointStore {
  load(key: string): Promise<Checkpoint | undefined>;
  /** `undefined` deletes it. */
  save(key: string, value: Checkpoint | undefined): Promise<void>;
  /** msg.reset: every checkpoint of the node. */
  clear(): Promise<void>;
}
