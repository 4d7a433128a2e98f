// The CPU scheduler: a credit scheduler in the style of Xen credit / vSphere
// shares. It is not self-driving: the host feeds it events with the time they
// happened and applies the decisions it returns (see the host loop in
// scheduler-sim.ts, which plays the host in tests).
//
// Per accounting period (periodMs) every non-paused VM is entitled to a share
// of one pCPU (entitlement.ts) and gets that much credit. Credit is reset each
// period (an idle VM cannot hoard it); only overruns carry over, as debt.
// Time that nobody is charged for (hand-overs, reports on their way) shrinks
// the period; when the time left no longer covers the credit owed, every
// runnable VM's credit is trimmed by one factor (credit-fit.ts), so that
// the shortfall is shared by weight.
// Free pCPUs go to waiting VMs in ranking.ts order, for at most sliceMs, or
// up to the period end when nobody else waits; a VM that starts waiting later
// gets such a long grant preempted once it has run sliceMs.
//
// Hand-over (config.handOff): while others wait, the scheduler also decides
// who follows each running grant, ranking as it would when that grant ends
// (the running VM itself counted as having used it), and queues that grant.
// The worker of the running guest starts its successor directly when its slice
// ends and says so in its report (SliceReport.handedOff): one message between
// workers instead of report-to-host plus grant-to-worker. The report promotes
// the queued grant, and the host grants it too: a worker ignores a grant it
// has already started, and one whose hand-over was lost starts then.
//
// Affinity: when the best-ranked VM last ran on another pCPU, a pCPU goes to
// one ranked within half a slice of it whose last grant was on this pCPU. A
// successor's thread then last ran on the core its predecessor's thread is
// leaving, and the host OS wakes it there; otherwise it is woken on the core
// of the other pCPU's guest and preempts it while a core idles (measured,
// four guests on P=2 in Node: cores idle 3-7 % of the time without it, 1-3 %
// with it).
//
// The host loop (all times from one monotonic clock, in ms):
//   - worker events: onSliceEnd / onWake / onUsage, then dispatch(now);
//   - user actions: addVm / removeVm / setPaused / setResources / setConfig,
//     then dispatch(now);
//   - a timer at nextDeadline(): tickPeriods(now) (publish the records),
//     then dispatch(now);
//   - after every dispatch: apply its decisions (grant: run up to ms and
//     report with that grantId; preempt: stop early, report 'preempted') and
//     re-arm the timer for nextDeadline(), which may have moved.
import { PeriodLedger } from './accounting.ts';
import type { Clock } from './clock.ts';
import { fitCreditToTime } from './credit-fit.ts';
import { entitlements } from './entitlement.ts';
import { HvError } from './errors.ts';
import { describeValue } from './format.ts';
import { currentFrame, grantLength, nextFrame, type Frame } from './frame.ts';
import { chargeFor, estimateUsedAt, newGrant, pcpuView, stretchTo, type Grant } from './grant.ts';
import { lagMs, rankCandidates, tierOf } from './ranking.ts';
import { checkReservations, checkTime, checkUsage, normalizeConfig, normalizeResources } from './resources.ts';
import type { Candidate } from './ranking.ts';
import type {
  ClosedPeriod,
  Decision,
  GrantDecision,
  PeriodRecord,
  PreemptDecision,
  QueueDecision,
  SchedulerConfig,
  SchedulerConfigInput,
  SchedulerSnapshot,
  SchedulerView,
  SliceReport,
  UsageReport,
  VmId,
  VmResources,
  VmResourcesInput,
  VoidedGrant,
} from './scheduler-types.ts';
import * as V from './scheduler-vm.ts';

// Closed periods kept for tick() when the host does not collect them (about 100 s at 100 ms).
const MAX_PENDING_PERIODS = 1000;
// Voided grants per VM whose late report may still correct the books.
const MAX_DETACHED = 4;

