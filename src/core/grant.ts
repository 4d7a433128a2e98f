// One grant of pCPU time and the rule for what it costs in credit.
//
// A grant has a charged head of `chargedMs` (the part backed by credit, 0 for
// a work-conserving bonus grant) and may be stretched to the end of the
// period when nobody else waits (`extended`). Time nobody else wanted is free:
// the stretch is not charged until another VM starts waiting
// (`contestedAtMs`). Use beyond the grant's length (an overrun) is always
// charged, so it comes back as debt in the next period.
import type { PcpuView, VmId } from './scheduler-types.ts';
import { TINY_MS } from './scheduler-vm.ts';

/** A pCPU grant as the scheduler tracks it (times in ms on the host clock). */
export interface Grant {
  id: number;
  vmId: VmId;
  pcpu: number;
  startMs: number;
  /** Length handed out. */
  ms: number;
  /** Leading part of the grant that is charged to credit (0: a free, work-conserving grant). */
  chargedMs: number;
  /** Stretched beyond the normal slice because nobody else waited. */
  extended: boolean;
  /** When another VM first waited for a pCPU during this extended grant; null while uncontested. */
  contestedAtMs: number | null;
  preemptRequested: boolean;
  /** Period in which the grant was issued. */
  periodIndex: number;
  /** Use already booked (estimates at period boundaries, or on pause). */
  accountedUsedMs: number;
  /** Charge already taken from credit for accountedUsedMs. */
  accountedChargeMs: number;
  /** Guest instructions already booked (estimated from the VM's recent speed). */
  accountedInstructions: number;
}

/** A fresh, unstretched grant with nothing booked yet. */
export function newGrant(init: Pick<Grant, 'id' | 'vmId' | 'pcpu' | 'startMs' | 'ms' | 'chargedMs' | 'periodIndex'>): Grant {
  return {
    ...init,
    extended: false,
    contestedAtMs: null,
    preemptRequested: false,
    accountedUsedMs: 0,
    accountedChargeMs: 0,
    accountedInstructions: 0,
  };
}

/** The UI's view of a grant on its pCPU. */
export function pcpuView(g: Grant, next: Grant | null): PcpuView {
  return {
    pcpu: g.pcpu,
    vmId: g.vmId,
    grantId: g.id,
    startMs: g.startMs,
    ms: g.ms,
    extended: g.extended,
    preemptRequested: g.preemptRequested,
    nextVmId: next?.vmId ?? null,
  };
}

/** Credit charged for `usedMs` of guest time under grant `g`. */
export function chargeFor(g: Grant, usedMs: number): number {
  const used = Math.max(0, usedMs);
  if (g.chargedMs <= 0) return Math.max(0, used - g.ms); // bonus grant: only the overrun costs
  // Free window: from the charged head to the moment someone else waited.
  const freeEnd = g.contestedAtMs === null ? g.ms : clamp(g.contestedAtMs - g.startMs, g.chargedMs, g.ms);
  const free = clamp(used, g.chargedMs, Math.max(g.chargedMs, freeEnd)) - g.chargedMs;
  return used - free;
}

/** Lengthens a grant to fullMs when nobody else waits for its pCPU (the excess is free until someone does). */
export function stretchTo(g: Grant, fullMs: number): void {
  if (fullMs > g.ms + TINY_MS) {
    g.ms = fullMs;
    g.extended = true;
  }
}

/** Guest time assumed used by `atMs` while no report has arrived: the wall time held, at most the grant. */
export function estimateUsedAt(g: Grant, atMs: number): number {
  return clamp(atMs - g.startMs, 0, g.ms);
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}
