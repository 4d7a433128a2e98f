// The RPC surface between the host (main thread or Node) and one guest worker.
// Types only: the worker implements GuestApi, the host calls it through comlink.
import type { CpuPortLike } from './cpu-port.ts';
import type { OverlayBlocks } from '../core/storage/blocks.ts';

/** One file of a guest image, checked against images/manifest.json. */
export interface ImageFile {
  /** File name as listed in the manifest, e.g. "vmlinuz-hv.bin". */
  name: string;
  /** Where to load it: an http(s), relative or file: URL. */
  url: string;
  bytes: number;
  sha256: string;
}

/** What a guest boots: BIOS, kernel, initramfs and the kernel command line. */
export interface GuestImage {
  /** Stable id, e.g. "hv" or "debian": templates are keyed by it. */
  id: string;
  label: string;
  bios: ImageFile;
  vgaBios: ImageFile;
  kernel: ImageFile;
  initrd: ImageFile;
  /** Kernel command line without the per-guest parts (hv.name, hv.seed). */
  cmdline: string;
  /** Boot (and take a clone identity) with v86's JIT off: see BootSpec.jitAfterReady. */
  bootInterpreted?: boolean;
}

export type NicType = 'virtio' | 'ne2k';

/** Where a volume is attached: v86's IDE disks (primary channel's master and slave; hdb needs hda). */
export type DiskSlot = 'hda' | 'hdb';
export const DISK_SLOTS: readonly DiskSlot[] = ['hda', 'hdb'];

/** A volume as its guest's worker gets it: the shared base and the volume's own written blocks. */
export interface DiskSpec {
  slot: DiskSlot;
  volume: string;
  bytes: number;
  /** The read-only base image (a copy per worker), or null: the disk starts empty. */
  base: ArrayBuffer | null;
  overlay: OverlayBlocks;
}

/** Blocks a guest wrote to one of its volumes. */
export interface DiskBlocks {
  slot: DiskSlot;
  volume: string;
  blocks: OverlayBlocks;
}

/**
 * Blocks taken at one instant, and how many disk-blocks events the worker
 * had sent before: those carry older blocks and travel on another port, so
 * the host applies them first (Guest.disksSettled).
 */
export interface DiskFlush {
  disks: DiskBlocks[];
  sentSeq: number;
}

/** The guest's memory as its kernel reports it (virtio-balloon statistics), bytes and counts. */
export interface BalloonStats {
  memFree: number;
  memTotal: number;
  memAvailable: number;
  caches: number;
  swapIn: number;
  swapOut: number;
  majorFaults: number;
  minorFaults: number;
}

/** The balloon as the worker sees it: pages asked for, pages given, pages zeroed; the guest's statistics. */
export interface BalloonInfo {
  targetPages: number;
  actualPages: number;
  zeroedPages: number;
  /** Pages of its RAM that are not zero now: what it has touched and not given back (a fresh instance backs only these). */
  touchedPages: number;
  /** Null when the guest's driver did not answer in time (still booting, or no driver). */
  stats: BalloonStats | null;
}

/** Disk requests since boot, all of a guest's disks together. */
export interface IoCounters {
  readOps: number;
  writeOps: number;
  readBytes: number;
  writeBytes: number;
  /** ms requests were held back by the guest's I/O limits, summed. */
  waitMs: number;
}

/** Where a guest worker takes hand-overs of the pCPU from the hypervisor's other guest workers. */
export interface HandOffInbox {
  /**
   * Names this boot's worker to the CPU service, which links two workers
   * (a MessageChannel, CpuCommand 'link') before the first hand-over between them.
   */
  key: string;
  /** Its cell in the shared hand-over array (BootSpec.cpuCells), or null: messages only. */
  cell: number | null;
}

/** The worker of a queued grant, as the worker before it addresses it (GuestApi.handOff). */
export interface HandOffTarget extends HandOffInbox {
  /**
   * Give it notice before the slice's likely last tick, so that it stays
   * awake for the hand-over (a host core with nothing else to run pays for that).
   */
  notice: boolean;
}

