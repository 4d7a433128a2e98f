// A discrete-event simulator that plays the host's role for CpuScheduler:
// it applies decisions, advances a FakeClock to the next event, and models
// guests as queues of CPU work. Tests use it to check scheduling properties;
// it also shows the call order a real host must follow:
//   at each instant: onSliceEnd / onWake for what happened, then
//   tickPeriods(now), then dispatch(now), then sleep until the next event or
//   nextDeadline().
import { FakeClock } from './clock.ts';
import { HvError } from './errors.ts';
import { CpuScheduler } from './scheduler.ts';
import type { ClosedPeriod, Decision, PeriodRecord, SchedulerConfigInput, SliceEndReason, VmId, VmResourcesInput } from './scheduler-types.ts';

/** How a simulated guest behaves. All times in ms. */
export interface GuestProfile {
  /** CPU work queued at the start (Infinity: always busy). */
  initialWorkMs: number;
  /** New work arriving periodically. */
  arrivals?: { firstAtMs: number; everyMs: number; workMs: number };
  /** How far a guest runs past a grant that expires (tick granularity), from a uniform random in [0, 1). */
  overrunMs?: (random: () => number) => number;
  /** Guest speed, for instruction counts. */
  mips?: number;
}

/** A guest that always has work. */
export function busyGuest(overrunMs?: GuestProfile['overrunMs']): GuestProfile {
  return overrunMs ? { initialWorkMs: Number.POSITIVE_INFINITY, overrunMs } : { initialWorkMs: Number.POSITIVE_INFINITY };
}

/** A guest that halts at once and wakes every `everyMs` for `workMs` of work. */
export function idleGuest(everyMs = 500, workMs = 0.2, firstAtMs = everyMs): GuestProfile {
  return { initialWorkMs: 0, arrivals: { firstAtMs, everyMs, workMs } };
}

/** A guest with `workMs` of work every `everyMs`, starting with one burst. */
export function burstyGuest(workMs: number, everyMs: number): GuestProfile {
  return { initialWorkMs: workMs, arrivals: { firstAtMs: everyMs, everyMs, workMs } };
}

/** Options for a simulation run. */
export interface SimOptions {
  config: SchedulerConfigInput;
  /** Delay between a guest stopping and the host hearing of it, in ms. */
  reportDelayMs?: number;
  seed?: number;
  startMs?: number;
}

interface InFlight {
  grantId: number;
  startMs: number;
  ms: number;
  /** When the guest stops executing, and why (recomputed when work arrives). */
  stopAtMs: number;
  reason: SliceEndReason;
  usedMs: number;
}

interface SimGuest {
  id: VmId;
  profile: GuestProfile;
  /** CPU work left, as of `workAtMs` (it shrinks while running). */
  workMs: number;
  workAtMs: number;
  nextArrivalMs: number;
  phase: 'blocked' | 'waiting' | 'running' | 'paused';
  run: InFlight | null;
  /** When the slice-end report reaches the host, once the guest has stopped. */
  reportAtMs: number | null;
}

/** Plays the host: drives a CpuScheduler on a FakeClock with modelled guests. */
export class SchedulerSim {
  readonly clock: FakeClock;
  readonly scheduler: CpuScheduler;
  /** Every closed period, in order. */
  readonly periods: ClosedPeriod[] = [];
  /** Every decision applied, in order. */
  readonly decisions: { atMs: number; decision: Decision }[] = [];
  /** Called after each dispatch (for invariant checks). */
  afterDispatch: ((sim: SchedulerSim, decisions: Decision[]) => void) | null = null;
  private readonly guests = new Map<VmId, SimGuest>();
  private readonly delay: number;
  private seed: number;

  /** Creates a simulation with a scheduler configured by `options.config`. */
  constructor(options: SimOptions) {
    this.clock = new FakeClock(options.startMs ?? 0);
    this.scheduler = new CpuScheduler(options.config, this.clock);
    this.delay = options.reportDelayMs ?? 0;
    this.seed = options.seed ?? 1;
  }

  /** Adds a guest (runnable at once) with a behaviour and CPU resources. */
  addGuest(id: VmId, profile: GuestProfile, resources: VmResourcesInput = {}): void {
    const now = this.clock.now();
    this.scheduler.addVm(id, resources, now);
    const first = profile.arrivals ? now + profile.arrivals.firstAtMs : Number.POSITIVE_INFINITY;
    this.guests.set(id, { id, profile, workMs: profile.initialWorkMs, workAtMs: now, nextArrivalMs: first, phase: 'waiting', run: null, reportAtMs: null });
  }

  /** Removes a guest (its worker is gone). */
  removeGuest(id: VmId): void {
    this.scheduler.removeVm(id, this.clock.now());
    this.guests.delete(id);
  }

  /** Pauses or resumes a guest as a user would. */
  setPaused(id: VmId, paused: boolean): void {
    const g = this.mustGet(id);
    const now = this.clock.now();
    if (paused && g.run) this.stopRun(g, now);
    g.run = null;
    g.reportAtMs = null;
    // A resumed guest is runnable; if it has nothing to do it halts in its first grant.
    g.phase = paused ? 'paused' : 'waiting';
    this.scheduler.setPaused(id, paused, now);
  }