/** Credit-based CPU scheduler for guests with one vCPU each on `pcpus` physical CPUs. */
export class CpuScheduler {
  private cfg: SchedulerConfig;
  private nextCfg: SchedulerConfig | null = null;
  private readonly vms = new Map<VmId, V.VmEntry>();
  private slots: (Grant | null)[] = [];
  /** The VM of the latest grant on each pCPU (affinity: pickFor). */
  private readonly lastOn: (VmId | null)[] = [];
  /** Per pCPU: the grant queued to follow the running one. */
  private successors: (Grant | null)[] = [];
  /** Promoted successors (granted again, in case the hand-over was lost), and hand-overs to undo: dispatch sends them. */
  private pendingGrants: Grant[] = [];
  private pendingPreempts: PreemptDecision[] = [];
  private periodIndex = 0;
  private periodStart: number;
  private periodEnd: number;
  private ledger: PeriodLedger;
  private closed: ClosedPeriod[] = [];
  private lastNow: number;
  private nextGrantId = 1;
  private nextOrder = 0;

  /** Creates a scheduler whose first period starts at clock.now(). */
  constructor(
    config: SchedulerConfigInput,
    private readonly clock: Clock,
  ) {
    this.cfg = normalizeConfig(config);
    this.lastNow = this.periodStart = checkTime(clock.now());
    this.periodEnd = this.periodStart + this.cfg.periodMs;
    this.ledger = this.openLedger();
    this.fitSlots();
  }

  /** Settings in effect this period. */
  get config(): SchedulerConfig {
    return { ...this.cfg };
  }

  /** Accepted settings that apply from the next period, if any. */
  get pendingConfig(): SchedulerConfig | null {
    return this.nextCfg ? { ...this.nextCfg } : null;
  }

  /** Adds a runnable VM; its credit and reservation start next period (its cap holds at once). */
  addVm(vmId: VmId, resources: VmResourcesInput = {}, now: number = this.clock.now()): VmResources {
    const t = this.advance(now);
    if (typeof vmId !== 'string' || vmId === '') {
      throw new HvError('invalid-argument', `a VM id must be a non-empty string, got ${describeValue(vmId)}`, { vmId });
    }
    if (this.vms.has(vmId)) throw new HvError('duplicate-name', `the scheduler already has a VM named ${vmId}`, { vmId });
    const res = normalizeResources(resources, vmId);
    this.checkReservationsWith(vmId, res, this.latestConfig().pcpus);
    const vm = V.newVmEntry(vmId, this.nextOrder++, res, t);
    this.vms.set(vmId, vm);
    if (t === this.periodStart) {
      // Nothing of this period is spent yet: count the VM in it fully.
      vm.limitMs = (V.ceilingPct(res) * this.cfg.periodMs) / 100;
      vm.reservationMs = ((res.reservationPct ?? 0) * this.cfg.periodMs) / 100;
      this.allocate();
    } else {
      vm.limitMs = (V.ceilingPct(res) * (this.periodEnd - t)) / 100;
    }
    this.ledger.track(vmId, V.metaOf(vm));
    this.noteContention(t);
    return res;
  }

  /** Removes a VM and frees its pCPU; true if it was there. Later events for it are ignored. */
  removeVm(vmId: VmId, now: number = this.clock.now()): boolean {
    const t = this.advance(now);
    const vm = this.vms.get(vmId);
    if (!vm) return false;
    this.unqueue(vm);
    if (vm.grant) this.detach(vm, t);
    this.vms.delete(vmId);
    this.fitSlots();
    return true;
  }

  /** Changes a VM's weight/cap/reservation from the next period; returns the resulting resources. */
  setResources(vmId: VmId, resources: VmResourcesInput, now: number = this.clock.now()): VmResources {
    this.advance(now);
    const vm = this.mustGet(vmId);
    const res = normalizeResources(resources, vmId, vm.next ?? vm.res);
    this.checkReservationsWith(vmId, res, this.latestConfig().pcpus);
    vm.next = res;
    this.withdrawNextPeriod(vm);
    return { ...res };
  }

  /** Changes pCPUs, period, slice or shortest grant from the next period; returns the resulting config. */
  setConfig(change: Partial<SchedulerConfigInput>, now: number = this.clock.now()): SchedulerConfig {
    this.advance(now);
    const next = normalizeConfig(change, this.latestConfig());
    this.checkReservationsWith(undefined, undefined, next.pcpus);
    this.nextCfg = next;
    for (const vm of this.vms.values()) this.withdrawNextPeriod(vm);
    return { ...next };
  }

