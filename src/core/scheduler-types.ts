// Data shapes of the CPU scheduler: its configuration, the decisions it
// returns, the reports the host feeds back and the per-period records the
// dashboard draws. All times are ms on the host's Clock; shares are % of ONE pCPU.
import type { IoPeriod } from './storage/io-limit.ts';

/** A VM's id as the host names it. */
export type VmId = string;

/** Host-wide scheduler settings. */
export interface SchedulerConfig {
  /** Guests that may execute at the same instant (physical CPUs). */
  pcpus: number;
  /** Accounting period in ms: credits are handed out and reset once per period. */
  periodMs: number;
  /** Normal grant length in ms while others wait for a pCPU. */
  sliceMs: number;
  /** Shortest grant in ms given to spend a small rest of credit (a v86 tick is ~1 ms). */
  minGrantMs: number;
  /**
   * Decide who follows a running grant before it ends, so that the guest
   * worker can hand the pCPU straight to the next one (one message between
   * workers instead of a round trip through the host). Off: every hand-over
   * goes through the host.
   */
  handOff: boolean;
}

/** Input form of SchedulerConfig: everything but pcpus has a default. */
export type SchedulerConfigInput = Pick<SchedulerConfig, 'pcpus'> & Partial<Omit<SchedulerConfig, 'pcpus'>>;

/** One VM's CPU settings (it has one vCPU). */
export interface VmResources {
  /** Relative shares, integer 1..100000 (1000 = normal). */
  weight: number;
  /** At most this % of one pCPU per period (1..100), null for no cap. */
  capPct: number | null;
  /** At least this % of one pCPU per period when it wants it (0..100), null for none. */
  reservationPct: number | null;
}

/** Input form of VmResources: every field optional. */
export type VmResourcesInput = Partial<{ weight: number; capPct: number | null; reservationPct: number | null }>;

/** How the scheduler sees a VM right now. */
export type VmSchedState = 'runnable' | 'running' | 'blocked' | 'paused';

/** Let `vmId` execute on `pcpu` for up to `ms`; the guest reports back with onSliceEnd(grantId). */
export interface GrantDecision {
  kind: 'grant';
  vmId: VmId;
  pcpu: number;
  ms: number;
  grantId: number;
}

/** Ask the guest holding `grantId` to stop early and report with reason 'preempted'. */
/** A grant whose slice report never came in time: voided, its pCPU freed (CpuScheduler.voidOverdue). */
export interface VoidedGrant {
  vmId: VmId;
  grantId: number;
  pcpu: number;
  /** How long past the grant's end its report was missing, ms. */
  lateMs: number;
}

export interface PreemptDecision {
  kind: 'preempt';
  vmId: VmId;
  grantId: number;
}

/**
 * `vmId` runs next on `pcpu` once grant `after` ends: its worker starts when
 * the worker of `after.vmId` passes it the pCPU (or when a grant decision for
 * `grantId` follows). A preempt decision for `grantId` withdraws it.
 */
export interface QueueDecision {
  kind: 'queue';
  vmId: VmId;
  pcpu: number;
  ms: number;
  grantId: number;
  after: { vmId: VmId; grantId: number };
}

/** What the host must do after dispatch. */
export type Decision = GrantDecision | PreemptDecision | QueueDecision;

/** Why a slice ended: its time ran out, the guest halted, or the host preempted it. */
export type SliceEndReason = 'expired' | 'idle' | 'preempted';

/** What a guest did with a grant. `usedMs` may exceed the grant (overrun): it is charged. */
export interface SliceReport {
  usedMs: number;
  instructions: number;
  reason: SliceEndReason;
  /** The queued grant the guest's worker started when this one ended (see QueueDecision). */
  handedOff?: number | null;
}

/** CPU a guest spent without a grant (a blocked guest servicing timer interrupts). */
export interface UsageReport {
  usedMs: number;
  instructions: number;
}

