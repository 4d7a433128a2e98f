import { describe, expect, it } from 'vitest';
import { BootAdmission, bootSlots } from './boot-admission.ts';

const settled = async <T>(p: Promise<T>): Promise<'pending' | 'resolved' | 'rejected'> => {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending';
  p.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  );
  await new Promise((r) => setTimeout(r, 0));
  return state;
};

describe('BootAdmission', () => {
  it('lets `slots` starts set up at once and the next ones in the order they came', async () => {
    const a = new BootAdmission(2);
    const r1 = await a.acquire();
    const r2 = await a.acquire();
    const order: number[] = [];
    const w3 = a.acquire().then((r) => (order.push(3), r));
    const w4 = a.acquire().then((r) => (order.push(4), r));
    expect(await settled(w3)).toBe('pending');
    expect([a.setting, a.waiting]).toEqual([2, 2]);
    r2();
    const r3 = await w3;
    expect(await settled(w4)).toBe('pending');
    r1();
    const r4 = await w4;
    expect(order).toEqual([3, 4]);
    r3();
    r4();
    expect([a.setting, a.waiting]).toEqual([0, 0]);
  });

  it('ends a turn once, however often its release is called', async () => {
    const a = new BootAdmission(1);
    const r1 = await a.acquire();
    const w2 = a.acquire();
    const w3 = a.acquire();
    r1();
    r1();
    await w2;
    expect(await settled(w3)).toBe('pending');
    expect([a.setting, a.waiting]).toEqual([1, 1]);
  });

  it('drops an aborted waiter from the line with the reason, and refuses an aborted signal at once', async () => {
    const a = new BootAdmission(1);
    const r1 = await a.acquire();
    const stop = new AbortController();
    const w2 = a.acquire(stop.signal);
    const w3 = a.acquire();
    stop.abort(new Error('stopped while waiting'));
    await expect(w2).rejects.toThrow('stopped while waiting');
    expect(a.waiting).toBe(1);
    r1();
    await w3; // the aborted one took no turn
    await expect(a.acquire(stop.signal)).rejects.toThrow('stopped while waiting');
  });

  it('keeps one core for the page and the running guests', () => {
    expect([1, 2, 4, 8].map(bootSlots)).toEqual([1, 1, 3, 7]);
    expect(() => new BootAdmission(0)).toThrow(/at least 1/);
  });
});