  /** Pauses (not scheduled at all; a grant in flight is void) or resumes a VM. */
  setPaused(vmId: VmId, paused: boolean, now: number = this.clock.now()): void {
    const t = this.advance(now);
    const vm = this.mustGet(vmId);
    if (paused && vm.state !== 'paused') {
      this.unqueue(vm);
      if (vm.grant) this.detach(vm, t, true);
      vm.state = 'paused';
    } else if (!paused && vm.state === 'paused') {
      vm.state = 'runnable';
      vm.readySinceMs = t;
    }
    this.fitSlots();
    this.noteContention(t);
  }

  /** A blocked (halted) guest has work again. */
  onWake(vmId: VmId, now: number = this.clock.now()): void {
    const t = this.advance(now);
    const vm = this.vms.get(vmId);
    if (vm?.state !== 'blocked') return;
    vm.state = 'runnable';
    vm.readySinceMs = t;
    this.noteContention(t);
  }

  /** A guest's slice ended: frees its pCPU and charges what it used. Stale grant ids are ignored. */
  onSliceEnd(vmId: VmId, grantId: number, report: SliceReport, now: number = this.clock.now()): void {
    const t = this.advance(now);
    checkUsage(report, 'slice report');
    const vm = this.vms.get(vmId);
    if (!vm) return;
    const g = vm.grant;
    if (vm.queued?.id === grantId) {
      // Handed over and already over before the hand-over's own report arrived:
      // the predecessor's report frees the pCPU; this one books what was used.
      const q = vm.queued;
      this.unqueue(vm);
      this.ledger.addGranted(vm.id, report.reason === 'preempted' ? report.usedMs : q.ms, true, true);
      if (report.reason === 'idle' && vm.state === 'runnable') vm.state = 'blocked';
    }
    if (g?.id !== grantId) {
      // A grant voided by a pause: its real use still corrects the estimate.
      const late = vm.detached.get(grantId);
      if (late) {
        vm.detached.delete(grantId);
        this.bookReport(vm, late, report);
      }
      return;
    }
    this.bookReport(vm, g, report);
    if (report.reason === 'preempted' && g.periodIndex === this.periodIndex) {
      this.ledger.addGranted(vm.id, -Math.max(0, g.ms - report.usedMs), false);
    }
    this.slots[g.pcpu] = null;
    vm.grant = null;
    vm.state = report.reason === 'idle' ? 'blocked' : 'runnable';
    vm.readySinceMs = t;
    this.promote(g.pcpu, t, report.handedOff ?? null);
    this.fitSlots();
    this.noteContention(t);
  }

  /** CPU a guest used without a grant (timer interrupts while blocked): charged like any use. */
  onUsage(vmId: VmId, report: UsageReport, now: number = this.clock.now()): void {
    this.advance(now);
    checkUsage(report, 'usage report');
    const vm = this.vms.get(vmId);
    if (!vm) return;
    vm.usedMs += report.usedMs;
    vm.creditMs -= report.usedMs;
    this.ledger.addUsed(vmId, null, report.usedMs, report.instructions);
  }

  /** When the earliest report of a grant in progress is due (its end), Infinity while none runs. */
  reportDue(): number {
    let due = Infinity;
    for (const g of this.slots) if (g) due = Math.min(due, g.startMs + g.ms);
    return due;
  }

  /**
   * Voids every grant whose slice report is more than graceMs past the
   * grant's end (a lost message, a hung worker): the wall time held is booked
   * as used, the pCPU is freed, and the VM waits again. A report that still
   * comes corrects the books, as after a pause.
   */
  voidOverdue(graceMs: number, now: number = this.clock.now()): VoidedGrant[] {
    const t = this.advance(now);
    const out: VoidedGrant[] = [];
    for (const g of [...this.slots]) {
      if (!g || t <= g.startMs + g.ms + graceMs) continue;
      const vm = this.vms.get(g.vmId);
      if (!vm) continue;
      out.push({ vmId: vm.id, grantId: g.id, pcpu: g.pcpu, lateMs: t - (g.startMs + g.ms) });
      this.detach(vm, t, true);
      vm.state = 'runnable';
      vm.readySinceMs = t;
    }
    if (out.length > 0) {
      this.fitSlots();
      this.noteContention(t);
    }
    return out;
  }

