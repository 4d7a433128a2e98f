// Metrics math for the dashboard and experiments: shares, speed, fairness,
// percentiles, and a rolling window over the scheduler's period records.
import { HvError } from './errors.ts';
import type { PeriodRecord, VmId } from './scheduler-types.ts';

/** usedMs as a % of one pCPU over periodMs (0 for an empty period). */
export function sharePct(usedMs: number, periodMs: number): number {
  return periodMs > 0 ? (100 * usedMs) / periodMs : 0;
}

/** Million instructions per second over `ms` of wall time (0 for no time). */
export function mips(instructions: number, ms: number): number {
  // instructions / (ms / 1000 s) / 1e6 = instructions / (ms * 1000)
  return ms > 0 ? instructions / (ms * 1000) : 0;
}

/** Jain's fairness index (Σx)² / (n·Σx²): 1 when all equal, 1/n when one takes all; 1 for empty or all-zero input. */
export function jainIndex(values: readonly number[]): number {
  let sum = 0;
  let sumSq = 0;
  for (const v of values) {
    sum += v;
    sumSq += v * v;
  }
  return sumSq === 0 ? 1 : (sum * sum) / (values.length * sumSq);
}

/** The p-th percentile (0..100) with linear interpolation between ranks; NaN for no values. */
export function percentile(values: readonly number[], p: number): number {
  if (!Number.isFinite(p) || p < 0 || p > 100) {
    throw new HvError('invalid-argument', `a percentile must be from 0 to 100, got ${p}`, { p });
  }
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const a = sorted[lo] ?? Number.NaN;
  const b = sorted[hi] ?? Number.NaN;
  return a + (b - a) * (rank - lo);
}

/** Totals over a set of period records (normally one VM's), with the derived rates. */
export interface WindowSummary {
  periods: number;
  /** Wall time covered by the periods. */
  spanMs: number;
  usedMs: number;
  grantedMs: number;
  readyMs: number;
  idleMs: number;
  pausedMs: number;
  instructions: number;
  /** Achieved % of one pCPU. */
  sharePct: number;
  /** Average configured share (entitlement) over the span. */
  entitlementPct: number;
  /** % of the wall time spent runnable but waiting for a pCPU. */
  readyPct: number;
  /** % of the wall time spent halted (blocked). */
  idlePct: number;
  /** Million instructions per second of wall time. */
  mips: number;
  /** Million instructions per second while it ran (guest speed). */
  mipsWhileRunning: number;
}

/** One VM's totals over a rolling window. */
export interface WindowStats extends WindowSummary {
  vmId: VmId;
}

/** Sums period records and derives share, ready %, idle % and MIPS (all zero for no records). */
export function summarize(records: readonly PeriodRecord[]): WindowSummary {
  const t = { spanMs: 0, usedMs: 0, grantedMs: 0, readyMs: 0, idleMs: 0, pausedMs: 0, instructions: 0 };
  let entitledMs = 0;
  for (const r of records) {
    t.spanMs += r.periodMs;
    t.usedMs += r.usedMs;
    t.grantedMs += r.grantedMs;
    t.readyMs += r.readyMs;
    t.idleMs += r.idleMs;
    t.pausedMs += r.pausedMs;
    t.instructions += r.instructions;
    entitledMs += (r.entitlementPct * r.periodMs) / 100;
  }
  return {
    periods: records.length,
    ...t,
    sharePct: sharePct(t.usedMs, t.spanMs),
    entitlementPct: sharePct(entitledMs, t.spanMs),
    readyPct: sharePct(t.readyMs, t.spanMs),
    idlePct: sharePct(t.idleMs, t.spanMs),
    mips: mips(t.instructions, t.spanMs),
    mipsWhileRunning: mips(t.instructions, t.usedMs),
  };
}

/** Aggregates PeriodRecords per VM over the last `windowMs` of record time. */
export class RollingWindow {
  private readonly byVm = new Map<VmId, PeriodRecord[]>();
  private latestEndMs = Number.NEGATIVE_INFINITY;

  /** Keeps records whose period ended within `windowMs` of the newest one. */
  constructor(readonly windowMs: number) {
    if (!Number.isFinite(windowMs) || windowMs <= 0) {
      throw new HvError('invalid-argument', `a rolling window must be a positive number of ms, got ${windowMs}`, { windowMs });
    }
  }

  /** Adds one or more records and drops those that fell out of the window. */
  add(records: PeriodRecord | readonly PeriodRecord[]): void {
    const list: readonly PeriodRecord[] = Array.isArray(records) ? records : [records as PeriodRecord];
    for (const r of list) {
      const mine = this.byVm.get(r.vmId) ?? [];
      mine.push(r);
      this.byVm.set(r.vmId, mine);
      this.latestEndMs = Math.max(this.latestEndMs, r.startMs + r.periodMs);
    }
    this.prune();
  }

  /** VM ids with records in the window, in the order first seen. */
  vmIds(): VmId[] {
    return [...this.byVm.keys()];
  }

  /** Window totals of one VM, or undefined if it has no record in the window. */
  stats(vmId: VmId): WindowStats | undefined {
    const list = this.byVm.get(vmId);
    return list && list.length > 0 ? { vmId, ...summarize(list) } : undefined;
  }

  /** Window totals of every VM. */
  all(): WindowStats[] {
    return this.vmIds().flatMap((id) => this.stats(id) ?? []);
  }

  /** Forgets one VM (e.g. destroyed). */
  forget(vmId: VmId): void {
    this.byVm.delete(vmId);
  }

  /** Forgets everything. */
  clear(): void {
    this.byVm.clear();
    this.latestEndMs = Number.NEGATIVE_INFINITY;
  }

  private prune(): void {
    const cutoff = this.latestEndMs - this.windowMs;
    for (const [id, list] of this.byVm) {
      const kept = list.filter((r) => r.startMs + r.periodMs > cutoff);
      if (kept.length === 0) this.byVm.delete(id);
      else this.byVm.set(id, kept);
    }
  }
}
