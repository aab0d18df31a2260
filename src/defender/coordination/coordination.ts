import { Lease, nodeKeys } from './lease';
import { RedisCheckpoints } from './redis-checkpoints';
import { RedisLink } from './redis-link';
import type { RedisSettings } from './settings';

/** What one node gets of its config node's coordination: its lease, and its checkpoints under that lease. */
export interface NodeCoordination {
  lease: Lease;
  checkpoints: RedisCheckpoints;
  /** The node closes: its lease is given up and forgotten (a redeploy of the node alone makes a new one). */
  release(): Promise<void>;
}

/**
 * A config node's coordination through Redis: one connection, shared by the nodes that use the config node,
 * each with a lease and checkpoints of its own (by node id: the replicas run the same flows, so the same
 * node has the same id on each).
 */
export class RedisCoordination {
  readonly link: RedisLink;
  private readonly leases = new Set<Lease>();

  constructor(readonly settings: RedisSettings) {
    this.link = new RedisLink(settings);
  }

  forNode(nodeId: string): NodeCoordination {
    const keys = nodeKeys(this.settings.keyPrefix, nodeId);
    const lease = new Lease(this.link, keys, this.settings.leaseTtlMs);
    this.leases.add(lease);
    const release = (): Promise<void> => {
      this.leases.delete(lease);
      return lease.release();
    };
    return { lease, checkpoints: new RedisCheckpoints(this.link, lease, keys, this.settings.leaseTtlMs), release };
  }

  /**
   * A redeploy or stop: the leases still held are given up before the connection closes (Node-RED may close
   * the config node before the nodes that use it), so another instance takes over at its next trigger.
   */
  async close(): Promise<void> {
    await Promise.all([...this.leases].map((lease) => lease.release()));
    this.leases.clear();
    await this.link.close();
  }
}