  /** Fills free pCPUs with waiting VMs and preempts long grants others wait for. */
  dispatch(now: number = this.clock.now()): Decision[] {
    const t = this.advance(now, true);
    // Promoted successors still current (a pause in between may have voided them).
    const decisions: Decision[] = this.pendingPreempts;
    for (const g of this.pendingGrants) if (this.vms.get(g.vmId)?.grant === g) decisions.push(grantDecision(g));
    this.pendingGrants = [];
    this.pendingPreempts = [];
    fitCreditToTime(this.vms.values(), t, this.periodEnd, this.cfg.pcpus);
    const waiting = rankCandidates([...this.vms.values()].filter(V.isWaiting).map(V.candidateOf));
    const periodLeft = this.periodEnd - t;
    if (periodLeft >= this.cfg.minGrantMs) {
      const fresh: Grant[] = [];
      for (let p = 0; p < this.cfg.pcpus && waiting.length > 0; p++) {
        if (this.slots[p]) continue;
        const c = this.pickFor(p, waiting);
        if (c) waiting.splice(waiting.indexOf(c), 1);
        const vm = c && this.vms.get(c.vmId);
        if (!vm) continue;
        // A free pCPU now beats waiting for a busy one.
        this.unqueue(vm);
        fresh.push(this.makeGrant(vm, p, t, tierOf(c) !== 3));
      }
      // Nobody left waiting: let the new grants run to the period end (fewer host round trips).
      if (waiting.length === 0) for (const g of fresh) this.stretch(g, t);
      for (const g of fresh) decisions.push(this.issue(g));
    }
    if (this.cfg.handOff) decisions.push(...this.queueSuccessors(t, waiting));
    this.noteContention(t);
    // Longest-running first; a grant becomes preemptable once it has run a slice.
    let need = this.preemptionsNeeded();
    for (const g of this.preemptable(t).sort((a, b) => a.startMs - b.startMs)) {
      if (need <= 0 || t - g.startMs < this.cfg.sliceMs) break;
      g.preemptRequested = true;
      decisions.push({ kind: 'preempt', vmId: g.vmId, grantId: g.id });
      need -= 1;
    }
    return decisions;
  }

  /** Closes every period that ended at or before `now`; returns one record per VM per closed period. */
  tick(now: number = this.clock.now()): PeriodRecord[] {
    return this.tickPeriods(now).flatMap((p) => p.vms);
  }

  /** Like tick, grouped per closed period with its host (per-pCPU) record. */
  tickPeriods(now: number = this.clock.now()): ClosedPeriod[] {
    this.advance(now, true);
    const out = this.closed;
    this.closed = [];
    return out;
  }

  /** When the host must call tick() and dispatch() next: the period end, or earlier to preempt a long grant. */
  nextDeadline(): number {
    let deadline = this.periodEnd;
    if (this.preemptionsNeeded() > 0) {
      for (const g of this.preemptable(this.lastNow)) deadline = Math.min(deadline, g.startMs + this.cfg.sliceMs);
    }
    return deadline;
  }

  /** A read-only picture of the current state. */
  view(): SchedulerView {
    return {
      nowMs: this.lastNow,
      periodIndex: this.periodIndex,
      periodStartMs: this.periodStart,
      periodEndMs: this.periodEnd,
      config: this.config,
      pendingConfig: this.pendingConfig,
      pcpus: this.slots.map((g, p) => (g ? pcpuView(g, this.successors[p] ?? null) : null)),
      vms: [...this.vms.values()].map(V.vmView),
    };
  }

  /** Configuration (latest, pending changes included) and every VM's resources. */
  snapshot(): SchedulerSnapshot {
    return {
      config: this.latestConfig(),
      vms: [...this.vms.values()].map((vm) => ({ vmId: vm.id, resources: { ...(vm.next ?? vm.res) } })),
    };
  }

