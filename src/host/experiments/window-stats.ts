// Numbers over windows of the hypervisor's period records: per-second MIPS
// samples of one VM, their spread (the noise of a measurement), and the
// relative change between two windows. Pure.
import { summarize } from '../../core/metrics.ts';
import type { ClosedPeriod, VmId } from '../../core/scheduler-types.ts';

/**
 * One VM's MIPS in consecutive buckets of bucketMs (by period start); buckets
 * without its records are left out. 'mips' is per second of wall time,
 * 'mipsWhileRunning' per second it ran (the emulator's speed, whatever its share).
 */
export function mipsSamples(
  periods: readonly ClosedPeriod[],
  vmId: VmId,
  bucketMs = 1000,
  metric: 'mips' | 'mipsWhileRunning' = 'mips',
): number[] {
  if (periods.length === 0) return [];
  const start = periods[0]!.host.startMs;
  const buckets = new Map<number, ClosedPeriod['vms']>();
  for (const p of periods) {
    const k = Math.floor((p.host.startMs - start) / bucketMs);
    const mine = p.vms.filter((r) => r.vmId === vmId);
    if (mine.length > 0) buckets.set(k, [...(buckets.get(k) ?? []), ...mine]);
  }
  return [...buckets.keys()].sort((x, y) => x - y).map((k) => summarize(buckets.get(k)!)[metric]);
}

/** Coefficient of variation in % (standard deviation / mean); 0 for fewer than 2 values or a zero mean. */
export function spreadPct(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((s, v) => s + v, 0) / values.length;
  if (mean === 0) return 0;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (values.length - 1);
  return (100 * Math.sqrt(variance)) / mean;
}

/** Change from before to after in % of before (-20 = dropped by a fifth); 0 when before is 0. */
export function changePct(before: number, after: number): number {
  return before === 0 ? 0 : (100 * (after - before)) / before;
}

/**
 * True when a speed has stopped rising: the mean of the last n samples is above
 * 0 and at most maxRise times the mean of the n before. (v86 compiles hot guest
 * code as it runs, and the host compiles that: a guest that starts new work
 * runs several times slower for seconds, then levels off.)
 */
export function isWarm(samples: readonly number[], n = 3, maxRise = 1.15): boolean {
  if (samples.length < 2 * n) return false;
  const mean = (xs: readonly number[]): number => xs.reduce((s, v) => s + v, 0) / xs.length;
  const last = mean(samples.slice(-n));
  const before = mean(samples.slice(-2 * n, -n));
  return last > 0 && last <= before * maxRise;
}
