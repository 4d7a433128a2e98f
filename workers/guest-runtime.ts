// One guest: a v86 instance, its tick gate, its serial line and its snapshots.
// Implements the GuestApi that guest.worker.ts exposes over comlink.
// clock-shim first: it must wrap performance.now before v86 loads.
import { guestClock, hostClock, setGuestClock } from './clock-shim.ts';
import { transfer } from 'comlink';
import { V86 } from 'v86';
import type { V86Options } from 'v86';
import type {
  BootResult,
  BalloonInfo,
  BootSpec,
  DiskBlocks,
  DiskFlush,
  GuestApi,
  GuestCounters,
  GuestEvent,
  GuestEventSink,
  HandOffTarget,
  ImageFile,
  MemorySearchResult,
  MigrationPages,
  PrepareSpec,
  SavedState,
} from '../src/protocol/guest-api.ts';
import { HvError } from '../src/core/errors.ts';
import { isCpuReport, type CpuCommand, type CpuPortLike } from '../src/protocol/cpu-port.ts';
import { loadImageFile } from './image-loader.ts';
import { searchChunked } from './memory-search.ts';
import { HandOffLink } from './hand-off.ts';
import { SerialBatcher } from './serial-batch.ts';
import { Nic } from './nic.ts';
import { CdMedium, DiskIo, GuestDisk, onFlushCommand } from './disk.ts';
import { Balloon, type V86Balloon } from './balloon.ts';
import { changedPages, keepingMemory, pageHashes, readPages, withoutMemory, writePages, type V86MemoryPacking } from './migration.ts';
import { TickGate, type V86Internals } from './tick-gate.ts';
import { installFastMemoryOps, installFastYield, JIT_PAGES, jitPages, nicHost, offerNicOffloads, primeTsc, setJit, setJitPages, type V86JitRead, type V86JitSwitch, type V86MemoryOps, type V86Tsc, type V86Yield } from './v86-tuning.ts';

const MiB = 1 << 20;
/** BIOS, VGA BIOS and real-mode tables live below this address. */
const FIRST_MIB = MiB;
/** Serial bytes are batched (serial-batch.ts): at most one batch per port this often, ms. */
const SERIAL_FLUSH_MS = 16;
/** Use outside slices is reported this often (also keeps counters fresh). */
const USAGE_FLUSH_MS = 250;
const PANIC_RE = /Kernel panic - not syncing:[^\r\n]*/;
/** The OOM killer's line (KERN_ERR: /init lets errors reach the console). */
const OOM_RE = /Out of memory(?: \(oom_kill_allocating_task\))?: Killed process (\d+) \(([^)]*)\)/;
/** A boot or a clone's identity runs interpreted until this line (see v86-tuning.ts). */
const READY_MARK = 'HV-READY';
/** The JIT goes on after this much guest execution even without a ready line (the small kernel needs ~1 s). */
const JIT_AFTER_RUN_MS = 5000;

const now = guestClock;
/** How long the guest's balloon driver may take to report its statistics, and its free pages, ms. */
const BALLOON_ANSWER_MS = 2000;
const HINT_ANSWER_MS = 10_000;
/** While a balloon holds memory, the guest's statistics are read this often (ms). */
const BALLOON_STATS_MS = 1000;
/** Kernel parameter that leaves the IDE driver (ata_piix) out of a boot. */
const NO_IDE = 'initcall_blacklist=piix_init';
const nextMacrotask = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 0));

async function loadWasm(spec: BootSpec['wasm']): Promise<WebAssembly.Module> {
  if ('module' in spec) return spec.module as WebAssembly.Module;
  const file = { name: 'v86.wasm', url: spec.url, bytes: 0, sha256: '' };
  if (spec.url.startsWith('file:')) {
    const fsName = 'node:fs/promises';
    const urlName = 'node:url';
    const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
    const { fileURLToPath } = (await import(/* @vite-ignore */ urlName)) as typeof import('node:url');
    return WebAssembly.compile(await fs.readFile(fileURLToPath(file.url)));
  }
  return WebAssembly.compileStreaming(fetch(file.url));
}

