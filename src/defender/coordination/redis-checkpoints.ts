import { type Checkpoint, isCheckpoint } from '../pulling/checkpoint';
import type { CheckpointStore } from '../pulling/checkpoint-store';
import { DefenderError } from '../errors';
import { message } from '../messages';
import type { Lease } from './lease';
import type { RedisLink } from './redis-link';

/**
 * Writes a checkpoint (or deletes it, for '') only while `ARGV[1]` holds the lease, and renews the lease with
 * it: the fencing is inside Redis's atomic step, so a holder that was paused past its lease cannot roll the
 * checkpoint back. KEYS: lease, checkpoint, index of the node's checkpoints. ARGV: token, JSON, ttl ms.
 */
const SAVE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2])
  redis.call('SREM', KEYS[3], KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SADD', KEYS[3], KEYS[2])
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** msg.reset: every checkpoint of the node, gone, under the same fencing. KEYS: lease, index. ARGV: token. */
const CLEAR = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', key) end
redis.call('DEL', KEYS[2])
return 1
`;

/**
 * A node's checkpoints (each with its alert memory and what it owes a delivery) in Redis, one JSON value per
 * filter, written only by the lease's holder. Reading needs no lease: a replica reads when it takes over.
 */
export class RedisCheckpoints implements CheckpointStore {
  constructor(
    private readonly link: RedisLink,
    private readonly lease: Lease,
    private readonly keys: { lease: string; index: string; checkpoint(key: string): string },
    private readonly ttlMs: number,
  ) {}

  async load(key: string): Promise<Checkpoint | undefined> {
    const text = await this.link.get(this.keys.checkpoint(key));
    if (text === null) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      value = undefined;
    }
    if (!isCheckpoint(value)) throw new DefenderError('INTERNAL', message('coordination.bad-checkpoint', { key: this.keys.checkpoint(key) }));
    return value;
  }

  async save(key: string, value: Checkpoint | undefined): Promise<void> {
    const token = this.holder();
    const written = await this.link.eval(SAVE, [this.keys.lease, this.keys.checkpoint(key), this.keys.index], [token, value ? JSON.stringify(value) : '', String(this.ttlMs)]);
    if (Number(written) !== 1) throw this.lease.lost();
  }

  async clear(): Promise<void> {
    const token = this.holder();
    const cleared = await this.link.eval(CLEAR, [this.keys.lease, this.keys.index], [token]);
    if (Number(cleared) !== 1) throw this.lease.lost();
  }

  private holder(): string {
    const token = this.lease.held;
    if (token === undefined) throw this.lease.lost();
    return token;
  }
}
