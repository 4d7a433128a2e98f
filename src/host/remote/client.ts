// The page's side of the page protocol (protocol.ts): a HostApi whose reads
// answer from the last batch the hypervisor's worker sent, and whose commands
// are calls to it. Guest handles stand for one boot of a VM: their console
// output arrives in the batches, their input goes straight to that boot.
import { checkConsoleSize } from '../../core/console-size.ts';
import { HvError } from '../../core/errors.ts';
import { initrdMemoryLimits, type MemoryLimits } from '../../core/memory-size.ts';
import type { VmResources, VmResourcesInput } from '../../core/scheduler-types.ts';
import type { GuestImage, MemorySearchResult } from '../../protocol/guest-api.ts';
import type { ExecResult } from '../guest.ts';
import type { FaultRecord, GuestHandle, HostApi, ForwardedCall } from '../host-api.ts';
import type { BaseImageInfo, VolumeInfo, VolumeSnapshotInfo, VolumeSpec } from '../storage/volumes.ts';
import type { IoLimits } from '../../core/storage/io-limit.ts';
import type { DiskSlot } from '../../protocol/guest-api.ts';
import type { SharingReport } from '../../core/memory/page-sharing.ts';
import { initialHost, type CompactionReport, type GuestMemoryInfo, type HostSettings, type HvEvent, type MemoryView, type MigrationReport, type MirrorSpec, type RemoteMigrationOptions, type StorageInfo, type VmInfo, type VmSpec } from '../hypervisor.ts';
import { imageById } from '../images.ts';
import type { NetworkInfo, NetworkSpec, NetworkView } from '../net/networks.ts';
import type { RateLimit } from '../../core/net/token-bucket.ts';
import { PeriodHistory } from '../period-history.ts';
import type { Endpoint } from './server.ts';
import type { SnapshotInfo } from '../snapshots/snapshots.ts';
import type { Batch, GuestRef, HvCall, HvMessage, PageMessage, RemoteInit, WorkerCounts } from './protocol.ts';

/** Faults kept for faults() (as the Hypervisor keeps them). */
const FAULT_LIMIT = 200;
/** Console output a handle keeps until somebody listens (a console that follows the boot late), bytes. */
const UNHEARD_BYTES = 256 * 1024;

export class HypervisorClient implements HostApi {
  readonly history = new PeriodHistory();
  readonly images: GuestImage[];
  private settingsNow: HostSettings;
  private memoryNow: MemoryView;
  private vmList: VmInfo[] = [];
  /** Page clock minus the hypervisor's clock, ms (both are performance.now of their thread). */
  private clockOffset = 0;
  private readonly listeners = new Set<(e: HvEvent) => void>();
  private readonly guestListeners = new Set<(vmId: string, guest: GuestHandle) => void>();
  private readonly faultLog: FaultRecord[] = [];
  private readonly handles = new Map<string, RemoteGuest>();
  private readonly calls = new Map<number, { resolve: (v: unknown) => void; reject: (e: HvError) => void }>();
  private seq = 0;
  /** Why no call can be answered any more (the worker failed, or the client was disposed). */
  private broken: HvError | null = null;
  private disposing: Promise<void> | null = null;

  constructor(
    private readonly endpoint: Endpoint,
    init: RemoteInit,
    /** Called once the hypervisor has disposed itself (the page terminates the worker). */
    private readonly onDisposed: () => void = () => {},
  ) {
    this.images = init.env.images;
    const initial = initialHost(init.settings);
    this.settingsNow = initial.settings;
    this.memoryNow = initial.memory;
    endpoint.addEventListener('message', (e) => this.onMessage(e.data as HvMessage));
    endpoint.start?.();
    this.send({ kind: 'init', init });
  }

  // --- reads ---

  get settings(): HostSettings {
    return { ...this.settingsNow };
  }

  get memory(): MemoryView {
    return this.memoryNow;
  }

