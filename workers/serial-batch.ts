// Serial output leaves the guest worker in batches: v86 emits one event per
// byte, and a message per byte would flood the host. The first bytes after a
// quiet spell go out as soon as the tick that wrote them has ended (a typed
// key's echo, a ready line, an agent's answer: no waiting for a timer);
// whatever follows goes out at most once every intervalMs. No timer runs
// while the guest prints nothing.

/** Which serial port: 0 is the user's console, 1 the agent's line. */
export type SerialPort = 0 | 1;

export class SerialBatcher {
  private readonly pending: [number[], number[]] = [[], []];
  private timer: ReturnType<typeof setTimeout> | null = null;
  private lastFlush = -Infinity;
  private disposed = false;

  constructor(
    /** Receives each port's bytes of one batch (never empty). */
    private readonly out: (port: SerialPort, bytes: Uint8Array) => void,
    private readonly now: () => number,
    private readonly intervalMs: number,
  ) {}

  push(port: SerialPort, byte: number): void {
    if (this.disposed) return; // the guest is going away: nothing more leaves
    this.pending[port].push(byte);
    if (this.timer !== null) return;
    // A macrotask: the bytes written in the same tick join this batch.
    const wait = Math.max(0, this.lastFlush + this.intervalMs - this.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      this.flush();
    }, wait);
  }

  /** Send what is pending now (agent bytes first, as they were batched before the console's). */
  flush(): void {
    this.lastFlush = this.now();
    for (const port of [1, 0] as const) {
      const bytes = this.pending[port];
      if (bytes.length === 0) continue;
      this.pending[port] = [];
      this.out(port, Uint8Array.from(bytes));
    }
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
