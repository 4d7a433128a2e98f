// What the UI, labs and experiments need of a hypervisor. Two things provide
// it: the Hypervisor itself (in the same thread: Node tests, benches, the
// hypervisor's own worker) and HypervisorClient (the page, talking to the
// Hypervisor in its worker). Reads are synchronous (the client answers from
// its last snapshot); commands may answer later, so callers await them.
import type { MemoryLimits } from '../core/memory-size.ts';
import type { VmResources, VmResourcesInput } from '../core/scheduler-types.ts';
import type { GuestImage, MemorySearchResult } from '../protocol/guest-api.ts';
import type { ExecResult } from './guest.ts';
import type { SharingReport } from '../core/memory/page-sharing.ts';
import type { CompactionReport, GuestMemoryInfo, HostSettings, HvEvent, MemoryView, MigrationReport, MirrorSpec, RemoteMigrationOptions, StorageInfo, VmInfo, VmSpec } from './hypervisor.ts';
import type { RateLimit } from '../core/net/token-bucket.ts';
import type { NetworkInfo, NetworkSpec, NetworkView } from './net/networks.ts';
import type { PeriodHistory } from './period-history.ts';
import type { SnapshotInfo } from './snapshots/snapshots.ts';
import type { BaseImageInfo, VolumeInfo, VolumeSnapshotInfo, VolumeSpec } from './storage/volumes.ts';
import type { IoLimits } from '../core/storage/io-limit.ts';
import type { DiskSlot } from '../protocol/guest-api.ts';

export type MaybePromise<T> = T | Promise<T>;

/** One boot of one guest, as its console, labs and experiments use it. */
export interface GuestHandle {
  readonly name: string;
  /** True once this boot's worker is released (stopped, crashed, restarted). */
  readonly isDestroyed: boolean;
  /** Console output bytes from now on; returns the unsubscribe function. */
  onSerial(listener: (bytes: Uint8Array) => void): () => void;
  /** Type into the guest's serial console. */
  write(data: string | Uint8Array): void;
  /** Run one line in the guest's shell (framed by markers); output and exit status. */
  exec(command: string, timeoutMs?: number): Promise<ExecResult>;
  /** Run a script through the guest's agent (second serial port), never on the console. */
  agent(script: string, timeoutMs?: number): Promise<ExecResult>;
  /** Search the guest's RAM (inside its worker) for a pattern. */
  searchMemory(pattern: Uint8Array | string, maxHits?: number): Promise<MemorySearchResult>;
}

export interface FaultRecord {
  at: number;
  vmId: string | null;
  message: string;
}