/** One VM's accounting for one closed period. */
export interface PeriodRecord {
  vmId: VmId;
  periodIndex: number;
  startMs: number;
  periodMs: number;
  /** Grant time handed out, minus what preemption took back. */
  grantedMs: number;
  /** Guest CPU time charged to this period (reports, or an estimate for a grant still running at the boundary). */
  usedMs: number;
  /** Part of usedMs spent without a grant (onUsage). */
  unscheduledMs: number;
  /** Guest instructions reported in this period. */
  instructions: number;
  /** Wall time holding a grant. */
  runningMs: number;
  /** Runnable and allowed to run, but waiting for a pCPU (vSphere's "CPU ready"). */
  readyMs: number;
  /** Runnable but held back because its cap for this period is spent. */
  cappedMs: number;
  /** Blocked: the guest halted and gave its time back. */
  idleMs: number;
  pausedMs: number;
  /** Expected share of one pCPU this period (the "configured share" line). */
  entitlementPct: number;
  capPct: number | null;
  reservationPct: number | null;
  weight: number;
  /** Grants issued in this period. */
  grants: number;
  /** Of those, grants its worker started on a hand-over from the previous guest's worker (no host round trip). */
  handedOver: number;
  /** Its disk I/O in this period (added by the host's storage; absent for a VM without volumes). */
  io?: IoPeriod;
  /** MiB its memory balloon held at the period's end (added by the host; absent while it held none since boot). */
  balloonMiB?: number;
  /** The guest's own memory report, the latest while its balloon holds memory (MiB; faults and swap as counts since boot). */
  guestMemory?: { totalMiB: number; freeMiB: number; availableMiB: number; majorFaults: number; swapIn: number; swapOut: number };
}

/** How the pCPUs were used in one closed period. */
export interface HostPeriodRecord {
  periodIndex: number;
  startMs: number;
  periodMs: number;
  pcpus: number;
  /** Per pCPU: guest CPU time used on it, at most periodMs. */
  busyMs: number[];
  /** Per pCPU: periodMs - busyMs. */
  idleMs: number[];
  /** Per pCPU: used ms by VM id (the stacked chart). */
  byVm: Record<VmId, number>[];
  /** Guest time used outside any grant, all VMs together. */
  unscheduledMs: number;
}

/** Everything recorded for one closed period. */
export interface ClosedPeriod {
  host: HostPeriodRecord;
  vms: PeriodRecord[];
}

/** Configuration needed to rebuild a scheduler (latest values, pending ones included). */
export interface SchedulerSnapshot {
  config: SchedulerConfig;
  vms: { vmId: VmId; resources: VmResources }[];
}

/** A grant in flight on one pCPU, as the UI may show it. */
export interface PcpuView {
  pcpu: number;
  vmId: VmId;
  grantId: number;
  startMs: number;
  ms: number;
  extended: boolean;
  preemptRequested: boolean;
  /** The VM queued to follow on this pCPU, if any. */
  nextVmId: VmId | null;
}

/** One VM as the scheduler sees it now (ms within the current period). */
export interface VmView {
  vmId: VmId;
  state: VmSchedState;
  /** Its cap budget for this period is not spent (a runnable VM may get a pCPU). */
  eligible: boolean;
  grantId: number | null;
  entitlementPct: number;
  creditMs: number;
  usedMs: number;
  /** Cap budget this period (after debt). */
  limitMs: number;
  reservationMs: number;
  resources: VmResources;
  /** Accepted change that applies from the next period. */
  pendingResources: VmResources | null;
}

/** A read-only picture of the scheduler for the UI and tests. */
export interface SchedulerView {
  nowMs: number;
  periodIndex: number;
  periodStartMs: number;
  periodEndMs: number;
  config: SchedulerConfig;
  pendingConfig: SchedulerConfig | null;
  /** One entry per pCPU slot: the grant on it, or null when free. */
  pcpus: (PcpuView | null)[];
  vms: VmView[];
}
