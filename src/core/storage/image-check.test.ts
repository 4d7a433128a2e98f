import { describe, expect, it } from 'vitest';
import { checkDiskImage, detectImageKind, parseVolumeSize } from './image-check.ts';

describe('checkDiskImage', () => {
  const disk = (n: number, mark: (b: Uint8Array) => void) => {
    const b = new Uint8Array(n);
    mark(b);
    return b;
  };
  it('knows partition tables, ext2 and ISO 9660', () => {
    expect(checkDiskImage(disk(4096, (b) => ((b[510] = 0x55), (b[511] = 0xaa))), 'a.img')).toBe('mbr');
    expect(checkDiskImage(disk(4096, (b) => ((b[1080] = 0x53), (b[1081] = 0xef))), 'b.img')).toBe('ext2');
    const iso = disk(36864, (b) => b.set(new TextEncoder().encode('CD001'), 32769));
    expect(detectImageKind(iso)).toBe('iso9660');
    expect(checkDiskImage(iso, 'c.iso', { cd: true })).toBe('iso9660');
  });
  it('refuses what is not a disk, cut files and wrong kinds, naming the file', () => {
    expect(() => checkDiskImage(new Uint8Array(0), 'e.img')).toThrow(/e.img: 0 bytes is not a whole number of 512-byte sectors/);
    expect(() => checkDiskImage(new Uint8Array(1024), 'z.img')).toThrow(/z.img is not a disk image/);
    expect(() => checkDiskImage(new Uint8Array(1024), 'z.img', { declaredBytes: 2048 })).toThrow(/has 1024 bytes, but 2048 were expected/);
    const mbr = disk(4096, (b) => ((b[510] = 0x55), (b[511] = 0xaa)));
    expect(() => checkDiskImage(mbr, 'm.img', { cd: true })).toThrow(/not an ISO 9660 CD image/);
  });
});

describe('parseVolumeSize', () => {
  it('takes MiB and GiB, whole MiB within limits', () => {
    expect(parseVolumeSize(64)).toBe(64 * 2 ** 20);
    expect(parseVolumeSize('1 GiB')).toBe(2 ** 30);
    expect(parseVolumeSize('16M')).toBe(16 * 2 ** 20);
    expect(() => parseVolumeSize('1.5')).toThrow(/not a whole number of MiB/);
    expect(() => parseVolumeSize(4096)).toThrow(/outside 1 MiB to 1 GiB/);
    expect(() => parseVolumeSize('lots')).toThrow(/"lots" is not a size/);
  });
});