  now(): number {
    return performance.now() - this.clockOffset;
  }

  on(listener: (e: HvEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  onGuest(listener: (vmId: string, guest: GuestHandle) => void): () => void {
    this.guestListeners.add(listener);
    return () => this.guestListeners.delete(listener);
  }

  vms(): VmInfo[] {
    return [...this.vmList];
  }

  vm(id: string): VmInfo {
    const vm = this.vmList.find((v) => v.id === id);
    if (!vm) throw new HvError('not-found', `there is no VM with id ${id}`, { id });
    return vm;
  }

  guest(id: string): GuestHandle | null {
    this.vm(id);
    return this.handles.get(id) ?? null;
  }

  faults(): FaultRecord[] {
    return this.faultLog.map((f) => ({ ...f }));
  }

  memoryLimits(imageId?: string): MemoryLimits {
    return initrdMemoryLimits(imageById(this.images, imageId).initrd.bytes);
  }

  // --- commands ---

  createVm(spec: VmSpec): Promise<VmInfo> {
    return this.call({ op: 'createVm', spec });
  }

  start(id: string): Promise<void> {
    return this.call({ op: 'start', id });
  }

  restart(id: string): Promise<void> {
    return this.call({ op: 'restart', id });
  }

  pause(id: string): Promise<void> {
    return this.call({ op: 'pause', id });
  }

  resume(id: string): Promise<void> {
    return this.call({ op: 'resume', id });
  }

  stop(id: string): Promise<void> {
    return this.call({ op: 'stop', id });
  }

  destroy(id: string): Promise<void> {
    return this.call({ op: 'destroy', id });
  }

  setResources(id: string, change: VmResourcesInput): Promise<VmResources> {
    return this.call({ op: 'setResources', id, change });
  }

  setHost(change: Partial<HostSettings>): Promise<HostSettings> {
    return this.call({ op: 'setHost', change });
  }

  exec(id: string, command: string, timeoutMs?: number): Promise<ExecResult> {
    return this.call({ op: 'exec', id, command, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }

  createNetwork(spec: NetworkSpec): Promise<NetworkInfo> {
    return this.call({ op: 'createNetwork', spec });
  }

  deleteNetwork(name: string): Promise<void> {
    return this.call({ op: 'deleteNetwork', name });
  }

  setNetwork(id: string, network: string | null, trunk: string[] = []): Promise<void> {
    return this.call({ op: 'setNetwork', id, network, trunk });
  }

  addMirror(spec: MirrorSpec): Promise<void> {
    return this.call({ op: 'addMirror', spec });
  }

  removeMirror(name: string): Promise<void> {
    return this.call({ op: 'removeMirror', name });
  }

  setNicLimit(id: string, limit: RateLimit | null): Promise<void> {
    return this.call({ op: 'setNicLimit', id, limit });
  }

  networkView(frames?: number): Promise<NetworkView> {
    return this.call({ op: 'networkView', ...(frames === undefined ? {} : { frames }) });
  }

  startCapture(network: string): Promise<void> {
    return this.call({ op: 'startCapture', network });
  }

  stopCapture(network: string): Promise<void> {
    return this.call({ op: 'stopCapture', network });
  }

  takeSnapshot(id: string, name: string): Promise<SnapshotInfo> {
    return this.call({ op: 'takeSnapshot', id, name });
  }

  snapshots(vmId?: string): Promise<SnapshotInfo[]> {
    return this.call({ op: 'snapshots', ...(vmId === undefined ? {} : { vmId }) });
  }

  revertSnapshot(snapshotId: string): Promise<void> {
    return this.call({ op: 'revertSnapshot', snapshotId });
  }

  deleteSnapshot(snapshotId: string): Promise<void> {
    return this.call({ op: 'deleteSnapshot', snapshotId });
  }

  migrateVia(id: string, channel: string, options: RemoteMigrationOptions = {}): Promise<MigrationReport> {
    return this.call({ op: 'migrateVia', id, channel, options });
  }

  acceptMigrations(channel: string | null, purpose?: string): Promise<void> {
    return this.call({ op: 'acceptMigrations', channel, ...(purpose !== undefined ? { purpose } : {}) });
  }

  restoreSaved(): Promise<{ vms: number; snapshots: number; suspended: string[] }> {
    return this.call({ op: 'restoreSaved' });
  }

  suspendAll(): Promise<string[]> {
    return this.call({ op: 'suspendAll' });
  }

  resumeSuspended(): Promise<string[]> {
    return this.call({ op: 'resumeSuspended' });
  }

  storageInfo(): Promise<StorageInfo> {
    return this.call({ op: 'storageInfo' });
  }

  // Storage and memory: each call goes to the hypervisor's worker as it is (HostApi FORWARDED_CALLS).
  private forward<T>(call: ForwardedCall, ...args: unknown[]): Promise<T> {
    return this.call({ op: 'forward', call, args });
  }

  volumes(): Promise<VolumeInfo[]> {
    return this.forward('volumes');
  }

  baseImages(): Promise<BaseImageInfo[]> {
    return this.forward('baseImages');
  }

  createVolume(spec: VolumeSpec): Promise<VolumeInfo> {
    return this.forward('createVolume', spec);
  }

  uploadBaseImage(name: string, bytes: Uint8Array, declaredBytes?: number): Promise<BaseImageInfo> {
    return this.forward('uploadBaseImage', name, bytes, declaredBytes);
  }

  deleteBaseImage(name: string): Promise<void> {
    return this.forward('deleteBaseImage', name);
  }

  cloneVolume(from: string, name: string): Promise<VolumeInfo> {
    return this.forward('cloneVolume', from, name);
  }

  deleteVolume(name: string): Promise<void> {
    return this.forward('deleteVolume', name);
  }

  snapshotVolume(name: string, snapshot: string): Promise<VolumeSnapshotInfo> {
    return this.forward('snapshotVolume', name, snapshot);
  }

  revertVolume(name: string, snapshot: string): Promise<void> {
    return this.forward('revertVolume', name, snapshot);
  }

  deleteVolumeSnapshot(name: string, snapshot: string): Promise<void> {
    return this.forward('deleteVolumeSnapshot', name, snapshot);
  }

  attachVolume(id: string, volume: string, slot: DiskSlot = 'hda'): Promise<void> {
    return this.forward('attachVolume', id, volume, slot);
  }

  detachVolume(id: string, slot: DiskSlot = 'hda'): Promise<void> {
    return this.forward('detachVolume', id, slot);
  }

  downloadVolume(name: string): Promise<Uint8Array> {
    return this.forward('downloadVolume', name);
  }

  flushVolumes(vmNames?: string[]): Promise<void> {
    return this.forward('flushVolumes', vmNames);
  }

  setIoLimits(id: string, change: Partial<IoLimits>): Promise<IoLimits> {
    return this.forward('setIoLimits', id, change);
  }

  setCdrom(id: string, iso: Uint8Array | null, name?: string): Promise<void> {
    return this.forward('setCdrom', id, iso, name);
  }

  setBalloon(id: string, targetMiB: number | null): Promise<void> {
    return this.forward('setBalloon', id, targetMiB);
  }

  memoryInfo(id: string): Promise<GuestMemoryInfo> {
    return this.forward('memoryInfo', id);
  }

  hintFreePages(id: string): Promise<number> {
    return this.forward('hintFreePages', id);
  }

  pageSharing(): Promise<SharingReport> {
    return this.forward('pageSharing');
  }

  compact(id: string): Promise<CompactionReport> {
    return this.forward('compact', id);
  }

  hibernate(id: string): Promise<void> {
    return this.forward('hibernate', id);
  }

  wake(id: string): Promise<void> {
    return this.forward('wake', id);
  }

  exportSnapshot(snapshotId: string): Promise<Uint8Array> {
    return this.call({ op: 'exportSnapshot', snapshotId });
  }

  importSnapshot(file: Uint8Array, vm?: string): Promise<SnapshotInfo> {
    return this.call({ op: 'importSnapshot', file, ...(vm === undefined ? {} : { vm }) });
  }

  capturePcapng(network: string, vm?: string): Promise<Uint8Array> {
    return this.call({ op: 'capturePcapng', network, ...(vm === undefined ? {} : { vm }) });
  }

  resizeConsole(id: string, cols: number, rows: number): void {
    this.vm(id);
    const size = checkConsoleSize(cols, rows);
    this.send({ kind: 'resize', vmId: id, cols: size.cols, rows: size.rows });
  }

  prepareTemplates(guests: { image?: string; memoryMiB: number; mtu?: number }[]): void {
    void this.call({ op: 'prepareTemplates', guests }).catch((err: unknown) => console.warn(`templates not prepared: ${HvError.from(err).message}`));
  }

  standbyReady(): Promise<void> {
    return this.call({ op: 'standbyReady' });
  }

  /** Guest workers started and terminated in the hypervisor's worker (tests read them). */
  workerCounts(): Promise<WorkerCounts | null> {
    return this.call({ op: 'workerCounts' });
  }

  /** Destroy every VM and stop the hypervisor; then the worker may go. */
  dispose(): Promise<void> {
    this.disposing ??= this.call<void>({ op: 'dispose' })
      .catch((err: unknown) => console.warn(`the hypervisor did not dispose cleanly: ${HvError.from(err).message}`))
      .finally(() => {
        this.fail(new HvError('illegal-state', 'the hypervisor has been disposed', {}), false);
        this.onDisposed();
      });
    return this.disposing;
  }

  /** The hypervisor's worker is gone (it failed to load or crashed): every call now fails with this reason. */
  fail(error: HvError, announce = true): void {
    if (this.broken) return;
    this.broken = error;
    if (announce) this.fault(null, error.message);
    for (const { reject } of this.calls.values()) reject(error);
    this.calls.clear();
  }

  // --- wire ---

  /** A call on a guest handle's boot. */
  guestCall<T>(call: HvCall): Promise<T> {
    return this.call(call);
  }

  /** Console input for one boot. */
  input(guest: GuestRef, data: Uint8Array): void {
    if (!this.broken) this.send({ kind: 'input', guest, data }, [data.buffer as ArrayBuffer]);
  }

  private call<T>(call: HvCall): Promise<T> {
    if (this.broken) return Promise.reject(this.broken);
    const seq = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      this.calls.set(seq, { resolve: resolve as (v: unknown) => void, reject });
      this.send({ kind: 'call', seq, call });
    });
  }

  private send(message: PageMessage, transfer: Transferable[] = []): void {
    this.endpoint.postMessage(message, transfer);
  }

  private onMessage(m: HvMessage): void {
    switch (m.kind) {
      case 'hello':
        this.clockOffset = m.timeOrigin - performance.timeOrigin;
        this.settingsNow = m.settings;
        this.memoryNow = m.memory;
        this.vmList = m.vms;
        return;
      case 'init-failed': {
        const error = HvError.from(m.error);
        this.fail(new HvError(error.code, `the hypervisor could not start: ${error.message}`, error.details));
        return;
      }
      case 'batch':
        return this.apply(m);
      case 'reply': {
        const call = this.calls.get(m.seq);
        if (!call) return;
        this.calls.delete(m.seq);
        if (m.ok) call.resolve(m.value);
        else call.reject(HvError.from(m.error));
        return;
      }
    }
  }

  private apply(batch: Batch): void {
    if (batch.vms) this.vmList = batch.vms;
    if (batch.memory) this.memoryNow = batch.memory;
    if (batch.settings) this.settingsNow = batch.settings;
    for (const g of batch.guests ?? []) {
      let handle = this.handles.get(g.vmId);
      if (!handle || handle.ref.boot !== g.boot) {
        handle?.end();
        handle = new RemoteGuest(this, { vmId: g.vmId, boot: g.boot }, g.name);
        this.handles.set(g.vmId, handle);
        for (const l of [...this.guestListeners]) this.guarded('new guest', () => l(g.vmId, handle!));
      }
      if (g.destroyed) handle.end();
    }
    for (const e of batch.events) {
      if (e.type === 'period') this.history.add(e.period);
      if (e.type === 'fault') this.fault(e.vmId, e.message, e.at, false);
      if (e.type === 'vm-state' && e.state === 'destroyed') {
        this.handles.get(e.vmId)?.end();
        this.handles.delete(e.vmId);
      }
      this.emit(e);
    }
    for (const { guest, bytes } of batch.console) {
      const handle = this.handles.get(guest.vmId);
      if (handle && handle.ref.boot === guest.boot) handle.output(bytes);
    }
  }

  private fault(vmId: string | null, message: string, at = this.now(), announce = true): void {
    this.faultLog.push({ at, vmId, message });
    if (this.faultLog.length > FAULT_LIMIT) this.faultLog.splice(0, this.faultLog.length - FAULT_LIMIT);
    if (announce) this.emit({ type: 'fault', at, vmId, message });
  }

  /** Every subscriber hears every event; one that throws is logged and the others go on. */
  private emit(e: HvEvent): void {
    for (const l of [...this.listeners]) this.guarded(`a ${e.type} event`, () => l(e));
  }

  private guarded(what: string, fn: () => void): void {
    try {
      fn();
    } catch (err) {
      console.error(`a subscriber failed on ${what}:`, err);
    }
  }
}

/** One boot of a VM, on the page. */
class RemoteGuest implements GuestHandle {
  private ended = false;
  private readonly listeners = new Set<(bytes: Uint8Array) => void>();
  /** Output that came before anybody listened. */
  private unheard: Uint8Array[] | null = [];
  private unheardBytes = 0;
  private readonly encoder = new TextEncoder();

  constructor(
    private readonly client: HypervisorClient,
    readonly ref: GuestRef,
    readonly name: string,
  ) {}

  get isDestroyed(): boolean {
    return this.ended;
  }

  end(): void {
    this.ended = true;
  }

  output(bytes: Uint8Array): void {
    if (this.unheard) {
      this.unheard.push(bytes);
      this.unheardBytes += bytes.byteLength;
      while (this.unheardBytes > UNHEARD_BYTES && this.unheard.length > 1) this.unheardBytes -= this.unheard.shift()!.byteLength;
    }
    for (const l of this.listeners) l(bytes);
  }

  onSerial(listener: (bytes: Uint8Array) => void): () => void {
    if (this.unheard) {
      for (const chunk of this.unheard) listener(chunk);
      this.unheard = null;
    }
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  write(data: string | Uint8Array): void {
    if (this.ended) return;
    // A copy of the caller's bytes: the message transfers its buffer.
    const bytes = typeof data === 'string' ? this.encoder.encode(data) : data.slice();
    this.client.input(this.ref, bytes);
  }

  exec(command: string, timeoutMs?: number): Promise<ExecResult> {
    return this.client.guestCall({ op: 'guestExec', guest: this.ref, command, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }

  agent(script: string, timeoutMs?: number): Promise<ExecResult> {
    return this.client.guestCall({ op: 'guestAgent', guest: this.ref, script, ...(timeoutMs === undefined ? {} : { timeoutMs }) });
  }

  searchMemory(pattern: Uint8Array | string, maxHits?: number): Promise<MemorySearchResult> {
    return this.client.guestCall({ op: 'guestSearch', guest: this.ref, pattern, ...(maxHits === undefined ? {} : { maxHits }) });
  }
}
