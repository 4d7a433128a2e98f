// Standby guest workers: a few workers spawned ahead of need, each with v86's
// wasm compiled and the default image's files loaded and checked (prepare).
// A start takes one (skipping ~0.5-1 s of thread start, module load and wasm
// compile) and a replacement is spawned behind it. Real hypervisors keep
// pre-started VMM processes for the same reason.
import type { PrepareSpec } from '../protocol/guest-api.ts';
import { realTimers, type HostTimers } from './timers.ts';
import type { GuestWorker, GuestWorkerFactory } from './worker-port.ts';

/** The dashboard's standby workers: the next two starts skip worker start-up. */
export const PAGE_STANDBY_WORKERS = 2;

/**
 * Replacements are spawned this long after the last take, once the host is
 * quiet (no guest booting): starting a thread and preparing it competes with
 * the boots under way, and with the page.
 */
export const REFILL_DELAY_MS = 1000;

export class StandbyWorkers {
  private readonly ready: GuestWorker[] = [];
  private readonly preparing = new Map<GuestWorker, Promise<void>>();
  private disposed = false;
  private refillTimer: unknown = null;
  /** Workers handed out that had been prepared in advance, and those spawned on demand. */
  taken = { warm: 0, cold: 0 };

  constructor(
    private readonly spawn: GuestWorkerFactory,
    private readonly prepare: PrepareSpec,
    private readonly size: number,
    private readonly timers: HostTimers = realTimers,
    /** True when no guest is booting: replacements wait for it. */
    private readonly quiet: () => boolean = () => true,
  ) {
    this.refill();
  }

  /** A worker factory that hands out standby workers first. */
  readonly factory: GuestWorkerFactory = () => this.take();

  /** How many workers wait on standby. */
  get count(): number {
    return this.ready.length;
  }

  /** A standby worker if one waits (its prepare may still be running: boot waits for it), else a new one. */
  take(): GuestWorker {
    const worker = this.ready.shift();
    if (worker) this.preparing.delete(worker);
    if (worker) this.taken.warm++;
    else this.taken.cold++;
    if (!this.disposed) this.refillLater();
    return worker ?? this.spawn();
  }

  private refillLater(): void {
    if (this.refillTimer !== null) this.timers.clearTimeout(this.refillTimer);
    this.refillTimer = this.timers.setTimeout(() => {
      this.refillTimer = null;
      if (this.quiet()) this.refill();
      else this.refillLater();
    }, REFILL_DELAY_MS);
  }

  /** Refill now (not after the delay) and resolve once every standby worker has finished preparing. */
  async whenReady(): Promise<void> {
    if (this.refillTimer !== null) this.timers.clearTimeout(this.refillTimer);
    this.refillTimer = null;
    this.refill();
    await Promise.all(this.ready.map((w) => this.preparing.get(w)));
  }

  /** Terminate the workers on standby; later takes spawn on demand. */
  async dispose(): Promise<void> {
    this.disposed = true;
    if (this.refillTimer !== null) this.timers.clearTimeout(this.refillTimer);
    this.refillTimer = null;
    const all = this.ready.splice(0);
    this.preparing.clear();
    await Promise.all(all.map((w) => w.terminate()));
  }

  private refill(): void {
    while (!this.disposed && this.ready.length < this.size) {
      const worker = this.spawn();
      worker.onFailure(() => {
        const i = this.ready.indexOf(worker);
        if (i >= 0) this.ready.splice(i, 1);
        this.preparing.delete(worker);
      });
      // Failures surface in the boot that uses the worker.
      this.preparing.set(worker, worker.api.prepare(this.prepare).catch(() => {}));
      this.ready.push(worker);
    }
  }
}
