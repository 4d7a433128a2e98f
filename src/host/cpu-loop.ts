// Drives the core CPU scheduler from a real clock: feeds it what the guest
// workers report, applies its decisions (grants, preemptions) to the workers,
// and closes accounting periods on time.
import { CpuScheduler } from '../core/scheduler.ts';
import type { ClosedPeriod, SchedulerConfigInput, VmId, VmResourcesInput, VoidedGrant } from '../core/scheduler-types.ts';
import type { GuestEvent, HandOffInbox, HandOffTarget } from '../protocol/guest-api.ts';
import type { HostTimers } from './timers.ts';

/** What the loop needs of a guest worker. */
export interface CpuPort {
  grant(grantId: number, ms: number): void;
  preempt(grantId: number): void;
  /** This guest's own next grant (it follows itself on its pCPU). */
  queue(grantId: number, ms: number): void;
  /** When grantId ends, hand the pCPU to queued grant nextGrantId of ms, at `to`. */
  handOff(grantId: number, nextGrantId: number, ms: number, to: HandOffTarget): void;
  /** Where this guest's worker takes hand-overs (BootSpec.cpuInbox); none: only grants from the host start it. */
  readonly inbox?: HandOffInbox;
}

/** How late a slice report may be before its grant is voided and the pCPU freed (ms past the grant's end). */
export const REPORT_GRACE_MS = 500;

export class CpuLoop {
  readonly scheduler: CpuScheduler;
  private readonly ports = new Map<VmId, CpuPort>();
  private timer: unknown = null;
  private timerAt = Infinity;
  private disposed = false;

  constructor(
    config: SchedulerConfigInput,
    private readonly timers: HostTimers,
    private readonly onPeriod: (period: ClosedPeriod) => void,
    /** Threads the machine runs at once: with fewer pCPUs, one is left for workers awaiting a hand-over. */
    private readonly hostCores = 1,
    /** A grant whose report did not come within REPORT_GRACE_MS was voided. */
    private readonly onVoided: (voided: VoidedGrant) => void = () => {},
  ) {
    this.scheduler = new CpuScheduler(config, timers);
    this.pump();
  }

  /** Put a guest under the scheduler (it starts runnable). */
  attach(vmId: VmId, port: CpuPort, resources: VmResourcesInput): void {
    this.scheduler.addVm(vmId, resources, this.timers.now());
    this.ports.set(vmId, port);
    this.pump();
  }

  detach(vmId: VmId): void {
    this.ports.delete(vmId);
    this.scheduler.removeVm(vmId, this.timers.now());
    this.pump();
  }

  has(vmId: VmId): boolean {
    return this.ports.has(vmId);
  }

  setPaused(vmId: VmId, paused: boolean): void {
    this.scheduler.setPaused(vmId, paused, this.timers.now());
    this.pump();
  }

  /** New CPU settings for a guest, from the next period (grants queued for it may be withdrawn at once). */
  setResources(vmId: VmId, resources: VmResourcesInput): void {
    this.scheduler.setResources(vmId, resources, this.timers.now());
    this.pump();
  }

  /** New host-wide scheduler settings, from the next period. */
  setConfig(config: Partial<SchedulerConfigInput>): void {
    this.scheduler.setConfig(config, this.timers.now());
    this.pump();
  }

  /** Route a guest's cpu-* events into the scheduler. */
  onGuestEvent(vmId: VmId, e: GuestEvent): void {
    if (!this.ports.has(vmId)) return;
    const now = this.timers.now();
    switch (e.type) {
      case 'cpu-slice-end':
        this.scheduler.onSliceEnd(vmId, e.grantId, { usedMs: e.usedMs, instructions: e.instructions, reason: e.reason, handedOff: e.handedOff }, now);
        break;
      case 'cpu-wake':
        if (e.usedMs > 0 || e.instructions > 0) this.scheduler.onUsage(vmId, { usedMs: e.usedMs, instructions: e.instructions }, now);
        this.scheduler.onWake(vmId, now);
        break;
      case 'cpu-usage':
        this.scheduler.onUsage(vmId, { usedMs: e.usedMs, instructions: e.instructions }, now);
        return; // usage frees no pCPU: nothing to dispatch
      default:
        return;
    }
    this.pump();
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.ports.clear();
  }

  /** Close due periods, apply decisions, and set the timer for the next deadline. */
  pump(): void {
    if (this.disposed) return;
    const now = this.timers.now();
    for (const period of this.scheduler.tickPeriods(now)) this.onPeriod(period);
    for (const voided of this.scheduler.voidOverdue(REPORT_GRACE_MS, now)) this.onVoided(voided);
    // A worker given notice stays awake for its hand-over: only while a core is left over for it.
    const notice = this.scheduler.config.pcpus < this.hostCores;
    for (const d of this.scheduler.dispatch(now)) {
      const port = this.ports.get(d.vmId);
      if (!port) continue;
      if (d.kind === 'grant') port.grant(d.grantId, d.ms);
      else if (d.kind === 'preempt') port.preempt(d.grantId);
      else if (port.inbox !== undefined) {
        // Only the running guest is told: another guest's worker hears of its grant with the hand-over.
        if (d.vmId === d.after.vmId) port.queue(d.grantId, d.ms);
        this.ports.get(d.after.vmId)?.handOff(d.after.grantId, d.grantId, d.ms, { ...port.inbox, notice });
      }
    }
    // Wake for the next period or preemption, or when a report would be overdue.
    const at = Math.min(this.scheduler.nextDeadline(), this.scheduler.reportDue() + REPORT_GRACE_MS + 1);
    if (at !== this.timerAt || this.timer === null) {
      if (this.timer !== null) this.timers.clearTimeout(this.timer);
      this.timerAt = at;
      this.timer = this.timers.setTimeout(() => {
        this.timer = null;
        this.pump();
      }, Math.max(0, at - now));
    }
  }
}
