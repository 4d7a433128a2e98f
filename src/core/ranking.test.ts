import { describe, expect, it } from 'vitest';
import { rankCandidates, tierOf, type Candidate } from './ranking.ts';

function c(vmId: string, over: Partial<Candidate> = {}): Candidate {
  return { vmId, order: 0, weight: 1000, creditMs: 0, entitledMs: 50, usedMs: 0, recentBonusMs: 0, reservationMs: 0, readySinceMs: 0, ...over };
}

describe('tierOf', () => {
  it.each<[string, Partial<Candidate>, number]>([
    ['below its reservation', { reservationMs: 50, usedMs: 20, creditMs: 0 }, 1],
    ['reservation met, credit left', { reservationMs: 50, usedMs: 50, creditMs: 5 }, 2],
    ['credit left, no reservation', { creditMs: 0.5 }, 2],
    ['no credit', { creditMs: 0 }, 3],
    ['in debt', { creditMs: -3 }, 3],
  ])('%s -> tier %d', (_name, over, tier) => {
    expect(tierOf(c('x', over))).toBe(tier);
  });
});

describe('rankCandidates', () => {
  const ids = (list: Candidate[]): string[] => rankCandidates(list).map((x) => x.vmId);

  it.each<[string, Candidate[], string[]]>([
    ['reservation deficit beats credit', [c('a', { creditMs: 90 }), c('r', { reservationMs: 10 })], ['r', 'a']],
    ['larger deficit first', [c('r1', { reservationMs: 10 }), c('r2', { reservationMs: 30, usedMs: 5 })], ['r2', 'r1']],
    ['credit beats leftovers', [c('a', { creditMs: -1 }), c('b', { creditMs: 1 })], ['b', 'a']],
    ['credit per weight', [c('a', { creditMs: 10, entitledMs: 20, weight: 1 }), c('b', { creditMs: 15, entitledMs: 40, weight: 2 })], ['a', 'b']],
    ['a capped VM by the fraction of its credit left', [c('big', { creditMs: 40, entitledMs: 75, weight: 1000 }), c('capped', { creditMs: 20, entitledMs: 25, weight: 8000 })], ['capped', 'big']],
    ['leftovers by use per weight', [c('a', { usedMs: 30, weight: 1 }), c('b', { usedMs: 40, weight: 2 })], ['b', 'a']],
    ['leftovers count recent bonus', [c('a', { usedMs: 30, recentBonusMs: 10 }), c('b', { usedMs: 30, recentBonusMs: 5, readySinceMs: 9 })], ['b', 'a']],
    ['ties go to the longest waiter', [c('a', { creditMs: 5, readySinceMs: 20 }), c('b', { creditMs: 5, readySinceMs: 10 })], ['b', 'a']],
    ['near ties (float noise) go to the longest waiter', [c('a', { creditMs: 4.2857142857142865, entitledMs: 14.285714285714286, readySinceMs: 2 }), c('b', { creditMs: 8.571428571428571, entitledMs: 28.571428571428573, readySinceMs: 1 })], ['b', 'a']],
    ['then to the VM added first', [c('a', { order: 2 }), c('b', { order: 1 })], ['b', 'a']],
  ])('%s', (_name, list, expected) => {
    expect(ids(list)).toEqual(expected);
  });
});
