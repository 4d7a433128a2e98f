// A guest's disks: each volume is a copy-on-write disk (src/core/storage)
// handed to v86 as an IDE disk buffer (v86 takes any object with byteLength,
// get, set and load). Requests are paced by the guest's I/O limits, counted,
// and the blocks written go back to the host in batches (the host keeps the
// volume; the worker's copy ends with the guest).
import { CowDisk, BlockMap, type OverlayBlocks } from '../src/core/storage/blocks.ts';
import { IoPacer, type IoLimits } from '../src/core/storage/io-limit.ts';
import type { DiskSpec, IoCounters } from '../src/protocol/guest-api.ts';

/** Written blocks go to the host this long after a write (and on a flush command, stop and pagehide). */
export const WRITE_BACK_MS = 200;

export function emptyIoCounters(): IoCounters {
  return { readOps: 0, writeOps: 0, readBytes: 0, writeBytes: 0, waitMs: 0 };
}

/** One disk as v86's IDE sees it. */
export class GuestDisk {
  readonly byteLength: number;
  onload: ((e: object) => void) | undefined;
  readonly disk: CowDisk;

  constructor(
    readonly spec: Omit<DiskSpec, 'overlay' | 'base'>,
    base: ArrayBuffer | null,
    overlay: OverlayBlocks,
    private readonly io: DiskIo,
  ) {
    this.disk = new CowDisk(spec.bytes, base ? new Uint8Array(base) : null, BlockMap.decode(overlay));
    this.byteLength = spec.bytes;
  }

  load(): void {
    this.onload?.({});
  }

  get(start: number, len: number, fn: (data: Uint8Array) => void): void {
    const wait = this.io.admit(len, 'read');
    const data = this.disk.read(start, len);
    this.io.later(wait, () => fn(data));
  }

  set(start: number, slice: Uint8Array, fn: () => void): void {
    const wait = this.io.admit(slice.length, 'write');
    const copy = slice.slice(); // v86 reuses its transfer buffer
    this.io.later(wait, () => {
      this.disk.write(start, copy);
      this.io.written();
      fn();
    });
  }

  /** For v86's geometry guess (the MBR, read before the guest runs: not paced or counted). */
  get_from_cache(start: number, len: number): Uint8Array {
    return this.disk.read(start, len);
  }

  get_and_cache(start: number, len: number, fn: (data: Uint8Array) => void): void {
    fn(this.disk.read(start, len));
  }

  // A saved state holds no disk: a snapshot carries the volume's overlay beside it.
  get_state(): unknown[] {
    return [];
  }

  set_state(): void {}
}

/** The CD-ROM's medium: read-only, unpaced (an ISO is small and read once). */
export class CdMedium {
  readonly byteLength: number;
  onload: ((e: object) => void) | undefined;
  private readonly bytes: Uint8Array;

  constructor(buffer: ArrayBuffer) {
    this.bytes = new Uint8Array(buffer);
    this.byteLength = buffer.byteLength;
  }

  load(): void {
    this.onload?.({});
  }

  get(start: number, len: number, fn: (data: Uint8Array) => void): void {
    fn(this.bytes.slice(start, start + len));
  }

  set(_start: number, _slice: Uint8Array, fn: () => void): void {
    fn();
  }

  get_from_cache(start: number, len: number): Uint8Array {
    return this.bytes.slice(start, start + len);
  }

  get_and_cache(start: number, len: number, fn: (data: Uint8Array) => void): void {
    fn(this.bytes.slice(start, start + len));
  }

  get_state(): unknown[] {
    return [];
  }

  set_state(): void {}
}

/** The pacing, counting and write-back shared by one guest's disks. */
export class DiskIo {
  readonly counters = emptyIoCounters();
  private readonly pacer: IoPacer;
  private writeBack: ReturnType<typeof setTimeout> | null = null;
  private closed = false;

  constructor(
    limits: Pick<IoLimits, 'iops' | 'bytesPerSec'>,
    private readonly now: () => number,
    /** Blocks were written: send them to the host (called WRITE_BACK_MS after a write). */
    private readonly flush: () => void,
  ) {
    this.pacer = new IoPacer(limits);
  }

  setLimits(limits: Pick<IoLimits, 'iops' | 'bytesPerSec'>): void {
    this.pacer.setLimits(limits);
  }

  admit(bytes: number, kind: 'read' | 'write'): number {
    const wait = this.pacer.admit(bytes, this.now());
    const c = this.counters;
    if (kind === 'read') {
      c.readOps++;
      c.readBytes += bytes;
    } else {
      c.writeOps++;
      c.writeBytes += bytes;
    }
    c.waitMs += wait;
    return wait;
  }

  later(ms: number, fn: () => void): void {
    if (ms <= 0) fn();
    else
      setTimeout(() => {
        if (!this.closed) fn();
      }, ms);
  }

  written(): void {
    if (this.writeBack !== null || this.closed) return;
    this.writeBack = setTimeout(() => {
      this.writeBack = null;
      this.flush();
    }, WRITE_BACK_MS);
  }

  close(): void {
    this.closed = true;
    if (this.writeBack !== null) clearTimeout(this.writeBack);
    this.writeBack = null;
  }
}

/** An IDE drive of v86's (ide.js IDEInterface): the command register's handler. */
interface V86IdeDrive {
  ata_command(cmd: number): void;
}

/** ATA FLUSH CACHE and FLUSH CACHE EXT. */
const FLUSH_COMMANDS = new Set([0xe7, 0xea]);

const flushHooks = new WeakMap<object, () => void>();

/**
 * Call `fn` when the guest sends a drive on the primary channel a cache flush
 * (`sync` with a write cache on; `hdparm -F`). v86 seals its drive objects, so
 * the hook sits on their prototype (one emulator per worker) and finds the
 * drive's callback by the drive.
 */
export function onFlushCommand(ide: { primary?: { master: V86IdeDrive; slave: V86IdeDrive } } | undefined, fn: () => void): void {
  const drives = ide?.primary ? [ide.primary.master, ide.primary.slave] : [];
  for (const drive of drives) flushHooks.set(drive, fn);
  const proto = drives[0] ? (Object.getPrototypeOf(drives[0]) as V86IdeDrive & { hvFlushHook?: true }) : null;
  if (!proto || proto.hvFlushHook) return;
  const command = proto.ata_command;
  proto.ata_command = function (this: V86IdeDrive, cmd: number) {
    command.call(this, cmd);
    if (FLUSH_COMMANDS.has(cmd)) flushHooks.get(this)?.();
  };
  proto.hvFlushHook = true;
}
