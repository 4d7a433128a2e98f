// Credit that the time left in a period can still pay.
//
// Credit is a promise of pCPU time within the current period, and time passes
// that nobody is charged for (a hand-over between workers, a report on its
// way): late in a period the time left can fall short of the credit still
// owed. Left alone, the VM ranked last would lose all of the shortfall, and
// that is the heaviest (its slices are the smallest fractions of its credit,
// so it keeps the largest fraction for last). Trimming every runnable VM's
// remaining credit by one factor shares the shortfall by weight instead.
import { chargeFor, estimateUsedAt } from './grant.ts';
import { isEligible, type VmEntry } from './scheduler-vm.ts';

// Credit owed beyond the time left by less than this (ms) is float dust, not a shortfall.
const EPS_MS = 1e-6;

/** Trims runnable VMs' credit by one factor so that it fits pcpus x (periodEndMs - t); blocked and paused VMs keep theirs. */
export function fitCreditToTime(vms: Iterable<VmEntry>, t: number, periodEndMs: number, pcpus: number): void {
  const leftMs = Math.max(0, periodEndMs - t);
  const owing: { vm: VmEntry; owedMs: number }[] = [];
  let owedMs = 0;
  for (const vm of vms) {
    if ((vm.state !== 'runnable' && vm.state !== 'running') || !isEligible(vm)) continue;
    // A running grant's use so far is not charged yet.
    const g = vm.grant;
    const inFlight = g ? chargeFor(g, estimateUsedAt(g, t)) - g.accountedChargeMs : 0;
    const owed = Math.min(vm.creditMs - inFlight, leftMs); // one vCPU: never more than the time left
    if (owed <= 0) continue;
    owing.push({ vm, owedMs: owed });
    owedMs += owed;
  }
  const capacityMs = pcpus * leftMs;
  if (owedMs <= capacityMs + EPS_MS) return;
  const keep = capacityMs / owedMs;
  for (const { vm, owedMs: owed } of owing) vm.creditMs -= (1 - keep) * owed;
}
