// Byte-pattern search over guest physical memory, run inside the guest's worker
// so that a whole RAM never crosses to the host.

/** Find up to maxHits offsets of pattern in haystack[from, to), overlapping chunk edges handled by the caller. */
export function findAll(haystack: Uint8Array, pattern: Uint8Array, from: number, to: number, maxHits: number, out: number[]): boolean {
  const first = pattern[0];
  if (first === undefined) throw new Error('search pattern is empty');
  const last = Math.min(to, haystack.length) - pattern.length;
  let i = haystack.indexOf(first, from);
  while (i !== -1 && i <= last) {
    let j = 1;
    while (j < pattern.length && haystack[i + j] === pattern[j]) j++;
    if (j === pattern.length) {
      if (out.length >= maxHits) return true;
      out.push(i);
    }
    i = haystack.indexOf(first, i + 1);
  }
  return false;
}

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
