// The period a grant is sized for: the current one, or, for a successor
// queued to start at the current period's end, the next one as far as it is
// known (its settings, and each VM's credit, cap budget and reservation once
// the current period is over).
import { entitlements } from './entitlement.ts';
import type { SchedulerConfig } from './scheduler-types.ts';
import * as V from './scheduler-vm.ts';

export interface Frame {
  periodIndex: number;
  periodEnd: number;
  sliceMs: number;
  minGrantMs: number;
  /** The VM as it will stand in this period once it has used aheadMs more of the current one. */
  entry(vm: V.VmEntry, aheadMs: number): V.VmEntry;
}

/** The current period (index, end) under config cfg. */
export function currentFrame(cfg: SchedulerConfig, periodIndex: number, periodEnd: number): Frame {
  return { periodIndex, periodEnd, sliceMs: cfg.sliceMs, minGrantMs: cfg.minGrantMs, entry: (vm, aheadMs) => (aheadMs > 0 ? V.afterUse(vm, aheadMs) : vm) };
}

/** The period after the current one (index, end), under config cfg, with its entitlements among vms. */
export function nextFrame(cfg: SchedulerConfig, periodIndex: number, periodEnd: number, vms: Iterable<V.VmEntry>): Frame {
  const active = [...vms].filter((vm) => vm.state !== 'paused');
  const shares = entitlements(active.map((vm) => vm.next ?? vm.res), cfg.pcpus * 100);
  const pct = new Map(active.map((vm, i) => [vm.id, shares[i] ?? 0]));
  return {
    periodIndex: periodIndex + 1,
    periodEnd: periodEnd + cfg.periodMs,
    sliceMs: cfg.sliceMs,
    minGrantMs: cfg.minGrantMs,
    entry: (vm, aheadMs) => V.atNextPeriod(vm, aheadMs, pct.get(vm.id) ?? 0, cfg.periodMs),
  };
}

/** How long a grant to vm (as it will stand at t) may be in frame; backedByCredit: it spends credit. */
export function grantLength(vm: V.VmEntry, t: number, backedByCredit: boolean, frame: Frame): number {
  let ms = Math.min(frame.sliceMs, V.capLeftMs(vm), frame.periodEnd - t);
  if (backedByCredit) {
    // Spend what is owed (reservation deficit or credit), but never less than
    // the shortest useful grant; the excess becomes debt.
    ms = Math.min(ms, Math.max(vm.creditMs, vm.reservationMs - vm.usedMs, frame.minGrantMs));
  }
  // Leave no rest too short to grant before the period end: it would stay
  // idle, and the turn-over would wait for the host instead of a hand-over.
  const rest = frame.periodEnd - t - ms;
  if (rest > 0 && rest < frame.minGrantMs && ms + rest <= V.capLeftMs(vm)) ms += rest;
  return ms;
}