  /** Rebuilds a scheduler from a snapshot; its VMs come back runnable in a fresh period. */
  static restore(snapshot: SchedulerSnapshot, clock: Clock): CpuScheduler {
    const s = new CpuScheduler(snapshot.config, clock);
    const now = s.lastNow;
    for (const { vmId, resources } of snapshot.vms) s.addVm(vmId, resources, now);
    return s;
  }

  // ---- time and periods ----

  // Closes finished periods and books wall time up to `now` (clamped to be monotonic).
  // An event exactly at a period end still belongs to that period (`inclusive`
  // false), so a grant reported right at the boundary is booked where it ran;
  // tick and dispatch at that instant close it (`inclusive` true).
  private advance(now: number, inclusive = false): number {
    const t = Math.max(checkTime(now), this.lastNow);
    while (inclusive ? t >= this.periodEnd : t > this.periodEnd) this.closePeriod();
    this.accrueAll(t);
    this.lastNow = t;
    return t;
  }

  private closePeriod(): void {
    const end = this.periodEnd;
    this.accrueAll(end);
    // Grants still out at the boundary: assume the wall time held was used;
    // the report corrects it later, in the period it arrives in.
    for (const g of this.slots) if (g) this.bookEstimate(g, end);
    this.closed.push(this.ledger.close());
    if (this.closed.length > MAX_PENDING_PERIODS) this.closed.shift();
    if (this.nextCfg) {
      this.cfg = this.nextCfg;
      this.nextCfg = null;
    }
    for (const vm of this.vms.values()) V.rollPeriod(vm, this.cfg.periodMs);
    this.periodIndex += 1;
    this.periodStart = end;
    this.periodEnd = end + this.cfg.periodMs;
    this.ledger = this.openLedger();
    this.allocate();
    this.fitSlots();
  }

  // Shares this period's capacity among non-paused VMs.
  private allocate(): void {
    const active = [...this.vms.values()].filter((vm) => vm.state !== 'paused');
    const shares = entitlements(active.map((vm) => vm.res), this.cfg.pcpus * 100);
    for (const vm of this.vms.values()) V.entitle(vm, 0, this.cfg.periodMs);
    active.forEach((vm, i) => V.entitle(vm, shares[i] ?? 0, this.cfg.periodMs));
    for (const vm of this.vms.values()) this.ledger.track(vm.id, V.metaOf(vm));
  }

  private openLedger(): PeriodLedger {
    const ledger = new PeriodLedger(this.periodIndex, this.periodStart, this.cfg.periodMs, this.cfg.pcpus);
    for (const vm of this.vms.values()) ledger.track(vm.id, V.metaOf(vm));
    return ledger;
  }

  private accrueAll(t: number): void {
    for (const vm of this.vms.values()) {
      const dt = t - vm.sinceMs;
      if (dt > 0) this.ledger.addTime(vm.id, V.bucketOf(vm), dt);
      vm.sinceMs = t;
    }
  }

  // ---- grants ----

  // vm: the VM as it will stand when the grant starts at t (see queueSuccessors), in `frame`'s period.
  private makeGrant(vm: V.VmEntry, pcpu: number, t: number, backedByCredit: boolean, frame: Frame = this.thisPeriod()): Grant {
    const ms = grantLength(vm, t, backedByCredit, frame);
    return newGrant({ id: this.nextGrantId++, vmId: vm.id, pcpu, startMs: t, ms, chargedMs: backedByCredit ? ms : 0, periodIndex: frame.periodIndex });
  }

  private thisPeriod(): Frame {
    return currentFrame(this.cfg, this.periodIndex, this.periodEnd);
  }

