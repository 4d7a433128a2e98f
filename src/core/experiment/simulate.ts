// An experiment's run on the core simulator instead of real guests: the same
// scheduler on a simulated clock, with every busy workload (net too: a sender
// is CPU-bound) a guest that always has work and every idle one a guest that wakes briefly twice a second. What
// it measures is the scheduler's ideal (no emulator, no host noise), in the
// same rows as a real run. Pure and deterministic.
import { cpuSettings } from '../resources.ts';
import { busyGuest, idleGuest, SchedulerSim } from '../scheduler-sim.ts';
import type { ClosedPeriod } from '../scheduler-types.ts';
import type { ExperimentGuest, ExperimentHost } from '../lab/experiment-parse.ts';
import type { RunVm } from './results.ts';

/** True when a workload keeps its guest's CPU busy. */
export function isBusy(g: ExperimentGuest): boolean {
  const w = g.workload;
  return w.run === 'burn' || w.run === 'bench' || w.run === 'net' || (w.run === 'command' && w.busy !== false);
}

/** Run one sweep point's guests for warm-up + duration on the simulator; the periods and when measuring began. */
export function simulateRun(
  setup: { host: ExperimentHost; guests: ExperimentGuest[] },
  warmUpS: number,
  durationS: number,
  seed = 1,
): { periods: ClosedPeriod[]; fromMs: number; vms: RunVm[] } {
  const sim = new SchedulerSim({
    config: { pcpus: setup.host.pcpus, ...(setup.host.periodMs ? { periodMs: setup.host.periodMs } : {}), ...(setup.host.sliceMs ? { sliceMs: setup.host.sliceMs } : {}) },
    seed,
  });
  for (const g of setup.guests) {
    sim.addGuest(g.name, isBusy(g) ? busyGuest() : idleGuest(), cpuSettings(g));
  }
  const periodMs = sim.scheduler.view().config.periodMs;
  // Measuring starts at the first period boundary after the warm-up.
  const fromMs = Math.ceil((warmUpS * 1000) / periodMs) * periodMs;
  sim.runUntil(fromMs + durationS * 1000 + periodMs);
  return { periods: sim.periods, fromMs, vms: setup.guests.map((g) => ({ vmId: g.name, name: g.name })) };
}
