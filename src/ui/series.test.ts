import { describe, expect, it } from 'vitest';
import type { ClosedPeriod, PeriodRecord } from '../core/scheduler-types.ts';
import { periodRecord } from '../core/period-record.test-helper.ts';
import { hostSeries, lastWindow, StepTimeline, vmSeries, windowSummaries } from './series.ts';

/** A 100 ms period starting at startMs with these used ms per VM on pCPU 0. */
function period(index: number, used: Record<string, number>, extra: Partial<PeriodRecord> = {}): ClosedPeriod {
  const startMs = index * 100;
  const vms = Object.entries(used).map(([vmId, usedMs]) =>
    periodRecord(vmId, index, {
      grantedMs: usedMs,
      usedMs,
      instructions: usedMs * 1e6,
      runningMs: usedMs,
      readyMs: 100 - usedMs,
      grants: 1,
      ...extra,
    }),
  );
  const busy = Object.values(used).reduce((a, b) => a + b, 0);
  return { host: { periodIndex: index, startMs, periodMs: 100, pcpus: 1, busyMs: [busy], idleMs: [100 - busy], byVm: [used], unscheduledMs: 0 }, vms };
}

const periods = [period(0, { a: 30, b: 60 }), period(1, { a: 50, b: 40 }), period(2, { a: 70 }), period(3, { a: 10, b: 90 })];

describe('series', () => {
  it('keeps the periods that ended within the window', () => {
    expect(lastWindow(periods, 200).map((p) => p.host.periodIndex)).toEqual([2, 3]);
    expect(lastWindow([], 200)).toEqual([]);
  });

  it('sums periods into buckets: share, promise, ready, MIPS and RAM per VM', () => {
    const s = vmSeries(periods, ['a', 'b'], 200, (id) => (id === 'a' ? 128 : 0));
    // Periods end at 100, 200, 300, 400 ms: buckets (0,200] and (200,400]; x in s before the newest end.
    expect(s['a']!.x).toEqual([-0.2, 0]);
    expect(s['a']!.share).toEqual([40, 40]);
    expect(s['a']!.entitlement).toEqual([50, 50]);
    expect(s['a']!.ready).toEqual([60, 60]);
    expect(s['a']!.mips).toEqual([400, 400]); // 80e6 instructions in 200 ms
    expect(s['b']!.share).toEqual([50, 90]); // b has no record in period 2: its bucket spans 100 ms
    expect(s['a']!.ramMiB).toEqual([128, 128]);
    expect(vmSeries(periods, ['c'], 200, () => 0)['c']!.share).toEqual([null, null]);
  });

  it('stacks each pCPU by guest, cumulatively, and ready time across pCPUs', () => {
    const h = hostSeries(periods, ['a', 'b'], 1);
    expect(h.x).toEqual([-0.3, -0.2, -0.1, 0]);
    expect(h.stacked[0]).toEqual([
      [30, 50, 70, 10],
      [90, 90, 70, 100],
    ]);
    expect(h.readyStacked[1]).toEqual([70 + 40, 50 + 60, 30, 90 + 10]);
  });

  it('summarises each VM over a window, null without records', () => {
    const w = windowSummaries(periods, ['a', 'x']);
    expect(w['a']!.sharePct).toBeCloseTo(40);
    expect(w['x']).toBeNull();
  });

  it('reads a step timeline at any time', () => {
    const t = new StepTimeline(1000);
    t.set(100, 128);
    t.set(500, 0);
    expect([t.at(50), t.at(100), t.at(499), t.at(500)]).toEqual([0, 128, 128, 0]);
  });
});