  // Queues a successor for every running grant that has none, while VMs wait:
  // the best of the waiting VMs and the running one as they will stand when
  // that grant ends. A grant that ends at the period end is followed by the
  // next period's first, ranked by the next period's credit, so that the
  // turn-over too is a hand-over between workers; with nobody waiting, that
  // is the running VM itself, for the whole next period.
  private queueSuccessors(t: number, waiting: Candidate[]): QueueDecision[] {
    const out: QueueDecision[] = [];
    const free = waiting.map((c) => this.vms.get(c.vmId)).filter((vm): vm is V.VmEntry => vm !== undefined && !vm.queued);
    const running = this.slots
      .filter((g, p): g is Grant => g !== null && p < this.cfg.pcpus && !this.successors[p])
      .map((g) => ({ g, end: this.expectedEnd(g, t, waiting.length > 0) }))
      .sort((a, b) => a.end - b.end);
    let next: Frame | null = null;
    for (const { g, end } of running) {
      const left = this.periodEnd - end;
      // A grant that leaves less than the shortest grant before the period end: the turn-over decides.
      if (left < this.cfg.minGrantMs && left > V.TINY_MS) continue;
      const crossing = left < this.cfg.minGrantMs;
      if (free.length === 0 && !crossing) continue;
      const frame = crossing ? (next ??= nextFrame(this.latestConfig(), this.periodIndex, this.periodEnd, this.vms.values())) : this.thisPeriod();
      const owner = this.vms.get(g.vmId);
      // Use the running VM will have made by `end` beyond what is booked.
      const ahead = Math.max(0, end - g.startMs - g.accountedUsedMs);
      const selfEntry = owner?.state === 'running' && !owner.queued ? frame.entry(owner, ahead) : null;
      const entries = new Map(free.map((vm) => [vm.id, frame.entry(vm, 0)]));
      const candidates = [...entries.values()].map(V.candidateOf);
      if (selfEntry && V.isEligible(selfEntry)) candidates.push({ ...V.candidateOf(selfEntry), readySinceMs: end });
      const best = this.pickFor(g.pcpu, rankCandidates(candidates));
      const isSelf = best !== undefined && best.vmId === g.vmId;
      const entry = isSelf ? selfEntry : best && entries.get(best.vmId);
      const vm = best && this.vms.get(best.vmId);
      if (!best || !entry || !vm) continue;
      const q = this.makeGrant(entry, g.pcpu, end, tierOf(best) !== 3, frame);
      if (q.ms < frame.minGrantMs) continue;
      // Nobody else waits: the whole period, as a fresh grant would be stretched.
      if (waiting.length === 0) stretchTo(q, Math.min(V.capLeftMs(entry), frame.periodEnd - end));
      // A capped VM follows itself only while its cap is a slice away: the
      // running grant's overrun is known from its report only, and the cap must hold.
      if (isSelf && entry.res.capPct !== null && V.capLeftMs(entry) < q.ms + frame.sliceMs) continue;
      if (!isSelf) free.splice(free.indexOf(vm), 1);
      this.successors[g.pcpu] = q;
      vm.queued = q;
      out.push({ kind: 'queue', vmId: vm.id, pcpu: g.pcpu, ms: q.ms, grantId: q.id, after: { vmId: g.vmId, grantId: g.id } });
    }
    return out;
  }

  // The candidate for pCPU p among ranked ones: the best, unless it last ran
  // on another pCPU and one ranked within half a slice of it last ran on p
  // (other than the VM that ran there last: it follows itself by rank alone).
  private pickFor(p: number, ranked: Candidate[]): Candidate | undefined {
    const best = ranked[0];
    const bestLast = best && this.vms.get(best.vmId)?.lastPcpu;
    if (!best || bestLast === p || bestLast === null || bestLast === undefined) return best;
    const home = ranked.find((c) => c.vmId !== this.lastOn[p] && this.vms.get(c.vmId)?.lastPcpu === p && lagMs(best, c) <= this.cfg.sliceMs / 2);
    return home ?? best;
  }

  // When a running grant is expected to end: at its length, or a slice in if
  // stretched while others wait (it will be preempted).
  private expectedEnd(g: Grant, t: number, othersWait: boolean): number {
    return Math.max(t, g.startMs + (g.extended && othersWait ? this.cfg.sliceMs : g.ms));
  }

