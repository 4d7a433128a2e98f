// Per-VM scheduler state and the per-period budgets derived from it.
// All amounts are ms within the current accounting period.
import type { TimeBucket, VmMeta } from './accounting.ts';
import type { Grant } from './grant.ts';
import type { Candidate } from './ranking.ts';
import type { VmId, VmResources, VmSchedState, VmView } from './scheduler-types.ts';

/** Below this many ms a cap budget counts as spent: a grant that short is not worth a host round trip. */
export const TINY_MS = 0.01;

/** What the scheduler keeps per VM. */
export interface VmEntry {
  id: VmId;
  /** Insertion order, the last tie-breaker. */
  order: number;
  /** Resources in effect this period. */
  res: VmResources;
  /** Accepted change, applied at the next period start. */
  next: VmResources | null;
  state: VmSchedState;
  /** Up to when its wall time has been booked. */
  sinceMs: number;
  /** When it last became runnable (fair tie-breaking). */
  readySinceMs: number;
  grant: Grant | null;
  /** A grant queued to follow a running one on its pCPU (handed over by the workers). */
  queued: Grant | null;
  /** Grants ended by a pause whose report may still arrive and correct the estimate. */
  detached: Map<number, Grant>;
  entitlementPct: number;
  /** The entitlement part of this period's credit (so it can be recomputed). */
  entitledMs: number;
  /** Remaining credit; negative is debt (overruns) carried into the next period. */
  creditMs: number;
  /** Guest time charged to this period (caps, reservations, leftovers ordering). */
  usedMs: number;
  /** Part of usedMs that cost no credit (work-conserving leftovers). */
  freeUsedMs: number;
  /** Leftovers received in recent periods, halved every period (tier-3 fairness). */
  recentBonusMs: number;
  /** Cap budget this period: cap minus last period's overrun beyond its budget. */
  limitMs: number;
  reservationMs: number;
  /** Guest speed seen in its last report (instructions per ms), to estimate grants cut by a boundary. */
  instructionsPerMs: number;
  /** The pCPU of its last grant (null before the first). */
  lastPcpu: number | null;
}

/** A fresh entry for a VM added at `nowMs`. */
export function newVmEntry(id: VmId, order: number, res: VmResources, nowMs: number): VmEntry {
  return {
    id,
    order,
    res,
    next: null,
    state: 'runnable',
    sinceMs: nowMs,
    readySinceMs: nowMs,
    grant: null,
    queued: null,
    detached: new Map(),
    entitlementPct: 0,
    entitledMs: 0,
    creditMs: 0,
    usedMs: 0,
    freeUsedMs: 0,
    recentBonusMs: 0,
    limitMs: 0,
    reservationMs: 0,
    instructionsPerMs: 0,
    lastPcpu: null,
  };
}

/** Ceiling of a VM in % of one pCPU: its cap, and never more than its one vCPU. */
export function ceilingPct(res: VmResources): number {
  return Math.min(res.capPct ?? 100, 100);
}

/** Cap budget left this period. */
export function capLeftMs(vm: VmEntry): number {
  return vm.limitMs - vm.usedMs;
}

/** True when a runnable VM may be given a pCPU (its cap budget is not spent). */
export function isEligible(vm: VmEntry): boolean {
  return capLeftMs(vm) > TINY_MS;
}

/** True when the VM waits for a pCPU and may get one. */
export function isWaiting(vm: VmEntry): boolean {
  return vm.state === 'runnable' && vm.grant === null && isEligible(vm);
}

/** Starts a new period of `periodMs`: carries overrun debt, applies pending resources, resets use. */
export function rollPeriod(vm: VmEntry, periodMs: number): void {
  // Only overruns carry: positive credit is not hoarded. Both debts are bounded
  // to one period, so one pathological report (a throttled tab) cannot starve a VM for long.
  const creditDebt = Math.max(-periodMs, Math.min(0, vm.creditMs));
  const capDebt = Math.min(periodMs, Math.max(0, vm.usedMs - vm.limitMs));
  if (vm.next) {
    vm.res = vm.next;
    vm.next = null;
  }
  vm.creditMs = creditDebt;
  vm.entitledMs = 0;
  vm.entitlementPct = 0;
  vm.recentBonusMs = (vm.recentBonusMs + vm.freeUsedMs) / 2;
  vm.freeUsedMs = 0;
  vm.usedMs = 0;
  vm.limitMs = (ceilingPct(vm.res) * periodMs) / 100 - capDebt;
  vm.reservationMs = ((vm.res.reservationPct ?? 0) * periodMs) / 100;
}

/** The VM as it will stand once it has used `aheadMs` more this period (for ranking ahead of time). */
export function afterUse(vm: VmEntry, aheadMs: number): VmEntry {
  return { ...vm, creditMs: vm.creditMs - aheadMs, usedMs: vm.usedMs + aheadMs };
}

/** The VM as it will stand at the start of the next period, having used `aheadMs` more in this one, entitled to `pct`. */
export function atNextPeriod(vm: VmEntry, aheadMs: number, pct: number, periodMs: number): VmEntry {
  const next = afterUse(vm, aheadMs);
  rollPeriod(next, periodMs);
  entitle(next, pct, periodMs);
  return next;
}

/** Sets this period's entitlement, adjusting credit by the difference to what was given before. */
export function entitle(vm: VmEntry, pct: number, periodMs: number): void {
  const ms = (pct * periodMs) / 100;
  vm.creditMs += ms - vm.entitledMs;
  vm.entitledMs = ms;
  vm.entitlementPct = pct;
}

/** The settings copied into this period's record. */
export function metaOf(vm: VmEntry): VmMeta {
  return { entitlementPct: vm.entitlementPct, capPct: vm.res.capPct, reservationPct: vm.res.reservationPct, weight: vm.res.weight };
}

/** The ranking view of a waiting VM. */
export function candidateOf(vm: VmEntry): Candidate {
  return {
    vmId: vm.id,
    order: vm.order,
    weight: vm.res.weight,
    creditMs: vm.creditMs,
    entitledMs: vm.entitledMs,
    usedMs: vm.usedMs,
    recentBonusMs: vm.recentBonusMs,
    reservationMs: vm.reservationMs,
    readySinceMs: vm.readySinceMs,
  };
}

/** Where the VM's wall time goes while it stays in its current state. */
export function bucketOf(vm: VmEntry): TimeBucket {
  switch (vm.state) {
    case 'running':
      return 'running';
    case 'blocked':
      return 'idle';
    case 'paused':
      return 'paused';
    case 'runnable':
      return isEligible(vm) ? 'ready' : 'capped';
  }
}

/** The UI's view of a VM. */
export function vmView(vm: VmEntry): VmView {
  return {
    vmId: vm.id,
    state: vm.state,
    eligible: isEligible(vm),
    grantId: vm.grant?.id ?? null,
    entitlementPct: vm.entitlementPct,
    creditMs: vm.creditMs,
    usedMs: vm.usedMs,
    limitMs: vm.limitMs,
    reservationMs: vm.reservationMs,
    resources: { ...vm.res },
    pendingResources: vm.next ? { ...vm.next } : null,
  };
}