  /** Runs the host loop until `endMs`. */
  runUntil(endMs: number): void {
    this.step(this.clock.now());
    let sameInstant = 0;
    while (this.clock.now() < endMs) {
      const now = this.clock.now();
      // A deadline that is already due after dispatch would make a real host spin.
      const deadline = this.scheduler.nextDeadline();
      if (deadline <= now) throw new HvError('internal', `the simulated host would spin at ${now} ms: deadline ${deadline} ms`);
      const t = Math.min(this.nextEventMs(), endMs);
      // Guests may stop in the instant they start (nothing to do): handle that, but never forever.
      sameInstant = t <= now ? sameInstant + 1 : 0;
      if (sameInstant > 1000) throw new HvError('internal', `the simulation is stuck at ${now} ms`);
      if (t > now) this.clock.set(t);
      this.step(this.clock.now());
    }
  }

  /** Runs `n` more accounting periods of the current length. */
  runPeriods(n: number): void {
    const v = this.scheduler.view();
    this.runUntil(v.periodStartMs + n * v.config.periodMs);
  }

  /** Closed-period records of one VM, in order. */
  records(id: VmId): PeriodRecord[] {
    return this.periods.flatMap((p) => p.vms.filter((r) => r.vmId === id));
  }

  /** Deterministic uniform random in [0, 1) (mulberry32). */
  random(): number {
    let t = (this.seed = (this.seed + 0x6d2b79f5) | 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  // One instant: deliver what happened, close periods, dispatch, apply.
  private step(t: number): void {
    for (const g of this.guests.values()) {
      if (g.run && g.reportAtMs === null && g.run.stopAtMs <= t) {
        this.settleWork(g, g.run.stopAtMs);
        g.reportAtMs = g.run.stopAtMs + this.delay;
      }
      if (g.run && g.reportAtMs !== null && g.reportAtMs <= t) this.report(g, t);
    }
    for (const g of this.guests.values()) this.arrive(g, t);
    this.periods.push(...this.scheduler.tickPeriods(t));
    const decisions = this.scheduler.dispatch(t);
    for (const d of decisions) this.apply(d, t);
    this.afterDispatch?.(this, decisions);
  }

  private report(g: SimGuest, t: number): void {
    const run = g.run;
    if (!run) return;
    g.run = null;
    g.reportAtMs = null;
    g.phase = run.reason === 'idle' ? 'blocked' : 'waiting';
    const instructions = Math.round(run.usedMs * (g.profile.mips ?? 350) * 1000);
    this.scheduler.onSliceEnd(g.id, run.grantId, { usedMs: run.usedMs, instructions, reason: run.reason }, t);
    // Work that arrived after the guest halted but before the host heard of it.
    if (g.phase === 'blocked' && g.workMs > 0) {
      g.phase = 'waiting';
      this.scheduler.onWake(g.id, t);
    }
  }

  private arrive(g: SimGuest, t: number): void {
    const a = g.profile.arrivals;
    while (a && g.nextArrivalMs <= t) {
      this.settleWork(g, g.nextArrivalMs);
      g.workMs += a.workMs;
      g.nextArrivalMs += a.everyMs;
      if (g.run && g.reportAtMs === null) this.plan(g, g.run);
    }
    if (g.phase === 'blocked' && g.workMs > 0 && !g.run) {
      g.phase = 'waiting';
      this.scheduler.onWake(g.id, t);
    }
  }

  private apply(d: Decision, t: number): void {
    this.decisions.push({ atMs: t, decision: d });
    const g = this.guests.get(d.vmId);
    if (!g) return;
    if (d.kind === 'grant') {
      g.phase = 'running';
      g.workAtMs = t;
      g.run = { grantId: d.grantId, startMs: t, ms: d.ms, stopAtMs: t, reason: 'expired', usedMs: 0 };
      this.plan(g, g.run);
    } else if (g.run?.grantId === d.grantId && g.reportAtMs === null) {
      this.stopRun(g, t);
      g.run.reason = 'preempted';
      g.reportAtMs = t + this.delay;
    }
  }

  // Decides when and why the current run stops, given the work known now.
  private plan(g: SimGuest, run: InFlight): void {
    const grantEnd = run.startMs + run.ms;
    const left = g.workMs - (grantEnd - g.workAtMs);
    if (left >= 0) {
      const over = Math.min(left, g.profile.overrunMs?.(() => this.random()) ?? 0);
      run.stopAtMs = grantEnd + over;
      run.reason = 'expired';
    } else {
      run.stopAtMs = g.workAtMs + g.workMs;
      run.reason = 'idle';
    }
    run.usedMs = run.stopAtMs - run.startMs;
  }

  // Brings the remaining work up to `t` while running.
  private settleWork(g: SimGuest, t: number): void {
    if (g.phase === 'running' && g.run && g.reportAtMs === null) {
      const until = Math.min(t, g.run.stopAtMs);
      g.workMs = g.workMs - Math.max(0, until - g.workAtMs);
      if (g.workMs < 1e-9) g.workMs = 0; // float dust would look like work forever
    }
    g.workAtMs = t;
  }

  private stopRun(g: SimGuest, t: number): void {
    const run = g.run;
    if (!run) return;
    this.settleWork(g, t);
    run.stopAtMs = Math.min(run.stopAtMs, t);
    run.usedMs = run.stopAtMs - run.startMs;
  }

  private nextEventMs(): number {
    let next = this.scheduler.nextDeadline();
    for (const g of this.guests.values()) {
      if (g.run) next = Math.min(next, g.reportAtMs ?? g.run.stopAtMs);
      if (g.phase !== 'paused') next = Math.min(next, g.nextArrivalMs);
    }
    return next;
  }

  private mustGet(id: VmId): SimGuest {
    const g = this.guests.get(id);
    if (!g) throw new HvError('not-found', `the simulation has no guest named ${id}`, { id });
    return g;
  }
}
