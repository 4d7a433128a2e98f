// What a file given as a disk or CD image must be before a guest sees it:
// a whole number of sectors, within the size limit, and recognisably a disk
// (a partition table or boot sector, an ext2/3/4 file system, an ISO 9660
// CD image). Anything else (a text file, a snapshot, a truncated download)
// is refused with the reason.
import { HvError } from '../errors.ts';
import { describeValue } from '../format.ts';
import { SECTOR_BYTES } from './blocks.ts';

export type DiskImageKind = 'mbr' | 'ext2' | 'iso9660';

/** Largest volume, bytes: a volume's base lives in memory in every worker that uses it. */
export const MAX_VOLUME_BYTES = 1024 * 1024 * 1024;
export const MIN_VOLUME_BYTES = 1024 * 1024;
/** An ISO 9660 sector (the CD-ROM's). */
export const CD_SECTOR_BYTES = 2048;

const KIND_TEXT: Record<DiskImageKind, string> = {
  mbr: 'a disk with a partition table or boot sector',
  ext2: 'an ext2/ext3/ext4 file system',
  iso9660: 'an ISO 9660 CD image',
};

export function describeImageKind(kind: DiskImageKind): string {
  return KIND_TEXT[kind];
}

/** What a file holds, or null when it is none of the known disk formats. */
export function detectImageKind(bytes: Uint8Array): DiskImageKind | null {
  if (bytes.length >= 32774 && ascii(bytes, 32769, 5) === 'CD001') return 'iso9660';
  // ext2's superblock starts at 1024; its magic 0xEF53 at offset 56 in it.
  if (bytes.length >= 2048 && bytes[1080] === 0x53 && bytes[1081] === 0xef) return 'ext2';
  if (bytes.length >= 512 && bytes[510] === 0x55 && bytes[511] === 0xaa) return 'mbr';
  return null;
}

/**
 * Checks an uploaded image; `name` is the file's name for messages,
 * `declaredBytes` the size the user asked for, if any. Returns its kind.
 */
export function checkDiskImage(bytes: Uint8Array, name: string, options: { cd?: boolean; declaredBytes?: number } = {}): DiskImageKind {
  const size = bytes.length;
  if (options.declaredBytes !== undefined && options.declaredBytes !== size) {
    throw new HvError('invalid-argument', `${name}: the file has ${size} bytes, but ${options.declaredBytes} were expected (a truncated download?)`, {
      name,
      bytes: size,
      expected: options.declaredBytes,
    });
  }
  const sector = options.cd ? CD_SECTOR_BYTES : SECTOR_BYTES;
  if (size === 0 || size % sector !== 0) {
    throw new HvError('invalid-argument', `${name}: ${size} bytes is not a whole number of ${sector}-byte sectors, so it is not a ${options.cd ? 'CD' : 'disk'} image`, {
      name,
      bytes: size,
    });
  }
  if (size > MAX_VOLUME_BYTES) {
    throw new HvError('invalid-argument', `${name}: ${size} bytes is above the largest volume of ${MAX_VOLUME_BYTES / 1024 ** 2} MiB`, { name, bytes: size });
  }
  const kind = detectImageKind(bytes);
  if (kind === null) {
    throw new HvError(
      'invalid-argument',
      `${name} is not a disk image: it has no partition table or boot sector, no ext2/3/4 superblock and no ISO 9660 header (use a raw image, not qcow2, vmdk or a compressed file)`,
      { name },
    );
  }
  if (options.cd && kind !== 'iso9660') {
    throw new HvError('invalid-argument', `${name} is ${KIND_TEXT[kind]}, not an ISO 9660 CD image: attach it as a volume instead`, { name, kind });
  }
  return kind;
}

/** A volume size as bytes: a whole number of MiB, given as a number of MiB or text such as "64", "64 MiB", "1 GiB". */
export function parseVolumeSize(value: unknown): number {
  let bytes: number | null = null;
  if (typeof value === 'number' && Number.isFinite(value)) bytes = value * 1024 ** 2;
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(MiB|M|GiB|G)?\s*$/i.exec(value);
    if (m) bytes = Number(m[1]) * 1024 ** (m[2] && /^g/i.test(m[2]) ? 3 : 2);
  }
  if (bytes === null) throw new HvError('invalid-argument', `volume size ${describeValue(value)} is not a size: use MiB ("64") or GiB ("1 GiB")`, { value });
  if (!Number.isInteger(bytes / 1024 ** 2)) throw new HvError('invalid-argument', `volume size ${describeValue(value)} is not a whole number of MiB`, { value });
  if (bytes < MIN_VOLUME_BYTES || bytes > MAX_VOLUME_BYTES) {
    throw new HvError('invalid-argument', `volume size ${describeValue(value)} is outside 1 MiB to ${MAX_VOLUME_BYTES / 1024 ** 3} GiB`, { value });
  }
  return bytes;
}

function ascii(bytes: Uint8Array, at: number, n: number): string {
  return String.fromCharCode(...bytes.subarray(at, at + n));
}
