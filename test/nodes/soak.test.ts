import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timeKey } from '../../src/defender/pulling/checkpoint';
import { detectionKey } from '../../src/defender/services/detection';
import type { Emulator, Fault } from '../../src/emulator';
import { SeededRandom } from '../../src/emulator/random';
import { FileContextRuntime, loadRig, withEmulatorSuite } from '../fixtures/harness';
import { assertExactlyOnce, keysOf, Ledger } from '../fixtures/ledger';

const MINUTE = 60_000;

describe('exactly once under load, faults and restarts', () => {
  let emulator: Emulator;

  withEmulatorSuite({ seed: 2024 }, (e) => (emulator = e));

  it('soak: thousands of detections over many pulls with random faults arrive exactly once, checkpoint monotonic', async () => {
    const random = new SeededRandom(424242);
    const ledger = new Ledger();
    const rig = await loadRig(emulator, { limit: '50', maxRetries: 2, retryBaseDelayMs: 5, requestTimeout: 0.4, overlap: 'PT5M' });
    const faults: Fault[] = [
      { kind: 'http429', retryAfter: '0' },
      { kind: 'http500' },
      { kind: 'http503', retryAfter: '0' },
      { kind: 'reset' },
      { kind: 'truncated' },
      { kind: 'html' },
      { kind: 'http401' },
      { kind: 'delay', delayMs: 700 },
      { kind: 'http500', on: 'token' },
    ];
    const checkpoints: string[] = [];
    let failed = 0;
    const rounds = 70;
    for (let round = 0; round < rounds; round++) {
      const now = Date.now();
      for (let i = random.int(0, 50); i > 0; i--) {
        // A third arrive late: recorded up to 2 minutes ago, visible only now (inside the 5-minute overlap).
        const late = random.chance(0.3) ? random.int(1, 2 * MINUTE) : 0;
        ledger.record(emulator.addDetection({ LastProcessedTimeUtc: now - late }));
      }
      if (random.chance(0.2)) {
        const shared = new Date(now - random.int(0, MINUTE)).toISOString().replace('Z', '4321Z');
        for (let i = random.int(3, 12); i > 0; i--) ledger.record(emulator.addDetection({ LastProcessedTimeUtc: shared }));
      }
      // Updates only of versions already delivered, so every version is visible to at least one pull.
      const delivered = new Set(keysOf(rig.detections.messages));
      const current = emulator.detections.filter((d) => delivered.has(detectionKey(d)));
      for (const d of random.some(current, 0, 3)) ledger.record(emulator.updateDetection(String(d.FullId)));
      if (random.chance(0.35)) {
        const fault = random.pick(faults);
        emulator.injectFault({ ...fault, times: random.int(1, 3) });
      }
      const { error, summary } = await rig.pull();
      if (error) failed++;
      else checkpoints.push(String((summary?.payload as { checkpoint: string }).checkpoint));
    }
    emulator.clearFaults();
    for (let i = 0; i < 2; i++) await rig.pull();

    assert.ok(ledger.created.size >= 1500, `only ${ledger.created.size} versions generated`);
    assert.ok(failed > 0, 'the faults never failed a pull: the soak did not test recovery');
    console.log(`soak: ${rounds} rounds, ${failed} pulls failed, ${emulator.stats.alertRequests} API requests`);
    assertExactlyOnce(ledger, keysOf(rig.detections.messages), 'soak');
    const keys = checkpoints.map(timeKey);
    assert.deepEqual(keys, [...keys].sort(), 'the checkpoint moved backwards');
  });

  it('keeps exactly-once across a restart with a persistent context store', async () => {
    const runtime = new FileContextRuntime();
    const ledger = new Ledger();
    try {
      let rig = await runtime.start(emulator, { limit: '20' });
      const emitted: string[] = [];
      for (let round = 0; round < 3; round++) {
        emulator.addDetections(15, { lastProcessedAt: Date.now() - 30_000, spreadMs: 20_000 }).forEach((d) => ledger.record(d));
        emitted.push(...keysOf((await rig.pull()).detections));
      }
      await runtime.restart();
      // Detections keep arriving while Node-RED is down, one of them late.
      emulator.addDetections(25, { lastProcessedAt: Date.now() - 10_000, spreadMs: 5_000 }).forEach((d) => ledger.record(d));
      ledger.record(emulator.addDetection({ LastProcessedTimeUtc: Date.now() - 3 * MINUTE }));
      rig = await runtime.start(emulator, { limit: '20' });
      assert.ok(rig.node.context().get('checkpoint', 'file'), 'the checkpoint did not survive the restart');
      for (let round = 0; round < 2; round++) emitted.push(...keysOf((await rig.pull()).detections));
      assertExactlyOnce(ledger, emitted, 'restart');
    } finally {
      await runtime.dispose();
    }
  });
});
