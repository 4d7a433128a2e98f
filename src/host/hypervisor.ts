// The hypervisor runtime: owns the guests' workers, reserves their RAM from
// the memory pool, runs the CPU scheduler against a real clock and reports
// lifecycle changes, refusals and per-period accounting to subscribers.
// Runs unchanged in the browser and in Node: the worker factory is injected.
import { checkConsoleSize, type ConsoleSize } from '../core/console-size.ts';
import { HvError, type HvErrorJSON } from '../core/errors.ts';
import { transition, type VmState } from '../core/lifecycle.ts';
import { MemoryPool } from '../core/memory-pool.ts';
import { initrdMemoryLimits, validateMemoryMiB } from '../core/memory-size.ts';
import { checkReservations, normalizeConfig, normalizeResources } from '../core/resources.ts';
import type { ClosedPeriod, SchedulerConfig, VmResources, VmResourcesInput } from '../core/scheduler-types.ts';
import type { BootSpec, GuestEvent, GuestImage, HandOffInbox, SavedState } from '../protocol/guest-api.ts';
import { CpuLoop } from './cpu-loop.ts';
import { HandOffCells } from './hand-off-cells.ts';
import { Guest, type ExecResult, type ReadyInfo } from './guest.ts';
import { PeriodHistory } from './period-history.ts';
import { TemplateStore, templateKey } from './templates.ts';
import { realTimers, type HostTimers } from './timers.ts';
import { StandbyWorkers } from './standby-workers.ts';
import type { GuestWorkerFactory } from './worker-port.ts';
import { VM_NAME_RE, VM_NAME_RULE } from '../core/vm-name.ts';

export interface HypervisorEnv {
  workers: GuestWorkerFactory;
  images: GuestImage[];
  wasm: BootSpec['wasm'];
  timers?: HostTimers;
  /** Workers kept spawned and loaded ahead of starts (default 0; see StandbyWorkers). */
  standbyWorkers?: number;
  /** Threads the machine runs at once (default navigator.hardwareConcurrency, else 1): see CpuLoop's notices. */
  hostCores?: number;
}

/** The host's settings: pCPUs, memory pool and scheduler timing. */
export interface HostSettings {
  pcpus: number;
  memoryMiB: number;
  overcommit: boolean;
  periodMs: number;
  sliceMs: number;
  /** Guest workers hand the pCPU to each other (see CpuScheduler); off: every hand-over goes through the host. */
  handOff: boolean;
}

export interface VmSpec {
  name: string;
  memoryMiB: number | string;
  /** Image id from the catalog; default: the first image. */
  image?: string;
  weight?: number;
  capPct?: number | null;
  reservationPct?: number | null;
  /** Boot time limit, ms (default 120 s). */
  readyTimeoutMs?: number;
  /** 'clone': restore a booted template of the same image and RAM (default 'cold'). */
  boot?: BootMode;
}

export type BootMode = 'cold' | 'clone';

export interface VmInfo {
  id: string;
  name: string;
  state: VmState;
  memoryMiB: number;
  image: GuestImage;
  resources: VmResources;
  ready: ReadyInfo | null;
  /** Why it crashed or failed to boot. */
  reason: string | null;
  /** Wall ms from start to the ready line, for the last start. */
  bootMs: number | null;
  /** How it is configured to start, and how the last start really went. */
  boot: BootMode;
  bootedBy: BootMode | null;
  /** Something the user should know about the last start (e.g. a fallback). */
  bootNote: string | null;
}

export type HvEvent =
  | { type: 'vm-state'; at: number; vmId: string; name: string; state: VmState; previous: VmState | null; reason: string | null }
  | { type: 'vm-resources'; at: number; vmId: string; name: string; resources: VmResources }
  | { type: 'host-settings'; at: number; settings: HostSettings }
  | { type: 'refusal'; at: number; action: string; vmId: string | null; error: HvErrorJSON }
  | { type: 'vm-note'; at: number; vmId: string; name: string; message: string }
  | { type: 'boot-progress'; at: number; vmId: string; phase: string; file: string; loaded: number; total: number }
  | { type: 'period'; at: number; period: ClosedPeriod };