/** True under Node worker_threads, false in a browser worker. */
export const isNode = typeof process !== 'undefined' && typeof process.versions?.node === 'string';
const wasmKey = (wasm: BootSpec['wasm']): string => ('url' in wasm ? `wasm ${wasm.url}` : 'wasm module');
const fileKey = (f: ImageFile): string => `file ${f.url} ${f.sha256}`;

/** v86's CD-ROM drive (the secondary IDE channel's master). */
interface V86Cdrom {
  set_cdrom(medium: object): void;
  eject(): void;
}

function countNonZero(hashes: Uint32Array): number {
  let n = 0;
  for (const h of hashes) if (h !== 0) n++;
  return n;
}

/** The buffers of a flush's blocks, to transfer. */
function bufferListOf(f: DiskFlush): ArrayBuffer[] {
  return f.disks.flatMap((d) => [d.blocks.blocks.buffer as ArrayBuffer, d.blocks.data.buffer as ArrayBuffer]);
}

export class GuestRuntime implements GuestApi {
  private emulator: (V86 & V86Internals) | null = null;
  private gate: TickGate | null = null;
  private sink: GuestEventSink = () => {};
  /** Console bytes (serial0) and the agent's line (serial1), batched. */
  private readonly serial = new SerialBatcher((port, bytes) => this.emit({ type: port === 0 ? 'serial0-output' : 'serial1-output', bytes }), hostClock, SERIAL_FLUSH_MS);
  private serialTail = '';
  private crashed = false;
  private memoryMiB = 0;
  private timers: ReturnType<typeof setInterval>[] = [];
  /** How this worker hands the pCPU to the others and takes it from them. */
  private link: HandOffLink | null = null;
  private jitOn = false;
  /** Live migration (source): each page's hash at the last round. */
  private migrationHashes: Uint32Array | null = null;
  /** The CPU channel to the scheduler, when the host gave one (BootSpec.cpuPort). */
  private cpuPort: CpuPortLike | null = null;
  /** The NIC on its channel to the virtual switch (BootSpec.nicPort). */
  private nic: Nic | null = null;
  private uninstallYield: (() => void) | null = null;
  /** Its volumes (BootSpec.disks) and their pacing and counters. */
  private disks: GuestDisk[] = [];
  private diskIo: DiskIo | null = null;
  private ioSent = '';
  private balloon: Balloon | null = null;
  /** disk-blocks events sent. */
  private diskSeq = 0;
  /** What prepare() started loading, by wasmKey / fileKey; each is used by one boot. */
  private readonly prepared = new Map<string, Promise<WebAssembly.Module | ArrayBuffer>>();

  async prepare(spec: PrepareSpec): Promise<void> {
    const loads: [string, Promise<WebAssembly.Module | ArrayBuffer>][] = [
      [wasmKey(spec.wasm), loadWasm(spec.wasm)],
      ...spec.files.map((f): [string, Promise<ArrayBuffer>] => [fileKey(f), loadImageFile(f, () => {})]),
    ];
    for (const [key, promise] of loads) {
      this.prepared.set(key, promise);
      promise.catch(() => {}); // reported by the boot that needs it
    }
    await Promise.allSettled(loads.map(([, p]) => p));
  }

  /** A prepared load, or a new one. */
  private take<T>(key: string, load: () => Promise<T>): Promise<T> {
    const ready = this.prepared.get(key) as Promise<T> | undefined;
    this.prepared.delete(key);
    return ready ?? load();
  }