export interface BootSpec {
  name: string;
  memoryMiB: number;
  image: GuestImage;
  /** URL of v86.wasm, or a WebAssembly.Module the host compiled once for all workers. */
  wasm: { url: string } | { module: object };
  nic?: NicType | null;
  /** The NIC's MTU as v86's virtio-net tells the guest's driver at boot (default 1500). */
  nicMtu?: number;
  /** Start gated: the guest executes only under grants (see GuestApi.grant). */
  scheduled: boolean;
  /**
   * This worker's inbox: the worker before a queued grant hands the pCPU over
   * to it (GuestApi.handOff), on a port the CPU service links. None: only the host grants.
   */
  cpuInbox?: HandOffInbox;
  /** The hypervisor's shared hand-over array (Int32 cells, one per guest worker), where memory can be shared. */
  cpuCells?: SharedArrayBuffer;
  /**
   * The CPU channel (cpu-port.ts): CPU reports go up it instead of the event
   * sink, and scheduler commands come down it. Transferred with the boot call.
   */
  cpuPort?: CpuPortLike;
  /** The NIC channel to the virtual switch (nic-port.ts); none: the NIC is connected to nothing. Transferred with the boot call. */
  nicPort?: CpuPortLike;
  /** Boot from this saved state instead of from the kernel (a clone). */
  state?: ArrayBuffer;
  /** The guest clock (ms) when the state was saved; the restored guest continues from it. */
  stateClockMs?: number;
  /** A per-guest random seed written to the guest's entropy pool. */
  seed?: string;
  /**
   * Boot a template (kernel parameter hv.template=1): its shell waits, without
   * echo, for the identity line each of its clones is given (see GuestOptions.identity).
   */
  template?: boolean;
  /**
   * Run interpreted (v86's JIT off) until the guest prints its HV-READY line
   * (or has run 1.5 s): a boot's run-once code is cheaper to interpret than to
   * compile. Default
   * true; a restore that will not print the line again passes false.
   */
  jitAfterReady?: boolean;
  /** Restore the state and do not run (a live migration's target, until migrationFinish). */
  startPaused?: boolean;
  /** Its volumes, as IDE disks (none: no disk). */
  disks?: DiskSpec[];
  /** Its disk limits (requests/s, bytes/s; null: none). */
  ioLimits?: { iops: number | null; bytesPerSec: number | null };
  /** An ISO image in its CD-ROM drive at boot. */
  cdrom?: ArrayBuffer;
  /**
   * Let the kernel find the IDE controller (its disks and its CD-ROM drive)
   * though it has no disks: for a CD inserted later. Without disks or this,
   * the guest boots without the IDE driver (its probe waits ~0.25 s).
   */
  cdromDrive?: boolean;
}

/** Why a slice ended. */
export type SliceEndReason = 'expired' | 'idle' | 'preempted';

/** Counters reported by the worker; instructions are exact (no u32 wrap). */
export interface GuestCounters {
  instructions: number;
  /** ms spent executing (inside v86's main loop), since boot. */
  runMs: number;
  /** ms the guest spent halted, since boot. */
  haltedMs: number;
  memoryMiB: number;
  /** Host-side footprint of the guest's WebAssembly memory, bytes. */
  wasmBytes: number;
  /** v86 compiles hot guest code (off while a guest boots, see BootSpec.jitAfterReady). */
  jit: boolean;
  /** Guest pages v86 compiles into one wasm function (workers/v86-tuning.ts, JIT_PAGES), as v86 reads it back. */
  jitPages: number;
}

/** Events from the guest worker, in v86's naming style. */
export type GuestEvent =
  | { type: 'boot-progress'; phase: 'load' | 'verify' | 'start' | 'restore'; file: string; loaded: number; total: number }
  | { type: 'serial0-output'; bytes: Uint8Array }
  /** The agent's line (second serial port): answers to GuestApi.sendAgent, never shown in a console. */
  | { type: 'serial1-output'; bytes: Uint8Array }
  | { type: 'cpu-slice-end'; grantId: number; usedMs: number; instructions: number; reason: SliceEndReason; handedOff: number | null }
  | { type: 'cpu-wake'; usedMs: number; instructions: number }
  | { type: 'cpu-usage'; usedMs: number; instructions: number; haltedMs: number }
  | { type: 'guest-crash'; reason: string }
  /** Blocks the guest wrote to a volume since the last ones sent (write-back, a flush command). */
  /** `seq` counts these events from 1 (answers that carry blocks say how many were sent before them: DiskFlush.sentSeq). */
  | ({ type: 'disk-blocks'; seq: number } & DiskBlocks)
  /** The guest's disk counters since boot (sent when they changed). */
  | { type: 'disk-io'; counters: IoCounters }
  /** The guest's kernel ran out of memory and killed a process (its OOM killer's console line). */
  | { type: 'guest-oom'; pid: number; process: string }
  /** The balloon's size in pages (sent when it changed), and, while it holds memory, the guest's statistics once a second. */
  | { type: 'balloon'; actualPages: number; stats?: BalloonStats };

export type GuestEventSink = (events: GuestEvent[]) => void;

export interface BootResult {
  /** ms from boot() to the emulator running (images loaded, wasm ready). */
  loadMs: number;
  restored: boolean;
  /** Where those ms went, in the worker (host clock): files and wasm, v86's construction, the restore, the start. */
  phases: { filesMs: number; constructMs: number; restoreMs: number; runMs: number };
}

export interface MemoryHit {
  address: number;
}

