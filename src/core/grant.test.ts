import { describe, expect, it } from 'vitest';
import { chargeFor, estimateUsedAt, newGrant, pcpuView, type Grant } from './grant.ts';

function grant(over: Partial<Grant>): Grant {
  return {
    id: 1,
    vmId: 'a',
    pcpu: 0,
    startMs: 100,
    ms: 10,
    chargedMs: 10,
    extended: false,
    contestedAtMs: null,
    preemptRequested: false,
    periodIndex: 0,
    accountedUsedMs: 0,
    accountedChargeMs: 0,
    accountedInstructions: 0,
    ...over,
  };
}

describe('chargeFor', () => {
  it.each<[string, Partial<Grant>, number, number]>([
    ['a normal grant is charged what was used', {}, 7, 7],
    ['an overrun of a normal grant is charged', {}, 12, 12],
    ['negative use charges nothing', {}, -1, 0],
    ['a bonus grant is free', { chargedMs: 0 }, 10, 0],
    ['only the overrun of a bonus grant is charged', { chargedMs: 0 }, 11.5, 1.5],
    ['an uncontested stretch is free', { ms: 90, chargedMs: 10, extended: true }, 90, 10],
    ['the overrun of a stretch is charged', { ms: 90, chargedMs: 10, extended: true }, 92, 12],
    ['a stretch is charged from contention on', { ms: 90, chargedMs: 10, extended: true, contestedAtMs: 125 }, 35, 20],
    ['contention inside the charged head frees nothing', { ms: 90, chargedMs: 10, extended: true, contestedAtMs: 105 }, 20, 20],
    ['use that stopped before contention was free', { ms: 90, chargedMs: 10, extended: true, contestedAtMs: 150 }, 30, 10],
    ['a stretched bonus grant is free', { ms: 90, chargedMs: 0, extended: true, contestedAtMs: 120 }, 60, 0],
  ])('%s', (_name, over, used, expected) => {
    expect(chargeFor(grant(over), used)).toBeCloseTo(expected, 9);
  });
});

describe('estimateUsedAt', () => {
  it.each([
    [90, 0],
    [100, 0],
    [104, 4],
    [110, 10],
    [130, 10],
  ])('at %d ms -> %d ms', (at, expected) => {
    expect(estimateUsedAt(grant({}), at)).toBe(expected);
  });
});

describe('newGrant / pcpuView', () => {
  it('starts unstretched with nothing booked, and shows on its pCPU', () => {
    const g = newGrant({ id: 7, vmId: 'a', pcpu: 1, startMs: 5, ms: 10, chargedMs: 10, periodIndex: 2 });
    expect(g).toMatchObject({ extended: false, contestedAtMs: null, preemptRequested: false, accountedUsedMs: 0, accountedChargeMs: 0 });
    expect(pcpuView(g, null)).toEqual({ pcpu: 1, vmId: 'a', grantId: 7, startMs: 5, ms: 10, extended: false, preemptRequested: false, nextVmId: null });
    expect(pcpuView(g, { ...g, vmId: 'b' }).nextVmId).toBe('b');
  });
});
