/**
 * What the benchmark measures in a process: wall time, the event loop's longest stall
 * (perf_hooks.monitorEventLoopDelay) and the peak resident set size above where it stood at the start.
 */
import fs from 'node:fs';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';

/** The kernel's high-water mark of this process's resident set (VmHWM), in bytes. */
export function peakRss(): number {
  try {
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(fs.readFileSync('/proc/self/status', 'utf8'));
    if (match) return Number(match[1]) * 1024;
  } catch {
    // not Linux: the lifetime peak below is the best there is
  }
  return process.resourceUsage().maxRSS * 1024;
}

/**
 * Resets the high-water mark to the current RSS (Linux: "5" into /proc/self/clear_refs), so a peak read
 * later belongs to what ran in between. Returns false where that is not possible: then a peak may date from
 * before (it can only overstate the growth).
 */
export function resetPeakRss(): boolean {
  try {
    fs.writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

/** Collects garbage when the process runs with --expose-gc, so a run starts from a settled heap. */
export function settle(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) {
    gc();
    gc();
  }
}

export interface Sample {
  wallMs: number;
  /** Longest event-loop stall seen, in ms. */
  maxDelayMs: number;
  p99DelayMs: number;
  rssBeforeBytes: number;
  peakRssBytes: number;
  /** Peak RSS during the run minus RSS at its start. */
  rssGrowthBytes: number;
  /** Whether the peak is exact (reset at start) or the process's lifetime peak. */
  peakExact: boolean;
  /** CPU time of the process during the run (user + system), in ms. */
  cpuMs: number;
}

/** One measured stretch: start() before the trigger, stop() at the last downstream message. */
export class Measurement {
  private readonly histogram = monitorEventLoopDelay({ resolution: 5 });
  private startedAt = 0;
  private rssBefore = 0;
  private peakExact = false;
  private cpuBefore: NodeJS.CpuUsage = { user: 0, system: 0 };

  start(): void {
    settle();
    this.rssBefore = process.memoryUsage.rss();
    this.peakExact = resetPeakRss();
    this.cpuBefore = process.cpuUsage();
    this.histogram.reset();
    this.histogram.enable();
    this.startedAt = performance.now();
  }

  /**
   * `endedAt`: performance.now() of the last message, when it was taken elsewhere. The histogram is read a
   * little later: a stall is recorded only when the timer it delayed finally fires, and the last stall of
   * a run (a synchronous JSON.parse, say) ends just before stop() is called.
   */
  async stop(endedAt: number = performance.now()): Promise<Sample> {
    const cpu = process.cpuUsage(this.cpuBefore);
    const peak = peakRss();
    await new Promise((resolve) => setTimeout(resolve, 50));
    return {
      wallMs: endedAt - this.startedAt,
      maxDelayMs: this.histogram.max / 1e6,
      p99DelayMs: this.histogram.percentile(99) / 1e6,
      rssBeforeBytes: this.rssBefore,
      peakRssBytes: peak,
      rssGrowthBytes: Math.max(0, peak - this.rssBefore),
      peakExact: this.peakExact,
      cpuMs: (cpu.user + cpu.system) / 1000,
    };
  }
}