interface VmRecord extends VmInfo {
  guest: Guest | null;
  /** The console pane's size, sent to every boot of the guest once its shell is up. */
  consoleSize: ConsoleSize | null;
  /** Increases on every start so that late events of an old boot are ignored. */
  generation: number;
  /** Its worker's hand-over cell for the current start (HandOffCells), if any. */
  cpuCell: number | null;
  readyTimeoutMs: number;
}

/** Every guest gets a virtio NIC (templates and clones must match). */
const NIC = 'virtio' as const;

export class Hypervisor {
  readonly history = new PeriodHistory();
  readonly templates: TemplateStore;
  private readonly vmsById = new Map<string, VmRecord>();
  private readonly listeners = new Set<(e: HvEvent) => void>();
  private readonly pool: MemoryPool;
  private readonly cpu: CpuLoop;
  private readonly timers: HostTimers;
  private readonly standby: StandbyWorkers | null;
  /** Where guests' workers come from: standby workers first when there are any. */
  private readonly workers: GuestWorkerFactory;
  private settingsNow: HostSettings;
  private nextId = 1;
  /** Prefix of the inboxes where this hypervisor's guest workers hand the pCPU to each other (unique per hypervisor). */
  private readonly cpuChannel = `hv-cpu-${randomHex(8)}`;
  /** Their shared hand-over cells, where memory can be shared. */
  private readonly cpuCells = HandOffCells.create();

