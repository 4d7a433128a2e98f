// Chart data from the hypervisor's closed accounting periods. Pure functions:
// the dashboard calls them a few times a second with `history.last(n)` and
// hands the arrays to uPlot as is (x first, then one array per series).
import { mips, sharePct, summarize, type WindowSummary } from '../core/metrics.ts';
import type { ClosedPeriod, VmId } from '../core/scheduler-types.ts';

/** One guest's chart data: x is seconds relative to the newest period end (<= 0). */
export interface VmSeries {
  x: number[];
  /** Achieved share of one pCPU, % (null: the guest was not under the scheduler). */
  share: (number | null)[];
  /** The configured share (entitlement) the scheduler promised, %. */
  entitlement: (number | null)[];
  /** Runnable but waiting for a pCPU, % of the wall time. */
  ready: (number | null)[];
  /** Million guest instructions per second of wall time. */
  mips: (number | null)[];
  /** RAM reserved from the pool, MiB. */
  ramMiB: number[];
  /** Disk requests per second (reads and writes), and MB/s (10^6 bytes); null where it had no volume I/O record. */
  iops: (number | null)[];
  ioMBps: (number | null)[];
}

/** How each pCPU spent the recent periods, for stacked charts (x as in VmSeries). */
export interface HostSeries {
  x: number[];
  /** Period length, ms (the top of every stack). */
  periodMs: (number | null)[];
  /** Per pCPU, per VM in `vmIds` order: cumulative used ms (VM 0, VM 0+1, ...). */
  stacked: (number | null)[][][];
  /** Per VM: cumulative ready ms (runnable, waiting for a pCPU) over all pCPUs. */
  readyStacked: (number | null)[][];
  vmIds: VmId[];
}

const endOf = (p: ClosedPeriod): number => p.host.startMs + p.host.periodMs;

/** Periods that ended within `windowMs` of the newest one. */
export function lastWindow(periods: readonly ClosedPeriod[], windowMs: number): ClosedPeriod[] {
  const last = periods[periods.length - 1];
  if (!last) return [];
  const from = endOf(last) - windowMs;
  let i = periods.length;
  while (i > 0 && endOf(periods[i - 1]!) > from) i--;
  return periods.slice(i);
}

interface Acc {
  used: number;
  span: number;
  entitledMs: number;
  ready: number;
  instructions: number;
  ioOps: number | null;
  ioBytes: number;
}

/**
 * Per-VM series in buckets of `bucketMs` (periods are summed into a bucket, so
 * the lines are averages over the bucket, not single noisy periods).
 * `ramAt(vmId, ms)` gives the RAM a VM held at a host time.
 */
export function vmSeries(
  periods: readonly ClosedPeriod[],
  vmIds: readonly VmId[],
  bucketMs: number,
  ramAt: (vmId: VmId, atMs: number) => number,
): Record<VmId, VmSeries> {
  const last = periods[periods.length - 1];
  const latest = last ? endOf(last) : 0;
  const x: number[] = [];
  const ends: number[] = [];
  const accs = new Map<VmId, (Acc | null)[]>(vmIds.map((id) => [id, []]));
  let key = Number.NaN;
  for (const p of periods) {
    const end = endOf(p);
    const k = Math.ceil(end / bucketMs);
    if (k !== key) {
      key = k;
      x.push(0);
      ends.push(0);
      for (const list of accs.values()) list.push(null);
    }
    const b = x.length - 1;
    x[b] = (end - latest) / 1000;
    ends[b] = end;
    for (const r of p.vms) {
      const list = accs.get(r.vmId);
      if (!list) continue;
      const a = (list[b] ??= { used: 0, span: 0, entitledMs: 0, ready: 0, instructions: 0, ioOps: null, ioBytes: 0 });
      a.used += r.usedMs;
      a.span += r.periodMs;
      a.entitledMs += (r.entitlementPct * r.periodMs) / 100;
      a.ready += r.readyMs;
      a.instructions += r.instructions;
      if (r.io) {
        a.ioOps = (a.ioOps ?? 0) + r.io.readOps + r.io.writeOps;
        a.ioBytes += r.io.readBytes + r.io.writeBytes;
      }
    }
  }
  const out: Record<VmId, VmSeries> = {};
  for (const [id, list] of accs) {
    out[id] = {
      x,
      share: list.map((a) => (a ? sharePct(a.used, a.span) : null)),
      entitlement: list.map((a) => (a ? sharePct(a.entitledMs, a.span) : null)),
      ready: list.map((a) => (a ? sharePct(a.ready, a.span) : null)),
      mips: list.map((a) => (a ? mips(a.instructions, a.span) : null)),
      ramMiB: ends.map((t) => ramAt(id, t)),
      iops: list.map((a) => (a && a.ioOps !== null && a.span > 0 ? (a.ioOps * 1000) / a.span : null)),
      ioMBps: list.map((a) => (a && a.ioOps !== null && a.span > 0 ? a.ioBytes / 1000 / a.span : null)),
    };
  }
  return out;
}

/** Per-pCPU stacks of used ms by VM, and ready ms by VM, one point per period. */
export function hostSeries(periods: readonly ClosedPeriod[], vmIds: readonly VmId[], pcpus: number): HostSeries {
  const last = periods[periods.length - 1];
  const latest = last ? endOf(last) : 0;
  const x = periods.map((p) => (endOf(p) - latest) / 1000);
  const periodMs = periods.map((p) => p.host.periodMs);
  const stacked: (number | null)[][][] = [];
  for (let cpu = 0; cpu < pcpus; cpu++) {
    const perVm = vmIds.map(() => new Array<number | null>(periods.length).fill(null));
    periods.forEach((p, i) => {
      const byVm = p.host.byVm[cpu];
      if (!byVm) return; // the host had fewer pCPUs then
      let sum = 0;
      vmIds.forEach((id, v) => {
        sum += byVm[id] ?? 0;
        perVm[v]![i] = sum;
      });
    });
    stacked.push(perVm);
  }
  const readyStacked = vmIds.map(() => new Array<number | null>(periods.length).fill(0));
  periods.forEach((p, i) => {
    let sum = 0;
    vmIds.forEach((id, v) => {
      sum += p.vms.find((r) => r.vmId === id)?.readyMs ?? 0;
      readyStacked[v]![i] = sum;
    });
  });
  return { x, periodMs, stacked, readyStacked, vmIds: [...vmIds] };
}

/** Each VM's totals over the given periods (share, entitlement, ready, MIPS). */
export function windowSummaries(periods: readonly ClosedPeriod[], vmIds: readonly VmId[]): Record<VmId, WindowSummary | null> {
  const records = new Map<VmId, ClosedPeriod['vms']>(vmIds.map((id) => [id, []]));
  for (const p of periods) for (const r of p.vms) records.get(r.vmId)?.push(r);
  const out: Record<VmId, WindowSummary | null> = {};
  for (const [id, list] of records) out[id] = list.length > 0 ? summarize(list) : null;
  return out;
}

/** A step timeline of one value (e.g. RAM held): value at time t is the last change at or before t. */
export class StepTimeline {
  private readonly points: { at: number; value: number }[] = [];

  constructor(private readonly keepMs: number) {}

  set(at: number, value: number): void {
    const last = this.points[this.points.length - 1];
    if (last && last.value === value) return;
    this.points.push({ at, value });
    // Keep one point older than the window so the value at its start is known.
    while (this.points.length > 2 && this.points[1]!.at < at - this.keepMs) this.points.shift();
  }

  at(t: number): number {
    let value = 0;
    for (const p of this.points) {
      if (p.at > t) break;
      value = p.value;
    }
    return value;
  }
}
