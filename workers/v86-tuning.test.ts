import { describe, expect, it } from 'vitest';
import { installFastMemoryOps, installFastYield, isZeroed, primeTsc, type V86MemoryOps, type V86Yield } from './v86-tuning.ts';

describe('isZeroed', () => {
  // A view that does not start at offset 0, like v86's mem8 inside its wasm memory.
  const buffer = new ArrayBuffer(64 * 1024);
  const mem8 = new Uint8Array(buffer, 4096 + 1, 16 * 1024);

  it('sees a single non-zero byte anywhere in the range, aligned or not', () => {
    for (const at of [0, 1, 2, 3, 4, 4095, 4096, 8191]) {
      mem8.fill(0);
      expect(isZeroed(mem8, 0, 8192)).toBe(true);
      mem8[at] = 7;
      expect(isZeroed(mem8, 0, 8192), `byte ${at}`).toBe(false);
      // Outside the range it does not count.
      expect(isZeroed(mem8, at + 1, 100)).toBe(true);
    }
  });

  it('handles short and unaligned ranges', () => {
    mem8.fill(0);
    mem8[10] = 1;
    expect(isZeroed(mem8, 9, 1)).toBe(true);
    expect(isZeroed(mem8, 9, 2)).toBe(false);
    expect(isZeroed(mem8, 11, 3)).toBe(true);
    expect(isZeroed(mem8, 5, 0)).toBe(true);
  });
});

describe('installFastMemoryOps', () => {
  it('replaces zero_memory and is_memory_zeroed with equivalents over the current mem8', () => {
    const cpu: V86MemoryOps = {
      mem8: new Uint8Array(16 * 4096).fill(0xaa),
      zero_memory: () => {
        throw new Error('original called');
      },
      is_memory_zeroed: () => {
        throw new Error('original called');
      },
    };
    installFastMemoryOps(cpu);
    expect(cpu.is_memory_zeroed(4096, 4096)).toBe(false);
    cpu.zero_memory(4096, 8192);
    expect(cpu.is_memory_zeroed(4096, 4096)).toBe(true);
    expect(cpu.is_memory_zeroed(8192, 4096)).toBe(true);
    expect(cpu.mem8[4095]).toBe(0xaa);
    expect(cpu.mem8[3 * 4096]).toBe(0xaa);
    // A new view (the wasm memory grew) is used from then on.
    cpu.mem8 = new Uint8Array(4096);
    expect(cpu.is_memory_zeroed(0, 4096)).toBe(true);
  });

  it('clears only below writtenBelow the first time, everything after', () => {
    const cpu: V86MemoryOps = { mem8: new Uint8Array(8 * 4096).fill(1), zero_memory: () => {}, is_memory_zeroed: () => true };
    installFastMemoryOps(cpu, 2 * 4096);
    cpu.zero_memory(0, 8 * 4096);
    expect(cpu.is_memory_zeroed(0, 2 * 4096)).toBe(true);
    expect(cpu.mem8[2 * 4096]).toBe(1);
    cpu.zero_memory(0, 8 * 4096);
    expect(cpu.is_memory_zeroed(0, 8 * 4096)).toBe(true);
  });
});

describe('installFastYield', () => {
  it('serves zero-delay ticks through its channel and leaves longer waits to v86', async () => {
    const called: number[] = [];
    const slow: [number, number][] = [];
    const v86: V86Yield = {
      yield: (ms, tick) => void slow.push([ms, tick]),
      yield_callback: (tick) => void called.push(tick),
    };
    const uninstall = installFastYield(v86);
    v86.yield(0, 1);
    v86.yield(0.5, 2);
    v86.yield(4, 3);
    expect(called).toEqual([]); // not synchronous: a task later
    await new Promise((r) => setTimeout(r, 20));
    expect(called).toEqual([1, 2]);
    expect(slow).toEqual([[4, 3]]);
    uninstall();
    v86.yield(0, 4);
    expect(slow).toEqual([[4, 3], [0, 4]]);
  });
});

describe('primeTsc', () => {
  it('reads the TSC once, and again once the clock has moved', () => {
    const readsAt: number[] = [];
    let t = 1000;
    let polls = 0;
    // A coarse clock: it moves one 0.1 ms step after 50 polls.
    const now = () => (++polls % 50 === 0 ? (t += 0.1) : t);
    const step = primeTsc({ read_tsc: () => (readsAt.push(t), 0n) }, now);
    expect(readsAt).toEqual([1000, 1000.1]);
    expect(step).toBeCloseTo(0.1, 9);
  });

  it('gives up without a second reading when the clock does not move', () => {
    let reads = 0;
    expect(primeTsc({ read_tsc: () => (reads++, 0n) }, () => 5, 1000)).toBe(0);
    expect(reads).toBe(1);
  });
});
