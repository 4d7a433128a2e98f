// A host-side handle on one guest: spawn its worker, boot it, wait for its
// ready line, stream its console, run commands (exec), destroy it.
// Tests, the dashboard and the experiment runner all go through this class.
import { proxy, transfer } from 'comlink';
import type { BalloonInfo, BootResult, BootSpec, DiskFlush, DiskSpec, GuestEvent, GuestImage, HandOffInbox, MemorySearchResult, SavedState } from '../protocol/guest-api.ts';
import { checkConsoleSize } from '../core/console-size.ts';
import { HvError, isHvError } from '../core/errors.ts';
import { ETH_MTU } from '../core/net/ethernet.ts';
import { initrdMemoryLimits, validateMemoryMiB } from '../core/memory-size.ts';
import { agentRequest, parseAgentReply } from './agent-text.ts';
import { Transcript, execLine, parseExec } from './console-text.ts';
import type { GuestWorker, GuestWorkerFactory } from './worker-port.ts';

export interface GuestOptions {
  name: string;
  memoryMiB: number;
  image: GuestImage;
  wasm: BootSpec['wasm'];
  /** Execute only under scheduler grants (default false: free running). */
  scheduled?: boolean;
  /** Where this scheduled guest's worker takes hand-overs of the pCPU (BootSpec.cpuInbox, cpuCells). */
  cpuInbox?: HandOffInbox;
  cpuCells?: SharedArrayBuffer;
  /** The guest's end of its CPU channel (BootSpec.cpuPort; transferred to its worker). */
  cpuPort?: MessagePort;
  /** The guest's end of its NIC channel to the virtual switch (BootSpec.nicPort; transferred to its worker). */
  nicPort?: MessagePort;
  nic?: BootSpec['nic'];
  nicMtu?: BootSpec['nicMtu'];
  /** Restore this saved state instead of booting the kernel (its buffer is transferred). */
  state?: SavedState;
  seed?: string;
  /** Boot as a template whose clones take an identity (BootSpec.template). */
  template?: boolean;
  /** Give up when no HV-READY line came within this many ms (default 120 s). */
  readyTimeoutMs?: number;
  /** Sees every event, including boot progress, from the first one on. */
  onEvent?: (event: GuestEvent) => void;
  /** Called with the new handle before booting starts (to wire grants, consoles). */
  onSpawn?: (guest: Guest) => void;
  /** Abort the boot: the worker is released and create() rejects. */
  signal?: AbortSignal;
  /**
   * Wait for a turn to set up (take the worker, and the boot call: files,
   * emulator, restore) and return what ends it; the wait for the ready line
   * comes after the turn (boot-admission.ts).
   */
  admit?: (signal?: AbortSignal) => Promise<() => void>;
  /**
   * With `state`: the identity the restored clone takes before it counts as
   * ready (hostname = name, entropy seed, NIC MAC, wall clock; see hv-identity).
   */
  identity?: { seed: string; mac?: string };
  /** With `state`: restore and do not run (a live migration's target; GuestApi.migrationFinish runs it). */
  startPaused?: boolean;
  /** Its volumes as IDE disks (their base buffers are transferred to its worker). */
  disks?: DiskSpec[];
  ioLimits?: BootSpec['ioLimits'];
  /** An ISO in its CD-ROM drive (transferred). */
  cdrom?: ArrayBuffer;
  /** Boot with the IDE driver though it has no disk (BootSpec.cdromDrive). */
  cdromDrive?: boolean;
}

/** What a guest said in its HV-READY line. */
export interface ReadyInfo {
  name: string;
  memKiB: number;
  kernel: string;
}

/** Where a guest's start went, ms (Guest.startup). */
export interface StartupTimes {
  /** Creating (or taking) the worker. */
  workerMs: number;
  /** The boot call, from posting it to its answer (the worker's own phases are in BootResult.phases). */
  bootCallMs: number;
  /** From the boot call's answer to the HV-READY line (a clone: taking its identity). */
  readyMs: number;
}

export interface ExecResult {
  output: string;
  status: number;
}

const READY_RE = /HV-READY name=(\S+) mem_kib=(\d+) kernel=(\S+)/;


export class Guest {
  readonly transcript = new Transcript();
  /** What the agent (second serial port) answered: never part of the console. */
  private readonly agentText = new Transcript(1 << 18);
  ready: ReadyInfo | null = null;
  boot: BootResult | null = null;
  startup: StartupTimes | null = null;
  private readonly listeners = new Set<(event: GuestEvent) => void>();
  private readonly waiters = new Set<() => void>();
  private execSeq = 0;
  private execChain: Promise<unknown> = Promise.resolve();
  private agentSeq = 0;
  private agentChain: Promise<unknown> = Promise.resolve();
  private destroyed = false;
  private failure: string | null = null;
  /** The last disk-blocks event heard (GuestEvent seq). */
  private diskSeq = 0;

