// Live migration's guest side (pre-copy). The source worker hashes each 4 KiB
// page of the guest's RAM; a round returns the pages whose hash changed since
// the round before (with their bytes), and the target worker writes them into
// its paused instance. The last round runs with the source paused and adds
// the CPU and device state saved without RAM: v86's save_state packs every
// non-zero page (cpu.pack_memory), so for that save pack_memory returns no
// page, and on the target the restore leaves the RAM as the rounds wrote it
// (cpu.unpack_memory is skipped). With v86-tuning.ts and tick-gate.ts, the
// only file that touches v86 internals.
import { MIGRATION_PAGE_BYTES as PAGE } from '../src/protocol/guest-api.ts';

/** A hash per page of `mem8` (0 stands for a page of zeros; any other page hashes to non-zero). */
export function pageHashes(mem8: Uint8Array, into?: Uint32Array): Uint32Array {
  const pages = mem8.length / PAGE;
  const out = into && into.length === pages ? into : new Uint32Array(pages);
  const words = new Int32Array(mem8.buffer, mem8.byteOffset, mem8.length >>> 2);
  for (let p = 0, w = 0; p < pages; p++) {
    let h = 0x811c9dc5 | 0;
    let any = 0;
    for (const end = w + PAGE / 4; w < end; w += 4) {
      const a = words[w]!, b = words[w + 1]!, c = words[w + 2]!, d = words[w + 3]!;
      any |= a | b | c | d;
      h = Math.imul(h ^ a, 0x01000193) ^ Math.imul(b, 0x5bd1e995);
      h = Math.imul(h ^ c, 0x01000193) ^ Math.imul(d, 0x27d4eb2d);
    }
    out[p] = any === 0 ? 0 : h === 0 ? 1 : h >>> 0;
  }
  return out;
}

/** The pages whose hash differs between `before` and `after`. */
export function changedPages(before: Uint32Array, after: Uint32Array): Uint32Array {
  const out: number[] = [];
  for (let p = 0; p < after.length; p++) if (before[p] !== after[p]) out.push(p);
  return Uint32Array.from(out);
}

/** The bytes of `pages`, one after the other. */
export function readPages(mem8: Uint8Array, pages: Uint32Array): Uint8Array {
  const data = new Uint8Array(pages.length * PAGE);
  for (let i = 0; i < pages.length; i++) data.set(mem8.subarray(pages[i]! * PAGE, (pages[i]! + 1) * PAGE), i * PAGE);
  return data;
}

export function writePages(mem8: Uint8Array, pages: Uint32Array, data: Uint8Array): void {
  if (data.length !== pages.length * PAGE) throw new RangeError(`${pages.length} pages need ${pages.length * PAGE} bytes, got ${data.length}`);
  for (let i = 0; i < pages.length; i++) {
    const p = pages[i]!;
    if (p * PAGE + PAGE > mem8.length) throw new RangeError(`page ${p} is outside the guest's ${mem8.length / PAGE} pages`);
    mem8.set(data.subarray(i * PAGE, (i + 1) * PAGE), p * PAGE);
  }
}

/** What the migration needs of v86's CPU object. */
export interface V86MemoryPacking {
  mem8: Uint8Array;
  pack_memory(): { bitmap: { get_buffer(): ArrayBuffer }; packed_memory: Uint8Array };
  unpack_memory(bitmap: unknown, packed: Uint8Array): void;
}

/** Run `save` with pack_memory packing no page: the state carries the CPU and devices, not the RAM. */
export function withoutMemory<T>(cpu: V86MemoryPacking, save: () => Promise<T>): Promise<T> {
  const bitmapBytes = Math.ceil(cpu.mem8.length / PAGE / 8);
  return replacedDuring(cpu, 'pack_memory', () => ({ bitmap: { get_buffer: () => new ArrayBuffer((bitmapBytes + 3) & ~3) }, packed_memory: new Uint8Array(0) }), save);
}

/** Run `restore` with unpack_memory doing nothing: the RAM stays as the rounds wrote it. */
export function keepingMemory<T>(cpu: V86MemoryPacking, restore: () => Promise<T>): Promise<T> {
  return replacedDuring(cpu, 'unpack_memory', () => {}, restore);
}

/** Run `fn` with cpu[key] replaced, then put back what was there (an own property, or the prototype's). */
async function replacedDuring<K extends 'pack_memory' | 'unpack_memory', T>(cpu: V86MemoryPacking, key: K, replacement: V86MemoryPacking[K], fn: () => Promise<T>): Promise<T> {
  const own = Object.prototype.hasOwnProperty.call(cpu, key) ? cpu[key] : undefined;
  cpu[key] = replacement;
  try {
    return await fn();
  } finally {
    if (own) cpu[key] = own;
    else delete (cpu as Partial<V86MemoryPacking>)[key];
  }
}
