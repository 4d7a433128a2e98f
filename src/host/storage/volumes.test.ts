import { describe, expect, it } from 'vitest';
import { DISK_BLOCK_BYTES } from '../../core/storage/blocks.ts';
import { VolumeStore } from './volumes.ts';

/** A 1.5 MiB disk image with an MBR signature (not a whole number of MiB). */
function mbrImage(): Uint8Array {
  const b = new Uint8Array(3 * 512 * 1024);
  b[510] = 0x55;
  b[511] = 0xaa;
  b[4096] = 7;
  return b;
}

describe('VolumeStore', () => {
  it('clones and snapshots copy the written blocks, over the same shared base', () => {
    const s = new VolumeStore();
    s.addBase('img', mbrImage());
    const v = s.create({ name: 'v', base: 'img' });
    expect(v).toMatchObject({ bytes: 3 * 512 * 1024, base: 'img', usedBlocks: 0 });
    const block = new Uint8Array(DISK_BLOCK_BYTES).fill(9);
    s.write('v', { blocks: Uint32Array.from([2]), data: block });
    const c = s.clone('v', 'c');
    expect(c).toMatchObject({ bytes: v.bytes, base: 'img', usedBlocks: 1 });
    s.snapshot('v', 'snap');
    s.write('v', { blocks: Uint32Array.from([3]), data: block });
    expect(s.get('v').usedBlocks).toBe(2);
    expect(s.get('c').usedBlocks).toBe(1);
    s.revert('v', 'snap');
    expect(s.get('v').usedBlocks).toBe(1);
    const raw = s.raw('c');
    expect(raw[4096]).toBe(7); // from the base
    expect(raw[2 * DISK_BLOCK_BYTES]).toBe(9); // its own block
    expect(raw[3 * DISK_BLOCK_BYTES]).toBe(0);
  });

  it('refuses names, sizes and deletions that do not make sense', () => {
    const s = new VolumeStore();
    s.create({ name: 'a', size: 2 });
    expect(() => s.create({ name: 'a', size: 2 })).toThrow(/a volume named a exists already/);
    expect(() => s.create({ name: 'bad name', size: 2 })).toThrow(/volume name "bad name" is not valid/);
    expect(() => s.create({ name: 'b' })).toThrow(/needs a size or a base image/);
    expect(() => s.clone('a', 'a')).toThrow(/exists already/);
    s.attach('a', 'vm1', 'hda');
    expect(() => s.attach('a', 'vm2', 'hda')).toThrow(/attached to vm1 already/);
    expect(() => s.delete('a')).toThrow(/attached to vm1: detach it first/);
    expect(() => s.snapshot('a', 'x y')).toThrow(/volume snapshot name "x y" is not valid/);
    expect(s.snapshot('a', 'vm1/before').name).toBe('vm1/before');
  });
});
