// How many guests may be setting up at once: taking their worker, loading
// and checking their files, building the emulator and restoring its state.
// That work runs outside the scheduler's grants, so several starts at once
// (a lab's guests, "create 4") took every core for half a second: in Chromium
// on two cores, four starts at once stretched the page's 10-12 ms (CPU)
// rendering tasks to 51-79 ms. Hypervisors limit concurrent VM starts for the
// same reason (a "boot storm"). The rest of a boot runs under the scheduler.
//
// Turns are first come, first served; a waiter that is aborted leaves the line.

export class BootAdmission {
  private active = 0;
  private readonly line: { admit: () => void }[] = [];

  constructor(readonly slots: number) {
    if (!Number.isInteger(slots) || slots < 1) throw new RangeError(`boot slots must be a whole number of at least 1, not ${slots}`);
  }

  /** Starts setting up now, or waiting for a turn. */
  get setting(): number {
    return this.active;
  }

  get waiting(): number {
    return this.line.length;
  }

  /**
   * Wait for a turn; resolves with the function that ends it (calling it
   * again does nothing). Rejects with the signal's reason if aborted first.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.slots) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => {
      const entry = {
        admit: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve(this.releaser());
        },
      };
      const onAbort = (): void => {
        const i = this.line.indexOf(entry);
        if (i >= 0) this.line.splice(i, 1);
        reject(signal!.reason);
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.line.push(entry);
    });
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.line.shift();
      if (next) next.admit();
      else this.active--;
    };
  }
}

/** Setting-up slots for a host with this many cores: all but one, which stays with the page and the running guests (at least one). */
export function bootSlots(hostCores: number): number {
  return Math.max(1, Math.floor(hostCores) - 1);
}
