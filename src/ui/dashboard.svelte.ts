// The dashboard's model: owns a hypervisor (HostApi: on the page, the client
// of the hypervisor's worker), listens to its events and
// publishes what the page shows as $state.raw values that are replaced,
// never mutated (VM list, pool, settings, boot progress, event log, and a
// frame of chart data a few times a second). Components call its commands;
// no component talks to the Hypervisor's guests or workers itself.
import { HvError } from '../core/errors.ts';
import { holdsMemory } from '../core/lifecycle.ts';
import type { WindowSummary } from '../core/metrics.ts';
import type { VmResourcesInput } from '../core/scheduler-types.ts';
import type { GuestHandle, HostApi } from '../host/host-api.ts';
import type { NetworkInfo, NetworkView } from '../host/net/networks.ts';
import type { BootMode, HostSettings, HvEvent, MemoryView, StorageInfo, VmInfo, VmSpec } from '../host/hypervisor.ts';
import { nextFrame } from './chart-frames.ts';
import { ConsoleFeed } from './console-feed.ts';
import type { CreateContext, CreateForm, CreatePlan } from './create-form.ts';
import { LOG_LIMIT, logEntryFor, type LogEntry } from './event-log.ts';
import { colorFor } from './palette.ts';
import { hostSeries, lastWindow, StepTimeline, vmSeries, windowSummaries, type HostSeries, type VmSeries } from './series.ts';

/** Lifecycle commands the dashboard offers (migration is not implemented by the host yet). */
export const LIFECYCLE = ['start', 'pause', 'resume', 'stop', 'restart', 'destroy'] as const;
export type LifecycleCommand = (typeof LIFECYCLE)[number];

/** A chart frame every 200 ms: 5 Hz, above the 4 Hz the charts promise. */
export const FRAME_MS = 200;
/** Guest charts span a minute in half-second buckets; the host chart 20 s of single periods. */
const VM_WINDOW_MS = 60_000;
const VM_BUCKET_MS = 500;
const HOST_WINDOW_MS = 20_000;
/** The live numbers on the cards average over this long. */
export const NOW_WINDOW_MS = 5_000;
/** Boot time limit: a generic kernel in a busy browser can take a minute or more. */
const READY_TIMEOUT_MS = 300_000;

/** The pool as the host reports it (VMs' reservations, and what the host holds itself). */
export type PoolView = MemoryView;

export interface BootProgress {
  /** 'load' (image files), 'verify', 'start' (kernel booting) or 'restore' (a clone). */
  phase: string;
  loaded: number;
  total: number;
  /** Host time (performance.now) the boot began. */
  startedAt: number;
}

/** One published frame of chart data and live numbers. */
export interface LiveFrame {
  n: number;
  vms: Record<string, VmSeries>;
  /** Each VM's totals over the last NOW_WINDOW_MS (null: no records, e.g. stopped). */
  now: Record<string, WindowSummary | null>;
  host: HostSeries;
}

const EMPTY_FRAME: LiveFrame = { n: 0, vms: {}, now: {}, host: { x: [], periodMs: [], stacked: [], readyStacked: [], vmIds: [] } };

export class Dashboard {
  readonly hv: HostApi;
  vms = $state.raw<VmInfo[]>([]);
  settings = $state.raw<HostSettings>();
  memory = $state.raw<PoolView>();
  live = $state.raw<LiveFrame>(EMPTY_FRAME);
  log = $state.raw<LogEntry[]>([]);
  boots = $state.raw<Record<string, BootProgress>>({});
  /** The last refusal or failure of a command on each VM, shown on its card. */
  errors = $state.raw<Record<string, string>>({});
  selectedId = $state<string | null>(null);
  /** The host's networks (refreshed by the network view and when the create dialog opens). */
  networks = $state.raw<NetworkInfo[]>([]);
  /** What storage keeps across reloads (null until read), the VMs a "Suspend all" left to resume, and what was brought back. */
  storage = $state.raw<StorageInfo | null>(null);
  suspended = $state.raw<string[]>([]);
  restoredNote = $state<string | null>(null);
  /** The host clock (hv.now()) at the last frame, for ticking clocks (boot time). */
  nowMs = $state(0);

