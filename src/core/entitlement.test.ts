import { describe, expect, it } from 'vitest';
import { entitlements, type EntitlementInput } from './entitlement.ts';

const w = (weight: number, capPct: number | null = null, reservationPct: number | null = null): EntitlementInput => ({
  weight,
  capPct,
  reservationPct,
});

describe('entitlements', () => {
  it.each<[string, EntitlementInput[], number, number[]]>([
    ['no VMs', [], 100, []],
    ['one VM on one pCPU', [w(1000)], 100, [100]],
    ['one VM on two pCPUs: one vCPU at most', [w(1000)], 200, [100]],
    ['equal weights', [w(1000), w(1000)], 100, [50, 50]],
    ['weights 1:2:4', [w(1), w(2), w(4)], 100, [100 / 7, 200 / 7, 400 / 7]],
    ['four equal VMs on two pCPUs', [w(1), w(1), w(1), w(1)], 200, [50, 50, 50, 50]],
    ['three equal VMs on two pCPUs', [w(1), w(1), w(1)], 200, [200 / 3, 200 / 3, 200 / 3]],
    ['a capped VM gives its excess to the others', [w(1, 20), w(1), w(1)], 100, [20, 40, 40]],
    ['caps cascade', [w(4, 10), w(2, 30), w(1)], 100, [10, 30, 60]],
    ['everyone capped below capacity', [w(1, 30), w(1, 20)], 100, [30, 20]],
    ['a reservation is a floor', [w(1, null, 50), w(1), w(1), w(1)], 100, [50, 50 / 3, 50 / 3, 50 / 3]],
    ['a reservation below the fair share changes nothing', [w(1, null, 10), w(1)], 100, [50, 50]],
    ['a heavy weight still respects the others reservations', [w(100), w(1, null, 30)], 100, [70, 30]],
    ['reservations that fill the host', [w(1, null, 60), w(1, null, 40), w(5)], 100, [60, 40, 0]],
    ['cap equal to reservation pins the VM', [w(1, 25, 25), w(1)], 100, [25, 75]],
    ['zero capacity', [w(1), w(1)], 0, [0, 0]],
    ['unvalidated overcommitted reservations scale down', [w(1, null, 80), w(1, null, 120)], 100, [400 / 9, 500 / 9]],
  ])('%s', (_name, vms, capacity, expected) => {
    const got = entitlements(vms, capacity);
    expect(got).toHaveLength(expected.length);
    got.forEach((e, i) => expect(e).toBeCloseTo(expected[i] ?? Number.NaN, 9));
  });

  it.each([1, 2, 3, 4])('fills exactly the capacity of %d pCPU(s) while a VM is below its ceiling (random mixes)', (pcpus) => {
    let seed = 42 + pcpus;
    const rnd = (): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    for (let round = 0; round < 200; round++) {
      const n = 1 + Math.floor(rnd() * 7);
      let reserved = 0;
      const vms = Array.from({ length: n }, () => {
        const cap = rnd() < 0.4 ? 1 + Math.floor(rnd() * 100) : null;
        const room = Math.max(0, pcpus * 100 - reserved);
        const res = rnd() < 0.3 ? Math.min(cap ?? 100, Math.floor(rnd() * Math.min(room, 100))) : null;
        reserved += res ?? 0;
        return w(1 + Math.floor(rnd() * 5000), cap, res);
      });
      const got = entitlements(vms, pcpus * 100);
      const total = got.reduce((a, b) => a + b, 0);
      const ceilings = vms.map((vm) => Math.min(vm.capPct ?? 100, 100));
      expect(total).toBeCloseTo(Math.min(pcpus * 100, ceilings.reduce((a, b) => a + b, 0)), 6);
      got.forEach((e, i) => {
        expect(e).toBeGreaterThanOrEqual((vms[i]?.reservationPct ?? 0) - 1e-9);
        expect(e).toBeLessThanOrEqual((ceilings[i] ?? 0) + 1e-9);
      });
    }
  });
});
