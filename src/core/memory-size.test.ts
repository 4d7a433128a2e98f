import { describe, expect, it } from 'vitest';
import { HvError } from './errors.ts';
import { initrdMemoryLimits, MAX_GUEST_MEMORY_MIB, minMemoryMiBForInitrd, validateMemoryMiB } from './memory-size.ts';

const LIMITS = { minMiB: 70, maxMiB: MAX_GUEST_MEMORY_MIB, why: 'because of the initrd' };
const MiB = 1024 * 1024;

function message(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(HvError);
    expect((e as HvError).code).toBe('invalid-argument');
    return (e as HvError).message;
  }
  throw new Error('expected an HvError');
}

describe('validateMemoryMiB', () => {
  it.each([
    [128, 128],
    ['128', 128],
    [' 256 ', 256],
    ['512 MiB', 512],
    ['512mib', 512],
    ['70.0', 70],
    [2048, 2048],
  ])('accepts %j as %d MiB', (value, expected) => {
    expect(validateMemoryMiB(value, LIMITS)).toBe(expected);
  });

  it.each([
    ['abc', 'memory size "abc" is not a number of MiB'],
    ['1G', 'memory size "1G" is not a number of MiB'],
    ['0x80', 'memory size "0x80" is not a number of MiB'],
    ['', 'memory size "" is not a number of MiB'],
    [null, 'memory size null is not a number of MiB'],
    [Number.NaN, 'memory size NaN is not a number of MiB'],
    [Number.POSITIVE_INFINITY, 'memory size Infinity is not a number of MiB'],
    [{}, 'memory size a value of type object is not a number of MiB'],
    [128.5, 'memory size 128.5 MiB is not a whole number of MiB'],
    ['99.25', 'memory size 99.25 MiB is not a whole number of MiB'],
    [64, 'memory size 64 MiB is below the minimum of 70 MiB: because of the initrd'],
    ['-1', 'memory size -1 MiB is below the minimum of 70 MiB: because of the initrd'],
    [4096, 'memory size 4096 MiB is above the maximum of 2048 MiB: browsers limit a WebAssembly memory to 4 GiB (some to 2 GiB), and v86 keeps guest RAM, video memory and its own tables in that one memory'],
  ])('refuses %j', (value, expected) => {
    expect(message(() => validateMemoryMiB(value, LIMITS))).toBe(expected);
  });

  it('omits the reason when none is given and uses a custom maximum reason', () => {
    expect(message(() => validateMemoryMiB(8, { minMiB: 16, maxMiB: 32 }))).toBe('memory size 8 MiB is below the minimum of 16 MiB');
    expect(message(() => validateMemoryMiB(64, { minMiB: 16, maxMiB: 32, maxWhy: 'the lab says so' }))).toBe(
      'memory size 64 MiB is above the maximum of 32 MiB: the lab says so',
    );
  });
});

describe('minMemoryMiBForInitrd', () => {
  it.each([
    [0, 66],
    [1, 67],
    [MiB, 67],
    [MiB + 1, 68],
    [3.5 * MiB, 70],
  ])('%d bytes -> %d MiB', (bytes, expected) => {
    expect(minMemoryMiBForInitrd(bytes)).toBe(expected);
  });

  it('refuses a negative size', () => {
    expect(message(() => minMemoryMiBForInitrd(-1))).toBe('initrd size must be a non-negative number of bytes, got -1');
  });

  it('explains the floor with the numbers', () => {
    const limits = initrdMemoryLimits(3.5 * MiB);
    expect(limits.minMiB).toBe(70);
    expect(message(() => validateMemoryMiB(64, limits))).toBe(
      'memory size 64 MiB is below the minimum of 70 MiB: a guest booted from bzImage + initrd needs at least 64 MiB + the initrd size + 2 MiB for the kernel, here 70 MiB, because v86 places the initrd at the 64 MiB boundary',
    );
  });
});
