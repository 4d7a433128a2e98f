// The books of one accounting period: per VM, how its wall time split into
// states and how much CPU it used; per pCPU, which guest used it. The
// scheduler writes; closing the period turns the books into records.
import type { ClosedPeriod, HostPeriodRecord, PeriodRecord, VmId } from './scheduler-types.ts';

/** Where a VM's wall time goes. */
export type TimeBucket = 'running' | 'ready' | 'capped' | 'idle' | 'paused';

/** The settings a VM had during a period, copied into its record. */
export interface VmMeta {
  entitlementPct: number;
  capPct: number | null;
  reservationPct: number | null;
  weight: number;
}

interface Tally extends VmMeta {
  grantedMs: number;
  grants: number;
  handedOver: number;
  usedMs: number;
  unscheduledMs: number;
  instructions: number;
  running: number;
  ready: number;
  capped: number;
  idle: number;
  paused: number;
}

/** Accumulates one period's accounting and closes it into records. */
export class PeriodLedger {
  private readonly tallies = new Map<VmId, Tally>();
  private readonly byPcpu: Map<VmId, number>[] = [];
  private unscheduled = 0;

  /** Opens the books of period `periodIndex` starting at `startMs`, `periodMs` long, on `pcpus` pCPUs. */
  constructor(
    readonly periodIndex: number,
    readonly startMs: number,
    readonly periodMs: number,
    readonly pcpus: number,
  ) {
    for (let p = 0; p < pcpus; p++) this.byPcpu.push(new Map());
  }

  /** Makes sure `vmId` gets a record for this period, with these settings. */
  track(vmId: VmId, meta: VmMeta): void {
    const t = this.tallies.get(vmId);
    if (t) Object.assign(t, meta);
    else this.tallies.set(vmId, { ...meta, grantedMs: 0, grants: 0, handedOver: 0, usedMs: 0, unscheduledMs: 0, instructions: 0, running: 0, ready: 0, capped: 0, idle: 0, paused: 0 });
  }

  /** Books `ms` of wall time in `bucket` for a tracked VM. */
  addTime(vmId: VmId, bucket: TimeBucket, ms: number): void {
    const t = this.tallies.get(vmId);
    if (t) t[bucket] += ms;
  }

  /** Books grant time handed out (negative: taken back); `issued` counts one grant, `handedOver` one started by a hand-over. */
  addGranted(vmId: VmId, ms: number, issued: boolean, handedOver = false): void {
    const t = this.tallies.get(vmId);
    if (!t) return;
    t.grantedMs += ms;
    if (issued) t.grants += 1;
    if (handedOver) t.handedOver += 1;
  }

  /** Books guest CPU time (negative corrects an earlier estimate) on `pcpu`, or outside grants when null. */
  addUsed(vmId: VmId, pcpu: number | null, usedMs: number, instructions: number): void {
    const t = this.tallies.get(vmId);
    if (!t) return;
    t.usedMs += usedMs;
    t.instructions += instructions;
    if (pcpu === null) {
      t.unscheduledMs += usedMs;
      this.unscheduled += usedMs;
      return;
    }
    while (this.byPcpu.length <= pcpu) this.byPcpu.push(new Map());
    const slot = this.byPcpu[pcpu];
    slot?.set(vmId, (slot.get(vmId) ?? 0) + usedMs);
  }

  /** Turns the books into one record per tracked VM plus the host record. */
  close(): ClosedPeriod {
    const base = { periodIndex: this.periodIndex, startMs: this.startMs, periodMs: this.periodMs };
    const vms: PeriodRecord[] = [];
    for (const [vmId, t] of this.tallies) {
      vms.push({
        vmId,
        ...base,
        // Estimates corrected downwards can leave tiny negatives: never report them.
        grantedMs: Math.max(0, t.grantedMs),
        usedMs: Math.max(0, t.usedMs),
        unscheduledMs: Math.max(0, t.unscheduledMs),
        instructions: Math.max(0, t.instructions),
        runningMs: t.running,
        readyMs: t.ready,
        cappedMs: t.capped,
        idleMs: t.idle,
        pausedMs: t.paused,
        entitlementPct: t.entitlementPct,
        capPct: t.capPct,
        reservationPct: t.reservationPct,
        weight: t.weight,
        grants: t.grants,
        handedOver: t.handedOver,
      });
    }
    const byVm = this.byPcpu.map((m) => Object.fromEntries([...m].map(([id, ms]) => [id, Math.max(0, ms)])));
    const busyMs = byVm.map((m) => Math.min(this.periodMs, Object.values(m).reduce((a, b) => a + b, 0)));
    const host: HostPeriodRecord = {
      ...base,
      pcpus: this.pcpus,
      busyMs,
      idleMs: busyMs.map((b) => this.periodMs - b),
      byVm,
      unscheduledMs: Math.max(0, this.unscheduled),
    };
    return { host, vms };
  }
}
