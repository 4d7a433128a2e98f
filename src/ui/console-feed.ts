// One VM's console stream as the page sees it: it follows the VM's current
// Guest across restarts, keeps the raw bytes (colours included) for a
// terminal that attaches late, and keeps the last output of a guest that
// crashed or stopped so the user can read what happened.
import type { GuestHandle } from '../host/host-api.ts';
import type { ConsolePort } from './console-port.ts';

/** Console output kept for a terminal that attaches late, bytes. */
const BACKLOG_BYTES = 256 * 1024;

export class ConsoleFeed implements ConsolePort {
  private guest: GuestHandle | null = null;
  private unsubscribe: (() => void) | null = null;
  private readonly listeners = new Set<(bytes: Uint8Array) => void>();
  private backlog: Uint8Array[] = [];
  private backlogBytes = 0;
  private boots = 0;
  private readonly encoder = new TextEncoder();

  /**
   * `canType` says whether keystrokes may go to the guest now (its shell is
   * up); `onResize` passes the terminal's size on (the hypervisor keeps it for later boots).
   */
  constructor(
    private readonly canType: () => boolean,
    private readonly onResize: (cols: number, rows: number) => void = () => {},
  ) {}

  /** Listen to this guest from now on (a new boot); null keeps the old output on screen. */
  follow(guest: GuestHandle | null): void {
    if (guest === this.guest || guest?.isDestroyed) return;
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.guest = guest;
    if (!guest) return;
    this.boots++;
    if (this.boots > 1) this.push(this.encoder.encode(`\r\n\x1b[2m──── boot ${this.boots} ────\x1b[0m\r\n`));
    this.unsubscribe = guest.onSerial((bytes) => this.push(bytes));
  }

  onSerial(listener: (bytes: Uint8Array) => void): () => void {
    for (const chunk of this.backlog) listener(chunk);
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  write(data: string | Uint8Array): void {
    const guest = this.guest;
    if (!guest || guest.isDestroyed || !this.canType()) return;
    guest.write(typeof data === 'string' ? this.encoder.encode(data) : data);
  }

  resize(cols: number, rows: number): void {
    this.onResize(cols, rows);
  }

  dispose(): void {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.guest = null;
    this.listeners.clear();
    this.backlog = [];
  }

  private push(bytes: Uint8Array): void {
    this.backlog.push(bytes);
    this.backlogBytes += bytes.byteLength;
    while (this.backlogBytes > BACKLOG_BYTES && this.backlog.length > 1) {
      this.backlogBytes -= this.backlog.shift()!.byteLength;
    }
    for (const l of this.listeners) l(bytes);
  }
}
