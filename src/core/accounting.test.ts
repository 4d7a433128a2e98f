import { describe, expect, it } from 'vitest';
import { PeriodLedger } from './accounting.ts';

const META = { entitlementPct: 50, capPct: null, reservationPct: 10, weight: 1000 };

describe('PeriodLedger', () => {
  it('turns bookings into records', () => {
    const l = new PeriodLedger(3, 300, 100, 2);
    l.track('a', META);
    l.track('b', { ...META, capPct: 30 });
    l.addTime('a', 'running', 60);
    l.addTime('a', 'ready', 30);
    l.addTime('a', 'idle', 10);
    l.addGranted('a', 70, true);
    l.addGranted('a', -5, false);
    l.addUsed('a', 0, 40, 1000);
    l.addUsed('a', 1, 20, 500);
    l.addUsed('b', 1, 30, 10);
    l.addUsed('b', null, 0.5, 7);
    l.addTime('b', 'paused', 100);
    const { host, vms } = l.close();
    expect(vms).toEqual([
      expect.objectContaining({ vmId: 'a', periodIndex: 3, startMs: 300, periodMs: 100, grantedMs: 65, grants: 1, usedMs: 60, instructions: 1500, runningMs: 60, readyMs: 30, idleMs: 10, pausedMs: 0, cappedMs: 0 }),
      expect.objectContaining({ vmId: 'b', usedMs: 30.5, unscheduledMs: 0.5, instructions: 17, pausedMs: 100, capPct: 30 }),
    ]);
    expect(host).toEqual({
      periodIndex: 3,
      startMs: 300,
      periodMs: 100,
      pcpus: 2,
      busyMs: [40, 50],
      idleMs: [60, 50],
      byVm: [{ a: 40 }, { a: 20, b: 30 }],
      unscheduledMs: 0.5,
    });
  });

  it('ignores untracked VMs, clamps negatives and caps busy time at the period', () => {
    const l = new PeriodLedger(0, 0, 100, 1);
    l.addTime('ghost', 'ready', 5);
    l.addUsed('ghost', 0, 5, 5);
    l.track('a', META);
    l.addUsed('a', 0, 120, 0);
    l.track('b', META);
    l.addUsed('b', 0, -2, 0);
    const { host, vms } = l.close();
    expect(vms.map((v) => v.vmId)).toEqual(['a', 'b']);
    expect(vms[1]?.usedMs).toBe(0);
    expect(host.busyMs).toEqual([100]);
    expect(host.idleMs).toEqual([0]);
    expect(host.byVm).toEqual([{ a: 120, b: 0 }]);
  });

  it('grows the pCPU list for a grant on a pCPU that was removed', () => {
    const l = new PeriodLedger(0, 0, 100, 1);
    l.track('a', META);
    l.addUsed('a', 2, 10, 0);
    expect(l.close().host.byVm).toEqual([{}, {}, { a: 10 }]);
  });

  it('re-tracking updates the settings', () => {
    const l = new PeriodLedger(0, 0, 100, 1);
    l.track('a', META);
    l.addTime('a', 'idle', 5);
    l.track('a', { ...META, entitlementPct: 70 });
    expect(l.close().vms[0]).toMatchObject({ entitlementPct: 70, idleMs: 5 });
  });
});