  async boot(spec: BootSpec, sink: GuestEventSink): Promise<BootResult> {
    if (this.emulator) throw new HvError('illegal-state', `guest ${spec.name} is already booted`, {});
    const t0 = hostClock(); // the guest clock jumps on a restore
    this.sink = sink;
    this.memoryMiB = spec.memoryMiB;
    // A restore brings the kernel and initrd back in its RAM: only the BIOSes are loaded.
    const files = spec.state ? [spec.image.bios, spec.image.vgaBios] : [spec.image.bios, spec.image.vgaBios, spec.image.kernel, spec.image.initrd];
    const progress = (f: ImageFile) => (loaded: number, total: number) =>
      this.emit({ type: 'boot-progress', phase: 'load', file: f.name, loaded, total });
    const [wasm, ...buffers] = await Promise.all([
      this.take(wasmKey(spec.wasm), () => loadWasm(spec.wasm)),
      ...files.map(async (f) => {
        const key = fileKey(f);
        const prepared = this.prepared.has(key);
        const buffer = await this.take(key, () => loadImageFile(f, progress(f)));
        if (prepared) progress(f)(f.bytes, f.bytes); // loaded before: report it done
        return buffer;
      }),
    ]);
    this.prepared.clear(); // one boot per worker: what it did not take (a restore's kernel) is not needed
    const tFiles = hostClock();
    const [bios, vgaBios, kernel, initrd] = buffers as [ArrayBuffer, ArrayBuffer, ArrayBuffer?, ArrayBuffer?];
    // No disk and no CD-ROM drive wanted: the kernel skips the IDE driver, whose probe waits ~0.25 s (libata's resets).
    const ide = (spec.disks?.length ?? 0) > 0 || spec.cdrom !== undefined || spec.cdromDrive === true;
    const cmdline = [spec.image.cmdline, `hv.name=${spec.name}`, spec.seed ? `hv.seed=${spec.seed}` : '', spec.template ? 'hv.template=1' : '', ide ? '' : NO_IDE]
      .filter(Boolean)
      .join(' ');
    const options: V86Options & { wasm_fn: (imports: WebAssembly.Imports) => Promise<WebAssembly.Exports> } = {
      wasm_fn: async (imports) => (await WebAssembly.instantiate(wasm, imports)).exports,
      memory_size: spec.memoryMiB * MiB,
      vga_memory_size: 1 * MiB, // headless: no framebuffer needed
      bios: { buffer: bios },
      vga_bios: { buffer: vgaBios },
      ...(kernel && initrd ? { bzimage: { buffer: kernel }, initrd: { buffer: initrd } } : {}),
      cmdline,
      acpi: true,
      uart1: true, // the agent's line (GuestApi.resizeConsole, sendAgent)
      disable_jit: spec.jitAfterReady ?? false,
      autostart: false,
      disable_keyboard: true,
      disable_mouse: true,
      disable_speaker: true,
      // Every guest has the device (a restore needs the options it was saved with).
      virtio_balloon: true,
    };
    if (spec.nic) options.net_device = { type: spec.nic, relay_url: undefined as unknown as string, ...(spec.nicMtu !== undefined ? { mtu: spec.nicMtu } : {}) } as V86Options['net_device'];
    this.attachDisks(spec, options as unknown as Record<string, unknown>);
    this.emit({ type: 'boot-progress', phase: 'start', file: '', loaded: 0, total: 1 });
    // A restored guest continues on the clock of the instance that saved it.
    if (spec.state && spec.stateClockMs !== undefined) setGuestClock(spec.stateClockMs);
    const emulator = new V86(options) as V86 & V86Internals;
    this.emulator = emulator;
    await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
    const tConstruct = hostClock();
    // Without a kernel, v86 wrote nothing above the first MiB (test/integration/v86-facts.test.ts).
    installFastMemoryOps(emulator.v86.cpu as unknown as V86MemoryOps, spec.state ? FIRST_MIB : Infinity);
    const cpu = emulator.v86.cpu as unknown as V86MemoryOps & { devices: { virtio_balloon?: V86Balloon } };
    if (cpu.devices.virtio_balloon) this.balloon = new Balloon(cpu.devices.virtio_balloon, () => cpu.mem8, (a, n) => cpu.zero_memory(a, n));
    if (!isNode) this.uninstallYield = installFastYield(emulator.v86 as unknown as V86Yield);
    if (this.disks.length > 0) onFlushCommand((emulator.v86.cpu as unknown as { devices: { ide?: Parameters<typeof onFlushCommand>[0] } }).devices.ide, () => this.sendDiskBlocks());
    emulator.add_listener('serial0-output-byte', (byte) => this.onSerialByte(byte));
    emulator.add_listener('serial1-output-byte', (byte) => this.serial.push(1, byte));
    if (!spec.state) offerNicOffloads(emulator);
    if (spec.state) {
      this.emit({ type: 'boot-progress', phase: 'restore', file: '', loaded: 0, total: spec.state.byteLength });
      try {
        await emulator.restore_state(spec.state);
      } catch (err) {
        await this.destroy();
        throw new HvError('restore-failed', `restoring ${spec.name} from its saved state failed: ${(err as Error).message}`, {});
      }
    }
    // Before the guest runs: a first rdtsc must not jump (see v86-tuning.ts, the TSC).
    primeTsc((emulator.v86.cpu as unknown as { wm: { exports: V86Tsc } }).wm.exports, now);
    const tRestore = hostClock();
    const link = new HandOffLink(spec.cpuInbox?.cell ?? null, spec.cpuCells, () => this.gate, hostClock);
    this.link = link;
    if (spec.cpuPort) this.connectCpu(spec.cpuPort);
    if (spec.nicPort) this.nic = new Nic(nicHost(emulator, () => this.gate?.wake()), spec.nicPort);
    this.gate = new TickGate(
      emulator,
      (e) => this.emit(e),
      now,
      spec.scheduled,
      (grantId) => link.passOn(grantId),
      (grantId) => link.giveNotice(grantId),
    );
    this.timers.push(
      setInterval(() => {
        this.gate?.flushUsage();
        this.sendIoCounters();
        this.sendBalloon();
        if (!this.jitOn && (this.gate?.runMs ?? 0) > JIT_AFTER_RUN_MS) this.enableJit();
      }, USAGE_FLUSH_MS),
    );
    if (!spec.jitAfterReady) this.jitOn = true;
    setJitPages(emulator.v86.cpu as unknown as V86JitSwitch, JIT_PAGES);
    if (!spec.startPaused) {
      await emulator.run();
      // The emulator can execute from now on: a scheduled guest asks for CPU.
      this.emit({ type: 'cpu-wake', usedMs: 0, instructions: 0 });
    }
    const tRun = hostClock();
    return {
      loadMs: tRun - t0,
      restored: Boolean(spec.state),
      phases: { filesMs: tFiles - t0, constructMs: tConstruct - tFiles, restoreMs: tRestore - tConstruct, runMs: tRun - tRestore },
    };
  }

