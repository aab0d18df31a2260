/**
 * Child process: what remembering alerts costs (the lifecycle memory of `events`/`remember`), in memory and
 * time, at N remembered alerts shaped as Graph's: build the memory from N first versions, classify N updates
 * against it, write it as a file context store would (JSON) and read it back after a "restart", which also
 * forgets what `remember` no longer covers.
 */
import { performance } from 'node:perf_hooks';
import { AlertMemory, graphFacts } from '../src/defender/pulling/lifecycle';
import { alert, DAY, versionTime } from './alerts';
import { settle } from './measure';
import { report } from './protocol';

function main(): void {
  const count = (JSON.parse(process.argv[2] ?? '{}') as { count?: number }).count ?? 100_000;
  const now = Date.now();
  const time = (i: number, version: number): string => versionTime(i, version, now);
  // Memory: alerts observed as a pull observes them, each version's facts garbage once it is classified; the
  // memory keeps its own copy of what it compares (ids and titles are distinct strings, as parsed from JSON).
  // The records live in typed arrays, whose memory Node.js counts apart from the heap (arrayBuffers): both count.
  const held = (): number => {
    const m = process.memoryUsage();
    return m.heapUsed + m.arrayBuffers;
  };
  settle();
  const heapBefore = held();
  const measured = new AlertMemory(undefined, now, 30 * DAY);
  for (let i = 0; i < count; i++) measured.observe(graphFacts(alert(i, 0, now)), time(i, 0), 'all');
  // As after a pull's commit: what the memory could still put back is let go.
  measured.settle(measured.position);
  settle();
  const bytesPerAlert = (held() - heapBefore) / count;
  // Still in use here, so the collection above could not take it.
  if (measured.size !== count) throw new Error(`remembered ${measured.size} of ${count} alerts`);

  // Time: the facts are made before the clock starts (in a pull they come with the alert, read once).
  const first = Array.from({ length: count }, (_, i) => graphFacts(alert(i, 0, now)));
  const second = Array.from({ length: count }, (_, i) => graphFacts(alert(i, 1, now)));
  const t0 = performance.now();
  const memory = new AlertMemory(undefined, now, 30 * DAY);
  for (let i = 0; i < count; i++) memory.observe(first[i], time(i, 0), 'all');
  const buildMs = performance.now() - t0;

  const t1 = performance.now();
  let changed = 0;
  for (let i = 0; i < count; i++) if (memory.observe(second[i], time(i, 1), 'triage').send) changed++;
  const updateMs = performance.now() - t1;

  const t2 = performance.now();
  const json = JSON.stringify(memory.state);
  const writeMs = performance.now() - t2;
  const t3 = performance.now();
  const restored = new AlertMemory(JSON.parse(json) as never, now + 5 * DAY, 30 * DAY);
  const readMs = performance.now() - t3;

  report({
    type: 'lifecycle-result',
    result: {
      count,
      bytesPerAlert,
      buildMs,
      updateMs,
      updatesSent: changed,
      jsonBytes: Buffer.byteLength(json),
      writeMs,
      readMs,
      keptAfterRestart: restored.size,
    },
  });
}

try {
  main();
} catch (err) {
  report({ type: 'failed', message: err instanceof Error ? err.stack ?? err.message : String(err) });
}
