// Finds guest workers that stopped answering: every watched worker is pinged
// on an interval, and one whose answer does not come within the timeout is
// reported dead (once). A worker that died outright is reported by its
// thread's own failure event; this catches the hung ones and the lost
// channels. Driven by HostTimers, so tests run it on a fake clock.
import type { HostTimers } from '../timers.ts';

export interface WatchdogOptions {
  /** How often each worker is asked (ms). */
  intervalMs: number;
  /** How long an answer may take (ms). */
  timeoutMs: number;
}

/** Defaults: a hung worker is found within interval + timeout = 1.4 s. */
export const WATCHDOG_DEFAULTS: WatchdogOptions = { intervalMs: 400, timeoutMs: 1000 };

interface Watched {
  ping: () => Promise<unknown>;
  timer: unknown;
  /** Increases with every ping; an answer to an older one is ignored. */
  seq: number;
  /** A ping is out and its timeout runs. */
  asking: boolean;
}

export class Watchdog {
  private readonly watched = new Map<string, Watched>();

  constructor(
    private readonly timers: HostTimers,
    private readonly onDead: (id: string, reason: string) => void,
    private readonly options: WatchdogOptions = WATCHDOG_DEFAULTS,
  ) {}

  /** Start asking `id` (replaces an earlier watch of the same id). */
  watch(id: string, ping: () => Promise<unknown>): void {
    this.unwatch(id);
    const w: Watched = { ping, timer: null, seq: 0, asking: false };
    this.watched.set(id, w);
    this.schedule(id, w, this.options.intervalMs);
  }

  unwatch(id: string): void {
    const w = this.watched.get(id);
    if (!w) return;
    if (w.timer !== null) this.timers.clearTimeout(w.timer);
    this.watched.delete(id);
  }

  /** Ask now (e.g. after a message to it failed or its report is overdue), unless a question is already out. */
  check(id: string): void {
    const w = this.watched.get(id);
    if (w && !w.asking) this.schedule(id, w, 0);
  }

  has(id: string): boolean {
    return this.watched.has(id);
  }

  dispose(): void {
    for (const id of [...this.watched.keys()]) this.unwatch(id);
  }

  private schedule(id: string, w: Watched, ms: number): void {
    if (w.timer !== null) this.timers.clearTimeout(w.timer);
    w.timer = this.timers.setTimeout(() => this.ask(id, w), ms);
  }

  private ask(id: string, w: Watched): void {
    if (this.watched.get(id) !== w) return;
    const seq = ++w.seq;
    const sentAt = this.timers.now();
    let answered = false;
    w.asking = true;
    w.ping().then(
      () => {
        answered = true;
        w.asking = false;
        if (this.watched.get(id) === w && w.seq === seq) this.schedule(id, w, this.options.intervalMs);
      },
      (err: unknown) => {
        answered = true;
        if (this.watched.get(id) === w && w.seq === seq) this.dead(id, `its worker failed to answer: ${(err as Error)?.message ?? String(err)}`);
      },
    );
    const late = (): void => {
      if (answered || this.watched.get(id) !== w || w.seq !== seq) return;
      const waited = this.timers.now() - sentAt;
      this.dead(id, `its worker did not answer for ${Math.round(waited)} ms`);
    };
    w.timer = this.timers.setTimeout(() => {
      w.timer = null;
      // The host itself may have been stalled (a busy or throttled page): let
      // answers already queued behind this timer arrive first.
      if (this.timers.now() - sentAt > 2 * this.options.timeoutMs) w.timer = this.timers.setTimeout(late, 0);
      else late();
    }, this.options.timeoutMs);
  }

  private dead(id: string, reason: string): void {
    this.unwatch(id);
    this.onDead(id, reason);
  }
}