  // The grant on pCPU p ended at t: its queued successor (if it can still run) takes the pCPU.
  private promote(p: number, t: number, handedOff: number | null): void {
    const q = this.successors[p];
    if (!q) return;
    this.successors[p] = null;
    const vm = this.vms.get(q.vmId);
    if (vm?.queued !== q) return;
    vm.queued = null;
    const started = handedOff === q.id;
    // A grant queued for the next period whose predecessor ended before this one did is not due yet.
    const early = q.periodIndex > this.periodIndex;
    if (early || vm.state !== 'runnable' || p >= this.cfg.pcpus || this.slots[p] || !V.isEligible(vm)) {
      // Its worker started it anyway: stop it, and keep it for the report.
      if (started) {
        this.keepDetached(vm, q);
        this.pendingPreempts.push({ kind: 'preempt', vmId: vm.id, grantId: q.id });
      }
      return;
    }
    q.startMs = t;
    q.periodIndex = this.periodIndex;
    // A stretched grant keeps its charged head: the rest is free until somebody waits.
    q.chargedMs = tierOf(V.candidateOf(vm)) === 3 ? 0 : q.extended ? q.chargedMs || Math.min(q.ms, this.cfg.sliceMs) : q.ms;
    this.issue(q, started);
    this.pendingGrants.push(q);
  }

  // A grant queued for the next period was sized by the settings it will run
  // under: when they change, it is withdrawn (its worker is told) and the
  // turn-over decides again.
  private withdrawNextPeriod(vm: V.VmEntry): void {
    const q = vm.queued;
    if (!q || q.periodIndex <= this.periodIndex) return;
    this.unqueue(vm);
    this.pendingPreempts.push({ kind: 'preempt', vmId: vm.id, grantId: q.id });
  }

  // Withdraws a VM's queued grant (a late start from a hand-over is still booked).
  private unqueue(vm: V.VmEntry): void {
    const q = vm.queued;
    if (!q) return;
    vm.queued = null;
    if (this.successors[q.pcpu] === q) this.successors[q.pcpu] = null;
    this.keepDetached(vm, q);
  }

  private stretch(g: Grant, t: number): void {
    const vm = this.vms.get(g.vmId);
    if (vm) stretchTo(g, Math.min(V.capLeftMs(vm), this.periodEnd - t));
  }

  private issue(g: Grant, handedOver = false): GrantDecision {
    const vm = this.vms.get(g.vmId);
    if (vm) {
      vm.grant = g;
      vm.state = 'running';
      vm.lastPcpu = g.pcpu;
    }
    this.lastOn[g.pcpu] = g.vmId;
    this.slots[g.pcpu] = g;
    this.ledger.addGranted(g.vmId, g.ms, true, handedOver);
    return grantDecision(g);
  }

  // Books grant `g` up to `usedMs` and `instructions` in total: what an earlier
  // estimate did not cover goes to the current period (negative if it overshot).
  private book(g: Grant, usedMs: number, instructions: number): void {
    const vm = this.vms.get(g.vmId);
    const dUsed = usedMs - g.accountedUsedMs;
    const dCharge = chargeFor(g, usedMs) - g.accountedChargeMs;
    const dInstructions = instructions - g.accountedInstructions;
    g.accountedUsedMs = usedMs;
    g.accountedChargeMs += dCharge;
    g.accountedInstructions = instructions;
    if (!vm) return;
    vm.usedMs = Math.max(0, vm.usedMs + dUsed);
    vm.freeUsedMs = Math.max(0, vm.freeUsedMs + dUsed - dCharge);
    vm.creditMs -= dCharge;
    this.ledger.addUsed(vm.id, g.pcpu, dUsed, dInstructions);
  }

  // Books a grant without a report: the wall time held is assumed used, at the VM's last known speed.
  private bookEstimate(g: Grant, t: number): number {
    const est = estimateUsedAt(g, t);
    const speed = this.vms.get(g.vmId)?.instructionsPerMs ?? 0;
    this.book(g, est, Math.max(g.accountedInstructions, Math.round(est * speed)));
    return est;
  }

