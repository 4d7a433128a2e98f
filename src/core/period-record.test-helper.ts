// For tests: one VM's record of one 100 ms period, all zero unless overridden.
import type { PeriodRecord } from './scheduler-types.ts';

/** A record of vmId in period periodIndex (starting at periodIndex * 100 ms); `over` sets any field. */
export function periodRecord(vmId: string, periodIndex: number, over: Partial<PeriodRecord> = {}): PeriodRecord {
  return {
    vmId,
    periodIndex,
    startMs: periodIndex * 100,
    periodMs: 100,
    grantedMs: 0,
    usedMs: 0,
    unscheduledMs: 0,
    instructions: 0,
    runningMs: 0,
    readyMs: 0,
    cappedMs: 0,
    idleMs: 0,
    pausedMs: 0,
    entitlementPct: 50,
    capPct: null,
    reservationPct: null,
    weight: 1000,
    grants: 0,
    handedOver: 0,
    ...over,
  };
}
