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
  /** Delay between the host's decision (grant, queue, preempt) and the guest acting on it, in ms. */
  grantDelayMs?: number;
  /** Delay between a guest's worker handing the pCPU over and its successor starting, in ms. */
  handOffDelayMs?: number;
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

/** A slice-end report on its way to the host. */
interface Report {
  atMs: number;
  grantId: number;
  usedMs: number;
  reason: SliceEndReason;
  handedOff: number | null;
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
  /** A queued grant this guest starts when its predecessor hands over. */
  armed: { grantId: number; ms: number } | null;
  /** Whom this guest's current run hands the pCPU to when it ends. */
  successor: { vmId: VmId; grantId: number } | null;
  outbox: Report[];
  /** The newest grant it started: like the worker's gate, it runs no grant twice. */
  lastStarted: number;
  /** Bumped on pause and resume: messages sent to it before are dropped. */
  gen: number;
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
  private readonly grantDelay: number;
  private readonly handOffDelay: number;
  /** Messages on their way to a guest (decisions, hand-overs), in order of arrival. */
  private inbox: { atMs: number; deliver: (t: number) => void }[] = [];
  private seed: number;

  /** Creates a simulation with a scheduler configured by `options.config`. */
  constructor(options: SimOptions) {
    this.clock = new FakeClock(options.startMs ?? 0);
    this.scheduler = new CpuScheduler(options.config, this.clock);
    this.delay = options.reportDelayMs ?? 0;
    this.grantDelay = options.grantDelayMs ?? 0;
    this.handOffDelay = options.handOffDelayMs ?? 0;
    this.seed = options.seed ?? 1;
  }

  /** Adds a guest (runnable at once) with a behaviour and CPU resources. */
  addGuest(id: VmId, profile: GuestProfile, resources: VmResourcesInput = {}): void {
    const now = this.clock.now();
    this.scheduler.addVm(id, resources, now);
    const first = profile.arrivals ? now + profile.arrivals.firstAtMs : Number.POSITIVE_INFINITY;
    this.guests.set(id, {
      id,
      profile,
      workMs: profile.initialWorkMs,
      workAtMs: now,
      nextArrivalMs: first,
      phase: 'waiting',
      run: null,
      armed: null,
      successor: null,
      outbox: [],
      lastStarted: 0,
      gen: 0,
    });
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
    // The host books a paused guest's grant itself: its report is not needed.
    if (paused && g.run) this.settleWork(g, now);
    g.run = null;
    g.outbox = [];
    g.armed = null;
    g.successor = null;
    g.gen += 1; // messages on their way to it are void
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
    // Messages to guests that arrive now (a delivery may send more, e.g. a preempted guest hands over).
    for (let round = 0; round < 1000; round++) {
      const i = this.inbox.findIndex((m) => m.atMs <= t);
      if (i < 0) break;
      const [m] = this.inbox.splice(i, 1);
      m?.deliver(t);
    }
    // A run that ends may start a successor that ends in the same instant: repeat, boundedly.
    for (let round = 0, stopped = true; stopped && round < 1000; round++) {
      stopped = false;
      for (const g of this.guests.values()) {
        if (g.run && g.run.stopAtMs <= t) {
          this.stop(g, g.run);
          stopped = true;
        }
      }
    }
    const due = [...this.guests.values()]
      .flatMap((g) => g.outbox.filter((r) => r.atMs <= t).map((r) => ({ g, r })))
      .sort((a, b) => a.r.atMs - b.r.atMs);
    for (const { g, r } of due) this.report(g, r, t);
    for (const g of this.guests.values()) this.arrive(g, t);
    this.periods.push(...this.scheduler.tickPeriods(t));
    const decisions = this.scheduler.dispatch(t);
    for (const d of decisions) this.apply(d, t);
    this.afterDispatch?.(this, decisions);
  }