  // Books a guest's report of a grant and learns its speed.
  private bookReport(vm: V.VmEntry, g: Grant, report: UsageReport): void {
    this.book(g, report.usedMs, report.instructions);
    // Sub-millisecond reports are dominated by halting: too noisy to learn from.
    if (report.usedMs >= 1) vm.instructionsPerMs = report.instructions / report.usedMs;
  }

  // Ends a grant without a report (pause, removal): book the wall time held as used.
  private detach(vm: V.VmEntry, t: number, keepForReport = false): void {
    const g = vm.grant;
    if (!g) return;
    const est = this.bookEstimate(g, t);
    if (g.periodIndex === this.periodIndex) this.ledger.addGranted(vm.id, -(g.ms - est), false);
    if (keepForReport) this.keepDetached(vm, g);
    this.slots[g.pcpu] = null;
    vm.grant = null;
    this.promote(g.pcpu, t, null);
  }

  // A grant that ended without a report: its report, if one comes, still corrects the books.
  private keepDetached(vm: V.VmEntry, g: Grant): void {
    vm.detached.set(g.id, g);
    // Reports that never come must not pile up: keep the latest few.
    for (const id of vm.detached.keys()) if (vm.detached.size > MAX_DETACHED) vm.detached.delete(id);
  }

  // Long grants that could be cut short with something to gain.
  private preemptable(t: number): Grant[] {
    return this.slots.filter(
      (g): g is Grant =>
        g !== null &&
        g.extended &&
        !g.preemptRequested &&
        g.contestedAtMs !== null &&
        g.startMs + g.ms - Math.max(t, g.startMs + this.cfg.sliceMs) > this.cfg.minGrantMs,
    );
  }

  // VMs that wait while every pCPU is taken, minus those a requested preemption will serve.
  private preemptionsNeeded(): number {
    let pending = 0;
    for (const g of this.slots) if (g?.preemptRequested) pending += 1;
    return this.waitingCount() - pending;
  }

  // VMs waiting for a pCPU beyond the free ones (a free pCPU does not count in the last moments of a period).
  private waitingCount(): number {
    let waiting = 0;
    for (const vm of this.vms.values()) if (V.isWaiting(vm)) waiting += 1;
    let free = 0;
    if (this.periodEnd - this.lastNow >= this.cfg.minGrantMs) {
      for (let p = 0; p < this.cfg.pcpus; p++) if (!this.slots[p]) free += 1;
    }
    return Math.max(0, waiting - free);
  }

  // From the moment someone waits, a stretched grant's time is no longer free.
  private noteContention(t: number): void {
    if (this.waitingCount() === 0) return;
    for (const g of this.slots) if (g?.extended && g.contestedAtMs === null) g.contestedAtMs = t;
  }

  // Keeps one slot per pCPU, plus slots beyond it while a grant from a larger config is still out.
  private fitSlots(): void {
    while (this.slots.length < this.cfg.pcpus) this.slots.push(null);
    while (this.slots.length > this.cfg.pcpus && this.slots[this.slots.length - 1] === null) this.slots.pop();
    while (this.successors.length < this.slots.length) this.successors.push(null);
    this.successors.length = this.slots.length;
  }

  // ---- helpers ----

  private latestConfig(): SchedulerConfig {
    return { ...(this.nextCfg ?? this.cfg) };
  }

  private mustGet(vmId: VmId): V.VmEntry {
    const vm = this.vms.get(vmId);
    if (!vm) throw new HvError('not-found', `the scheduler has no VM named ${vmId}`, { vmId });
    return vm;
  }

  private checkReservationsWith(vmId: VmId | undefined, res: VmResources | undefined, pcpus: number): void {
    const list = [...this.vms.values()]
      .filter((vm) => vm.id !== vmId)
      .map((vm) => ({ vmId: vm.id, reservationPct: (vm.next ?? vm.res).reservationPct }));
    if (vmId !== undefined && res) list.push({ vmId, reservationPct: res.reservationPct });
    checkReservations(list, pcpus, vmId);
  }
}

function grantDecision(g: Grant): GrantDecision {
  return { kind: 'grant', vmId: g.vmId, pcpu: g.pcpu, ms: g.ms, grantId: g.id };
}
