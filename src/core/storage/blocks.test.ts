import { describe, expect, it } from 'vitest';
import { BlockMap, CowDisk, DISK_BLOCK_BYTES, checkOverlay } from './blocks.ts';

const fill = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('CowDisk', () => {
  it('reads the base until written, and keeps writes in its own blocks', () => {
    const base = fill(3 * DISK_BLOCK_BYTES, 7);
    const disk = new CowDisk(4 * DISK_BLOCK_BYTES, base);
    expect(disk.read(0, 4)).toEqual(fill(4, 7));
    // Beyond the base: zeros.
    expect(disk.read(3 * DISK_BLOCK_BYTES, 8)).toEqual(fill(8, 0));
    // A 512-byte write in the middle of block 1 copies the rest of the block from the base.
    disk.write(DISK_BLOCK_BYTES + 512, fill(512, 9));
    expect(disk.overlay.numbers()).toEqual([1]);
    expect(disk.read(DISK_BLOCK_BYTES + 510, 4)).toEqual(new Uint8Array([7, 7, 9, 9]));
    expect(base[DISK_BLOCK_BYTES + 512]).toBe(7); // the base is never written
    // A write across a block boundary touches both blocks.
    disk.write(2 * DISK_BLOCK_BYTES - 2, fill(4, 5));
    expect(disk.overlay.numbers()).toEqual([1, 2]);
    expect(disk.read(2 * DISK_BLOCK_BYTES - 3, 6)).toEqual(new Uint8Array([7, 5, 5, 5, 5, 7]));
  });

  it('hands out the dirty blocks once, and takes an overlay back', () => {
    const disk = new CowDisk(8 * DISK_BLOCK_BYTES, null);
    disk.write(5 * DISK_BLOCK_BYTES, fill(DISK_BLOCK_BYTES, 1));
    disk.write(0, fill(10, 2));
    const dirty = disk.takeDirty();
    expect(Array.from(dirty.blocks)).toEqual([0, 5]);
    expect(dirty.data.length).toBe(2 * DISK_BLOCK_BYTES);
    expect(disk.takeDirty().blocks.length).toBe(0);
    const again = new CowDisk(8 * DISK_BLOCK_BYTES, null, BlockMap.decode(dirty));
    expect(again.read(5 * DISK_BLOCK_BYTES, 2)).toEqual(fill(2, 1));
    expect(again.read(0, 12)).toEqual(new Uint8Array([2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 0, 0]));
  });

  it('refuses accesses outside the disk and sizes that are not sectors', () => {
    const disk = new CowDisk(DISK_BLOCK_BYTES, null);
    expect(() => disk.read(DISK_BLOCK_BYTES - 1, 2)).toThrow(/outside the disk's 4096 bytes/);
    expect(() => disk.write(-1, fill(1, 0))).toThrow(/outside/);
    expect(() => new CowDisk(1000, null)).toThrow(/512-byte sectors/);
  });
});

describe('BlockMap', () => {
  it('copies are independent and overlays are checked', () => {
    const m = new BlockMap();
    m.set(3, fill(DISK_BLOCK_BYTES, 1));
    const c = m.copy();
    c.get(3)![0] = 99;
    expect(m.get(3)![0]).toBe(1);
    expect(m.bytes).toBe(DISK_BLOCK_BYTES);
    expect(() => checkOverlay({ blocks: Uint32Array.from([2, 1]), data: new Uint8Array(2 * DISK_BLOCK_BYTES) })).toThrow(/must ascend/);
    expect(() => checkOverlay({ blocks: Uint32Array.from([1]), data: new Uint8Array(5) })).toThrow(/need 4096 bytes/);
  });
});
