import { describe, expect, it } from 'vitest';
import type { ClosedPeriod } from '../../core/scheduler-types.ts';
import { periodRecord } from '../../core/period-record.test-helper.ts';
import { changePct, isWarm, mipsSamples, spreadPct } from './window-stats.ts';

function period(startMs: number, instructionsByVm: Record<string, number>): ClosedPeriod {
  const vms = Object.entries(instructionsByVm).map(([vmId, instructions]) => periodRecord(vmId, startMs / 100, { instructions, usedMs: 50 }));
  return { host: { startMs, periodMs: 100 } as ClosedPeriod['host'], vms };
}

describe('mipsSamples', () => {
  it('gives one MIPS value per second of periods', () => {
    // 10 periods of 100 ms per second; vm1 runs 5 M instructions per period = 50 MIPS, then 10 M = 100 MIPS.
    const periods = [...Array(20).keys()].map((i) => period(1000 + i * 100, { vm1: i < 10 ? 5e6 : 10e6, vm2: 1e6 }));
    expect(mipsSamples(periods, 'vm1')).toEqual([50, 100]);
    expect(mipsSamples(periods, 'vm2')).toEqual([10, 10]);
    expect(mipsSamples(periods, 'vm3')).toEqual([]);
    expect(mipsSamples([], 'vm1')).toEqual([]);
  });
});

describe('spreadPct and changePct', () => {
  it('spread is the sample standard deviation over the mean, in %', () => {
    expect(spreadPct([10, 10, 10])).toBe(0);
    expect(spreadPct([9, 11])).toBeCloseTo(14.14, 2);
    expect(spreadPct([5])).toBe(0);
    expect(spreadPct([0, 0])).toBe(0);
  });

  it('change is relative to before', () => {
    expect(changePct(100, 85)).toBe(-15);
    expect(changePct(50, 75)).toBe(50);
    expect(changePct(0, 5)).toBe(0);
  });
});

describe('isWarm', () => {
  it('is true once the speed stops rising', () => {
    expect(isWarm([3, 9, 16, 9, 16, 13])).toBe(false); // still rising: 12.7 after 9.3
    expect(isWarm([26, 46, 33, 99, 225, 196])).toBe(false);
    expect(isWarm([99, 225, 196, 134, 174, 172])).toBe(true);
    expect(isWarm([100, 100])).toBe(false);
    expect(isWarm([0, 0, 0, 0, 0, 0])).toBe(false);
  });

  it('mipsSamples can give the speed while running', () => {
    const periods = [...Array(10).keys()].map((i) => period(i * 100, { vm1: 5e6 }));
    expect(mipsSamples(periods, 'vm1', 1000, 'mipsWhileRunning')).toEqual([100]); // 50 M instructions in 500 ms used
  });
});
