// What the three isolation experiments share: options (progress callback,
// abort signal), the verdict shape, and the guests an experiment creates for
// itself and always destroys again. Plain async code over the public
// Hypervisor API, so the tests, the view and a headless runner run the same.
import { HvError, isHvError } from '../../core/errors.ts';
import type { HostApi } from '../host-api.ts';
import type { VmSpec } from '../hypervisor.ts';
import type { ExecResult } from '../guest.ts';
import { isWarm, mipsSamples } from './window-stats.ts';

/** One step of a running experiment, for a progress bar and a status line. */
export interface ExperimentProgress {
  /** 1-based number of the current step. */
  step: number;
  steps: number;
  message: string;
}

export interface ExperimentOptions {
  onProgress?: (progress: ExperimentProgress) => void;
  /** Abort: the experiment stops at the next step and still destroys its guests. */
  signal?: AbortSignal;
  /** RAM of each guest the experiment creates (default 80 MiB). */
  memoryMiB?: number;
  /** Prefix of the experiment's VM names (default "iso"). */
  namePrefix?: string;
}

/** Pass or fail, and why, in one sentence with the numbers. */
export interface Verdict {
  pass: boolean;
  reason: string;
}

/** Identity of a guest in a result. */
export interface GuestRef {
  vmId: string;
  name: string;
}

export const DEFAULT_GUEST_MIB = 80;

/** Reports numbered steps; checks the abort signal at every step. */
export class Steps {
  private step = 0;

  constructor(
    readonly steps: number,
    private readonly options: ExperimentOptions,
  ) {}

  next(message: string): void {
    this.options.signal?.throwIfAborted();
    this.step = Math.min(this.step + 1, this.steps);
    this.options.onProgress?.({ step: this.step, steps: this.steps, message });
  }

  /** Same step, new message (long steps: say what is happening). */
  say(message: string): void {
    this.options.signal?.throwIfAborted();
    this.options.onProgress?.({ step: Math.max(this.step, 1), steps: this.steps, message });
  }
}

/** Wait ms, or reject as soon as the signal aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Settle with promise, or reject when the signal aborts first (the promise runs on). */
export function abortable<T>(promise: Promise<T>, signal?: AbortSignal): Promise<T> {
  if (!signal) return promise;
  return new Promise<T>((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

/** The hypervisor's clock: period records are stamped with performance.now(). */
export const now = (): number => performance.now();

/**
 * The VMs one experiment creates. start() defines and boots them together;
 * dispose() destroys every one that still exists, whatever happened.
 */
export class ExperimentGuests {
  private readonly ids: string[] = [];

  constructor(
    private readonly hv: HostApi,
    private readonly signal?: AbortSignal,
  ) {}

  /** Define all, then boot all at once; resolves with their ids in order. */
  async start(specs: VmSpec[]): Promise<GuestRef[]> {
    const taken = new Set(this.hv.vms().map((v) => v.name));
    const clash = specs.find((s) => taken.has(s.name));
    if (clash) {
      throw new HvError(
        'duplicate-name',
        `a VM named ${clash.name} already exists: the experiment creates its own guests (${specs.map((s) => s.name).join(', ')}); destroy it first`,
        { name: clash.name },
      );
    }
    const refs: GuestRef[] = [];
    for (const spec of specs) {
      const info = await this.hv.createVm(spec);
      this.ids.push(info.id);
      refs.push({ vmId: info.id, name: info.name });
    }
    await abortable(Promise.all(refs.map((r) => this.hv.start(r.vmId))), this.signal);
    return refs;
  }

  /** Run a command that must succeed (status 0); the error names the VM and the output. */
  async run(vm: GuestRef, command: string, timeoutMs = 60_000): Promise<ExecResult> {
    const result = await abortable(this.hv.exec(vm.vmId, command, timeoutMs), this.signal);
    if (result.status !== 0) {
      throw new HvError('internal', `${vm.name}: '${command}' exited with status ${result.status}: ${result.output.trim().slice(-300)}`, {
        vm: vm.name,
        status: result.status,
      });
    }
    return result;
  }

  /** Destroy every VM this experiment created that still exists. Never throws. */
  async dispose(): Promise<void> {
    const existing = new Set(this.hv.vms().map((v) => v.id));
    await Promise.all(
      this.ids
        .filter((id) => existing.has(id))
        .map((id) =>
          this.hv.destroy(id).catch((err: unknown) => {
            // Already gone (destroyed by the user meanwhile) is fine.
            if (!isHvError(err, 'not-found')) console.warn(`experiment cleanup: ${(err as Error).message}`);
          }),
        ),
    );
    this.ids.length = 0;
  }
}

/** Poll an exec until its output satisfies done(), every intervalMs, for up to timeoutMs. */
export async function pollExec(
  guests: ExperimentGuests,
  vm: GuestRef,
  command: string,
  done: (output: string) => boolean,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<string> {
  const until = now() + timeoutMs;
  for (;;) {
    const { output } = await guests.run(vm, command);
    if (done(output)) return output;
    if (now() > until) throw new HvError('boot-timeout', `${vm.name}: '${command}' did not show the expected output within ${timeoutMs} ms: ${output.trim().slice(-200)}`, {});
    await sleep(300, signal);
  }
}

/** Error message of anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * Wait until every VM in ids runs at full speed: at least minMs, then until
 * its speed while running has stopped rising (see isWarm), at most maxMs.
 * Returns how long it waited and whether the speed levelled off.
 */
export async function waitWarm(
  hv: HostApi,
  ids: string[],
  { minMs = 15_000, maxMs = 60_000 }: { minMs?: number; maxMs?: number },
  signal?: AbortSignal,
): Promise<{ ms: number; steady: boolean }> {
  const from = now();
  for (;;) {
    await sleep(1000, signal);
    const elapsed = now() - from;
    if (elapsed < minMs) continue;
    const periods = hv.history.between(from);
    // The newest bucket may be partly filled: leave it out.
    if (ids.every((id) => isWarm(mipsSamples(periods, id, 1000, 'mipsWhileRunning').slice(0, -1)))) return { ms: elapsed, steady: true };
    if (elapsed > maxMs) return { ms: elapsed, steady: false };
  }
}
