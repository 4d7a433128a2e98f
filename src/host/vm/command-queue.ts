// One VM's lifecycle commands, one at a time and in the order they were
// issued, so that any interleaving of start/stop/restart/pause/resume/destroy
// ends in a defined state. A command that powers the VM off (stop, destroy)
// supersedes the other commands still waiting and aborts a boot in progress:
// those end with an HvError 'cancelled' (their own outcome, not a refusal),
// and the next command starts only once the aborted one has cleaned up.
// Superseding commands never cancel each other: destroy then stop ends
// destroyed (the stop is refused), stop then destroy ends destroyed too.
import { HvError } from '../../core/errors.ts';

export interface CommandOptions {
  /** Cancel the commands still waiting, and abort a cancellable one in progress. */
  supersedes?: boolean;
  /** May be aborted (through its signal) by a superseding command. */
  cancellable?: boolean;
}

interface Entry {
  name: string;
  run: (signal: AbortSignal) => Promise<unknown>;
  options: CommandOptions;
  controller: AbortController;
  promise: Promise<unknown>;
  resolve: (value: unknown) => void;
  reject: (reason: unknown) => void;
  settled: boolean;
}

/** The outcome of a command cut short by a later one. */
export function cancelledBy(command: string, subject: string, by: string): HvError {
  return new HvError('cancelled', `${command} of ${subject} was cancelled by a later ${by}`, { command, by, subject });
}

export class CommandQueue {
  private running: Entry | null = null;
  private readonly waiting: Entry[] = [];

  /** subject: the VM's name, for messages. */
  constructor(private readonly subject: () => string) {}

  /** True while a command runs or waits. */
  get busy(): boolean {
    return this.running !== null || this.waiting.length > 0;
  }

  /** The command in progress, if any. */
  get current(): string | null {
    return this.running?.name ?? null;
  }

  /**
   * Queue a command; it runs when those before it are done. A superseding
   * command issued while the same one is already queued (or running with
   * nothing after it) joins it: both callers get the one result.
   */
  submit<T>(name: string, run: (signal: AbortSignal) => Promise<T>, options: CommandOptions = {}): Promise<T> {
    if (options.supersedes) {
      const last = this.waiting[this.waiting.length - 1] ?? (this.waiting.length === 0 ? this.running : null);
      if (last && last.name === name && last.options.supersedes && !last.settled) return last.promise as Promise<T>;
      const kept = this.waiting.filter((e) => e.options.supersedes);
      for (const e of this.waiting) if (!e.options.supersedes) this.settle(e, false, cancelledBy(e.name, this.subject(), name));
      this.waiting.splice(0, this.waiting.length, ...kept);
      const r = this.running;
      if (r?.options.cancellable && !r.settled) {
        const reason = cancelledBy(r.name, this.subject(), name);
        this.settle(r, false, reason);
        r.controller.abort(reason);
      }
    }
    let resolve!: (value: unknown) => void;
    let reject!: (reason: unknown) => void;
    const promise = new Promise<unknown>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    const entry: Entry = { name, run, options, controller: new AbortController(), promise, resolve, reject, settled: false };
    this.waiting.push(entry);
    this.next();
    return promise as Promise<T>;
  }

  /** Cancel everything waiting and abort what runs (when it is cancellable); by: why, for messages. */
  cancelAll(by: string): void {
    for (const e of this.waiting.splice(0)) this.settle(e, false, cancelledBy(e.name, this.subject(), by));
    const r = this.running;
    if (r && !r.settled && r.options.cancellable) {
      const reason = cancelledBy(r.name, this.subject(), by);
      this.settle(r, false, reason);
      r.controller.abort(reason);
    }
  }

  /** Resolves when nothing runs or waits (a cancelled command counts until its cleanup is done). */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise<void>((resolve) => this.drained.push(resolve));
  }

  private readonly drained: (() => void)[] = [];

  private next(): void {
    if (this.running) return;
    const e = this.waiting.shift();
    if (!e) {
      for (const d of this.drained.splice(0)) d();
      return;
    }
    this.running = e;
    let run: Promise<unknown>;
    try {
      run = e.run(e.controller.signal);
    } catch (err) {
      run = Promise.reject(err);
    }
    run.then(
      (value) => this.settle(e, true, value),
      (err: unknown) => this.settle(e, false, e.controller.signal.aborted ? e.controller.signal.reason : err),
    ).finally(() => {
      this.running = null;
      this.next();
    });
  }

  private settle(e: Entry, ok: boolean, value: unknown): void {
    if (e.settled) return;
    e.settled = true;
    if (ok) e.resolve(value);
    else e.reject(value);
  }
}
