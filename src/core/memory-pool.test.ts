import { describe, expect, it } from 'vitest';
import { MemoryPool } from './memory-pool.ts';
import { caught } from './caught.test-helper.ts';


describe('MemoryPool', () => {
  it('reserves and releases', () => {
    const pool = new MemoryPool({ totalMiB: 512 });
    pool.reserve('a', 128);
    pool.reserve('b', 256, 'db');
    expect(pool.reservedMiB).toBe(384);
    expect(pool.freeMiB).toBe(128);
    expect(pool.overcommitRatio).toBe(0.75);
    expect(pool.reservations()).toEqual([
      { vmId: 'a', name: 'a', mib: 128 },
      { vmId: 'b', name: 'db', mib: 256 },
    ]);
    pool.release('a');
    pool.release('a'); // idempotent
    expect(pool.reservedMiB).toBe(256);
    expect(pool.reservationOf('b')?.mib).toBe(256);
    expect(pool.reservationOf('a')).toBeUndefined();
  });

  it('refuses a reservation that does not fit, with the numbers', () => {
    const pool = new MemoryPool({ totalMiB: 512 });
    pool.reserve('x', 416);
    const e = caught(() => pool.reserve('web1', 128));
    expect(e.code).toBe('pool-exhausted');
    expect(e.message).toBe('cannot start web1: needs 128 MiB but only 96 MiB of the 512 MiB pool is free (416 MiB reserved)');
    expect(e.details).toMatchObject({ requestedMiB: 128, freeMiB: 96, totalMiB: 512, reservedMiB: 416 });
    expect(pool.reservedMiB).toBe(416);
  });

  it('fits exactly', () => {
    const pool = new MemoryPool({ totalMiB: 256 });
    pool.reserve('a', 128);
    expect(pool.wouldFit(128)).toBe(true);
    expect(pool.wouldFit(129)).toBe(false);
    pool.reserve('b', 128);
    expect(pool.freeMiB).toBe(0);
  });

  it('resizes an existing reservation by its growth only', () => {
    const pool = new MemoryPool({ totalMiB: 256 });
    pool.reserve('a', 200);
    pool.reserve('a', 256);
    expect(pool.reservedMiB).toBe(256);
    pool.reserve('a', 64);
    expect(pool.reservedMiB).toBe(64);
    pool.reserve('b', 192);
    const e = caught(() => pool.reserve('a', 100, 'web1', 'resize'));
    expect(e.message).toBe('cannot resize web1: needs 100 MiB but only 0 MiB of the 256 MiB pool is free (256 MiB reserved); it already holds 64 MiB');
  });

  it('allows overcommit and reports the ratio', () => {
    const pool = new MemoryPool({ totalMiB: 512, overcommit: true });
    pool.reserve('a', 512);
    pool.reserve('b', 128);
    expect(pool.wouldFit(4096)).toBe(true);
    expect(pool.overcommitRatio).toBe(1.25);
    expect(pool.overcommittedMiB).toBe(128);
    expect(pool.freeMiB).toBe(0);
  });

  it('turning overcommit off keeps reservations but refuses new ones', () => {
    const pool = new MemoryPool({ totalMiB: 512, overcommit: true });
    pool.reserve('a', 640);
    pool.setOvercommit(false);
    expect(pool.reservedMiB).toBe(640);
    const e = caught(() => pool.reserve('b', 1));
    expect(e.code).toBe('pool-exhausted');
    expect(e.message).toBe('cannot start b: needs 1 MiB but only 0 MiB of the 512 MiB pool is free (640 MiB reserved, overcommitted by 128 MiB)');
    // Shrinking an existing reservation is always allowed.
    pool.reserve('a', 100);
    expect(pool.reservedMiB).toBe(100);
  });

  it('setTotal keeps reservations that no longer fit', () => {
    const pool = new MemoryPool({ totalMiB: 512 });
    pool.reserve('a', 400);
    pool.setTotal(256);
    expect(pool.totalMiB).toBe(256);
    expect(pool.freeMiB).toBe(0);
    expect(pool.overcommittedMiB).toBe(144);
    expect(pool.wouldFit(1)).toBe(false);
  });

  it.each([
    ['a zero size', () => new MemoryPool({ totalMiB: 0 }), 'pool size must be a positive whole number of MiB, got 0 MiB'],
    ['a fractional reservation', () => new MemoryPool({ totalMiB: 64 }).reserve('a', 1.5), 'memory size of a must be a positive whole number of MiB, got 1.5 MiB'],
    ['a negative reservation', () => new MemoryPool({ totalMiB: 64 }).reserve('a', -4, 'web1'), 'memory size of web1 must be a positive whole number of MiB, got -4 MiB'],
    ['a string size', () => new MemoryPool({ totalMiB: '64' as unknown as number }), 'pool size must be a positive whole number of MiB, got "64"'],
    ['NaN in setTotal', () => new MemoryPool({ totalMiB: 64 }).setTotal(Number.NaN), 'pool size must be a positive whole number of MiB, got NaN MiB'],
    ['an empty id', () => new MemoryPool({ totalMiB: 64 }).reserve('', 1), 'a memory reservation needs a VM id, got ""'],
    ['wouldFit(0)', () => new MemoryPool({ totalMiB: 64 }).wouldFit(0), 'memory size must be a positive whole number of MiB, got 0 MiB'],
  ])('refuses %s', (_what, act, message) => {
    const e = caught(act);
    expect(e.code).toBe('invalid-argument');
    expect(e.message).toBe(message);
  });

  it('snapshots and restores, even an overcommitted pool', () => {
    const pool = new MemoryPool({ totalMiB: 256, overcommit: true });
    pool.reserve('a', 200, 'web1');
    pool.reserve('b', 100);
    pool.setOvercommit(false);
    const snap = JSON.parse(JSON.stringify(pool.snapshot())) as ReturnType<MemoryPool['snapshot']>;
    const back = MemoryPool.restore(snap);
    expect(back.snapshot()).toEqual(pool.snapshot());
    expect(back.overcommit).toBe(false);
    expect(back.reservedMiB).toBe(300);
  });
});
