// The order in which waiting VMs get a free pCPU:
//   tier 1: below its reservation for this period (largest deficit first),
//   tier 2: has credit left (largest fraction of its credit still unspent
//           first; without caps or reservations credit is proportional to
//           weight, so this is "largest credit per weight" and interleaves
//           VMs in proportion to their weights),
//   tier 3: work-conserving leftovers (least used per weight first, counting
//           the leftovers it got in recent periods, so that the one slice
//           that does not divide evenly does not go to the same VM every period).
// Ties go to the VM that has waited longest, then to the VM added first.
import type { VmId } from './scheduler-types.ts';

/** What ranking needs to know about a waiting VM (ms within the current period). */
export interface Candidate {
  vmId: VmId;
  order: number;
  weight: number;
  creditMs: number;
  /** Credit this VM was entitled to this period (> 0 whenever creditMs > 0). */
  entitledMs: number;
  usedMs: number;
  /** Leftover time it got in recent periods (decaying), for tier-3 fairness. */
  recentBonusMs: number;
  reservationMs: number;
  readySinceMs: number;
}

/** Priority class: 1 reservation deficit, 2 credit left, 3 leftovers. */
export type Tier = 1 | 2 | 3;

// Amounts below this (ms) count as zero, so float dust neither grants nor ranks.
const EPS_MS = 1e-6;

/** Priority class of a waiting VM. */
export function tierOf(c: Candidate): Tier {
  if (c.reservationMs - c.usedMs > EPS_MS) return 1;
  if (c.creditMs > EPS_MS) return 2;
  return 3;
}

/** Sort comparator: negative when `a` should get a pCPU before `b`. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  const ta = tierOf(a);
  const tb = tierOf(b);
  if (ta !== tb) return ta - tb;
  let key = 0;
  if (ta === 1) key = b.reservationMs - b.usedMs - (a.reservationMs - a.usedMs);
  else if (ta === 2) key = b.creditMs / b.entitledMs - a.creditMs / a.entitledMs;
  else key = (a.usedMs + a.recentBonusMs) / a.weight - (b.usedMs + b.recentBonusMs) / b.weight;
  // Keys within float noise are ties, decided by waiting time.
  if (Math.abs(key) > 1e-9 * Math.max(1, Math.abs(keyScale(a, ta)), Math.abs(keyScale(b, tb)))) return key;
  if (a.readySinceMs !== b.readySinceMs) return a.readySinceMs - b.readySinceMs;
  return a.order - b.order;
}

function keyScale(c: Candidate, tier: Tier): number {
  if (tier === 1) return c.reservationMs;
  if (tier === 2) return c.creditMs / c.entitledMs;
  return (c.usedMs + c.recentBonusMs) / c.weight;
}

/**
 * How far `b` stands behind `a` (ranked before it, same tier) in ms of pCPU
 * time: how long `a` would run to fall to `b`'s place. Infinite across tiers.
 */
export function lagMs(a: Candidate, b: Candidate): number {
  const tier = tierOf(a);
  if (tier !== tierOf(b)) return Infinity;
  if (tier === 1) return a.reservationMs - a.usedMs - (b.reservationMs - b.usedMs);
  if (tier === 2) return (a.creditMs / a.entitledMs - b.creditMs / b.entitledMs) * a.entitledMs;
  return ((b.usedMs + b.recentBonusMs) / b.weight - (a.usedMs + a.recentBonusMs) / a.weight) * a.weight;
}

/** Waiting VMs, best first. */
export function rankCandidates(candidates: readonly Candidate[]): Candidate[] {
  return [...candidates].sort(compareCandidates);
}