  private constructor(
    readonly name: string,
    private readonly worker: GuestWorker,
  ) {
    // A dying worker is a crash like a kernel panic: listeners hear it the same way.
    worker.onFailure((reason) => {
      if (!this.destroyed) this.onEvents([{ type: 'guest-crash', reason }]);
    });
  }

  /** Spawn a worker, boot the guest and wait for its shell; on failure the worker is released. */
  static async create(factory: GuestWorkerFactory, options: GuestOptions): Promise<Guest> {
    // Refuse a bad size before any worker exists.
    const memoryMiB = validateMemoryMiB(options.memoryMiB, initrdMemoryLimits(options.image.initrd.bytes));
    options.signal?.throwIfAborted();
    const endTurn = options.admit ? await options.admit(options.signal) : () => {};
    try {
      return await Guest.setUp(factory, options, memoryMiB, endTurn);
    } finally {
      endTurn();
    }
  }

  /** create()'s work once the start has its turn to set up; endTurn ends the turn once the boot call has answered. */
  private static async setUp(factory: GuestWorkerFactory, options: GuestOptions, memoryMiB: number, endTurn: () => void): Promise<Guest> {
    // Aborted between being given the turn and now: no worker is taken.
    options.signal?.throwIfAborted();
    const t0 = performance.now();
    const guest = new Guest(options.name, factory());
    const tWorker = performance.now();
    if (options.onEvent) guest.listeners.add(options.onEvent);
    options.onSpawn?.(guest);
    const abort = (): void => void guest.destroy();
    options.signal?.addEventListener('abort', abort, { once: true });
    try {
      const sink = proxy((events: GuestEvent[]) => guest.onEvents(events));
      const spec: BootSpec = {
        name: options.name,
        memoryMiB,
        image: options.image,
        wasm: options.wasm,
        scheduled: options.scheduled ?? false,
        nic: options.nic ?? null,
        ...(options.nicMtu !== undefined && options.nicMtu !== ETH_MTU ? { nicMtu: options.nicMtu } : {}),
        ...(options.state ? { state: options.state.state, stateClockMs: options.state.clockMs } : {}),
        ...(options.seed ? { seed: options.seed } : {}),
        ...(options.template ? { template: true } : {}),
        ...(options.startPaused ? { startPaused: true } : {}),
        ...(options.cpuInbox ? { cpuInbox: options.cpuInbox } : {}),
        ...(options.cpuCells ? { cpuCells: options.cpuCells } : {}),
        ...(options.cpuPort ? { cpuPort: options.cpuPort } : {}),
        ...(options.nicPort ? { nicPort: options.nicPort } : {}),
        ...(options.disks?.length ? { disks: options.disks } : {}),
        ...(options.ioLimits ? { ioLimits: options.ioLimits } : {}),
        ...(options.cdrom ? { cdrom: options.cdrom } : {}),
        ...(options.cdromDrive ? { cdromDrive: true } : {}),
        // A clone prints HV-READY again only when it takes an identity.
        jitAfterReady: Boolean(options.image.bootInterpreted) && (!options.state || Boolean(options.identity)),
      };
      const transfer: Transferable[] = [
        ...(options.state ? [options.state.state] : []),
        ...(options.cpuPort ? [options.cpuPort] : []),
        ...(options.nicPort ? [options.nicPort] : []),
        ...(options.disks ?? []).flatMap((d) => (d.base ? [d.base] : [])),
        ...(options.cdrom ? [options.cdrom] : []),
      ];
      guest.boot = await guest.call(() => guest.worker.api.boot(withTransfer(spec, transfer), sink));
      endTurn();
      const tBooted = performance.now();
      const readyTimeoutMs = options.readyTimeoutMs ?? 120_000;
      if (!options.state) {
        await guest.waitReady(readyTimeoutMs, 0);
      } else if (options.identity) {
        const from = guest.transcript.end;
        const { seed, mac } = options.identity;
        const epoch = Math.floor(Date.now() / 1000);
        // Ctrl-U first: drop anything half-typed on the template's prompt.
        guest.write(`\x15hv_identity ${options.name} ${seed} ${mac ?? '-'} ${epoch}\n`);
        await guest.waitReady(readyTimeoutMs, from);
      }
      guest.startup = { workerMs: tWorker - t0, bootCallMs: tBooted - tWorker, readyMs: performance.now() - tBooted };
      return guest;
    } catch (err) {
      await guest.destroy();
      throw err;
    } finally {
      options.signal?.removeEventListener('abort', abort);
    }
  }

  get api(): GuestWorker['api'] {
    return this.worker.api;
  }

  get isDestroyed(): boolean {
    return this.destroyed;
  }

