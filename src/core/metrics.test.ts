import { describe, expect, it } from 'vitest';
import { HvError } from './errors.ts';
import { jainIndex, mips, percentile, RollingWindow, sharePct, summarize } from './metrics.ts';
import { periodRecord as rec } from './period-record.test-helper.ts';

describe('sharePct / mips', () => {
  it.each([
    [50, 100, 50],
    [25, 200, 12.5],
    [10, 0, 0],
  ])('sharePct(%d, %d) = %d', (used, period, expected) => {
    expect(sharePct(used, period)).toBe(expected);
  });

  it.each([
    [350_000_000, 1000, 350],
    [35_000_000, 100, 350],
    [1_000, 0, 0],
  ])('mips(%d, %d ms) = %d', (instructions, ms, expected) => {
    expect(mips(instructions, ms)).toBe(expected);
  });
});

describe('jainIndex', () => {
  it.each([
    [[], 1],
    [[0, 0], 1],
    [[5], 1],
    [[1, 1, 1, 1], 1],
    [[1, 0, 0, 0], 0.25],
    [[1, 2], 0.9],
  ])('jainIndex(%j) = %d', (values, expected) => {
    expect(jainIndex(values)).toBeCloseTo(expected, 12);
  });
});

describe('percentile', () => {
  it.each([
    [[3, 1, 2], 50, 2],
    [[1, 2, 3, 4], 50, 2.5],
    [[1, 2, 3, 4], 0, 1],
    [[1, 2, 3, 4], 100, 4],
    [[10, 20], 90, 19],
    [[7], 99, 7],
  ])('percentile(%j, %d) = %d', (values, p, expected) => {
    expect(percentile(values, p)).toBeCloseTo(expected, 12);
  });

  it('is NaN for no values and refuses a bad p', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(HvError);
    expect(() => percentile([1], Number.NaN)).toThrow('a percentile must be from 0 to 100, got NaN');
  });

  it('does not reorder its input', () => {
    const values = [3, 1, 2];
    percentile(values, 50);
    expect(values).toEqual([3, 1, 2]);
  });
});

describe('RollingWindow', () => {
  it('sums per VM and derives rates', () => {
    const w = new RollingWindow(1000);
    w.add([
      rec('a', 0, { usedMs: 40, grantedMs: 50, readyMs: 10, idleMs: 50, instructions: 14_000_000 }),
      rec('b', 0, { usedMs: 60, entitlementPct: 60 }),
    ]);
    w.add(rec('a', 1, { usedMs: 60, grantedMs: 60, readyMs: 30, instructions: 21_000_000, entitlementPct: 30 }));
    expect(w.stats('a')).toEqual({
      vmId: 'a',
      periods: 2,
      spanMs: 200,
      usedMs: 100,
      grantedMs: 110,
      readyMs: 40,
      idleMs: 50,
      pausedMs: 0,
      instructions: 35_000_000,
      sharePct: 50,
      entitlementPct: 40,
      readyPct: 20,
      idlePct: 25,
      mips: 175,
      mipsWhileRunning: 350,
    });
    expect(w.all().map((s) => [s.vmId, s.sharePct])).toEqual([
      ['a', 50],
      ['b', 60],
    ]);
  });

  it('drops records older than the window', () => {
    const w = new RollingWindow(300);
    for (let i = 0; i < 10; i++) w.add(rec('a', i, { usedMs: i }));
    const s = w.stats('a');
    expect(s?.periods).toBe(3);
    expect(s?.usedMs).toBe(7 + 8 + 9);
  });

  it('forgets VMs that have no record left in the window', () => {
    const w = new RollingWindow(200);
    w.add(rec('gone', 0));
    w.add(rec('a', 5));
    expect(w.vmIds()).toEqual(['a']);
    expect(w.stats('gone')).toBeUndefined();
    w.forget('a');
    expect(w.all()).toEqual([]);
    w.add(rec('a', 6));
    w.clear();
    expect(w.vmIds()).toEqual([]);
  });

  it('refuses a non-positive window', () => {
    expect(() => new RollingWindow(0)).toThrow('a rolling window must be a positive number of ms, got 0');
  });
});

describe('summarize', () => {
  it('is all zeros for no records', () => {
    expect(summarize([])).toEqual({
      periods: 0,
      spanMs: 0,
      usedMs: 0,
      grantedMs: 0,
      readyMs: 0,
      idleMs: 0,
      pausedMs: 0,
      instructions: 0,
      sharePct: 0,
      entitlementPct: 0,
      readyPct: 0,
      idlePct: 0,
      mips: 0,
      mipsWhileRunning: 0,
    });
  });

  it('sums periods of different lengths by time, not by count', () => {
    const s = summarize([rec('a', 0, { usedMs: 50, periodMs: 100 }), rec('a', 1, { usedMs: 200, periodMs: 200, startMs: 100 })]);
    expect(s.sharePct).toBeCloseTo((100 * 250) / 300, 12);
  });
});