  constructor(
    private readonly env: HypervisorEnv,
    settings: Partial<HostSettings> & Pick<HostSettings, 'pcpus' | 'memoryMiB'>,
  ) {
    if (env.images.length === 0) throw new HvError('image-missing', 'no guest image is available: images/manifest.json lists none', {});
    this.timers = env.timers ?? realTimers;
    const first = env.images[0]!; // checked above
    this.standby =
      (env.standbyWorkers ?? 0) > 0
        ? new StandbyWorkers(env.workers, { wasm: env.wasm, files: [first.bios, first.vgaBios, first.kernel, first.initrd] }, env.standbyWorkers!, this.timers)
        : null;
    this.workers = this.standby?.factory ?? env.workers;
    this.templates = new TemplateStore(this.workers, env.wasm);
    const config = normalizeConfig({ pcpus: settings.pcpus, periodMs: settings.periodMs, sliceMs: settings.sliceMs, handOff: settings.handOff });
    this.pool = new MemoryPool({ totalMiB: settings.memoryMiB, overcommit: settings.overcommit ?? false });
    this.settingsNow = { ...this.settingsFrom(config), memoryMiB: settings.memoryMiB, overcommit: settings.overcommit ?? false };
    const hostCores = env.hostCores ?? (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
    this.cpu = new CpuLoop(
      config,
      this.timers,
      (period) => {
        this.history.add(period);
        this.emit({ type: 'period', at: this.timers.now(), period });
      },
      hostCores,
    );
  }

  /** Subscribe to lifecycle, resource, refusal and accounting events. */
  on(listener: (e: HvEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** The host clock (ms) that events and period records are stamped with. */
  now(): number {
    return this.timers.now();
  }

  get settings(): HostSettings {
    return { ...this.settingsNow };
  }

  get images(): GuestImage[] {
    return this.env.images;
  }

  get memory(): { totalMiB: number; reservedMiB: number; freeMiB: number; overcommit: boolean; overcommitRatio: number } {
    const p = this.pool;
    return { totalMiB: p.totalMiB, reservedMiB: p.reservedMiB, freeMiB: p.freeMiB, overcommit: p.overcommit, overcommitRatio: p.overcommitRatio };
  }

  /** The scheduler's live picture (pCPU slots, credits), for the UI. */
  schedulerView() {
    return this.cpu.scheduler.view();
  }

  vms(): VmInfo[] {
    return [...this.vmsById.values()].map(publicInfo);
  }

  vm(id: string): VmInfo {
    return publicInfo(this.record(id));
  }

  /** The guest handle of a running (or last-run) VM: console, exec, memory search. */
  guest(id: string): Guest | null {
    return this.record(id).guest;
  }

  /** Smallest RAM a VM of this image accepts, and why. */
  memoryLimits(imageId?: string) {
    return initrdMemoryLimits(this.image(imageId).initrd.bytes);
  }

  /** Define a VM (state 'defined'); validates everything before anything runs. */
  createVm(spec: VmSpec): VmInfo {
    return this.refusing('create', null, () => {
      const name = String(spec.name ?? '').trim();
      if (spec.boot !== undefined && spec.boot !== 'cold' && spec.boot !== 'clone') {
        throw new HvError('invalid-argument', `boot mode "${String(spec.boot)}" is not valid: use cold or clone`, { boot: spec.boot });
      }
      if (!VM_NAME_RE.test(name)) {
        throw new HvError('invalid-argument', `VM name "${name}" is not valid: ${VM_NAME_RULE}`, { name });
      }
      if ([...this.vmsById.values()].some((v) => v.name === name)) {
        throw new HvError('duplicate-name', `a VM named ${name} already exists`, { name });
      }
      const image = this.image(spec.image);
      const memoryMiB = validateMemoryMiB(spec.memoryMiB, initrdMemoryLimits(image.initrd.bytes));
      const resources = normalizeResources({ weight: spec.weight, capPct: spec.capPct, reservationPct: spec.reservationPct }, name);
      const id = `vm${this.nextId++}`;
      checkReservations([...this.allReservations(), { vmId: name, reservationPct: resources.reservationPct }], this.settingsNow.pcpus, name);
      const vm: VmRecord = {
        id,
        name,
        state: 'defined',
        memoryMiB,
        image,
        resources,
        ready: null,
        reason: null,
        bootMs: null,
        boot: spec.boot ?? 'cold',
        bootedBy: null,
        bootNote: null,
        guest: null,
        consoleSize: null,
        generation: 0,
        cpuCell: null,
        readyTimeoutMs: spec.readyTimeoutMs ?? 120_000,
      };
      this.vmsById.set(id, vm);
      this.emitState(vm, null);
      return publicInfo(vm);
    });
  }

  /** Reserve RAM and boot; resolves when the guest's shell is ready. */
  start(id: string): Promise<void> {
    return this.refusingAsync('start', id, async () => {
      const vm = this.record(id);
      const next = transition(vm.state, 'start', vm.name);
      await this.boot(vm, next);
    });
  }

  /** Stop and boot again (from running, paused or crashed). */
  restart(id: string): Promise<void> {
    return this.refusingAsync('restart', id, async () => {
      const vm = this.record(id);
      const next = transition(vm.state, 'restart', vm.name);
      await this.teardown(vm);
      await this.boot(vm, next);
    });
  }

  pause(id: string): Promise<void> {
    return this.refusingAsync('pause', id, async () => {
      const vm = this.record(id);
      const next = transition(vm.state, 'pause', vm.name);
      this.cpu.setPaused(vm.id, true);
      await vm.guest!.pause();
      this.setState(vm, next);
    });
  }

  resume(id: string): Promise<void> {
    return this.refusingAsync('resume', id, async () => {
      const vm = this.record(id);
      const next = transition(vm.state, 'resume', vm.name);
      await vm.guest!.resume();
      this.cpu.setPaused(vm.id, false);
      this.setState(vm, next);
    });
  }

  /** Power off: the worker is released and the RAM goes back to the pool. */
  stop(id: string): Promise<void> {
    return this.refusingAsync('stop', id, async () => {
      const vm = this.record(id);
      const next = transition(vm.state, 'stop', vm.name);
      await this.teardown(vm);
      this.setState(vm, next);
    });
  }

  /** Remove the VM: worker, RAM and CPU time are all released. */
  destroy(id: string): Promise<void> {
    return this.refusingAsync('destroy', id, async () => {
      const vm = this.record(id);
      const next = transition(vm.state, 'destroy', vm.name);
      await this.teardown(vm);
      this.vmsById.delete(id);
      this.setState(vm, next);
    });
  }

  /** Change weight, cap or reservation; effective from the next period. */
  setResources(id: string, change: VmResourcesInput): VmResources {
    return this.refusing('set resources', id, () => {
      const vm = this.record(id);
      const resources = normalizeResources(change, vm.name, vm.resources);
      const others = this.allReservations().filter((r) => r.vmId !== vm.name);
      checkReservations([...others, { vmId: vm.name, reservationPct: resources.reservationPct }], this.settingsNow.pcpus, vm.name);
      if (this.cpu.has(vm.id)) this.cpu.setResources(vm.id, resources);
      vm.resources = resources;
      this.emit({ type: 'vm-resources', at: this.timers.now(), vmId: vm.id, name: vm.name, resources });
      return resources;
    });
  }

  /** Change pCPUs, pool size, overcommit or scheduler timing; CPU changes apply from the next period. */
  setHost(change: Partial<HostSettings>): HostSettings {
    return this.refusing('set host', null, () => {
      const config = normalizeConfig(
        { pcpus: change.pcpus, periodMs: change.periodMs, sliceMs: change.sliceMs, handOff: change.handOff },
        this.cpu.scheduler.pendingConfig ?? this.cpu.scheduler.config,
      );
      checkReservations(this.allReservations(), config.pcpus);
      if (change.memoryMiB !== undefined) this.pool.setTotal(change.memoryMiB);
      if (change.overcommit !== undefined) this.pool.setOvercommit(change.overcommit);
      this.cpu.setConfig(config);
      this.settingsNow = { ...this.settingsFrom(config), memoryMiB: this.pool.totalMiB, overcommit: this.pool.overcommit };
      this.emit({ type: 'host-settings', at: this.timers.now(), settings: this.settings });
      return this.settings;
    });
  }

  /** Run a command in a running VM's shell. */
  exec(id: string, command: string, timeoutMs?: number): Promise<ExecResult> {
    const vm = this.record(id);
    if (vm.state !== 'running' || !vm.guest) {
      return Promise.reject(new HvError('illegal-state', `cannot run a command in ${vm.name}: it is ${vm.state}`, { state: vm.state }));
    }
    return vm.guest.exec(command, timeoutMs);
  }

  /**
   * The size of the VM's console pane: the guest's shell console takes it (its
   * foreground program gets SIGWINCH), now if running or paused (it reads it
   * on resume) and on every later boot.
   */
  resizeConsole(id: string, cols: number, rows: number): void {
    const vm = this.record(id);
    vm.consoleSize = checkConsoleSize(cols, rows);
    if (vm.state === 'running' || vm.state === 'paused') vm.guest?.resizeConsole(cols, rows);
  }

  /** Resolves once the standby workers (if any) are spawned and loaded: the next starts skip worker start-up. */
  standbyReady(): Promise<void> {
    return this.standby?.whenReady() ?? Promise.resolve();
  }

  /** Destroy every VM and stop the scheduler. */
  async dispose(): Promise<void> {
    await Promise.all([...this.vmsById.values()].map((vm) => this.teardown(vm)));
    this.vmsById.clear();
    this.cpu.dispose();
    await this.standby?.dispose();
    this.listeners.clear();
  }

  // --- internals ---

  private async boot(vm: VmRecord, booting: VmState): Promise<void> {
    this.pool.reserve(vm.id, vm.memoryMiB, vm.name, 'start');
    const generation = ++vm.generation;
    vm.ready = null;
    vm.reason = null;
    vm.bootMs = null;
    vm.bootedBy = null;
    vm.bootNote = null;
    this.setState(vm, booting);
    const t0 = this.timers.now();
    try {
      let guest = vm.boot === 'clone' ? await this.cloneBoot(vm, generation) : null;
      if (vm.generation !== generation) return; // stopped or destroyed meanwhile
      guest ??= await this.spawn(vm, generation);
      if (vm.generation !== generation || vm.guest !== guest) return;
      vm.ready = guest.ready;
      vm.bootMs = this.timers.now() - t0;
      vm.bootedBy ??= 'cold';
      if (vm.consoleSize) guest.resizeConsole(vm.consoleSize.cols, vm.consoleSize.rows);
      this.setState(vm, transition(vm.state, 'booted', vm.name));
    } catch (err) {
      const error = HvError.from(err);
      // Still this boot (not stopped or crashed meanwhile): it failed to boot.
      if (vm.generation === generation) {
        await this.teardown(vm);
        vm.reason = error.message;
        this.setState(vm, transition(vm.state, 'crash', vm.name));
      }
      throw error;
    }
  }

  /** Restore the template into a fresh worker; null (and a note) when that fails, so the caller boots cold. */
  private async cloneBoot(vm: VmRecord, generation: number): Promise<Guest | null> {
    try {
      const template = await this.templates.get(vm.image, vm.memoryMiB, NIC);
      if (vm.generation !== generation) return null;
      // Each clone gets its own copy: the buffer is transferred to its worker.
      const guest = await this.spawn(vm, generation, { state: template.saved.state.slice(0), clockMs: template.saved.clockMs });
      vm.bootedBy = 'clone';
      return guest;
    } catch (err) {
      if (vm.generation !== generation) throw err;
      vm.guest = null;
      this.templates.discard(templateKey(vm.image, vm.memoryMiB, NIC));
      vm.bootNote = `cloning ${vm.name} from its template failed (${HvError.from(err).message}); booting it cold instead`;
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: vm.bootNote });
      return null;
    }
  }

  /** The hand-over inbox of one boot of a VM (a later boot's worker gets a new channel). */
  private inboxOf(vm: VmRecord, generation: number): HandOffInbox {
    return { channel: `${this.cpuChannel}:${vm.id}:${generation}`, cell: vm.cpuCell };
  }

  /** A guest for this VM under the scheduler: booted cold, or restored from state. */
  private spawn(vm: VmRecord, generation: number, state?: SavedState): Promise<Guest> {
    const seed = randomHex(16);
    // One cell per start (a clone that falls back to a cold boot keeps it); teardown frees it.
    vm.cpuCell ??= this.cpuCells?.take() ?? null;
    return Guest.create(this.workers, {
      name: vm.name,
      memoryMiB: vm.memoryMiB,
      image: vm.image,
      wasm: this.env.wasm,
      scheduled: true,
      cpuInbox: this.inboxOf(vm, generation),
      ...(this.cpuCells ? { cpuCells: this.cpuCells.buffer } : {}),
      nic: NIC,
      seed,
      readyTimeoutMs: vm.readyTimeoutMs,
      ...(state ? { state, identity: { seed, mac: randomMac() } } : {}),
      onSpawn: (g) => {
        vm.guest = g;
      },
      onEvent: (e) => this.onGuestEvent(vm, generation, e),
    });
  }

  private onGuestEvent(vm: VmRecord, generation: number, e: GuestEvent): void {
    if (vm.generation !== generation) return;
    switch (e.type) {
      case 'cpu-wake':
        // The first wake says the emulator is ready to execute: put it under the scheduler.
        if (!this.cpu.has(vm.id) && vm.guest) {
          const guest = vm.guest;
          // A guest being destroyed may still be offered a grant in the same turn: drop it.
          const safely = (call: () => Promise<void>) => {
            if (!guest.isDestroyed) call().catch(() => {});
          };
          this.cpu.attach(
            vm.id,
            {
              grant: (g, ms) => safely(() => guest.api.grant(g, ms)),
              preempt: (g) => safely(() => guest.api.preempt(g)),
              queue: (g, ms) => safely(() => guest.api.queue(g, ms)),
              handOff: (g, next, to) => safely(() => guest.api.handOff(g, next, to)),
              inbox: this.inboxOf(vm, generation),
            },
            vm.resources,
          );
          return;
        }
        this.cpu.onGuestEvent(vm.id, e);
        return;
      case 'cpu-slice-end':
      case 'cpu-usage':
        this.cpu.onGuestEvent(vm.id, e);
        return;
      case 'boot-progress':
        this.emit({ type: 'boot-progress', at: this.timers.now(), vmId: vm.id, phase: e.phase, file: e.file, loaded: e.loaded, total: e.total });
        return;
      case 'guest-crash':
        void this.crash(vm, generation, e.reason);
        return;
      default:
        return;
    }
  }

  private async crash(vm: VmRecord, generation: number, reason: string): Promise<void> {
    if (vm.generation !== generation || !['booting', 'running', 'paused'].includes(vm.state)) return;
    vm.reason = reason;
    this.setState(vm, transition(vm.state, 'crash', vm.name));
    await this.teardown(vm);
  }

  /** Release the worker, the CPU and the RAM of a VM (idempotent). */
  private async teardown(vm: VmRecord): Promise<void> {
    vm.generation++;
    if (this.cpu.has(vm.id)) this.cpu.detach(vm.id);
    if (vm.cpuCell !== null) this.cpuCells?.release(vm.cpuCell);
    vm.cpuCell = null;
    this.pool.release(vm.id);
    const guest = vm.guest;
    if (guest && !guest.isDestroyed) await guest.destroy();
  }

  private setState(vm: VmRecord, state: VmState): void {
    const previous = vm.state;
    vm.state = state;
    this.emitState(vm, previous);
  }

  private emitState(vm: VmRecord, previous: VmState | null): void {
    this.emit({ type: 'vm-state', at: this.timers.now(), vmId: vm.id, name: vm.name, state: vm.state, previous, reason: vm.reason });
  }

  private emit(e: HvEvent): void {
    for (const l of this.listeners) l(e);
  }

  private record(id: string): VmRecord {
    const vm = this.vmsById.get(id);
    if (!vm) throw new HvError('not-found', `there is no VM with id ${id}`, { id });
    return vm;
  }

  private image(id?: string): GuestImage {
    const image = id === undefined ? this.env.images[0] : this.env.images.find((i) => i.id === id);
    if (!image) {
      throw new HvError('not-found', `there is no image "${id}"; available: ${this.env.images.map((i) => i.id).join(', ')}`, { image: id });
    }
    return image;
  }

  private allReservations(): { vmId: string; reservationPct: number | null }[] {
    return [...this.vmsById.values()].map((v) => ({ vmId: v.name, reservationPct: v.resources.reservationPct }));
  }

  private settingsFrom(config: SchedulerConfig): Pick<HostSettings, 'pcpus' | 'periodMs' | 'sliceMs' | 'handOff'> {
    return { pcpus: config.pcpus, periodMs: config.periodMs, sliceMs: config.sliceMs, handOff: config.handOff };
  }

  private refusing<T>(action: string, vmId: string | null, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw this.refused(action, vmId, err);
    }
  }

  private async refusingAsync(action: string, vmId: string | null, fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (err) {
      throw this.refused(action, vmId, err);
    }
  }

  private refused(action: string, vmId: string | null, err: unknown): HvError {
    const error = HvError.from(err);
    this.emit({ type: 'refusal', at: this.timers.now(), action, vmId, error: error.toJSON() });
    return error;
  }
}

function publicInfo(vm: VmRecord): VmInfo {
  const { id, name, state, memoryMiB, image, resources, ready, reason, bootMs, boot, bootedBy, bootNote } = vm;
  return { id, name, state, memoryMiB, image, resources: { ...resources }, ready, reason, bootMs, boot, bootedBy, bootNote };
}

/** n random bytes as hex. */
function randomHex(n: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A random locally administered, unicast MAC address (first byte's low bits 10). */
function randomMac(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}
