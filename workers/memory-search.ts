// Byte-pattern search over guest physical memory, run inside the guest's worker
// so that a whole RAM never crosses to the host.
import { findAll } from '../src/core/bytes.ts';

/**
 * Search memory in chunks of chunkBytes, yielding between chunks (so the guest
 * keeps running while 128 MiB are scanned). Returns the hit offsets.
 */
export async function searchChunked(
  read: (offset: number, length: number) => Uint8Array,
  size: number,
  pattern: Uint8Array,
  maxHits: number,
  yieldNow: () => Promise<void>,
  chunkBytes = 8 << 20,
): Promise<{ hits: number[]; truncated: boolean }> {
  const hits: number[] = [];
  for (let base = 0; base < size; base += chunkBytes) {
    // Overlap by pattern.length - 1 so a match across the edge is seen once.
    const len = Math.min(chunkBytes + pattern.length - 1, size - base);
    const view = read(base, len);
    const local: number[] = [];
    const truncated = findAll(view, pattern, 0, Math.min(chunkBytes, size - base) + pattern.length - 1, maxHits - hits.length, local);
    for (const off of local) hits.push(base + off);
    if (truncated) return { hits, truncated: true };
    await yieldNow();
  }
  return { hits, truncated: false };
}