  private readonly feeds = new Map<string, ConsoleFeed>();
  private readonly ram = new Map<string, StepTimeline>();
  /** Bytes loaded per image file of each booting VM. */
  private readonly filesLoaded = new Map<string, Map<string, number>>();
  private readonly offEvents: () => void;
  private readonly offGuests: () => void;
  private readonly timer: ReturnType<typeof setInterval>;
  private logSeq = 0;
  private lastPeriodIndex = -1;

  constructor(hv: HostApi) {
    this.hv = hv;
    this.nowMs = hv.now();
    this.settings = this.hv.settings;
    this.memory = this.hv.memory;
    this.offEvents = this.hv.on((e) => this.onEvent(e));
    this.offGuests = this.hv.onGuest((vmId, guest) => this.follow(vmId, guest));
    this.timer = setInterval(() => this.frame(), FRAME_MS);
  }

  get images() {
    return this.hv.images;
  }

  get selected(): VmInfo | null {
    return this.vms.find((v) => v.id === this.selectedId) ?? null;
  }

  /** The console stream of a VM (kept across restarts, gone when it is destroyed). */
  feed(vmId: string): ConsoleFeed {
    let feed = this.feeds.get(vmId);
    if (!feed) {
      feed = new ConsoleFeed(
        () => this.vms.find((v) => v.id === vmId)?.state === 'running',
        (cols, rows) => {
          // A destroyed VM's pane may still report a size while it goes away.
          if (!this.vms.some((v) => v.id === vmId)) return;
          try {
            this.hv.resizeConsole(vmId, cols, rows);
          } catch (err) {
            // Not the user's input (the terminal measured its pane): the console keeps working.
            console.warn(`console size not sent: ${(err as Error).message}`);
          }
        },
      );
      this.feeds.set(vmId, feed);
    }
    return feed;
  }

  color(vmId: string): string {
    return colorFor(vmId);
  }

  /** What the create dialog checks against. */
  createContext(): CreateContext {
    const vms = this.hv.vms();
    return {
      existingNames: vms.map((v) => v.name),
      imageIds: this.hv.images.map((i) => i.id),
      memoryLimits: (id) => this.hv.memoryLimits(id),
      pool: this.hv.memory,
      pcpus: this.hv.settings.pcpus,
      reservations: vms.map((v) => ({ vmId: v.name, reservationPct: v.resources.reservationPct })),
    };
  }

  /** Create the planned VMs (and start them); returns the hypervisor's message if it refused. */
  async createBatch(plan: CreatePlan, form: CreateForm): Promise<string | null> {
    if (plan.memoryMiB === null || !plan.resources) return 'the form has errors';
    const ids: string[] = [];
    for (const name of plan.names) {
      const spec: VmSpec = {
        name,
        memoryMiB: plan.memoryMiB,
        image: form.imageId,
        weight: plan.resources.weight,
        capPct: plan.resources.capPct,
        reservationPct: plan.resources.reservationPct,
        readyTimeoutMs: READY_TIMEOUT_MS,
        boot: form.boot,
        network: form.network || null,
        ...(form.network && form.trunk?.length ? { trunk: form.trunk.filter((n) => n !== form.network) } : {}),
      };
      try {
        ids.push((await this.hv.createVm(spec)).id);
      } catch (err) {
        const made = ids.length ? ` (${ids.length} created before it, left defined)` : '';
        return `${HvError.from(err).message}${made}`;
      }
    }
    this.selectedId = ids[0] ?? this.selectedId;
    if (form.startNow) for (const id of ids) void this.command(id, 'start');
    return null;
  }

  /** Bring back what storage kept (once, as the dashboard opens). */
  async restore(): Promise<void> {
    try {
      const r = await this.hv.restoreSaved();
      this.suspended = r.suspended;
      if (r.vms || r.snapshots) this.restoredNote = `Brought back ${r.vms} VM${r.vms === 1 ? '' : 's'} and ${r.snapshots} snapshot${r.snapshots === 1 ? '' : 's'} from this browser's storage.`;
    } catch (err) {
      this.restoredNote = `Nothing brought back: ${HvError.from(err).message}`;
    }
    await this.refreshStorage();
  }

  async refreshStorage(): Promise<void> {
    try {
      this.storage = await this.hv.storageInfo();
    } catch (err) {
      console.warn(`storage not read: ${HvError.from(err).message}`);
    }
  }

