// A disk as copy-on-write blocks over a read-only base. A volume's base image
// is shared by every guest that uses it; what a guest writes lands in its own
// overlay of 4 KiB blocks (the x86 page and ext2's largest block), so a clone
// or a snapshot of a volume carries only the blocks written, never the disk.
// Pure: the guest worker wraps a CowDisk as v86's disk buffer, the host keeps
// each volume's overlay as a BlockMap and persists it block by block.

/** Copy-on-write granularity, bytes. */
export const DISK_BLOCK_BYTES = 4096;
/** An ATA sector: disks are a whole number of them. */
export const SECTOR_BYTES = 512;

/** Blocks as they travel (worker <-> host, storage, snapshot files): numbers ascending, DISK_BLOCK_BYTES of data each. */
export interface OverlayBlocks {
  blocks: Uint32Array;
  data: Uint8Array;
}

export const NO_BLOCKS: OverlayBlocks = { blocks: new Uint32Array(0), data: new Uint8Array(0) };

/** Written blocks by number; later writes replace earlier ones. */
export class BlockMap {
  private readonly map = new Map<number, Uint8Array>();

  get size(): number {
    return this.map.size;
  }

  get bytes(): number {
    return this.map.size * DISK_BLOCK_BYTES;
  }

  get(block: number): Uint8Array | undefined {
    return this.map.get(block);
  }

  /** Keep `data` (DISK_BLOCK_BYTES, not copied) as block `block`. */
  set(block: number, data: Uint8Array): void {
    if (data.length !== DISK_BLOCK_BYTES) throw new RangeError(`a disk block is ${DISK_BLOCK_BYTES} bytes, got ${data.length}`);
    this.map.set(block, data);
  }

  has(block: number): boolean {
    return this.map.has(block);
  }

  numbers(): number[] {
    return [...this.map.keys()].sort((a, b) => a - b);
  }

  /** Take every block of `other` (copied), replacing ours. */
  apply(other: OverlayBlocks): void {
    checkOverlay(other);
    for (let i = 0; i < other.blocks.length; i++) {
      this.map.set(other.blocks[i]!, other.data.slice(i * DISK_BLOCK_BYTES, (i + 1) * DISK_BLOCK_BYTES));
    }
  }

  /** These blocks (all by default) in travelling form, copied. */
  encode(which: Iterable<number> = this.numbers()): OverlayBlocks {
    const numbers = [...which].filter((b) => this.map.has(b)).sort((a, b) => a - b);
    const data = new Uint8Array(numbers.length * DISK_BLOCK_BYTES);
    numbers.forEach((b, i) => data.set(this.map.get(b)!, i * DISK_BLOCK_BYTES));
    return { blocks: Uint32Array.from(numbers), data };
  }

  copy(): BlockMap {
    const c = new BlockMap();
    for (const [b, d] of this.map) c.map.set(b, d.slice());
    return c;
  }

  static decode(o: OverlayBlocks): BlockMap {
    const m = new BlockMap();
    m.apply(o);
    return m;
  }
}

/** Throws a RangeError unless `o` is well formed: ascending distinct numbers, a whole block of data each. */
export function checkOverlay(o: OverlayBlocks): void {
  if (o.data.length !== o.blocks.length * DISK_BLOCK_BYTES) {
    throw new RangeError(`overlay: ${o.blocks.length} blocks need ${o.blocks.length * DISK_BLOCK_BYTES} bytes of data, got ${o.data.length}`);
  }
  for (let i = 1; i < o.blocks.length; i++) {
    if (o.blocks[i]! <= o.blocks[i - 1]!) throw new RangeError(`overlay: block numbers must ascend (block ${o.blocks[i]} after ${o.blocks[i - 1]})`);
  }
}

/**
 * A disk of `byteLength` bytes: the base (shorter or absent reads as zeros)
 * under the overlay. Writes copy a block from the base on their first touch
 * and mark it dirty until takeDirty().
 */
export class CowDisk {
  readonly overlay: BlockMap;
  private readonly dirty = new Set<number>();

  constructor(
    readonly byteLength: number,
    private readonly base: Uint8Array | null,
    overlay: BlockMap = new BlockMap(),
  ) {
    if (!Number.isInteger(byteLength) || byteLength <= 0 || byteLength % SECTOR_BYTES !== 0) {
      throw new RangeError(`a disk is a positive whole number of ${SECTOR_BYTES}-byte sectors, got ${byteLength} bytes`);
    }
    this.overlay = overlay;
  }

  get dirtyBlocks(): number {
    return this.dirty.size;
  }

  read(offset: number, length: number): Uint8Array {
    this.checkRange(offset, length);
    const out = new Uint8Array(length);
    let at = offset;
    while (at < offset + length) {
      const block = Math.floor(at / DISK_BLOCK_BYTES);
      const within = at - block * DISK_BLOCK_BYTES;
      const n = Math.min(DISK_BLOCK_BYTES - within, offset + length - at);
      const written = this.overlay.get(block);
      if (written) out.set(written.subarray(within, within + n), at - offset);
      else this.readBase(at, n, out, at - offset);
      at += n;
    }
    return out;
  }

  write(offset: number, data: Uint8Array): void {
    this.checkRange(offset, data.length);
    let at = offset;
    while (at < offset + data.length) {
      const block = Math.floor(at / DISK_BLOCK_BYTES);
      const within = at - block * DISK_BLOCK_BYTES;
      const n = Math.min(DISK_BLOCK_BYTES - within, offset + data.length - at);
      let target = this.overlay.get(block);
      if (!target) {
        target = new Uint8Array(DISK_BLOCK_BYTES);
        // A whole-block write needs nothing from the base.
        if (n < DISK_BLOCK_BYTES) this.readBase(block * DISK_BLOCK_BYTES, DISK_BLOCK_BYTES, target, 0);
        this.overlay.set(block, target);
      }
      target.set(data.subarray(at - offset, at - offset + n), within);
      this.dirty.add(block);
      at += n;
    }
  }

  /** The blocks written since the last call, and forget that they were. */
  takeDirty(): OverlayBlocks {
    if (this.dirty.size === 0) return NO_BLOCKS;
    const out = this.overlay.encode(this.dirty);
    this.dirty.clear();
    return out;
  }

  private readBase(at: number, n: number, into: Uint8Array, intoAt: number): void {
    const base = this.base;
    if (!base || at >= base.length) {
      into.fill(0, intoAt, intoAt + n);
      return;
    }
    const have = Math.min(n, base.length - at);
    into.set(base.subarray(at, at + have), intoAt);
    if (have < n) into.fill(0, intoAt + have, intoAt + n);
  }

  private checkRange(offset: number, length: number): void {
    if (!Number.isInteger(offset) || !Number.isInteger(length) || offset < 0 || length < 0 || offset + length > this.byteLength) {
      throw new RangeError(`disk access ${offset}+${length} is outside the disk's ${this.byteLength} bytes`);
    }
  }
}
