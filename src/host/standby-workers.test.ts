import { describe, expect, it } from 'vitest';
import type { PrepareSpec } from '../protocol/guest-api.ts';
import { StandbyWorkers } from './standby-workers.ts';
import type { HostTimers } from './timers.ts';
import type { GuestWorker } from './worker-port.ts';

/** Workers that record prepare calls and can be made to fail. */
function fakeWorkers() {
  const spawned: { worker: GuestWorker; prepared: PrepareSpec[]; terminated: boolean; fail: (reason: string) => void }[] = [];
  const factory = (): GuestWorker => {
    const failures: ((reason: string) => void)[] = [];
    const entry = {
      prepared: [] as PrepareSpec[],
      terminated: false,
      fail: (reason: string) => failures.forEach((l) => l(reason)),
      worker: {
        api: { prepare: (spec: PrepareSpec) => (entry.prepared.push(spec), Promise.resolve()) } as unknown as GuestWorker['api'],
        onFailure: (l: (reason: string) => void) => void failures.push(l),
        terminate: async () => {
          entry.terminated = true;
        },
      },
    };
    spawned.push(entry);
    return entry.worker;
  };
  return { spawned, factory };
}

/** Timers that run only when told to. */
function manualTimers() {
  let pending: { fn: () => void; id: number }[] = [];
  let next = 1;
  const timers: HostTimers = {
    now: () => 0,
    setTimeout: (fn) => {
      pending.push({ fn, id: next });
      return next++;
    },
    clearTimeout: (id) => {
      pending = pending.filter((p) => p.id !== id);
    },
  };
  const runAll = () => {
    const due = pending;
    pending = [];
    due.forEach((p) => p.fn());
  };
  return { timers, runAll, pendingCount: () => pending.length };
}

const spec: PrepareSpec = { wasm: { url: 'file:///v86.wasm' }, files: [] };

describe('StandbyWorkers', () => {
  it('spawns and prepares its workers up front, hands them out first, then spawns on demand', () => {
    const { spawned, factory } = fakeWorkers();
    const { timers } = manualTimers();
    const pool = new StandbyWorkers(factory, spec, 2, timers);
    expect(spawned).toHaveLength(2);
    expect(spawned.map((s) => s.prepared)).toEqual([[spec], [spec]]);
    expect(pool.factory()).toBe(spawned[0]!.worker);
    expect(pool.factory()).toBe(spawned[1]!.worker);
    const third = pool.factory();
    expect(third).toBe(spawned[2]!.worker);
    expect(spawned[2]!.prepared).toEqual([]); // spawned for a boot, not prepared
    expect(pool.taken).toEqual({ warm: 2, cold: 1 });
  });

  it('refills once starts have paused, not while they are under way', () => {
    const { spawned, factory } = fakeWorkers();
    const { timers, runAll, pendingCount } = manualTimers();
    const pool = new StandbyWorkers(factory, spec, 2, timers);
    pool.take();
    pool.take();
    expect(spawned).toHaveLength(2);
    expect(pendingCount()).toBe(1); // one debounced refill
    runAll();
    expect(pool.count).toBe(2);
    expect(spawned).toHaveLength(4);
  });

  it('waits for the host to be quiet (no guest booting) before it refills', () => {
    const { spawned, factory } = fakeWorkers();
    const { timers, runAll, pendingCount } = manualTimers();
    let booting = 2;
    const pool = new StandbyWorkers(factory, spec, 1, timers, () => booting === 0);
    pool.take();
    runAll();
    runAll();
    expect(spawned).toHaveLength(1); // still booting: no replacement, the check comes again
    expect(pendingCount()).toBe(1);
    booting = 0;
    runAll();
    expect(spawned).toHaveLength(2);
    expect(pool.count).toBe(1);
    expect(pendingCount()).toBe(0);
  });

  it('whenReady refills at once and waits for every prepare', async () => {
    const { spawned, factory } = fakeWorkers();
    const { timers, pendingCount } = manualTimers();
    const pool = new StandbyWorkers(factory, spec, 2, timers);
    pool.take();
    expect(pendingCount()).toBe(1);
    await pool.whenReady();
    expect(pendingCount()).toBe(0);
    expect(pool.count).toBe(2);
    expect(spawned).toHaveLength(3);
    expect(spawned[2]!.prepared).toEqual([spec]);
  });

  it('drops a standby worker that dies, and terminates the rest on dispose', async () => {
    const { spawned, factory } = fakeWorkers();
    const { timers, pendingCount } = manualTimers();
    const pool = new StandbyWorkers(factory, spec, 2, timers);
    spawned[0]!.fail('worker exited with code 1');
    expect(pool.count).toBe(1);
    expect(pool.take()).toBe(spawned[1]!.worker);
    await pool.dispose();
    expect(pendingCount()).toBe(0);
    expect(spawned[1]!.terminated).toBe(false); // handed out: its guest owns it
    const after = pool.take(); // still works, on demand
    expect(after).toBe(spawned[2]!.worker);
    expect(pool.count).toBe(0);
  });

  it('terminates the workers still on standby', async () => {
    const { spawned, factory } = fakeWorkers();
    const pool = new StandbyWorkers(factory, spec, 3, manualTimers().timers);
    pool.take();
    await pool.dispose();
    expect(spawned.map((s) => s.terminated)).toEqual([false, true, true]);
  });
});