  /** Subscribe to the guest's events; returns the unsubscribe function. */
  on(listener: (event: GuestEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Subscribe to console output bytes only. */
  onSerial(listener: (bytes: Uint8Array) => void): () => void {
    return this.on((e) => {
      if (e.type === 'serial0-output') listener(e.bytes);
    });
  }

  /** Type into the guest's serial console. */
  write(data: string | Uint8Array): void {
    if (this.destroyed) return;
    void this.worker.api.sendSerial(data).catch(() => {});
  }

  /** Tell the guest its console is cols x rows (see GuestApi.resizeConsole). */
  resizeConsole(cols: number, rows: number): void {
    const size = checkConsoleSize(cols, rows);
    if (this.destroyed) return;
    void this.worker.api.resizeConsole(size.cols, size.rows).catch(() => {});
  }

  /** Wait until the console shows text matching re (searching from `from`, absolute). */
  async waitFor(re: RegExp, timeoutMs: number, from = 0): Promise<RegExpExecArray> {
    return this.until(() => re.exec(this.transcript.since(from)), timeoutMs, () => `waiting for ${re}`);
  }

  /** Run one shell command line in the guest; resolves with its output and exit status. */
  exec(command: string, timeoutMs = 30_000): Promise<ExecResult> {
    const run = async (): Promise<ExecResult> => {
      const id = ++this.execSeq;
      const from = this.transcript.end;
      this.write(execLine(id, command));
      const r = await this.until(() => parseExec(id, this.transcript.since(from)), timeoutMs, () => `exec '${command}'`);
      return { output: r.output, status: r.status };
    };
    const result = this.execChain.then(run, run);
    this.execChain = result.catch(() => {});
    return result;
  }

  /**
   * Run a shell script through the guest's agent (second serial port): the
   * user's console shows nothing of it and its shell is not touched. The
   * guest kills the script after timeoutMs; one script runs at a time.
   */
  agent(script: string, timeoutMs = 10_000): Promise<ExecResult> {
    const run = async (): Promise<ExecResult> => {
      const id = ++this.agentSeq;
      const from = this.agentText.end;
      if (this.destroyed) throw new HvError('illegal-state', `guest ${this.name}: destroyed`, { guest: this.name });
      await this.call(() => this.worker.api.sendAgent(agentRequest(id, timeoutMs / 1000, script)));
      // The guest's own kill comes first; the margin covers its report and a busy guest.
      return this.until(() => parseAgentReply(id, this.agentText.since(from)), timeoutMs + 5000, () => `the agent running '${firstLine(script)}'`);
    };
    const result = this.agentChain.then(run, run);
    this.agentChain = result.catch(() => {});
    return result;
  }

  pause(): Promise<void> {
    return this.call(() => this.worker.api.pause());
  }

  /** Resolves when the worker answers a call (its counters): the watchdog's question. */
  async ping(): Promise<void> {
    await this.call(() => this.worker.api.counters());
  }

  resume(): Promise<void> {
    return this.call(() => this.worker.api.resume());
  }

  /** Every block the guest wrote and its worker has not sent yet (see disksSettled). */
  flushDisks(): Promise<DiskFlush> {
    return this.call(() => this.worker.api.flushDisks());
  }

  /**
   * Resolves once the disk-blocks events up to `seq` have been heard: they
   * travel on the events' port and may arrive after an answer that was sent
   * later (DiskFlush). Rejects when the guest is gone or after timeoutMs.
   */
  async disksSettled(seq: number, timeoutMs = 2000): Promise<void> {
    await this.until(() => (this.diskSeq >= seq ? true : null), timeoutMs, () => `disk blocks up to ${seq}`);
  }

  setIoLimits(limits: { iops: number | null; bytesPerSec: number | null }): Promise<void> {
    return this.call(async () => this.worker.api.setIoLimits(limits));
  }

  /** Put an ISO in the CD-ROM drive (null: eject); the buffer is transferred. */
  setCdrom(iso: ArrayBuffer | null): Promise<void> {
    return this.call(async () => this.worker.api.setCdrom(iso ? transfer(iso, [iso]) : null));
  }

  /** The balloon's target in pages taken from the guest (GuestApi.setBalloon). */
  setBalloon(pages: number): Promise<void> {
    return this.call(async () => this.worker.api.setBalloon(pages));
  }

  balloonInfo(): Promise<BalloonInfo> {
    return this.call(() => this.worker.api.balloonInfo());
  }

  hintFreePages(): Promise<number | null> {
    return this.call(() => this.worker.api.hintFreePages());
  }

  pageHashes(): Promise<Uint32Array> {
    return this.call(async () => this.worker.api.pageHashes());
  }

  saveState(): Promise<SavedState> {
    return this.call(() => this.worker.api.saveState());
  }

  /** Live migration's calls (GuestApi.migrationStart and the rest). */
  get migration() {
    const api = this.worker.api;
    return {
      start: () => this.call(() => api.migrationStart()),
      round: () => this.call(() => api.migrationRound()),
      final: () => this.call(() => api.migrationFinal()),
      write: (pages: Uint32Array, data: Uint8Array) => this.call(() => api.migrationWrite(transfer(pages, [pages.buffer]), transfer(data, [data.buffer]))),
      finish: (final: SavedState) => this.call(() => api.migrationFinish(transfer(final, [final.state]))),
    };
  }

  searchMemory(pattern: Uint8Array | string, maxHits = 64): Promise<MemorySearchResult> {
    const bytes = typeof pattern === 'string' ? new TextEncoder().encode(pattern) : pattern;
    return this.call(() => this.worker.api.searchMemory(bytes, maxHits));
  }

  /** Stop the guest and release its worker. Idempotent; never throws. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    this.wake();
    try {
      await Promise.race([this.worker.api.destroy(), new Promise((r) => setTimeout(r, 2000))]);
    } catch {
      // The worker may already be gone; terminating it below is what matters.
    }
    await this.worker.terminate();
    this.listeners.clear();
  }

  private async waitReady(timeoutMs: number, from: number): Promise<void> {
    const m = await this.until(() => READY_RE.exec(this.transcript.since(from)), timeoutMs, () => 'its HV-READY line').catch(
      (err: unknown) => {
        if (isHvError(err, 'boot-timeout')) {
          throw new HvError(
            'boot-timeout',
            `guest ${this.name} did not print its ready line within ${Math.round(timeoutMs / 1000)} s; last console output: ${this.transcript.tail(3) || '(none)'}`,
            { guest: this.name, timeoutMs },
          );
        }
        throw err;
      },
    );
    this.ready = { name: m[1]!, memKiB: Number(m[2]), kernel: m[3]! };
  }

  private onEvents(events: GuestEvent[]): void {
    for (const e of events) {
      if (e.type === 'serial0-output') this.transcript.append(e.bytes);
      else if (e.type === 'serial1-output') this.agentText.append(e.bytes);
      if (e.type === 'guest-crash') this.failure = `guest crashed: ${e.reason}`;
      if (e.type === 'disk-blocks') this.diskSeq = Math.max(this.diskSeq, e.seq);
      for (const l of this.listeners) l(e);
    }
    this.wake();
  }

  private wake(): void {
    for (const w of this.waiters) w();
  }

  /** Resolve when check() returns a value; reject on timeout, crash or destroy. */
  private until<T>(check: () => T | null, timeoutMs: number, what: () => string): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const done = (): void => {
        clearTimeout(timer);
        this.waiters.delete(poll);
      };
      const poll = (): void => {
        const value = check();
        if (value !== null) {
          done();
          resolve(value);
        } else if (this.failure || this.destroyed) {
          done();
          reject(
            new HvError(this.failure ? 'guest-crashed' : 'illegal-state', `guest ${this.name}: ${this.failure ?? 'destroyed'} while ${what()}`, {
              guest: this.name,
            }),
          );
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new HvError('boot-timeout', `guest ${this.name}: timed out after ${timeoutMs} ms ${what()}`, { guest: this.name, timeoutMs }));
      }, timeoutMs);
      this.waiters.add(poll);
      poll();
    });
  }

  /** Call the worker; a call still pending when the guest is destroyed or dies rejects. */
  private async call<T>(fn: () => Promise<T>): Promise<T> {
    // A worker that is gone already never answers: say so now.
    if (this.failure || this.destroyed) throw new HvError(this.failure ? 'guest-crashed' : 'illegal-state', `guest ${this.name}: ${this.failure ?? 'destroyed'}`, { guest: this.name });
    let stop = (): void => {};
    const gone = new Promise<never>((_, reject) => {
      stop = () => {
        if (this.failure || this.destroyed) {
          reject(new HvError(this.failure ? 'guest-crashed' : 'illegal-state', `guest ${this.name}: ${this.failure ?? 'destroyed'}`, { guest: this.name }));
        }
      };
    });
    this.waiters.add(stop);
    try {
      return await Promise.race([fn(), gone]);
    } catch (err) {
      throw HvError.from(err); // the worker sends HvErrors as plain data
    } finally {
      this.waiters.delete(stop);
    }
  }
}

/** A script's first line, shortened, for messages. */
function firstLine(script: string): string {
  const line = script.trim().split('\n')[0] ?? '';
  return line.length > 60 ? `${line.slice(0, 57)}...` : line;
}

/** comlink's transfer() marks the object so its buffers move instead of being copied. */
function withTransfer<T>(value: T, transfers: Transferable[]): T {
  return transfers.length === 0 ? value : transfer(value, transfers);
}
