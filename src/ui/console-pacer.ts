// Paces a guest's console output into its terminal. Typing and ordinary
// output go through at once; a flood (`yes`, `cat` of a large file) is
// written in batches five times a second, so the page draws the terminal a
// few times a second instead of every frame. A batch keeps only the lines
// the terminal can still show (its scrollback plus its screen): the lines
// before them would scroll out of the scrollback inside that same batch, so
// no text the user could read is lost, and the terminal parses a bounded
// amount per batch however fast the guest writes. What the cut can lose is a
// mode set inside the dropped lines (a colour, the alternate screen) when
// more than a scrollback of lines followed it within one batch.

import { realTimers, type HostTimers } from '../host/timers.ts';

/** A batch bigger than this (bytes) makes the next one wait FLOOD_INTERVAL_MS. */
export const BURST_BYTES = 4096;
/** Time between two batches while the guest floods its console (ms). */
export const FLOOD_INTERVAL_MS = 200;

const LF = 0x0a;

export class ConsolePacer {
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private timer: unknown = null;
  private lastFlushAt = -Infinity;
  private lastFlushBytes = 0;
  private disposed = false;
  /** Bytes left out of batches so far (lines that would have scrolled out of the scrollback). */
  droppedBytes = 0;

  /**
   * `write` gets each batch; `keepLines` says how many lines the terminal
   * can show now (scrollback + rows).
   */
  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly keepLines: () => number,
    private readonly timers: HostTimers = realTimers,
  ) {}

  push(bytes: Uint8Array): void {
    if (this.disposed || bytes.byteLength === 0) return;
    this.pending.push(bytes);
    this.pendingBytes += bytes.byteLength;
    if (this.timer !== null) return;
    const interval = this.lastFlushBytes > BURST_BYTES ? FLOOD_INTERVAL_MS : 0;
    const wait = this.lastFlushAt + interval - this.timers.now();
    if (wait <= 0) this.flush();
    else this.timer = this.timers.setTimeout(() => this.flush(), wait);
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer !== null) this.timers.clearTimeout(this.timer);
    this.timer = null;
    this.pending = [];
    this.pendingBytes = 0;
  }

  private flush(): void {
    this.timer = null;
    if (this.disposed || this.pendingBytes === 0) return;
    const chunks = this.pending;
    const total = this.pendingBytes;
    this.pending = [];
    this.pendingBytes = 0;
    const batch = tailLines(chunks, total, this.keepLines());
    this.droppedBytes += total - batch.byteLength;
    this.lastFlushAt = this.timers.now();
    this.lastFlushBytes = total;
    this.write(batch);
  }
}

/**
 * The bytes of `chunks` from the start of their last `lines` lines (a line
 * ends at LF; the unfinished last line counts as one), as one array.
 */
export function tailLines(chunks: Uint8Array[], total: number, lines: number): Uint8Array {
  // Fewer bytes than lines to keep (all ordinary output): nothing to cut, and one chunk needs no copy.
  if (total <= lines && chunks.length === 1) return chunks[0]!;
  // Walk back counting line feeds; the cut is just after the (lines)th one from the end.
  let seen = 0;
  let cut = 0;
  let offset = total;
  scan: for (let c = chunks.length - 1; c >= 0; c--) {
    const chunk = chunks[c]!;
    offset -= chunk.byteLength;
    for (let i = chunk.byteLength - 1; i >= 0; i--) {
      // The final byte being LF ends the last line rather than starting a new one.
      if (chunk[i] === LF && offset + i !== total - 1 && ++seen >= lines) {
        cut = offset + i + 1;
        break scan;
      }
    }
  }
  const out = new Uint8Array(total - cut);
  let at = 0;
  let pos = 0;
  for (const chunk of chunks) {
    const end = pos + chunk.byteLength;
    if (end > cut) {
      const from = Math.max(0, cut - pos);
      out.set(from === 0 ? chunk : chunk.subarray(from), at);
      at += chunk.byteLength - from;
    }
    pos = end;
  }
  return out;
}
