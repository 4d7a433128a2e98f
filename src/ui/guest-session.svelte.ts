// One guest as the page sees it: boot progress, status, error text and its
// console stream, from the first byte on. Owns the Guest handle and, while the
// guest boots, its worker (so a boot can be cancelled before Guest.create returns).
import { Guest, type ReadyInfo } from '../host/guest.ts';
import type { GuestWorker, GuestWorkerFactory } from '../host/worker-port.ts';
import type { GuestEvent, GuestImage } from '../protocol/guest-api.ts';
import { HvError } from '../core/errors.ts';
import type { ConsolePort } from './console-port.ts';

export type SessionStatus = 'loading' | 'booting' | 'ready' | 'failed' | 'crashed' | 'destroyed';

/** Console output kept for a console that attaches late (or re-attaches), bytes. */
const BACKLOG_BYTES = 256 * 1024;

/** Give up on a boot without a shell after this long: a generic kernel in a slow browser needs ~30-60 s. */
const READY_TIMEOUT_MS = 300_000;

export interface DownloadProgress {
  loaded: number;
  total: number;
}

export class GuestSession implements ConsolePort {
  status = $state<SessionStatus>('loading');
  download = $state.raw<DownloadProgress>({ loaded: 0, total: 0 });
  error = $state<string | null>(null);
  ready = $state.raw<ReadyInfo | null>(null);
  /** performance.now() when the boot started, and ms until the shell was ready. */
  readonly startedAt = performance.now();
  readyMs = $state<number | null>(null);

  private guest: Guest | null = null;
  private worker: GuestWorker | null = null;
  private readonly loadedByFile = new Map<string, number>();
  private readonly serialListeners = new Set<(bytes: Uint8Array) => void>();
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  private readonly encoder = new TextEncoder();

  constructor(
    readonly id: number,
    readonly name: string,
    readonly memoryMiB: number,
    readonly image: GuestImage,
  ) {
    const files = [image.bios, image.vgaBios, image.kernel, image.initrd];
    this.download = { loaded: 0, total: files.reduce((sum, f) => sum + f.bytes, 0) };
  }

  /** Boot the guest; resolves when it is ready or has failed (never rejects). */
  async start(factory: GuestWorkerFactory, wasmUrl: string): Promise<void> {
    const spawn = (): GuestWorker => {
      const worker = factory();
      this.worker = worker;
      worker.onFailure((reason) => this.fail('crashed', `guest ${this.name} stopped: ${reason}`));
      return worker;
    };
    try {
      const guest = await Guest.create(spawn, {
        name: this.name,
        memoryMiB: this.memoryMiB,
        image: this.image,
        wasm: { url: wasmUrl },
        readyTimeoutMs: READY_TIMEOUT_MS,
        onEvent: (e) => this.onEvent(e),
      });
      if (this.status === 'destroyed') {
        await guest.destroy();
        return;
      }
      this.guest = guest;
      this.ready = guest.ready;
      this.readyMs = performance.now() - this.startedAt;
      this.status = 'ready';
    } catch (err) {
      this.fail('failed', HvError.from(err).message);
    }
  }

  get isActive(): boolean {
    return this.status === 'loading' || this.status === 'booting' || this.status === 'ready';
  }

  onSerial(listener: (bytes: Uint8Array) => void): () => void {
    for (const chunk of this.backlog) listener(chunk);
    this.serialListeners.add(listener);
    return () => this.serialListeners.delete(listener);
  }

  /** Keystrokes reach the guest once its shell is ready; earlier ones are dropped. */
  write(data: string | Uint8Array): void {
    if (this.status !== 'ready' || !this.guest) return;
    this.guest.write(typeof data === 'string' ? this.encoder.encode(data) : data);
  }

  /** Stop the guest (or its boot) and release its worker. Idempotent. */
  async destroy(): Promise<void> {
    if (this.status === 'destroyed') return;
    this.status = 'destroyed';
    this.serialListeners.clear();
    const { guest, worker } = this;
    this.guest = null;
    this.worker = null;
    // While booting there is no Guest yet: terminating its worker is all there is to stop.
    if (guest) await guest.destroy();
    else if (worker) await worker.terminate();
  }

  private fail(status: 'failed' | 'crashed', message: string): void {
    if (this.status === 'destroyed' || this.status === 'failed' || this.status === 'crashed') return;
    this.status = status;
    this.error = message;
  }

  private onEvent(e: GuestEvent): void {
    if (this.status === 'destroyed') return;
    switch (e.type) {
      case 'boot-progress':
        if (e.phase === 'load') {
          this.loadedByFile.set(e.file, e.loaded);
          let loaded = 0;
          for (const n of this.loadedByFile.values()) loaded += n;
          this.download = { loaded, total: this.download.total };
        } else if (e.phase === 'start' && this.status === 'loading') {
          this.status = 'booting';
        }
        break;
      case 'serial0-output':
        this.pushSerial(e.bytes);
        break;
      case 'guest-crash':
        this.fail('crashed', `guest ${this.name} crashed: ${e.reason}`);
        break;
      default:
        break;
    }
  }

  private pushSerial(bytes: Uint8Array): void {
    this.backlog.push(bytes);
    this.backlogBytes += bytes.byteLength;
    while (this.backlogBytes > BACKLOG_BYTES && this.backlog.length > 1) {
      this.backlogBytes -= this.backlog.shift()!.byteLength;
    }
    for (const l of this.serialListeners) l(bytes);
  }
}