  /** Save every running guest as its "suspended" snapshot and stop it; the next load offers to resume. */
  async suspendAll(): Promise<string> {
    try {
      const names = await this.hv.suspendAll();
      this.suspended = names;
      return names.length ? `Suspended ${names.join(', ')}: reload or come back later, and resume them.` : 'No guest was running.';
    } catch (err) {
      return `Suspend all stopped: ${HvError.from(err).message}`;
    } finally {
      await this.refreshStorage();
    }
  }

  async resumeSuspended(): Promise<string> {
    try {
      const names = await this.hv.resumeSuspended();
      this.suspended = [];
      return `Resumed ${names.join(', ')}.`;
    } catch (err) {
      return `Resume stopped: ${HvError.from(err).message}`;
    } finally {
      await this.refreshStorage();
    }
  }

  /** Read the host's networks again. */
  async refreshNetworks(): Promise<void> {
    try {
      this.networksFrom(await this.hv.networkView(0));
    } catch (err) {
      console.warn(`networks not read: ${HvError.from(err).message}`);
    }
  }

  /** Keep the networks of a snapshot the network view read. */
  networksFrom(view: NetworkView): void {
    this.networks = view.networks.map(({ name, vlan, subnet, gateway, dhcp, dns, mtu }) => ({ name, vlan, subnet, gateway, dhcp, dns, mtu }));
  }

  /** Run a lifecycle command; a refusal is kept as the VM's error (and logged from the event). */
  async command(vmId: string, command: LifecycleCommand): Promise<void> {
    this.setError(vmId, null);
    try {
      await this.hv[command](vmId);
    } catch (err) {
      // A boot cut short by destroy rejects too: a VM that is gone keeps no error.
      if (this.hv.vms().some((v) => v.id === vmId)) this.setError(vmId, HvError.from(err).message);
    }
  }

  /** Change a VM's weight, cap or reservation; returns the refusal's message or null. */
  async setResources(vmId: string, change: VmResourcesInput): Promise<string | null> {
    try {
      await this.hv.setResources(vmId, change);
      return null;
    } catch (err) {
      return HvError.from(err).message;
    }
  }

  /** Change host settings; returns the refusal's message or null. */
  async setHost(change: Partial<HostSettings>): Promise<string | null> {
    try {
      await this.hv.setHost(change);
      return null;
    } catch (err) {
      return HvError.from(err).message;
    }
  }

  /** Stop the frame timer, destroy every VM and release every console. */
  async dispose(): Promise<void> {
    clearInterval(this.timer);
    this.offEvents();
    this.offGuests();
    for (const feed of this.feeds.values()) feed.dispose();
    this.feeds.clear();
    await this.hv.dispose();
  }

  // --- events ---

  private onEvent(e: HvEvent): void {
    switch (e.type) {
      case 'period':
        return; // frames read the history a few times a second
      case 'boot-progress':
        this.onBootProgress(e);
        return;
      case 'vm-state':
        this.onState(e);
        break;
      case 'vm-resources':
      case 'vm-address':
        this.vms = this.hv.vms();
        break;
      case 'host-settings':
        break;
      case 'refusal':
        if (e.vmId && e.action !== 'set resources') this.setError(e.vmId, e.error.message);
        break;
    }
    const previousHost = this.settings ?? null;
    this.settings = this.hv.settings;
    this.refreshMemory();
    const entry = logEntryFor(e, (id) => this.vms.find((v) => v.id === id)?.name ?? id, previousHost, {
      bootLabel: e.type === 'vm-state' ? this.bootLabel(e.vmId) : undefined,
    });
    if (entry) this.log = [{ ...entry, seq: ++this.logSeq, wallMs: Date.now() }, ...this.log].slice(0, LOG_LIMIT);
  }

