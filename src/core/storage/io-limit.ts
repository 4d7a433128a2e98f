// Disk I/O as a resource: per-guest limits (operations and bytes per second,
// like Proxmox's iops/mbps or a cgroup's io.max) and shares of a host-wide
// capacity (like vSphere's storage I/O control). Pure; the guest worker paces
// its disk requests with an IoPacer, the host divides capacity with divideIo.
import { HvError } from '../errors.ts';
import { describeValue } from '../format.ts';

/** A guest's disk limits and shares; null: no limit. */
export interface IoLimits {
  /** Requests per second (one ATA read or write command, any size). */
  iops: number | null;
  /** Bytes per second, reads and writes together. */
  bytesPerSec: number | null;
  /** Relative shares of the host's capacity when it is contended (default 1000, like CPU weight). */
  shares: number;
}

/** One VM's disk I/O in one accounting period (PeriodRecord.io). */
export interface IoPeriod {
  readOps: number;
  writeOps: number;
  readBytes: number;
  writeBytes: number;
  /** ms its requests were held back by its limits (summed over requests). */
  waitMs: number;
}

export const NO_IO_LIMITS: IoLimits = { iops: null, bytesPerSec: null, shares: 1000 };

/** Largest limits accepted (beyond them a limit means nothing on this emulated disk). */
export const MAX_IOPS = 1_000_000;
export const MAX_IO_BYTES_PER_SEC = 10 * 1024 ** 3;

/** Checks a limits change; `who` names the VM in errors. Missing fields keep `current`. */
export function normalizeIoLimits(input: Partial<IoLimits> | null | undefined, who: string, current: IoLimits = NO_IO_LIMITS): IoLimits {
  const out = { ...current, ...(input ?? {}) };
  const limit = (field: 'iops' | 'bytesPerSec', max: number, unit: string): number | null => {
    const v = out[field];
    if (v === null || v === undefined) return null;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || v > max) {
      throw new HvError('invalid-argument', `${who}: disk ${field} limit ${describeValue(v)} is not valid: use a number of ${unit} above 0 and at most ${max}, or none`, {
        field,
        value: v,
      });
    }
    return v;
  };
  const shares = out.shares;
  if (typeof shares !== 'number' || !Number.isInteger(shares) || shares < 1 || shares > 100_000) {
    throw new HvError('invalid-argument', `${who}: disk shares ${describeValue(shares)} are not valid: use a whole number from 1 to 100000`, { value: shares });
  }
  return { iops: limit('iops', MAX_IOPS, 'requests per second'), bytesPerSec: limit('bytesPerSec', MAX_IO_BYTES_PER_SEC, 'bytes per second'), shares };
}

/**
 * Paces requests to at most `iops` a second and `bytesPerSec`, as a link of
 * that speed would: a virtual clock per limit, on which each request books
 * its cost (1/iops, bytes/bytesPerSec) from the later of the clock and now
 * less `burstMs`; it completes when both clocks have passed its booking. So
 * a request costs its own time (a long run holds the limit to within
 * `burstMs`), and after an idle spell `burstMs` worth of requests pass at once.
 */
export class IoPacer {
  private opsAt = -Infinity;
  private bytesAt = -Infinity;

  constructor(
    private limits: Pick<IoLimits, 'iops' | 'bytesPerSec'>,
    private readonly burstMs = 50,
  ) {}

  setLimits(limits: Pick<IoLimits, 'iops' | 'bytesPerSec'>): void {
    this.limits = limits;
  }

  /** Book a request of `bytes` arriving at `now` (ms): how long until it may complete, ms (0: at once). */
  admit(bytes: number, now: number): number {
    let done = now;
    const { iops, bytesPerSec } = this.limits;
    if (iops !== null) {
      this.opsAt = Math.max(this.opsAt, now - this.burstMs) + 1000 / iops;
      done = Math.max(done, this.opsAt);
    }
    if (bytesPerSec !== null) {
      this.bytesAt = Math.max(this.bytesAt, now - this.burstMs) + (bytes * 1000) / bytesPerSec;
      done = Math.max(done, this.bytesAt);
    }
    return done - now;
  }
}

/** A guest's demand on the host's disk in the last period. */
export interface IoDemand {
  id: string;
  shares: number;
  /** Requests per second it asked for (done + held back). */
  iops: number;
}

/**
 * Divide `capacityIops` among guests by shares, max-min fair: a guest that
 * asks for less than its share gets what it asked, the rest is divided again
 * among the others by shares. Returns each guest's ceiling, requests/s.
 */
export function divideIo(capacityIops: number, demands: IoDemand[]): Map<string, number> {
  const out = new Map<string, number>();
  let left = capacityIops;
  let open = demands.filter((d) => d.shares > 0);
  while (open.length > 0) {
    const totalShares = open.reduce((n, d) => n + d.shares, 0);
    const satisfied = open.filter((d) => d.iops <= (left * d.shares) / totalShares);
    if (satisfied.length === 0) {
      for (const d of open) out.set(d.id, (left * d.shares) / totalShares);
      break;
    }
    for (const d of satisfied) {
      // Room to grow: a satisfied guest may take up to its share next period.
      out.set(d.id, (left * d.shares) / totalShares);
      left -= d.iops;
    }
    open = open.filter((d) => !satisfied.includes(d));
  }
  return out;
}
