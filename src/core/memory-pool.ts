// The host's RAM pool in MiB. Starting a VM reserves its RAM; the pool
// refuses a reservation that does not fit unless the lab allows overcommit,
// in which case it reports by how much the host is overcommitted.
import { HvError } from './errors.ts';
import { describeValue, fmtMiB, fmtNumber } from './format.ts';

/** One VM's share of the pool. */
export interface PoolReservation {
  vmId: string;
  /** Name used in messages (defaults to the id). */
  name: string;
  mib: number;
}

/** Plain-data state of a pool (configuration and reservations). */
export interface MemoryPoolSnapshot {
  totalMiB: number;
  overcommit: boolean;
  reservations: PoolReservation[];
}

/** Options for a new pool. */
export interface MemoryPoolOptions {
  totalMiB: number;
  overcommit?: boolean;
}

/** Reserves and releases guest RAM against a fixed host total. */
export class MemoryPool {
  private total: number;
  private allowOvercommit: boolean;
  // Insertion order is kept so reservations() lists VMs in start order.
  private readonly held = new Map<string, PoolReservation>();

  /** Creates a pool of `totalMiB`; with `overcommit` reservations may exceed it. */
  constructor({ totalMiB, overcommit = false }: MemoryPoolOptions) {
    this.total = checkMiB(totalMiB, 'pool size');
    this.allowOvercommit = overcommit;
  }

  /** Pool size in MiB. */
  get totalMiB(): number {
    return this.total;
  }

  /** Sum of all reservations in MiB (may exceed totalMiB when overcommitted). */
  get reservedMiB(): number {
    let sum = 0;
    for (const r of this.held.values()) sum += r.mib;
    return sum;
  }

  /** Unreserved MiB, never negative. */
  get freeMiB(): number {
    return Math.max(0, this.total - this.reservedMiB);
  }

  /** MiB reserved beyond the pool size (0 when not overcommitted). */
  get overcommittedMiB(): number {
    return Math.max(0, this.reservedMiB - this.total);
  }

  /** Whether reservations may exceed the pool. */
  get overcommit(): boolean {
    return this.allowOvercommit;
  }

  /** reserved / total: above 1 means overcommitted (1.25 = 25 % more than the pool). */
  get overcommitRatio(): number {
    return this.reservedMiB / this.total;
  }

  /** All reservations in the order they were made. */
  reservations(): PoolReservation[] {
    return [...this.held.values()].map((r) => ({ ...r }));
  }

  /** The reservation of one VM, if any. */
  reservationOf(vmId: string): PoolReservation | undefined {
    const r = this.held.get(vmId);
    return r === undefined ? undefined : { ...r };
  }

  /** True when reserve(mib) for a new VM would succeed. */
  wouldFit(mib: number): boolean {
    return this.allowOvercommit || checkMiB(mib, 'memory size') <= this.freeMiB;
  }

  /**
   * Reserves `mib` for `vmId` (re-reserving resizes it) or throws HvError 'pool-exhausted'.
   * `action` is the verb for the message ("cannot start web1: ...").
   */
  reserve(vmId: string, mib: number, name: string = vmId, action = 'start'): void {
    if (typeof vmId !== 'string' || vmId === '') {
      throw new HvError('invalid-argument', `a memory reservation needs a VM id, got ${describeValue(vmId)}`, { vmId });
    }
    checkMiB(mib, `memory size of ${name}`);
    const previous = this.held.get(vmId)?.mib ?? 0;
    // A resize only needs the growth to fit.
    const growth = mib - previous;
    if (!this.allowOvercommit && growth > 0 && growth > this.freeMiB) {
      const reserved = this.reservedMiB;
      const free = this.freeMiB;
      const over = reserved > this.total ? `, overcommitted by ${fmtMiB(reserved - this.total)}` : '';
      const held = previous > 0 ? `; it already holds ${fmtMiB(previous)}` : '';
      throw new HvError(
        'pool-exhausted',
        `cannot ${action} ${name}: needs ${fmtMiB(mib)} but only ${fmtMiB(free)} of the ${fmtMiB(this.total)} pool is free (${fmtMiB(reserved)} reserved${over})${held}`,
        { vmId, name, requestedMiB: mib, freeMiB: free, totalMiB: this.total, reservedMiB: reserved, heldMiB: previous },
      );
    }
    this.held.set(vmId, { vmId, name, mib });
  }

  /** Releases the reservation of `vmId`; does nothing if it holds none. */
  release(vmId: string): void {
    this.held.delete(vmId);
  }

  /** Changes the pool size; existing reservations stay even if they no longer fit. */
  setTotal(mib: number): void {
    this.total = checkMiB(mib, 'pool size');
  }

  /** Allows or forbids overcommit; forbidding it keeps existing reservations but refuses new ones that do not fit. */
  setOvercommit(allow: boolean): void {
    this.allowOvercommit = allow;
  }

  /** Plain-data copy of the pool's state. */
  snapshot(): MemoryPoolSnapshot {
    return { totalMiB: this.total, overcommit: this.allowOvercommit, reservations: this.reservations() };
  }

  /** Rebuilds a pool from a snapshot, reservations included even if overcommitted. */
  static restore(snapshot: MemoryPoolSnapshot): MemoryPool {
    const pool = new MemoryPool({ totalMiB: snapshot.totalMiB, overcommit: true });
    for (const r of snapshot.reservations) pool.reserve(r.vmId, r.mib, r.name);
    pool.setOvercommit(snapshot.overcommit);
    return pool;
  }
}

// Pool sizes and reservations are whole, positive MiB.
function checkMiB(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value <= 0) {
    const shown = typeof value === 'number' ? `${fmtNumber(value, 3)} MiB` : describeValue(value);
    throw new HvError('invalid-argument', `${what} must be a positive whole number of MiB, got ${shown}`, { value });
  }
  return value;
}
