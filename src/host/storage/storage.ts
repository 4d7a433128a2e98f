// The hypervisor's storage: volumes and base images (VolumeStore), what the
// guests' workers report of them (written blocks, I/O counters), the I/O of
// each VM per accounting period, and the division of the host's disk
// capacity by shares. The Hypervisor facade routes to it and persists what it
// says to persist.
import type { IoCounters } from '../../protocol/guest-api.ts';
import { divideIo, type IoDemand, type IoLimits, type IoPeriod } from '../../core/storage/io-limit.ts';
import type { OverlayBlocks } from '../../core/storage/blocks.ts';
import type { PeriodRecord } from '../../core/scheduler-types.ts';
import { VolumeStore } from './volumes.ts';

const ZERO: IoCounters = { readOps: 0, writeOps: 0, readBytes: 0, writeBytes: 0, waitMs: 0 };

/** Shares divide by the I/O of about this many recent periods (guests report their counters every 250 ms). */
const DEMAND_PERIODS = 10;

interface VmIo {
  /** The counters of its current boot as last reported, and as last put in a period. */
  now: IoCounters;
  counted: IoCounters;
  /** The requests/s the host's capacity allows it (shares), or null. */
  allowedIops: number | null;
  /** Its last periods' requests, wait and length, newest last. */
  recent: { ops: number; waitMs: number; ms: number }[];
}

export class HostStorage {
  readonly volumes = new VolumeStore();
  private readonly vms = new Map<string, VmIo>();

  constructor(
    /** Persist blocks a guest wrote to a volume. */
    private readonly persistBlocks: (volume: string, blocks: OverlayBlocks) => void,
  ) {}

  /** A VM's guest starts: its counters start from zero, and it may use the host's whole disk capacity until the next division. */
  booted(vmId: string, capacityIops: number | null): void {
    this.vms.set(vmId, { now: { ...ZERO }, counted: { ...ZERO }, allowedIops: capacityIops, recent: [] });
  }

  /** The host's capacity changed: every VM may use all of it until the next division. */
  recapacity(capacityIops: number | null): void {
    for (const io of this.vms.values()) io.allowedIops = capacityIops;
  }

  forget(vmId: string): void {
    this.vms.delete(vmId);
  }

  counters(vmId: string): IoCounters | null {
    const io = this.vms.get(vmId);
    return io ? { ...io.now } : null;
  }

  /** Blocks its guest wrote to a volume. */
  written(volume: string, blocks: OverlayBlocks): void {
    this.volumes.write(volume, blocks);
    this.persistBlocks(volume, blocks);
  }

  reported(vmId: string, counters: IoCounters): void {
    const io = this.vms.get(vmId);
    if (io) io.now = { ...counters };
  }

  /** Put each VM's I/O since the last period into its period record. */
  account(records: PeriodRecord[]): void {
    for (const r of records) {
      const io = this.vms.get(r.vmId);
      if (!io) continue;
      const d: IoPeriod = {
        readOps: io.now.readOps - io.counted.readOps,
        writeOps: io.now.writeOps - io.counted.writeOps,
        readBytes: io.now.readBytes - io.counted.readBytes,
        writeBytes: io.now.writeBytes - io.counted.writeBytes,
        waitMs: io.now.waitMs - io.counted.waitMs,
      };
      io.counted = { ...io.now };
      r.io = d;
      io.recent.push({ ops: d.readOps + d.writeOps, waitMs: d.waitMs, ms: r.periodMs });
      if (io.recent.length > DEMAND_PERIODS) io.recent.shift();
    }
  }

  /**
   * Divide the host's capacity (requests/s) among the VMs that did I/O in
   * their last periods (DEMAND_PERIODS), by their shares (max-min fair; a VM
   * whose requests waited wants more than it got). Returns the VMs whose
   * allowance changed, with the limit their worker should now apply (their
   * own limit or the allowance, whichever is lower).
   */
  divide(capacityIops: number | null, limitsOf: (vmId: string) => IoLimits): Map<string, { iops: number | null; bytesPerSec: number | null }> {
    const changes = new Map<string, { iops: number | null; bytesPerSec: number | null }>();
    const demands: IoDemand[] = [];
    for (const [vmId, io] of this.vms) {
      const ops = io.recent.reduce((n, p) => n + p.ops, 0);
      if (capacityIops === null || ops === 0) continue;
      const waited = io.recent.some((p) => p.waitMs > 0);
      const ms = io.recent.reduce((n, p) => n + p.ms, 0);
      demands.push({ id: vmId, shares: limitsOf(vmId).shares, iops: waited ? Infinity : (ops * 1000) / ms });
    }
    const allowed = capacityIops === null ? new Map<string, number>() : divideIo(capacityIops, demands);
    for (const [vmId, io] of this.vms) {
      // A VM that did no I/O keeps its last allowance until it does (then it is divided again).
      const next = capacityIops === null ? null : (allowed.get(vmId) ?? io.allowedIops);
      const before = io.allowedIops;
      if (next === before || (next !== null && before !== null && Math.abs(next - before) / before < 0.05)) continue;
      io.allowedIops = next;
      changes.set(vmId, effectiveLimits(limitsOf(vmId), next));
    }
    return changes;
  }

  /** The limits a VM's worker applies now: its own, lowered to its share of the host's capacity. */
  effective(vmId: string, limits: IoLimits): { iops: number | null; bytesPerSec: number | null } {
    return effectiveLimits(limits, this.vms.get(vmId)?.allowedIops ?? null);
  }
}

function effectiveLimits(limits: IoLimits, allowedIops: number | null): { iops: number | null; bytesPerSec: number | null } {
  const iops = limits.iops === null ? allowedIops : allowedIops === null ? limits.iops : Math.min(limits.iops, allowedIops);
  return { iops, bytesPerSec: limits.bytesPerSec };
}
