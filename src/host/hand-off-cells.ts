// The cells of shared memory in which guest workers hand the pCPU to each
// other: a worker writes the queued grant's id into its successor's cell, and
// the successor, polling for it, starts ~0.03 ms later instead of the
// 0.1-0.5 ms a message took to wake or reach it (measured). Only where memory can be
// shared (Node; a browser page that is cross-origin isolated); elsewhere the
// hand-over travels as a message alone (workers/hand-off.ts).

/** Cells for this many guest boots at once; more get none (and use messages). */
const CELLS = 64;

export class HandOffCells {
  private readonly free: number[];

  private constructor(readonly buffer: SharedArrayBuffer) {
    this.free = Array.from({ length: CELLS }, (_, i) => CELLS - 1 - i);
  }

  /** Cells over a new shared buffer, or null where memory cannot be shared with workers. */
  static create(): HandOffCells | null {
    const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
    if (typeof SharedArrayBuffer !== 'function' || isolated === false) return null;
    return new HandOffCells(new SharedArrayBuffer(CELLS * Int32Array.BYTES_PER_ELEMENT));
  }

  /** A free cell, or null when all are taken. */
  take(): number | null {
    return this.free.pop() ?? null;
  }

  release(cell: number): void {
    if (!this.free.includes(cell)) this.free.push(cell);
  }
}
