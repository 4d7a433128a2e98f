import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.ts';

describe('FakeClock', () => {
  it('starts where told and advances', () => {
    const clock = new FakeClock(5);
    expect(clock.now()).toBe(5);
    expect(clock.advance(10)).toBe(15);
    expect(clock.set(20)).toBe(20);
    expect(clock.now()).toBe(20);
  });

  it('defaults to 0', () => {
    expect(new FakeClock().now()).toBe(0);
  });

  it.each([
    ['advance by a negative amount', (c: FakeClock) => c.advance(-1)],
    ['set into the past', (c: FakeClock) => c.set(9)],
    ['advance by NaN', (c: FakeClock) => c.advance(Number.NaN)],
    ['set to Infinity', (c: FakeClock) => c.set(Number.POSITIVE_INFINITY)],
  ])('refuses to %s', (_what, act) => {
    const clock = new FakeClock(10);
    expect(() => act(clock)).toThrow(RangeError);
    expect(clock.now()).toBe(10);
  });
});