  sendSerial(bytes: Uint8Array | string): void {
    const emulator = this.requireEmulator();
    if (typeof bytes === 'string') {
      emulator.serial0_send(bytes);
      return;
    }
    // v86 takes a string of byte values; convert in chunks (argument limits).
    for (let i = 0; i < bytes.length; i += 4096) emulator.serial0_send(String.fromCharCode(...bytes.subarray(i, i + 4096)));
  }

  async pause(): Promise<void> {
    const emulator = this.requireEmulator();
    const gate = this.gate!;
    gate.dropGrant();
    const stopped = emulator.stop();
    gate.unpark(); // a parked instance needs one tick to notice stop()
    gate.tickSoon(); // so does a halted one, whose next tick may be a timer far off
    await stopped;
  }

  async resume(): Promise<void> {
    await this.requireEmulator().run();
  }

  grant(grantId: number, ms: number): void {
    this.gate?.grant(grantId, ms);
  }

  resizeConsole(cols: number, rows: number): void {
    // The agent (hv-agent in the guest) reads "ROWS COLS" lines.
    this.sendAgent(`${rows} ${cols}\n`);
  }

  sendAgent(text: string): void {
    this.requireEmulator().serial_send_bytes(1, new TextEncoder().encode(text));
  }

  queue(grantId: number, ms: number): void {
    this.gate?.queue(grantId, ms);
  }

