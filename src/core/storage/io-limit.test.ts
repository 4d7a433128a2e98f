import { describe, expect, it } from 'vitest';
import { IoPacer, divideIo, normalizeIoLimits } from './io-limit.ts';

describe('IoPacer', () => {
  it('spaces requests to the IOPS limit after a small burst', () => {
    const p = new IoPacer({ iops: 100, bytesPerSec: null }, 50);
    // At t=0 after idling: 50 ms of requests (5) complete at once, then one every 10 ms.
    const waits = Array.from({ length: 20 }, () => p.admit(4096, 0));
    expect(waits.slice(0, 5)).toEqual([0, 0, 0, 0, 0]);
    expect(waits[5]).toBeCloseTo(10, 6);
    expect(waits[19]).toBeCloseTo(150, 6);
  });

  it('holds a rate of requests arriving back to back', () => {
    const p = new IoPacer({ iops: 40, bytesPerSec: null });
    let t = 0;
    for (let i = 0; i < 400; i++) t += p.admit(4096, t);
    expect(400 / (t / 1000)).toBeGreaterThan(40 * 0.99);
    expect(400 / (t / 1000)).toBeLessThan(40 * 1.01);
  });

  it('limits bytes per second, each request taking its own time, and both limits at once', () => {
    const p = new IoPacer({ iops: null, bytesPerSec: 1_000_000 }, 0);
    let t = 0;
    for (let i = 0; i < 100; i++) t += p.admit(100_000, t);
    expect(t).toBeCloseTo(10_000, 6); // 10 MB at 1 MB/s
    const both = new IoPacer({ iops: 1000, bytesPerSec: 1_000_000 }, 0);
    expect(both.admit(1000, 0)).toBeCloseTo(1, 6);
    expect(both.admit(1000, 0)).toBeCloseTo(2, 6);
    expect(both.admit(500_000, 0)).toBeCloseTo(502, 6);
    expect(both.admit(1, 0)).toBeCloseTo(502.001, 6);
  });
});

describe('normalizeIoLimits', () => {
  it('keeps what is not changed and refuses bad values with the reason', () => {
    const l = normalizeIoLimits({ iops: 50 }, 'web');
    expect(l).toEqual({ iops: 50, bytesPerSec: null, shares: 1000 });
    expect(normalizeIoLimits({ shares: 2000 }, 'web', l)).toEqual({ iops: 50, bytesPerSec: null, shares: 2000 });
    expect(normalizeIoLimits({ iops: null }, 'web', l).iops).toBeNull();
    expect(() => normalizeIoLimits({ iops: 0 }, 'web')).toThrow(/web: disk iops limit 0 is not valid/);
    expect(() => normalizeIoLimits({ bytesPerSec: Number.NaN }, 'web')).toThrow(/bytesPerSec/);
    expect(() => normalizeIoLimits({ shares: 1.5 }, 'web')).toThrow(/shares 1.5 are not valid/);
  });
});

describe('divideIo', () => {
  it('divides by shares, max-min fair', () => {
    const r = divideIo(300, [
      { id: 'a', shares: 1000, iops: Infinity },
      { id: 'b', shares: 2000, iops: Infinity },
    ]);
    expect(r.get('a')).toBeCloseTo(100);
    expect(r.get('b')).toBeCloseTo(200);
    // A guest that asks for less than its share leaves the rest to the others.
    const s = divideIo(300, [
      { id: 'a', shares: 1000, iops: 30 },
      { id: 'b', shares: 1000, iops: Infinity },
      { id: 'c', shares: 1000, iops: Infinity },
    ]);
    expect(s.get('b')).toBeCloseTo(135);
    expect(s.get('c')).toBeCloseTo(135);
    expect(s.get('a')).toBeCloseTo(100);
  });
});
