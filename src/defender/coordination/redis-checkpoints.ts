import { type Checkpoint, isCheckpoint, withParts } from '../pulling/checkpoint';
import type { CheckpointStore } from '../pulling/checkpoint-store';
import { RememberedAlerts } from '../pulling/remembered-alerts';
import { DefenderError } from '../errors';
import { message } from '../messages';
import type { Lease } from './lease';
import type { RedisLink } from './redis-link';

/**
 * Writes a checkpoint (or deletes it, for '') only while `ARGV[1]` holds the lease, and renews the lease with
 * it: the fencing is inside Redis's atomic step, so a holder that was paused past its lease cannot roll the
 * checkpoint back. The alert memory is kept beside it as a base and a list of changes: `ARGV[4]` says what
 * this commit writes of it: 'base' (the whole memory, the list emptied), 'delta' (what changed since the last
 * commit, appended to the list), 'none' (nothing changed) or 'drop' (the checkpoint has no memory).
 * KEYS: lease, checkpoint, index of the node's keys, memory base, memory changes.
 * ARGV: token, checkpoint JSON, ttl ms, 'base' | 'delta' | 'none' | 'drop', the memory's JSON.
 */
const SAVE = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('DEL', KEYS[2], KEYS[4], KEYS[5])
  redis.call('SREM', KEYS[3], KEYS[2], KEYS[4], KEYS[5])
else
  redis.call('SET', KEYS[2], ARGV[2])
  redis.call('SADD', KEYS[3], KEYS[2], KEYS[4], KEYS[5])
  if ARGV[4] == 'base' then
    redis.call('SET', KEYS[4], ARGV[5])
    redis.call('DEL', KEYS[5])
  elseif ARGV[4] == 'delta' then
    redis.call('RPUSH', KEYS[5], ARGV[5])
  elseif ARGV[4] == 'drop' then
    redis.call('DEL', KEYS[4], KEYS[5])
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
`;

/** The checkpoint, its memory's base and changes, read together. KEYS: checkpoint, memory base, memory changes. */
const LOAD = `
return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('LRANGE', KEYS[3], 0, -1)}
`;

/** msg.reset: every checkpoint of the node, gone, under the same fencing. KEYS: lease, index. ARGV: token. */
const CLEAR = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
for _, key in ipairs(redis.call('SMEMBERS', KEYS[2])) do redis.call('DEL', key) end
redis.call('DEL', KEYS[2])
return 1
`;

/** Changes kept after a base before the next commit writes the whole memory again (compaction). */
const MAX_CHANGES = 64;

/** What Redis holds of one checkpoint's memory, as this replica last read or wrote it. */
interface Written {
  memory: RememberedAlerts;
  reshapes: number;
  changes: number;
  changeBytes: number;
  baseBytes: number;
}

/**
 * A node's checkpoints (each with its alert memory and what it owes a delivery) in Redis, written only by
 * the lease's holder. Reading needs no lease: a replica reads when it takes over. A commit writes the
 * checkpoint and, of the alert memory, only the records that changed since the last commit (issue 21: a
 * commit's cost follows its slice, not the memory's size); now and then the whole memory again, so a reader
 * has a bounded list of changes to apply.
 */
export class RedisCheckpoints implements CheckpointStore {
  private readonly written = new Map<string, Written>();
  /**
   * The checkpoint this replica wrote last, per key, under which lease token: while it holds that lease
   * nobody else wrote, so the next pull takes it as it is rather than read megabytes of memory back.
   */
  private readonly own = new Map<string, { token: string; checkpoint: Checkpoint }>();

  constructor(
    private readonly link: RedisLink,
    private readonly lease: Lease,
    private readonly keys: { lease: string; index: string; checkpoint(key: string): string },
    private readonly ttlMs: number,
  ) {}

  async load(key: string): Promise<Checkpoint | undefined> {
    const mine = this.own.get(key);
    if (mine && mine.token === this.lease.held) return mine.checkpoint;
    this.own.delete(key);
    const name = this.keys.checkpoint(key);
    const [text, base, changes] = (await this.link.eval(LOAD, [name, `${name}:alerts`, `${name}:alerts-changes`], [])) as [string | null, string | null, string[]];
    this.written.delete(key);
    if (!text) return undefined;
    let value: unknown;
    try {
      value = JSON.parse(text);
      if (base) {
        const memory = RememberedAlerts.from(JSON.parse(base));
        if (memory) {
          for (const change of changes) memory.merge(JSON.parse(change));
          // What was read is what Redis holds: nothing of it is a change to write.
          memory.changes();
          (value as Checkpoint).alerts = memory;
          this.written.set(key, {
            memory,
            reshapes: memory.reshapes,
            changes: changes.length,
            changeBytes: changes.reduce((n, c) => n + c.length, 0),
            baseBytes: base.length,
          });
        }
      }
    } catch {
      value = undefined;
    }
    if (!isCheckpoint(value)) throw new DefenderError('INTERNAL', message('coordination.bad-checkpoint', { key: name }));
    return value;
  }

  async save(key: string, value: Checkpoint | undefined): Promise<void> {
    const token = this.holder();
    const name = this.keys.checkpoint(key);
    let mode = 'drop';
    let memoryJson = '';
    let next: Written | undefined;
    if (value?.alerts) {
      const memory = value.alerts;
      const known = this.written.get(key);
      if (memory instanceof RememberedAlerts && known?.memory === memory && known.reshapes === memory.reshapes && known.changes < MAX_CHANGES && known.changeBytes < known.baseBytes) {
        const changes = memory.changes();
        memoryJson = changes.count > 0 ? JSON.stringify(changes) : '';
        mode = changes.count > 0 ? 'delta' : 'none';
        next = { ...known, changes: known.changes + (changes.count > 0 ? 1 : 0), changeBytes: known.changeBytes + memoryJson.length };
      } else {
        if (memory instanceof RememberedAlerts) memory.changes();
        memoryJson = JSON.stringify(memory);
        mode = 'base';
        next = memory instanceof RememberedAlerts ? { memory, reshapes: memory.reshapes, changes: 0, changeBytes: 0, baseBytes: memoryJson.length } : undefined;
      }
    }
    // Until this write is known to have happened, the next one writes the whole memory.
    this.written.delete(key);
    this.own.delete(key);
    const checkpoint = value ? JSON.stringify(withParts(value, { alerts: undefined })) : '';
    const keys = [this.keys.lease, name, this.keys.index, `${name}:alerts`, `${name}:alerts-changes`];
    const done = await this.link.eval(SAVE, keys, [token, checkpoint, String(this.ttlMs), mode, memoryJson]);
    if (Number(done) !== 1) throw this.lease.lost();
    if (next) this.written.set(key, next);
    if (value) this.own.set(key, { token, checkpoint: value });
  }

  async clear(): Promise<void> {
    const token = this.holder();
    this.written.clear();
    this.own.clear();
    const cleared = await this.link.eval(CLEAR, [this.keys.lease, this.keys.index], [token]);
    if (Number(cleared) !== 1) throw this.lease.lost();
  }

  private holder(): string {
    const token = this.lease.held;
    if (token === undefined) throw this.lease.lost();
    return token;
  }
}
