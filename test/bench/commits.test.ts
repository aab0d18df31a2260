/**
 * The commit bench (bench/commits.ts) at a small size, as `npm run bench` runs it: a child process against a
 * real redis-server. Its figures are not checked, only that it measures what it says.
 */
import assert from 'node:assert/strict';
import { fork } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ChildMessage, CommitsConfig, CommitsResult } from '../../bench/protocol';
import { type RedisServer, startRedis } from '../fixtures/redis-server';

function run(config: CommitsConfig): Promise<CommitsResult> {
  return new Promise((resolve, reject) => {
    const proc = fork(path.join(__dirname, '..', '..', 'bench', 'commits.js'), [JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    let result: CommitsResult | undefined;
    proc.on('message', (m: ChildMessage) => {
      if (m.type === 'commits-result') result = m.result;
      else if (m.type === 'failed') reject(new Error(m.message));
    });
    proc.on('exit', (code) => (result ? resolve(result) : reject(new Error(`bench/commits.js exited with ${code} before reporting`))));
  });
}

describe('the commit bench', () => {
  let redis: RedisServer | undefined;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    await redis?.dispose();
  });

  it('commits slices as changes, writes the whole memory when asked to, and another replica reads it all back', async () => {
    const r = await run({ redisUrl: (redis as RedisServer).url, count: 10_000, slice: 750, commits: 5, wholeRuns: 2, reads: 1 });
    assert.equal(r.remembered, 10_000);
    // Five slices of 750 weigh less than the memory: no compaction, five changes for the reader to apply.
    assert.equal(r.delta.length, 5);
    assert.equal(r.compactions.length, 0);
    assert.equal(r.readChanges, 5);
    assert.equal(r.whole.length, 2);
    assert.equal(r.read.length, 1);
    for (const d of r.delta) assert.ok(d.bytes > 0 && d.bytes < r.whole[0].bytes / 4, `a commit of 750 changes wrote ${d.bytes} bytes, the whole memory ${r.whole[0].bytes}`);
  });
});
