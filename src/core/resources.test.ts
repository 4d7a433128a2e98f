import { describe, expect, it } from 'vitest';
import { checkReservations, checkTime, checkUsage, normalizeConfig, normalizeResources } from './resources.ts';
import { caught as refusal } from './caught.test-helper.ts';


describe('normalizeConfig', () => {
  it('fills defaults', () => {
    expect(normalizeConfig({ pcpus: 2 })).toEqual({ pcpus: 2, periodMs: 100, sliceMs: 10, minGrantMs: 1, handOff: true });
  });

  it('merges a change into a base and ignores undefined fields', () => {
    const base = normalizeConfig({ pcpus: 2, periodMs: 200 });
    expect(normalizeConfig({ sliceMs: 20, periodMs: undefined }, base)).toEqual({ pcpus: 2, periodMs: 200, sliceMs: 20, minGrantMs: 1, handOff: true });
  });

  it.each([
    [{ pcpus: 0 }, "the host's pCPU count must be a whole number from 1 to 256, got 0"],
    [{ pcpus: 1.5 }, "the host's pCPU count must be a whole number from 1 to 256, got 1.5"],
    [{}, "the host's pCPU count must be a whole number from 1 to 256, got undefined"],
    [{ pcpus: 1, periodMs: 5 }, 'the accounting period must be from 10 to 10000 ms, got 5'],
    [{ pcpus: 1, sliceMs: 0.5 }, 'the time slice must be from 1 ms to the period (100 ms), got 0.5'],
    [{ pcpus: 1, sliceMs: 200 }, 'the time slice must be from 1 ms to the period (100 ms), got 200'],
    [{ pcpus: 1, minGrantMs: 20 }, 'the shortest grant must be from 0.1 ms to the slice (10 ms), got 20'],
    [{ pcpus: 1, handOff: 'yes' as unknown as boolean }, 'the hand-over switch must be true or false, got "yes"'],
  ])('refuses %j', (input, message) => {
    const e = refusal(() => normalizeConfig(input));
    expect(e.code).toBe('invalid-argument');
    expect(e.message).toBe(message);
  });
});

describe('normalizeResources', () => {
  it('fills defaults', () => {
    expect(normalizeResources(undefined, 'a')).toEqual({ weight: 1000, capPct: null, reservationPct: null });
  });

  it('merges a change and can clear a cap with null', () => {
    const base = normalizeResources({ weight: 5, capPct: 50 }, 'a');
    expect(normalizeResources({ reservationPct: 10 }, 'a', base)).toEqual({ weight: 5, capPct: 50, reservationPct: 10 });
    expect(normalizeResources({ capPct: null }, 'a', base)).toEqual({ weight: 5, capPct: null, reservationPct: null });
  });

  it.each([
    [{ weight: 0 }, 'weight of web1 must be a whole number from 1 to 100000, got 0'],
    [{ weight: 1.5 }, 'weight of web1 must be a whole number from 1 to 100000, got 1.5'],
    [{ weight: 100_001 }, 'weight of web1 must be a whole number from 1 to 100000, got 100001'],
    [{ capPct: 0 }, 'cap of web1 must be from 1 to 100 % of one pCPU, got 0 %'],
    [{ capPct: 150 }, 'cap of web1 must be from 1 to 100 % of one pCPU, got 150 %'],
    [{ capPct: Number.NaN }, 'cap of web1 must be from 1 to 100 % of one pCPU, got NaN'],
    [{ reservationPct: -5 }, 'reservation of web1 must be from 0 to 100 % of one pCPU, got -5 %'],
    [{ capPct: 20, reservationPct: 50 }, 'cap of web1 (20 %) is below its reservation (50 %): a VM cannot be guaranteed more than it may use'],
  ])('refuses %j', (input, message) => {
    const e = refusal(() => normalizeResources(input, 'web1'));
    expect(e.code).toBe('invalid-argument');
    expect(e.message).toBe(message);
  });
});

describe('checkReservations', () => {
  it.each([
    [[], 1],
    [[{ vmId: 'a', reservationPct: 100 }], 1],
    [[{ vmId: 'a', reservationPct: 100 / 3 }, { vmId: 'b', reservationPct: 100 / 3 }, { vmId: 'c', reservationPct: 100 / 3 }], 1],
    [[{ vmId: 'a', reservationPct: 100 }, { vmId: 'b', reservationPct: 100 }, { vmId: 'c', reservationPct: null }], 2],
  ])('accepts %j on %d pCPU(s)', (vms, pcpus) => {
    expect(() => checkReservations(vms, pcpus)).not.toThrow();
  });

  it('refuses an overcommit, naming the VM and the numbers', () => {
    const vms = [
      { vmId: 'db', reservationPct: 100 },
      { vmId: 'web2', reservationPct: 100 },
      { vmId: 'web1', reservationPct: 60 },
    ];
    const e = refusal(() => checkReservations(vms, 2, 'web1'));
    expect(e.code).toBe('reservation-overcommit');
    expect(e.message).toBe(
      "cannot reserve 60 % of one pCPU for web1: reservations would total 260 % but the host's 2 pCPUs provide 200 % (others: db 100 %, web2 100 %)",
    );
    expect(e.details).toMatchObject({ totalPct: 260, capacityPct: 200, pcpus: 2 });
  });

  it('refuses an overcommit without a changed VM (fewer pCPUs)', () => {
    const e = refusal(() => checkReservations([{ vmId: 'a', reservationPct: 80 }, { vmId: 'b', reservationPct: 80 }], 1));
    expect(e.message).toBe("reservations would total 160 % but the host's 1 pCPU provides 100 % (a 80 %, b 80 %)");
  });
});

describe('checkTime / checkUsage', () => {
  it.each([0, -5, 1e12])('accepts time %d', (t) => {
    expect(checkTime(t)).toBe(t);
  });

  it.each([Number.NaN, Number.POSITIVE_INFINITY, '5' as unknown as number])('refuses time %j', (t) => {
    expect(refusal(() => checkTime(t)).code).toBe('invalid-argument');
  });

  it.each([
    [{ usedMs: -1, instructions: 0 }, 'a slice report needs non-negative finite usedMs and instructions, got -1 ms and 0'],
    [{ usedMs: 1, instructions: Number.NaN }, 'a slice report needs non-negative finite usedMs and instructions, got 1 ms and NaN'],
  ])('refuses report %j', (report, message) => {
    expect(refusal(() => checkUsage(report, 'slice report')).message).toBe(message);
  });

  it('accepts a zero report', () => {
    expect(() => checkUsage({ usedMs: 0, instructions: 0 }, 'usage report')).not.toThrow();
  });
});