  handOff(grantId: number, nextGrantId: number, ms: number, to: HandOffTarget, link?: CpuPortLike): void {
    this.link?.route(nextGrantId, ms, to, link);
    this.gate?.handOff(grantId, nextGrantId);
  }

  preempt(grantId: number): void {
    this.gate?.preempt(grantId);
  }

  setScheduled(scheduled: boolean): void {
    this.gate?.setScheduled(scheduled);
  }

  counters(): GuestCounters {
    const gate = this.gate;
    return {
      instructions: gate?.instructions ?? 0,
      runMs: gate?.runMs ?? 0,
      haltedMs: gate?.haltedMs ?? 0,
      memoryMiB: this.memoryMiB,
      wasmBytes: gate?.wasmBytes ?? 0,
      jit: this.jitOn,
      jitPages: this.emulator ? jitPages(this.emulator.v86.cpu as unknown as V86JitRead) : 0,
    };
  }

  async saveState(): Promise<SavedState> {
    const state = await this.requireEmulator().save_state();
    // Same turn as the save: the volumes' blocks match the state.
    const disks = this.diskFlush();
    return transfer({ state, clockMs: guestClock(), ...(this.disks.length ? { disks } : {}) }, [state, ...bufferListOf(disks)]);
  }

  async migrationStart(): Promise<SavedState> {
    const emulator = this.requireEmulator();
    const state = await emulator.save_state();
    // Same turn of the event loop as the save: no tick ran in between.
    this.migrationHashes = pageHashes(this.cpuMemory().mem8);
    return transfer({ state, clockMs: guestClock() }, [state]);
  }

  async migrationRound(): Promise<MigrationPages> {
    const r = this.changedSinceLastRound();
    return transfer(r, [r.pages.buffer, r.data.buffer]);
  }

  async migrationFinal(): Promise<MigrationPages & SavedState> {
    const emulator = this.requireEmulator();
    // What the guest wrote to its serial ports before it stopped leaves first (the host hears it before this answer).
    this.serial.flush();
    const r = this.changedSinceLastRound();
    const state = await withoutMemory(this.cpuMemory(), () => emulator.save_state());
    this.migrationHashes = null;
    return transfer({ ...r, state, clockMs: guestClock() }, [r.pages.buffer, r.data.buffer, state]);
  }

  migrationWrite(pages: Uint32Array, data: Uint8Array): void {
    writePages(this.cpuMemory().mem8, pages, data);
  }

  async migrationFinish(final: SavedState): Promise<void> {
    const emulator = this.requireEmulator();
    setGuestClock(final.clockMs);
    await keepingMemory(this.cpuMemory(), () => emulator.restore_state(final.state));
    primeTsc((emulator.v86.cpu as unknown as { wm: { exports: V86Tsc } }).wm.exports, now);
    await emulator.run();
    this.emit({ type: 'cpu-wake', usedMs: 0, instructions: 0 });
  }

  async flushDisks(): Promise<DiskFlush> {
    const out = this.diskFlush();
    this.sendIoCounters();
    return transfer(out, bufferListOf(out));
  }

  setBalloon(pages: number): void {
    this.requireBalloon().setTarget(pages);
  }

  async balloonInfo(): Promise<BalloonInfo> {
    const b = this.requireBalloon();
    const stats = await b.stats(BALLOON_ANSWER_MS);
    const touchedPages = countNonZero(pageHashes(this.cpuMemory().mem8));
    return { targetPages: b.targetPages, actualPages: b.actualPages, zeroedPages: b.zeroedPages, touchedPages, stats };
  }

  hintFreePages(): Promise<number | null> {
    return this.requireBalloon().hintFree(HINT_ANSWER_MS);
  }

  pageHashes(): Uint32Array {
    const hashes = pageHashes(this.cpuMemory().mem8);
    return transfer(hashes, [hashes.buffer]);
  }

  private requireBalloon(): Balloon {
    this.requireEmulator();
    if (!this.balloon) throw new HvError('unsupported', 'this guest has no memory balloon device', {});
    return this.balloon;
  }