export interface HostApi {
  /** Closed accounting periods (the charts, labs' metric checks and experiments read them). */
  readonly history: PeriodHistory;
  readonly images: GuestImage[];
  readonly settings: HostSettings;
  readonly memory: MemoryView;
  /** The host clock (ms) that events and period records are stamped with. */
  now(): number;
  on(listener: (e: HvEvent) => void): () => void;
  /** Hear of each VM's new boot as soon as it has a guest (its console follows it from the first byte). */
  onGuest(listener: (vmId: string, guest: GuestHandle) => void): () => void;
  vms(): VmInfo[];
  vm(id: string): VmInfo;
  guest(id: string): GuestHandle | null;
  faults(): FaultRecord[];
  memoryLimits(imageId?: string): MemoryLimits;
  createVm(spec: VmSpec): MaybePromise<VmInfo>;
  start(id: string): Promise<void>;
  restart(id: string): Promise<void>;
  pause(id: string): Promise<void>;
  resume(id: string): Promise<void>;
  stop(id: string): Promise<void>;
  destroy(id: string): Promise<void>;
  setResources(id: string, change: VmResourcesInput): MaybePromise<VmResources>;
  setHost(change: Partial<HostSettings>): MaybePromise<HostSettings>;
  exec(id: string, command: string, timeoutMs?: number): Promise<ExecResult>;
  createNetwork(spec: NetworkSpec): MaybePromise<NetworkInfo>;
  deleteNetwork(name: string): MaybePromise<void>;
  /** Attach a VM's NIC to a network (or none) while it does not run. */
  setNetwork(id: string, network: string | null, trunk?: string[]): MaybePromise<void>;
  /** Copy a VM's port or a network to another VM's port (Hypervisor.addMirror). */
  addMirror(spec: MirrorSpec): MaybePromise<void>;
  removeMirror(name: string): MaybePromise<void>;
  /** Police a VM's NIC at the switch (null: no limit), now and on later boots. */
  setNicLimit(id: string, limit: RateLimit | null): MaybePromise<void>;
  networkView(frames?: number): MaybePromise<NetworkView>;
  startCapture(network: string): MaybePromise<void>;
  stopCapture(network: string): MaybePromise<void>;
  capturePcapng(network: string, vm?: string): MaybePromise<Uint8Array>;
  /** Snapshots (Hypervisor.takeSnapshot and the rest): kept in the hypervisor until deleted or their VM is destroyed. */
  takeSnapshot(id: string, name: string): Promise<SnapshotInfo>;
  snapshots(vmId?: string): MaybePromise<SnapshotInfo[]>;
  revertSnapshot(snapshotId: string): Promise<void>;
  deleteSnapshot(snapshotId: string): MaybePromise<void>;
  exportSnapshot(snapshotId: string): MaybePromise<Uint8Array>;
  importSnapshot(file: Uint8Array, vm?: string): MaybePromise<SnapshotInfo>;
  /** What survives a reload (Hypervisor.restoreSaved and the rest). */
  restoreSaved(): Promise<{ vms: number; snapshots: number; suspended: string[] }>;
  suspendAll(): Promise<string[]>;
  resumeSuspended(): Promise<string[]>;
  storageInfo(): Promise<StorageInfo>;
  /** Live migration to the host taking migrations on a BroadcastChannel (another tab), and taking them here. */
  migrateVia(id: string, channel: string, options?: RemoteMigrationOptions): Promise<MigrationReport>;
  /** Take migrations on a BroadcastChannel (null: stop); one channel per purpose ('tabs': the user's; 'cluster': this page's other hosts). */
  acceptMigrations(channel: string | null, purpose?: string): MaybePromise<void>;
  /** Volumes and base images (Hypervisor.createVolume and the rest). */
  volumes(): MaybePromise<VolumeInfo[]>;
  baseImages(): MaybePromise<BaseImageInfo[]>;
  createVolume(spec: VolumeSpec): MaybePromise<VolumeInfo>;
  uploadBaseImage(name: string, bytes: Uint8Array, declaredBytes?: number): MaybePromise<BaseImageInfo>;
  deleteBaseImage(name: string): MaybePromise<void>;
  cloneVolume(from: string, name: string): MaybePromise<VolumeInfo>;
  deleteVolume(name: string): MaybePromise<void>;
  snapshotVolume(name: string, snapshot: string): MaybePromise<VolumeSnapshotInfo>;
  revertVolume(name: string, snapshot: string): MaybePromise<void>;
  deleteVolumeSnapshot(name: string, snapshot: string): MaybePromise<void>;
  attachVolume(id: string, volume: string, slot?: DiskSlot): MaybePromise<void>;
  detachVolume(id: string, slot?: DiskSlot): MaybePromise<void>;
  downloadVolume(name: string): Promise<Uint8Array>;
  flushVolumes(vmNames?: string[]): Promise<void>;
  setIoLimits(id: string, change: Partial<IoLimits>): MaybePromise<IoLimits>;
  setCdrom(id: string, iso: Uint8Array | null, name?: string): Promise<void>;
  /** The memory balloon (Hypervisor.setBalloon and the rest). */
  setBalloon(id: string, targetMiB: number | null): Promise<void>;
  memoryInfo(id: string): Promise<GuestMemoryInfo>;
  hintFreePages(id: string): Promise<number>;
  pageSharing(): Promise<SharingReport>;
  compact(id: string): Promise<CompactionReport>;
  hibernate(id: string): Promise<void>;
  wake(id: string): Promise<void>;
  resizeConsole(id: string, cols: number, rows: number): void;
  prepareTemplates(guests: { image?: string; memoryMiB: number; mtu?: number }[]): void;
  standbyReady(): Promise<void>;
  dispose(): Promise<void>;
}

/** The lifecycle commands every HostApi takes by VM id. */
export const VM_COMMANDS = ['start', 'restart', 'pause', 'resume', 'stop', 'destroy'] as const;
export type VmCommand = (typeof VM_COMMANDS)[number];

/** The storage and memory calls of a HostApi: the page's client passes them to the hypervisor's worker as they are. */
export const FORWARDED_CALLS = [
  'volumes',
  'baseImages',
  'createVolume',
  'uploadBaseImage',
  'deleteBaseImage',
  'cloneVolume',
  'deleteVolume',
  'snapshotVolume',
  'revertVolume',
  'deleteVolumeSnapshot',
  'attachVolume',
  'detachVolume',
  'downloadVolume',
  'flushVolumes',
  'setIoLimits',
  'setCdrom',
  'setBalloon',
  'memoryInfo',
  'hintFreePages',
  'pageSharing',
  'compact',
  'hibernate',
  'wake',
] as const satisfies readonly (keyof HostApi)[];
export type ForwardedCall = (typeof FORWARDED_CALLS)[number];
