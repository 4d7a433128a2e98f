// The last few minutes of closed accounting periods, kept by the hypervisor so
// that the dashboard, the tests and the experiment runner read the same numbers.
import type { ClosedPeriod, VmId } from '../core/scheduler-types.ts';
import { summarize, type WindowSummary } from '../core/metrics.ts';

export class PeriodHistory {
  private items: ClosedPeriod[] = [];

  /** maxPeriods: 3000 periods of 100 ms is five minutes. */
  constructor(private readonly maxPeriods = 3000) {}

  add(period: ClosedPeriod): void {
    this.items.push(period);
    if (this.items.length > this.maxPeriods * 1.25) this.items = this.items.slice(-this.maxPeriods);
  }

  /** Periods that started at or after fromMs and ended at or before toMs. */
  between(fromMs: number, toMs = Infinity): ClosedPeriod[] {
    return this.items.filter((p) => p.host.startMs >= fromMs && p.host.startMs + p.host.periodMs <= toMs);
  }

  /** The most recent n periods. */
  last(n: number): ClosedPeriod[] {
    return this.items.slice(-n);
  }

  /** One VM's totals over a window: share of one pCPU, MIPS, ready and idle time. */
  summary(vmId: VmId, fromMs: number, toMs = Infinity): WindowSummary {
    return summarize(this.between(fromMs, toMs).flatMap((p) => p.vms.filter((r) => r.vmId === vmId)));
  }
}
