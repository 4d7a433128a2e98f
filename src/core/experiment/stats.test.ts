import { describe, expect, it } from 'vitest';
import { meanCi } from './stats.ts';

describe('meanCi', () => {
  it('gives the mean and the t-based 95 % interval', () => {
    // sd of 1,2,3 is 1; t(2) = 4.303; 4.303 / sqrt(3) = 2.484
    const r = meanCi([1, 2, 3]);
    expect(r.mean).toBe(2);
    expect(r.ci95).toBeCloseTo(2.484, 3);
    expect(meanCi([5, 5, 5, 5]).ci95).toBe(0);
  });
  it('has no interval for one value, and leaves out missing ones', () => {
    expect(meanCi([4])).toEqual({ n: 1, mean: 4, ci95: null });
    expect(meanCi([null, 4, Number.NaN]).n).toBe(1);
    expect(meanCi([]).n).toBe(0);
  });
  it('uses the normal quantile past 31 values', () => {
    const xs = Array.from({ length: 40 }, (_, i) => i % 2);
    const sd = Math.sqrt((40 * 0.25) / 39);
    expect(meanCi(xs).ci95).toBeCloseTo((1.96 * sd) / Math.sqrt(40), 6);
  });
});