  setIoLimits(limits: { iops: number | null; bytesPerSec: number | null }): void {
    this.diskIo?.setLimits(limits);
  }

  setCdrom(iso: ArrayBuffer | null): void {
    const cdrom = (this.requireEmulator().v86.cpu as unknown as { devices: { cdrom?: V86Cdrom } }).devices.cdrom;
    if (!cdrom) throw new HvError('unsupported', 'this guest has no CD-ROM drive', {});
    if (iso) cdrom.set_cdrom(new CdMedium(iso));
    else cdrom.eject();
  }

  /** v86 options for the guest's volumes (hda, hdb) and CD-ROM medium. */
  private attachDisks(spec: BootSpec, options: Record<string, unknown>): void {
    const disks = spec.disks ?? [];
    if (disks.length > 0) {
      const io = new DiskIo(spec.ioLimits ?? { iops: null, bytesPerSec: null }, hostClock, () => this.sendDiskBlocks());
      this.diskIo = io;
      this.disks = disks.map((d) => new GuestDisk({ slot: d.slot, volume: d.volume, bytes: d.bytes }, d.base, d.overlay, io));
      for (const d of this.disks) options[d.spec.slot] = d;
    }
    if (spec.cdrom) options.cdrom = new CdMedium(spec.cdrom);
  }

  /** Written blocks to the host (write-back); the counters when they changed. */
  private sendDiskBlocks(): void {
    for (const d of this.takeDiskBlocks()) this.sink([{ type: 'disk-blocks', seq: ++this.diskSeq, ...d }]);
    this.sendIoCounters();
  }

  private diskFlush(): DiskFlush {
    return { disks: this.takeDiskBlocks(), sentSeq: this.diskSeq };
  }

  /** The blocks written since they were last taken, per volume that has any. */
  private takeDiskBlocks(): DiskBlocks[] {
    return this.disks.map((d) => ({ slot: d.spec.slot, volume: d.spec.volume, blocks: d.disk.takeDirty() })).filter((d) => d.blocks.blocks.length > 0);
  }

  private balloonSent = 0;
  private balloonStatsAt = 0;
  private balloonStatsPending = false;

  /** The balloon's size when it changed; while it holds memory, the guest's statistics too, once a second. */
  private sendBalloon(): void {
    const b = this.balloon;
    const pages = b?.actualPages ?? 0;
    if (pages !== this.balloonSent) {
      this.balloonSent = pages;
      this.sink([{ type: 'balloon', actualPages: pages }]);
    }
    const now = hostClock();
    if (!b || b.targetPages === 0 || this.balloonStatsPending || now - this.balloonStatsAt < BALLOON_STATS_MS) return;
    this.balloonStatsAt = now;
    this.balloonStatsPending = true;
    void b.stats(BALLOON_ANSWER_MS).then((stats) => {
      this.balloonStatsPending = false;
      if (stats && this.emulator) this.sink([{ type: 'balloon', actualPages: b.actualPages, stats }]);
    });
  }

  private sendIoCounters(): void {
    const io = this.diskIo;
    if (!io) return;
    const key = JSON.stringify(io.counters);
    if (key === this.ioSent) return;
    this.ioSent = key;
    this.sink([{ type: 'disk-io', counters: { ...io.counters } }]);
  }

  private changedSinceLastRound(): MigrationPages {
    const before = this.migrationHashes;
    if (!before) throw new HvError('illegal-state', 'no migration is under way in this guest', {});
    const t0 = hostClock();
    const mem8 = this.cpuMemory().mem8;
    const after = pageHashes(mem8);
    const pages = changedPages(before, after);
    this.migrationHashes = after;
    return { pages, data: readPages(mem8, pages), hashMs: hostClock() - t0 };
  }

  private cpuMemory(): V86MemoryPacking {
    return this.requireEmulator().v86.cpu as unknown as V86MemoryPacking;
  }