  private onState(e: Extract<HvEvent, { type: 'vm-state' }>): void {
    this.vms = this.hv.vms();
    const info = this.vms.find((v) => v.id === e.vmId);
    const timeline = this.ram.get(e.vmId) ?? new StepTimeline(VM_WINDOW_MS);
    this.ram.set(e.vmId, timeline);
    timeline.set(e.at, info && holdsMemory(e.state) ? info.memoryMiB : 0);
    if (e.state === 'defined') this.feed(e.vmId);
    if (e.state === 'booting') {
      const image = info?.image;
      const total = image ? [image.bios, image.vgaBios, image.kernel, image.initrd].reduce((s, f) => s + f.bytes, 0) : 0;
      this.boots = { ...this.boots, [e.vmId]: { phase: 'load', loaded: 0, total, startedAt: e.at } };
      this.filesLoaded.set(e.vmId, new Map());
    } else if (e.vmId in this.boots) {
      const { [e.vmId]: _, ...rest } = this.boots;
      this.boots = rest;
    }
    if (e.state === 'running') this.setError(e.vmId, null);
    if (e.state === 'destroyed') {
      this.feeds.get(e.vmId)?.dispose();
      this.feeds.delete(e.vmId);
      this.ram.delete(e.vmId);
      this.filesLoaded.delete(e.vmId);
      this.setError(e.vmId, null);
      if (this.selectedId === e.vmId) this.selectedId = this.vms[0]?.id ?? null;
    } else if (this.selectedId === null) {
      this.selectedId = e.vmId;
    }
  }

  private onBootProgress(e: Extract<HvEvent, { type: 'boot-progress' }>): void {
    const boot = this.boots[e.vmId];
    if (!boot) return;
    let loaded = boot.loaded;
    if (e.phase === 'load') {
      const files = this.filesLoaded.get(e.vmId) ?? new Map<string, number>();
      files.set(e.file, e.loaded);
      this.filesLoaded.set(e.vmId, files);
      loaded = [...files.values()].reduce((a, b) => a + b, 0);
    }
    this.boots = { ...this.boots, [e.vmId]: { ...boot, phase: e.phase, loaded } };
  }

  /** Point the VM's console at its new boot's guest (a new one after each start). */
  private follow(vmId: string, guest: GuestHandle): void {
    this.feed(vmId).follow(guest);
  }

  private bootLabel(vmId: string): string | undefined {
    const vm = this.vms.find((v) => v.id === vmId);
    if (!vm || vm.bootMs === null) return undefined;
    return `${bootModeLabel(vm.bootedBy ?? vm.boot)}, shell after ${(vm.bootMs / 1000).toFixed(1)} s`;
  }

  private setError(vmId: string, message: string | null): void {
    if ((this.errors[vmId] ?? null) === message) return;
    const { [vmId]: _, ...rest } = this.errors;
    this.errors = message === null ? rest : { ...rest, [vmId]: message };
  }

  private refreshMemory(): void {
    const m = this.hv.memory;
    const old = this.memory;
    if (!old || old.totalMiB !== m.totalMiB || old.reservedMiB !== m.reservedMiB || old.overcommit !== m.overcommit || old.hostMiB !== m.hostMiB) this.memory = m;
  }

  // --- frames ---

  private frame(): void {
    this.nowMs = this.hv.now();
    this.refreshMemory();
    if (typeof document !== 'undefined' && document.hidden) return; // nothing on screen to draw
    const periodMs = this.settings?.periodMs ?? 100;
    const periods = this.hv.history.last(Math.min(3000, Math.ceil(VM_WINDOW_MS / periodMs) + 2));
    const last = periods[periods.length - 1];
    if (!last || last.host.periodIndex === this.lastPeriodIndex) return;
    this.lastPeriodIndex = last.host.periodIndex;
    const ids = this.vms.map((v) => v.id);
    const pcpus = this.settings?.pcpus ?? 1;
    this.live = {
      n: this.live.n + 1,
      vms: vmSeries(lastWindow(periods, VM_WINDOW_MS), ids, Math.max(VM_BUCKET_MS, periodMs), (id, t) => this.ram.get(id)?.at(t) ?? 0),
      now: windowSummaries(lastWindow(periods, NOW_WINDOW_MS), ids),
      host: hostSeries(lastWindow(periods, HOST_WINDOW_MS), ids, pcpus),
    };
    nextFrame();
  }
}

/** How a start went, in words. */
export function bootModeLabel(mode: NonNullable<VmInfo['bootedBy']>): string {
  return mode === 'clone' ? 'clone from template' : mode === 'snapshot' ? 'restored from a snapshot' : mode === 'migration' ? 'moved here from another host' : 'cold boot';
}