export interface MemorySearchResult {
  hits: MemoryHit[];
  /** True when more hits existed than maxHits. */
  truncated: boolean;
  bytesScanned: number;
  ms: number;
}

/** The magic number that begins a zstd frame (read little-endian): a state may come zstd-compressed (prebuilt templates). */
export const ZSTD_MAGIC = 0xfd2fb528;

/** A migration copies guest RAM in pages of this many bytes (the x86 page). */
export const MIGRATION_PAGE_BYTES = 4096;

/** Pages of a migration round: their numbers and their bytes (MIGRATION_PAGE_BYTES each), and what hashing cost the source. */
export interface MigrationPages {
  pages: Uint32Array;
  data: Uint8Array;
  hashMs: number;
}

/** A snapshot of a guest: v86's state and the guest clock it was taken at. */
export interface SavedState {
  state: ArrayBuffer;
  clockMs: number;
  /** Blocks written to its volumes and not sent before, up to the same instant as the state (saveState). */
  disks?: DiskFlush;
}

/** Implemented by workers/guest.worker.ts; every method may reject with a serialised HvError. */
/** What a standby worker loads ahead of its boot: the emulator and image files it will likely need. */
export interface PrepareSpec {
  wasm: BootSpec['wasm'];
  files: ImageFile[];
}

export interface GuestApi {
  /**
   * Load (and check) the wasm and files ahead of boot, so that a later boot
   * with them starts at once. Resolves when done; a failure is reported by
   * the boot that needs the file, not here.
   */
  prepare(spec: PrepareSpec): Promise<void>;
  boot(spec: BootSpec, sink: GuestEventSink): Promise<BootResult>;
  sendSerial(bytes: Uint8Array | string): void;
  /** User pause: the guest stops executing and its clock-driven counters stop. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Let the guest execute for ms of CPU time; ends with a cpu-slice-end event. */
  grant(grantId: number, ms: number): void;
  /**
   * End the grant now (the slice ends with reason 'preempted'); for a queued
   * grant not yet started, withdraw it.
   */
  preempt(grantId: number): void;
  /** Start this worker's own grant `grantId` of ms when its grant before ends (GuestApi.handOff), or when granted. */
  queue(grantId: number, ms: number): void;
  /**
   * When grant `grantId` ends, hand the pCPU to queued grant `nextGrantId` of
   * ms: in this worker if it queued that grant, else in the worker at `to`
   * (the hand-over carries the grant, so that worker is told nothing before).
   */
  handOff(grantId: number, nextGrantId: number, ms: number, to: HandOffTarget): void;
  /** Ungated: the guest runs whenever it is runnable (no hypervisor scheduler). */
  setScheduled(scheduled: boolean): void;
  /** The console pane is cols x rows: tell the guest's agent (second serial port). */
  resizeConsole(cols: number, rows: number): void;
  /** Write request lines to the guest's agent (second serial port; images/rootfs/usr/local/bin/hv-agent). */
  sendAgent(text: string): void;
  counters(): GuestCounters;
  saveState(): Promise<SavedState>;
  /** Live migration, source: save the state and take every page's hash as the baseline (one step: nothing runs between). */
  migrationStart(): Promise<SavedState>;
  /** Source: the pages changed since the last round (or the start), with their bytes; the baseline moves on. */
  migrationRound(): Promise<MigrationPages>;
  /** Source, paused: the last changed pages and the CPU and device state without RAM. */
  migrationFinal(): Promise<MigrationPages & SavedState>;
  /** Target (booted with startPaused): write pages into its RAM. */
  migrationWrite(pages: Uint32Array, data: Uint8Array): void;
  /** Target: restore the CPU and device state over the RAM the rounds wrote, and run. */
  migrationFinish(final: SavedState): Promise<void>;
  /** Every block written and not yet sent (in the answer, not as events: it must arrive before the caller goes on). */
  flushDisks(): Promise<DiskFlush>;
  setIoLimits(limits: { iops: number | null; bytesPerSec: number | null }): void;
  /** Put an ISO image in the CD-ROM drive (null: eject the medium). */
  setCdrom(iso: ArrayBuffer | null): void;
  /** Inflate or deflate the memory balloon to `pages` 4 KiB pages taken from the guest. */
  setBalloon(pages: number): void;
  balloonInfo(): Promise<BalloonInfo>;
  /** Free-page hinting: the guest reports free pages, which are zeroed; bytes zeroed (null: no answer in time). */
  hintFreePages(): Promise<number | null>;
  /** A hash of every 4 KiB page of the guest's RAM (0: a page of zeros), for the page-sharing estimate. */
  pageHashes(): Uint32Array;
  readMemory(address: number, length: number): Uint8Array;
  searchMemory(pattern: Uint8Array, maxHits: number): Promise<MemorySearchResult>;
  destroy(): Promise<void>;
}