  // The guest stops executing at run.stopAtMs: its report leaves, and its successor (if any) starts.
  private stop(g: SimGuest, run: InFlight): void {
    const at = run.stopAtMs;
    this.settleWork(g, at);
    g.run = null;
    g.phase = run.reason === 'idle' ? 'blocked' : 'waiting';
    const report: Report = { atMs: at + this.delay, grantId: run.grantId, usedMs: run.usedMs, reason: run.reason, handedOff: null };
    const next = g.successor;
    g.successor = null;
    const b = next && this.guests.get(next.vmId);
    // A guest that halted does not start its own queued grant.
    if (next && b && b.armed?.grantId === next.grantId && !(b === g && run.reason === 'idle')) {
      report.handedOff = next.grantId;
      if (b === g) this.startRun(b, next.grantId, b.armed.ms, at);
      else {
        // Another worker: it starts when the hand-over reaches it, if it still waits for that grant.
        const gen = b.gen;
        this.send(at + this.handOffDelay, () => {
          if (b.gen === gen && b.armed?.grantId === next.grantId && b.phase === 'waiting' && next.grantId > b.lastStarted) {
            this.startRun(b, next.grantId, b.armed.ms, at + this.handOffDelay);
          }
        });
      }
    }
    g.outbox.push(report);
  }

  private report(g: SimGuest, r: Report, t: number): void {
    g.outbox.splice(g.outbox.indexOf(r), 1);
    const instructions = Math.round(r.usedMs * (g.profile.mips ?? 350) * 1000);
    this.scheduler.onSliceEnd(g.id, r.grantId, { usedMs: r.usedMs, instructions, reason: r.reason, handedOff: r.handedOff }, t);
    // Work that arrived after the guest halted but before the host heard of it.
    if (g.phase === 'blocked' && g.workMs > 0 && !g.run) {
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
      if (g.run) this.plan(g, g.run);
    }
    // While its last report is on the way, the host would ignore a wake: report() wakes it.
    if (g.phase === 'blocked' && g.workMs > 0 && !g.run && g.outbox.length === 0) {
      g.phase = 'waiting';
      this.scheduler.onWake(g.id, t);
    }
  }

  private apply(d: Decision, t: number): void {
    this.decisions.push({ atMs: t, decision: d });
    const g = this.guests.get(d.vmId);
    if (!g) return;
    if (this.grantDelay <= 0) {
      this.act(g, d, t);
      return;
    }
    const gen = g.gen;
    this.send(t + this.grantDelay, (at) => {
      if (g.gen === gen && this.guests.get(g.id) === g) this.act(g, d, at);
    });
  }

  // A guest's worker acts on a decision that reached it at t.
  private act(g: SimGuest, d: Decision, t: number): void {
    if (d.kind === 'grant') {
      if (d.grantId <= g.lastStarted) return; // already started by a hand-over
      if (g.run) {
        // Like the worker's gate: a newer grant ends the one running, without a hand-over.
        g.successor = null;
        this.preempt(g, g.run, t);
      }
      this.startRun(g, d.grantId, d.ms, t);
    } else if (d.kind === 'queue') {
      g.armed = { grantId: d.grantId, ms: d.ms };
      const a = this.guests.get(d.after.vmId);
      if (a?.run?.grantId === d.after.grantId) a.successor = { vmId: d.vmId, grantId: d.grantId };
    } else if (g.run?.grantId === d.grantId) {
      this.preempt(g, g.run, t);
    } else if (g.armed?.grantId === d.grantId) {
      g.armed = null;
    }
  }

  // The guest stops its run at t (unless it stopped earlier), reason 'preempted'.
  private preempt(g: SimGuest, run: InFlight, t: number): void {
    this.settleWork(g, t);
    run.stopAtMs = Math.min(run.stopAtMs, t);
    run.usedMs = run.stopAtMs - run.startMs;
    run.reason = 'preempted';
    this.stop(g, run);
  }

  private send(atMs: number, deliver: (t: number) => void): void {
    this.inbox.push({ atMs, deliver });
  }

  private startRun(g: SimGuest, grantId: number, ms: number, t: number): void {
    g.armed = null; // any start replaces a queued grant (as in the worker's gate)
    g.lastStarted = grantId;
    g.phase = 'running';
    g.workAtMs = t;
    g.successor = null;
    g.run = { grantId, startMs: t, ms, stopAtMs: t, reason: 'expired', usedMs: 0 };
    this.plan(g, g.run);
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
    if (g.phase === 'running' && g.run) {
      const until = Math.min(t, g.run.stopAtMs);
      g.workMs = g.workMs - Math.max(0, until - g.workAtMs);
      if (g.workMs < 1e-9) g.workMs = 0; // float dust would look like work forever
    }
    g.workAtMs = t;
  }

  private nextEventMs(): number {
    let next = this.scheduler.nextDeadline();
    for (const m of this.inbox) next = Math.min(next, m.atMs);
    for (const g of this.guests.values()) {
      if (g.run) next = Math.min(next, g.run.stopAtMs);
      for (const r of g.outbox) next = Math.min(next, r.atMs);
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
