// Frames between threads, packed: a batch is one buffer holding its frames
// back to back, and their lengths. Posting it transfers one buffer instead of
// one per frame: with a buffer per 1514-byte frame, postMessage took a tenth
// of a TCP sender's worker (profiled in Node, 64 MiB through nc).

/** A batch as it travels: `bytes` (transferred) holds the frames in order; the unused rest of it is ignored. */
export interface FrameBatch {
  bytes: ArrayBuffer;
  lengths: number[];
}

const INITIAL_BYTES = 64 * 1024;

/**
 * Collects frames into one buffer (each copied once, as it comes) until
 * take(). The buffer starts at `initial` bytes and grows while a batch needs
 * it; each batch starts at `initial` again (one large burst must not make
 * every later batch allocate as much).
 */
export class FramePacker {
  private buffer: Uint8Array;
  private used = 0;
  private lengths: number[] = [];

  constructor(private readonly initial = INITIAL_BYTES) {
    this.buffer = new Uint8Array(initial);
  }

  get size(): number {
    return this.lengths.length;
  }

  push(frame: Uint8Array): void {
    if (this.used + frame.length > this.buffer.length) {
      const grown = new Uint8Array(Math.max(2 * this.buffer.length, this.used + frame.length));
      grown.set(this.buffer.subarray(0, this.used));
      this.buffer = grown;
    }
    this.buffer.set(frame, this.used);
    this.used += frame.length;
    this.lengths.push(frame.length);
  }

  /** The frames so far as a batch whose buffer the caller may transfer; null when there are none. Starts a new buffer. */
  take(): FrameBatch | null {
    if (this.lengths.length === 0) return null;
    const batch = { bytes: this.buffer.buffer as ArrayBuffer, lengths: this.lengths };
    this.buffer = new Uint8Array(this.initial);
    this.used = 0;
    this.lengths = [];
    return batch;
  }
}

/** Packs frames into one batch (null when there are none). */
export function packFrames(frames: Iterable<Uint8Array>): FrameBatch | null {
  let bytes = 0;
  const list = [...frames];
  for (const f of list) bytes += f.length;
  const packer = new FramePacker(Math.max(1, bytes));
  for (const f of list) packer.push(f);
  return packer.take();
}

/**
 * A batch's frames, as views on its buffer (no copy). A batch whose lengths
 * do not fit its buffer gives the frames that do: the rest are not frames.
 */
export function unpackFrames(batch: FrameBatch): Uint8Array[] {
  const frames: Uint8Array[] = [];
  let at = 0;
  for (const length of batch.lengths) {
    if (!Number.isInteger(length) || length < 0 || at + length > batch.bytes.byteLength) break;
    frames.push(new Uint8Array(batch.bytes, at, length));
    at += length;
  }
  return frames;
}