  readMemory(address: number, length: number): Uint8Array {
    const size = this.memoryMiB * MiB;
    if (!Number.isInteger(address) || !Number.isInteger(length) || address < 0 || length < 0 || address + length > size) {
      throw new HvError('invalid-argument', `memory range ${address}+${length} is outside the guest's ${this.memoryMiB} MiB`, {});
    }
    // read_memory returns a live view of the wasm memory: copy what leaves.
    const copy = this.requireEmulator().read_memory(address, length).slice();
    return transfer(copy, [copy.buffer]);
  }

  async searchMemory(pattern: Uint8Array, maxHits: number): Promise<MemorySearchResult> {
    const emulator = this.requireEmulator();
    if (pattern.length === 0) throw new HvError('invalid-argument', 'the search pattern is empty', {});
    const size = this.memoryMiB * MiB;
    const t0 = now();
    const { hits, truncated } = await searchChunked((o, l) => emulator.read_memory(o, l), size, pattern, maxHits, nextMacrotask);
    return { hits: hits.map((address) => ({ address })), truncated, bytesScanned: size, ms: now() - t0 };
  }

  async destroy(): Promise<void> {
    this.diskIo?.close();
    this.cpuPort?.close();
    this.cpuPort = null;
    this.nic?.close();
    this.nic = null;
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    this.serial.dispose();
    this.link?.close();
    this.link = null;
    const emulator = this.emulator;
    this.emulator = null;
    if (!emulator) return;
    this.gate?.dropGrant();
    this.gate?.unpark();
    await emulator.destroy();
    this.gate?.detach();
    this.gate = null;
    this.uninstallYield?.();
    this.uninstallYield = null;
  }

  private requireEmulator(): V86 & V86Internals {
    if (!this.emulator) throw new HvError('illegal-state', 'the guest is not booted', {});
    return this.emulator;
  }

  private onSerialByte(byte: number): void {
    this.serial.push(0, byte);
    if (this.crashed) return;
    // Panic detection on a short rolling tail of the console.
    this.serialTail = (this.serialTail + String.fromCharCode(byte)).slice(-256);
    if (byte === 10 || byte === 13) {
      if (!this.jitOn && this.serialTail.includes(READY_MARK)) this.enableJit();
      const m = PANIC_RE.exec(this.serialTail);
      if (m) {
        this.crashed = true;
        this.serial.flush();
        this.emit({ type: 'guest-crash', reason: m[0].trim() });
        return;
      }
      // Only the line this newline ends (a line is seen once).
      const line = this.serialTail.slice(this.serialTail.lastIndexOf('\n', this.serialTail.length - 2) + 1);
      const oom = OOM_RE.exec(line);
      if (oom) this.emit({ type: 'guest-oom', pid: Number(oom[1]), process: oom[2]! });
    }
  }

  private enableJit(): void {
    if (this.jitOn || !this.emulator) return;
    this.jitOn = true;
    setJit(this.emulator.v86.cpu as unknown as V86JitSwitch, true);
  }

  /** The scheduler's commands arrive on the CPU channel; they act as the GuestApi calls of the same name. */
  private connectCpu(port: CpuPortLike): void {
    this.cpuPort = port;
    port.addEventListener('message', ({ data }) => {
      const c = data as CpuCommand;
      if (c.op === 'grant') this.grant(c.grantId, c.ms);
      else if (c.op === 'preempt') this.preempt(c.grantId);
      else if (c.op === 'queue') this.queue(c.grantId, c.ms);
      else if (c.op === 'handOff') this.handOff(c.grantId, c.nextGrantId, c.ms, c.to, c.link);
      else if (c.op === 'link') this.link?.accept(c.port);
      else if (c.op === 'unlink') this.link?.unlink(c.key);
    });
    port.start?.();
  }

  /** Events go out at once: scheduler events are latency-critical (and go straight to the scheduler when it has a channel). */
  private emit(event: GuestEvent): void {
    if (this.cpuPort && isCpuReport(event)) this.cpuPort.postMessage(event);
    else this.sink([event]);
  }
}

