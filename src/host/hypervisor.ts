// The hypervisor runtime: owns the guests' workers, reserves their RAM from
// the memory pool, runs the CPU scheduler against a real clock and reports
// lifecycle changes, refusals and per-period accounting to subscribers.
// Runs unchanged in the browser and in Node: the worker factory is injected.
import { checkConsoleSize, type ConsoleSize } from '../core/console-size.ts';
import { HvError, type HvErrorJSON } from '../core/errors.ts';
import { holdsMemory, transition, type VmState } from '../core/lifecycle.ts';
import { MemoryPool } from '../core/memory-pool.ts';
import { initrdMemoryLimits, validateMemoryMiB } from '../core/memory-size.ts';
import { checkReservations, normalizeConfig, normalizeResources } from '../core/resources.ts';
import type { ClosedPeriod, SchedulerConfig, VmResources, VmResourcesInput } from '../core/scheduler-types.ts';
import { MIGRATION_PAGE_BYTES, type BootSpec, type GuestEvent, type GuestImage, type HandOffInbox, type SavedState } from '../protocol/guest-api.ts';
import type { SchedulerView, VoidedGrant } from '../core/scheduler-types.ts';
import { localCpuService, type CpuControl, type CpuServiceFactory } from './cpu/cpu-service.ts';
import { HandOffCells } from './hand-off-cells.ts';
import { imageById } from './images.ts';
import { Guest, type ExecResult, type ReadyInfo } from './guest.ts';
import type { HostApi } from './host-api.ts';
import { PeriodHistory } from './period-history.ts';
import type { RateLimit } from '../core/net/token-bucket.ts';
import { Networks, type NetworkInfo, type NetworkSpec, type NetworkView, type NicCounters, type PortMirror } from './net/networks.ts';
import { TemplateStore, templateKey, templateSlot, type TemplateKey } from './templates.ts';
import type { TemplateSource } from './template-files.ts';
import { realTimers, type HostTimers } from './timers.ts';
import { BootAdmission, bootSlots } from './boot-admission.ts';
import { StandbyWorkers } from './standby-workers.ts';
import type { GuestWorkerFactory } from './worker-port.ts';
import { CommandQueue } from './vm/command-queue.ts';
import { Watchdog, type WatchdogOptions } from './vm/watchdog.ts';
import { VM_NAME_RE, VM_NAME_RULE } from '../core/vm-name.ts';
import { decodeSnapshotFile, snapshotMismatch, type SnapshotHeader } from '../core/snapshot/file.ts';
import { SnapshotStore, type SnapshotInfo } from './snapshots/snapshots.ts';
import { zstdCompress } from './snapshots/zstd.ts';
import { storageProblem, type Persistence, type SavedVm, type SavedWorld } from './persist/store.ts';
import { keptTemplates } from './persist/kept-templates.ts';
import type { MigrationTarget } from './migration/target.ts';
import { channelTarget, serveMigrations, type MigrationChannel } from './migration/channel.ts';
import { HostStorage } from './storage/storage.ts';
import { vmSnapshotName, type BaseImageInfo, type VolumeInfo, type VolumeSnapshotInfo, type VolumeSpec } from './storage/volumes.ts';
import { NO_IO_LIMITS, normalizeIoLimits, type IoLimits } from '../core/storage/io-limit.ts';
import { ETH_MTU } from '../core/net/ethernet.ts';
import { checkDiskImage } from '../core/storage/image-check.ts';
import { BALLOON_FLOOR_MIB, checkBalloonTarget } from '../core/memory/balloon-target.ts';
import { sharingReport, type SharingReport } from '../core/memory/page-sharing.ts';
import { DISK_SLOTS, type BalloonStats, type DiskFlush, type DiskSlot } from '../protocol/guest-api.ts';

export interface HypervisorEnv {
  workers: GuestWorkerFactory;
  images: GuestImage[];
  wasm: BootSpec['wasm'];
  timers?: HostTimers;
  /** Workers kept spawned and loaded ahead of starts (default 0; see StandbyWorkers). */
  standbyWorkers?: number;
  /** Threads the machine runs at once (default navigator.hardwareConcurrency, else 1): see CpuLoop's notices. */
  hostCores?: number;
  /** Where the CPU scheduler runs (default: in this thread, on `timers`; the page puts it in a worker). */
  cpu?: CpuServiceFactory;
  /** How guest workers that stop answering are found (default WATCHDOG_DEFAULTS). */
  watchdog?: WatchdogOptions;
  /** Booted templates built ahead (the site's templates/ folder), tried before booting one. */
  templates?: TemplateSource;
  /** Where the build put zstd.wasm (snapshots are compressed with it); Node reads the package's own. */
  zstdWasmUrl?: string;
  /** Where networks, VM definitions and snapshots are kept across reloads (the dashboard's IndexedDB); none: nowhere. */
  persistence?: Persistence;
  /**
   * The host memory this process holds, bytes (Node: its resident set), for
   * compaction's report; none: the browser does not say (a worker's
   * committed memory is not visible to the page).
   */
  hostMemoryBytes?: () => number;
}

/** What a compaction did (Hypervisor.compact). */
export interface CompactionReport {
  /** MiB of free pages the guest reported and the host zeroed. */
  zeroedMiB: number;
  /** The saved state it was rebuilt from, MiB (only its non-zero pages are touched again). */
  stateMiB: number;
  /** Host memory before and after, MiB, where the host can measure it (null: it cannot). */
  hostBeforeMiB: number | null;
  hostAfterMiB: number | null;
  ms: number;
}

/** What the hypervisor keeps across reloads, and whether it can. */
export interface StorageInfo {
  /** Networks, VM definitions and snapshots are written through to storage. */
  persistent: boolean;
  usedBytes: number;
  quotaBytes: number | null;
  /** Why the last write or read failed (storage full, denied), or null. */
  error: string | null;
}

/** A live migration (Hypervisor.migrateTo): the downtime budget, the round limit, auto-converge, and a callback per round. */
export interface MigrationOptions {
  /** Stop and copy once the pages left would copy within this long, ms (default 300, QEMU's downtime-limit). */
  downtimeMs?: number;
  /** Stop and copy after this many rounds at the latest (default 30). */
  maxRounds?: number;
  /** Lower the guest's CPU cap while it dirties pages faster than they copy (default true). */
  autoConverge?: boolean;
  /** The link's bandwidth, MB/s, as QEMU's max-bandwidth: copies are paced to it (default: as fast as the hosts copy). */
  maxBandwidthMBps?: number;
  onRound?: (round: MigrationRound) => void;
}

/** Migration options that travel between the page and the hypervisor's worker (no callback). */
export type RemoteMigrationOptions = Omit<MigrationOptions, 'onRound'>;

export interface MigrationRound {
  /** 0: the whole saved state; then pre-copy rounds. */
  round: number;
  pages: number;
  bytes: number;
  ms: number;
  /** What hashing the guest's pages cost its worker, ms. */
  hashMs: number;
  dirtyPagesPerS: number;
  /** The guest's CPU cap during the round (auto-converge lowers it), or null. */
  capPct: number | null;
}

export interface MigrationReport {
  vm: string;
  /** Its id on the target host. */
  targetId: string;
  rounds: MigrationRound[];
  bytes: number;
  totalMs: number;
  /** From the source's pause to the guest running on the target, ms. */
  downtimeMs: number;
  /** Pages copied while it was stopped, and the hash that found them, ms. */
  finalPages: number;
  finalHashMs: number;
  /** What was left fit the budget (false: the round limit ended the pre-copy). */
  converged: boolean;
  autoConverged: boolean;
}


/** A BroadcastChannel by name, or a clear error where there is none or the name is empty. */
function openChannel(name: string): BroadcastChannel {
  if (typeof name !== 'string' || !name.trim()) throw new HvError('invalid-argument', 'a migration channel needs a name', { name });
  if (typeof BroadcastChannel === 'undefined') throw new HvError('unsupported', 'this environment has no BroadcastChannel', {});
  return new BroadcastChannel(name);
}
/** How long the source's worker outlives the switch-over, ms (its last events arrive). */
const SOURCE_LINGER_MS = 100;
/** A page's copy cost before a round has measured it, ms. */
const DEFAULT_PAGE_MS = 0.01;
/** Auto-converge lowers a guest's cap to this at the least, %. */
const MIN_CONVERGE_CAP = 1;

/** The snapshot "Suspend all" takes of each running guest, and the next load offers to resume from. */
export const SUSPENDED_SNAPSHOT = 'suspended';

/** The host's settings: pCPUs, memory pool and scheduler timing. */
export interface HostSettings {
  pcpus: number;
  memoryMiB: number;
  overcommit: boolean;
  periodMs: number;
  sliceMs: number;
  /** Guest workers hand the pCPU to each other (see CpuScheduler); off: every hand-over goes through the host. */
  handOff: boolean;
  /** The host disk's capacity, requests/s, divided among the VMs doing I/O by their disk shares; null: unlimited. */
  diskIops: number | null;
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
  /** The network its NIC is attached to (Hypervisor.createNetwork); none: connected to nothing. */
  network?: string | null;
  /** Its NIC's ingress limit on the switch (kbit/s and burst, kbit), or none. */
  nicLimit?: RateLimit | null;
  /**
   * More networks its port carries, tagged with their VLANs (a trunk port;
   * `network` stays untagged): the guest reaches them through VLAN
   * interfaces (`ip link add link eth0 name eth0.20 type vlan id 20`).
   * v86 gives a guest one NIC; a trunk is how it sits on several networks.
   */
  trunk?: string[];
  /** Volumes attached as IDE disks, by slot (hdb needs hda). */
  volumes?: Partial<Record<DiskSlot, string>>;
  /** Disk limits and shares (default: no limits, shares 1000). */
  io?: Partial<IoLimits> | null;
  /** RAM (MiB) its balloon leaves the guest once it is ready (setBalloon); none: all of it. */
  balloonMiB?: number | null;
  /**
   * A CD-ROM drive even without volumes (setCdrom). A guest with neither
   * boots without the IDE driver, ~0.25 s faster; one with either boots cold.
   */
  cdrom?: boolean;
}

export type BootMode = 'cold' | 'clone';

/** A mirror to a VM's port (Hypervisor.addMirror): from a VM's port or a whole network, VMs by name or id. */
export interface MirrorSpec {
  name: string;
  from: { vm: string; direction?: 'rx' | 'tx' | 'both' } | { network: string };
  to: string;
}

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
  bootedBy: BootMode | 'snapshot' | 'migration' | null;
  /** Something the user should know about the last start (e.g. a fallback). */
  bootNote: string | null;
  /** Where the last start's ms went (BootPhases), null before the first one is ready. */
  bootPhases: BootPhases | null;
  /** The network its NIC is attached to, or null. */
  network: string | null;
  /** Its NIC's ingress limit on the switch, or null. */
  nicLimit: RateLimit | null;
  /** The address it took by DHCP on its network (while it runs), or null. */
  ip: string | null;
  /** Networks its port carries tagged besides `network` (empty: an access port). */
  trunk: string[];
  /** Its volumes by slot. */
  volumes: Partial<Record<DiskSlot, string>>;
  io: IoLimits;
  /** It has a CD-ROM drive without volumes (VmSpec.cdrom); one with volumes always has. */
  cdrom: boolean;
  /** The RAM its balloon leaves the guest (MiB), or null: no balloon. */
  balloonMiB: number | null;
  /** The last time its kernel ran out of memory and killed a process (this boot), or null. */
  lastOom: { at: number; pid: number; process: string } | null;
}

/** A guest's memory as the hypervisor and the guest's own kernel see it (Hypervisor.memoryInfo). */
export interface GuestMemoryInfo {
  memoryMiB: number;
  /** The RAM the balloon should leave it, and the RAM it leaves now (MiB). */
  targetMiB: number;
  keptMiB: number;
  /** The balloon now, MiB, and the pages it zeroed as it took them since boot, MiB. */
  balloonMiB: number;
  zeroedMiB: number;
  /** Its RAM that is not zero now, MiB: what it touched and kept (a compaction leaves the host backing about this much). */
  touchedMiB: number;
  /** What the guest's kernel reports (MiB; faults and swap as counts), or null when its driver did not answer. */
  guest: { totalMiB: number; freeMiB: number; availableMiB: number; cachesMiB: number; majorFaults: number; swapIn: number; swapOut: number } | null;
}

/**
 * One start, ms by phase: waiting for the template (a clone), copying its
 * state, the worker, then in the worker its files, v86's construction, the
 * restore and the start; the messages of the boot call (transfer); the ready
 * line (a clone: taking its identity).
 */
export interface BootPhases {
  templateMs: number;
  copyMs: number;
  workerMs: number;
  filesMs: number;
  constructMs: number;
  restoreMs: number;
  runMs: number;
  transferMs: number;
  readyMs: number;
}

export type HvEvent =
  | { type: 'vm-state'; at: number; vmId: string; name: string; state: VmState; previous: VmState | null; reason: string | null }
  | { type: 'vm-resources'; at: number; vmId: string; name: string; resources: VmResources }
  | { type: 'host-settings'; at: number; settings: HostSettings }
  | { type: 'refusal'; at: number; action: string; vmId: string | null; error: HvErrorJSON }
  | { type: 'vm-note'; at: number; vmId: string; name: string; message: string }
  /** A VM took an address by DHCP, or gave it back (ip null). */
  | { type: 'vm-address'; at: number; vmId: string; name: string; ip: string | null }
  | { type: 'boot-progress'; at: number; vmId: string; phase: string; file: string; loaded: number; total: number }
  | { type: 'period'; at: number; period: ClosedPeriod }
  /** A live migration's round, as it ends (round 0: the whole saved state), for a live chart. */
  | { type: 'migration-round'; at: number; vmId: string; name: string; round: MigrationRound }
  /** A live migration ended: moved (its report) or not (why; the guest runs on here). */
  | { type: 'migration-end'; at: number; vmId: string; name: string; report: MigrationReport | null; error: string | null }
  /** Something went wrong inside the hypervisor and was handled (a lost worker message, a throwing subscriber). */
  | { type: 'fault'; at: number; vmId: string | null; message: string };

/** RAM the host holds for itself (templates booting), shown beside the VMs' reservations but not counted against them. */
export interface HostReservation {
  id: string;
  label: string;
  mib: number;
}

export interface MemoryView {
  totalMiB: number;
  reservedMiB: number;
  freeMiB: number;
  overcommit: boolean;
  overcommitRatio: number;
  /** RAM held by the host itself (HostReservation), MiB. */
  hostMiB: number;
  host: HostReservation[];
}

interface VmRecord extends VmInfo {
  guest: Guest | null;
  /** The console pane's size, sent to every boot of the guest once its shell is up. */
  consoleSize: ConsoleSize | null;
  /** Increases on every start so that late events of an old boot are ignored. */
  generation: number;
  /** Its worker's hand-over cell for the current start (HandOffCells), if any. */
  cpuCell: number | null;
  readyTimeoutMs: number;
  /** Its lifecycle commands, one at a time. */
  commands: CommandQueue;
  /** The MAC its guest took as a clone (kept in its snapshots), or null (a cold boot's is v86's). */
  mac: string | null;
  /** Its balloon target was set by the overcommit policy (rebalanceBalloons), not by the user. */
  autoBalloon: boolean;
}

/** Faults kept for faults() (older ones drop off). */
const FAULT_LIMIT = 200;

/** Every guest gets a virtio NIC (templates and clones must match). */
export const GUEST_NIC = 'virtio' as const;
const NIC = GUEST_NIC;

export class Hypervisor implements HostApi {
  readonly history = new PeriodHistory();
  readonly templates: TemplateStore;
  private readonly vmsById = new Map<string, VmRecord>();
  private readonly listeners = new Set<(e: HvEvent) => void>();
  private readonly guestListeners = new Set<(vmId: string, guest: Guest) => void>();
  private readonly pool: MemoryPool;
  private readonly cpu: CpuControl;
  /** The scheduler's settings, pending changes included (the service applies them from its next period). */
  private cpuConfig: SchedulerConfig;
  /** The scheduler's picture after its last period. */
  private cpuView: SchedulerView | null = null;
  private readonly timers: HostTimers;
  private readonly standby: StandbyWorkers | null;
  /** Turns for guests setting up (worker, files, emulator, restore): see boot-admission.ts. */
  private readonly admission: BootAdmission;
  /** Where guests' workers come from: standby workers first when there are any. */
  private readonly workers: GuestWorkerFactory;
  private settingsNow: HostSettings;
  private nextId = 1;
  /** Prefix of the keys that name this hypervisor's guest workers to its CPU service (HandOffInbox.key). */
  private readonly cpuKey = `hv-cpu-${randomHex(8)}`;
  /** Their shared hand-over cells, where memory can be shared. */
  private readonly cpuCells = HandOffCells.create();
  private readonly watchdog: Watchdog;
  private readonly hostHeld = new Map<string, HostReservation>();
  /** The virtual switch and the networks on it. */
  private readonly nets: Networks;
  private readonly snaps = new SnapshotStore();
  /** Volumes, base images and the VMs' disk I/O. */
  private readonly storage = new HostStorage((volume, blocks) => this.persist(`the blocks written to volume ${volume}`, (p) => p.putBlocks(volume, blocks)));
  private diskIops: number | null = null;
  /** Each running guest's balloon, pages, as its worker last reported (period records). */
  private readonly balloonPages = new Map<string, number>();
  /** Each ballooned guest's latest statistics (period records). */
  private readonly balloonStats = new Map<string, NonNullable<ClosedPeriod['vms'][number]['guestMemory']>>();
  private persistChain: Promise<void> = Promise.resolve();
  /** The channels this host takes migrations on (acceptMigrations), by purpose. */
  private readonly accepting = new Map<string, { stop: () => void }>();
  private storageError: string | null = null;
  /** restoreSaved() is creating what storage kept: nothing to write back. */
  private restoring = false;
  private readonly faultLog: { at: number; vmId: string | null; message: string }[] = [];
  private disposed = false;

  constructor(
    private readonly env: HypervisorEnv,
    settings: Partial<HostSettings> & Pick<HostSettings, 'pcpus' | 'memoryMiB'>,
  ) {
    if (env.images.length === 0) throw new HvError('image-missing', 'no guest image is available: images/manifest.json lists none', {});
    this.timers = env.timers ?? realTimers;
    this.nets = new Networks(
      this.timers,
      (id) => this.vmsById.get(id)?.name ?? id,
      (id, ip, network) => {
        const vm = this.vmsById.get(id);
        if (!vm || vm.network !== network || vm.ip === ip) return;
        vm.ip = ip;
        this.emit({ type: 'vm-address', at: this.timers.now(), vmId: vm.id, name: vm.name, ip });
      },
    );
    const first = env.images[0]!; // checked above
    this.standby =
      (env.standbyWorkers ?? 0) > 0
        ? new StandbyWorkers(env.workers, { wasm: env.wasm, files: [first.bios, first.vgaBios, first.kernel, first.initrd] }, env.standbyWorkers!, this.timers, () =>
            this.admission.setting === 0 && [...this.vmsById.values()].every((vm) => vm.state !== 'booting'),
          )
        : null;
    this.workers = this.standby?.factory ?? env.workers;
    this.templates = new TemplateStore(
      { bootTemplate: (image, key, signal) => this.bootTemplate(image, key, signal) },
      env.templates ?? null,
      (message) => this.fault(null, message),
      env.persistence ? keptTemplates(env.persistence, env.zstdWasmUrl) : null,
    );
    const config = normalizeConfig({ pcpus: settings.pcpus, periodMs: settings.periodMs, sliceMs: settings.sliceMs, handOff: settings.handOff });
    this.pool = new MemoryPool({ totalMiB: settings.memoryMiB, overcommit: settings.overcommit ?? false });
    this.settingsNow = hostSettings(config, this.pool, this.diskIops);
    const hostCores = env.hostCores ?? (globalThis as { navigator?: { hardwareConcurrency?: number } }).navigator?.hardwareConcurrency ?? 1;
    this.admission = new BootAdmission(bootSlots(hostCores));
    this.cpuConfig = config;
    this.cpu = (env.cpu ?? localCpuService(this.timers))(
      { config, hostCores },
      {
        periods: (periods, view) => {
          this.cpuView = view;
          for (const period of periods) {
            this.accountIo(period.vms);
            this.history.add(period);
            this.emit({ type: 'period', at: this.timers.now(), period });
          }
        },
        voided: (voided) => this.onVoided(voided),
      },
    );
    this.watchdog = new Watchdog(
      this.timers,
      (vmId, reason) => {
        const vm = this.vmsById.get(vmId);
        if (vm) void this.crash(vm, vm.generation, `it stopped answering (${reason})`);
      },
      env.watchdog,
    );
  }

  /** Subscribe to lifecycle, resource, refusal and accounting events. */
  on(listener: (e: HvEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Hear of every VM's new Guest as it is spawned, before it boots (the hypervisor's worker follows consoles with it). */
  onGuest(listener: (vmId: string, guest: Guest) => void): () => void {
    this.guestListeners.add(listener);
    return () => this.guestListeners.delete(listener);
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

  get memory(): MemoryView {
    return memoryView(this.pool, [...this.hostHeld.values()]);
  }

  /** The pool's reservations, per VM id (tests compare them with the VMs that run). */
  reservations(): { vmId: string; mib: number }[] {
    return this.pool.reservations().map((r) => ({ vmId: r.vmId, mib: r.mib }));
  }

  /** Faults the hypervisor handled (newest last; also sent as 'fault' events). */
  faults(): { at: number; vmId: string | null; message: string }[] {
    return this.faultLog.map((f) => ({ ...f }));
  }

  /** The scheduler's picture (pCPU slots, credits) after its last period, for the UI; null before the first. */
  schedulerView(): SchedulerView | null {
    return this.cpuView;
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
      const network = spec.network ? this.nets.get(spec.network).name : null;
      const nicLimit = spec.nicLimit ? checkRateLimit(spec.nicLimit, name) : null;
      const trunk = this.checkTrunk(name, network, spec.trunk);
      const io = normalizeIoLimits(spec.io, name);
      const volumes = this.checkVolumes(name, spec.volumes);
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
        bootPhases: null,
        network,
        nicLimit,
        ip: null,
        trunk,
        volumes,
        io,
        cdrom: spec.cdrom === true,
        balloonMiB: checkBalloonTarget(spec.balloonMiB ?? null, memoryMiB, name),
        autoBalloon: false,
        lastOom: null,
        guest: null,
        consoleSize: null,
        generation: 0,
        cpuCell: null,
        readyTimeoutMs: spec.readyTimeoutMs ?? 120_000,
        commands: new CommandQueue(() => name),
        mac: null,
      };
      for (const [slot, volume] of Object.entries(volumes)) this.storage.volumes.attach(volume, name, slot as DiskSlot);
      this.vmsById.set(id, vm);
      this.emitState(vm, null);
      this.persistVm(vm);
      return publicInfo(vm);
    });
  }

  // Lifecycle commands run one at a time per VM, in the order issued, each
  // checked against the state the ones before it left (see CommandQueue):
  // stop and destroy cancel what still waits and abort a boot in progress.

  /** Reserve RAM and boot; resolves when the guest's shell is ready. */
  start(id: string): Promise<void> {
    return this.lifecycle(id, 'start', { cancellable: true }, async (vm, signal) => {
      await this.boot(vm, transition(vm.state, 'start', vm.name), signal);
    });
  }

  /** Stop and boot again (from running, paused or crashed); the VM keeps its RAM reserved throughout. */
  restart(id: string): Promise<void> {
    return this.lifecycle(id, 'restart', { cancellable: true }, async (vm, signal) => {
      const next = transition(vm.state, 'restart', vm.name);
      await this.teardown(vm, { keepMemory: true });
      await this.boot(vm, next, signal);
    });
  }

  pause(id: string): Promise<void> {
    return this.lifecycle(id, 'pause', {}, async (vm) => {
      const next = transition(vm.state, 'pause', vm.name);
      const guest = vm.guest!;
      this.cpu.setPaused(vm.id, true);
      try {
        await guest.pause();
      } catch (err) {
        // Not paused after all: it gets its CPU back (unless it crashed meanwhile).
        if (vm.guest === guest && !guest.isDestroyed) this.cpu.setPaused(vm.id, false);
        throw err;
      }
      this.setState(vm, next);
    });
  }

  resume(id: string): Promise<void> {
    return this.lifecycle(id, 'resume', {}, async (vm) => {
      const next = transition(vm.state, 'resume', vm.name);
      await vm.guest!.resume();
      this.cpu.setPaused(vm.id, false);
      this.setState(vm, next);
    });
  }

  /** Power off: the worker is released and the RAM goes back to the pool. */
  stop(id: string): Promise<void> {
    return this.lifecycle(id, 'stop', { supersedes: true }, async (vm) => {
      const next = transition(vm.state, 'stop', vm.name);
      await this.teardown(vm);
      this.setState(vm, next);
    });
  }

  /** Remove the VM: worker, RAM and CPU time are all released. */
  destroy(id: string): Promise<void> {
    return this.lifecycle(id, 'destroy', { supersedes: true }, async (vm) => {
      await this.removeHere(vm, transition(vm.state, 'destroy', vm.name), `the deletion of ${vm.name}`);
    });
  }

  /** Change weight, cap or reservation; effective from the next period. */
  setResources(id: string, change: VmResourcesInput): VmResources {
    return this.refusing('set resources', id, () => {
      const vm = this.record(id);
      const resources = normalizeResources(change, vm.name, vm.resources);
      const others = this.allReservations().filter((r) => r.vmId !== vm.name);
      checkReservations([...others, { vmId: vm.name, reservationPct: resources.reservationPct }], this.settingsNow.pcpus, vm.name);
      this.cpu.setResources(vm.id, resources);
      vm.resources = resources;
      this.emit({ type: 'vm-resources', at: this.timers.now(), vmId: vm.id, name: vm.name, resources });
      this.persistVm(vm);
      return resources;
    });
  }

  /** Change pCPUs, pool size, overcommit or scheduler timing; CPU changes apply from the next period. */
  setHost(change: Partial<HostSettings>): HostSettings {
    return this.refusing('set host', null, () => {
      const config = normalizeConfig(
        { pcpus: change.pcpus, periodMs: change.periodMs, sliceMs: change.sliceMs, handOff: change.handOff },
        this.cpuConfig,
      );
      checkReservations(this.allReservations(), config.pcpus);
      const diskIops = change.diskIops === undefined ? this.diskIops : checkDiskIops(change.diskIops);
      if (change.memoryMiB !== undefined) this.pool.setTotal(change.memoryMiB);
      if (change.overcommit !== undefined) this.pool.setOvercommit(change.overcommit);
      if (diskIops !== this.diskIops) {
        this.diskIops = diskIops;
        this.storage.recapacity(this.diskIops);
        for (const vm of this.vmsById.values()) void vm.guest?.setIoLimits(this.storage.effective(vm.id, vm.io)).catch(() => {});
      }
      this.cpu.setConfig(config);
      this.cpuConfig = config;
      this.settingsNow = hostSettings(config, this.pool, this.diskIops);
      this.emit({ type: 'host-settings', at: this.timers.now(), settings: this.settings });
      return this.settings;
    });
  }

  // --- networks ---

  /** Create a network: a VLAN of its own on the host's virtual switch. */
  createNetwork(spec: NetworkSpec): NetworkInfo {
    return this.refusing('create network', null, () => {
      const info = this.nets.create(spec);
      const { name, vlan, subnet, dhcp, dns, mtu } = info;
      this.persist(`network ${name}`, (p) => p.putNetwork({ name, vlan, subnet, dhcp, dns, mtu }));
      return info;
    });
  }

  /** Delete a network no VM is attached to. */
  deleteNetwork(name: string): void {
    this.refusing('delete network', null, () => {
      const users = [...this.vmsById.values()].filter((v) => v.network === name || v.trunk.includes(name)).map((v) => v.name);
      this.nets.remove(name, users);
      this.persist(`the deletion of network ${name}`, (p) => p.deleteNetwork(name));
    });
  }

  networks(): NetworkInfo[] {
    return this.nets.list();
  }

  /**
   * Attach a VM's NIC to a network (or to none), its port carrying the
   * `trunk` networks tagged as well: only while it does not run, as v86
   * cannot plug a NIC into a running guest.
   */
  setNetwork(id: string, network: string | null, trunk: string[] = []): void {
    this.refusing('set network', id, () => {
      const vm = this.record(id);
      if (holdsMemory(vm.state)) throw new HvError('illegal-state', `${vm.name} is ${vm.state}: stop it first to move its NIC (v86 cannot plug a NIC into a running guest)`, { state: vm.state });
      const name = network === null ? null : this.nets.get(network).name;
      vm.trunk = this.checkTrunk(vm.name, name, trunk);
      vm.network = name;
      this.persistVm(vm);
      const tagged = vm.trunk.length ? `, carrying ${vm.trunk.join(', ')} tagged` : '';
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `${vm.name}'s NIC is ${vm.network ? `on network ${vm.network}${tagged}` : 'connected to nothing'}` });
    });
  }

  private checkTrunk(vmName: string, network: string | null, trunk: unknown): string[] {
    if (trunk === undefined || trunk === null) return [];
    if (!Array.isArray(trunk) || trunk.some((n) => typeof n !== 'string')) throw new HvError('invalid-argument', `${vmName}'s trunk must be a list of network names`, { trunk });
    if (trunk.length === 0) return [];
    if (network === null) throw new HvError('invalid-argument', `${vmName}'s NIC is on no network: a trunk needs its own network first`, { trunk });
    this.nets.trunkVlans(network, trunk as string[]);
    return [...(trunk as string[])];
  }

  /**
   * Copy one VM's port (what it sent, received or both) or a whole network
   * to another VM's port, as a switch's SPAN port does: the target guest
   * sees the frames on its eth0 (in promiscuous mode: `hv-sniff`). Kept
   * while the VMs stop and start; gone with either VM.
   */
  addMirror(spec: MirrorSpec): void {
    this.refusing('add mirror', null, () => {
      const to = this.recordNamed(spec.to).id;
      let source: PortMirror['source'];
      if ('network' in spec.from) source = { network: this.nets.get(spec.from.network).name };
      else {
        const direction = spec.from.direction ?? 'both';
        if (!['rx', 'tx', 'both'].includes(direction)) throw new HvError('invalid-argument', `mirror direction "${String(direction)}" is not valid: use rx, tx or both`, { direction });
        source = { port: this.recordNamed(spec.from.vm).id, direction };
      }
      this.nets.addMirror({ name: String(spec.name ?? ''), source, to });
    });
  }

  removeMirror(name: string): void {
    this.refusing('remove mirror', null, () => this.nets.removeMirror(name));
  }

  mirrors() {
    return this.nets.mirrors();
  }

  /** Police a VM's NIC at the switch (its frames beyond the rate are dropped and counted), now and on later boots; null lifts the limit. */
  setNicLimit(id: string, limit: RateLimit | null): void {
    this.refusing('set NIC limit', id, () => {
      const vm = this.record(id);
      vm.nicLimit = limit === null ? null : checkRateLimit(limit, vm.name);
      this.nets.setLimit(vm.id, vm.nicLimit);
      this.persistVm(vm);
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: vm.nicLimit ? `${vm.name}'s NIC is limited to ${vm.nicLimit.rateKbps} kbit/s (burst ${vm.nicLimit.burstKb} kbit)` : `${vm.name}'s NIC has no limit` });
    });
  }

  /** Offer a running VM UDP load from the host at `mbps` for `ms` (Networks.offerLoad): a benchmark's and an experiment's traffic source. */
  offerLoad(id: string, options: { mbps: number; ms: number; frameBytes?: number }) {
    return this.nets.offerLoad(this.record(id).id, options);
  }

  // --- snapshots ---

  /**
   * Take a snapshot of a running or paused VM: its whole state (RAM, CPU,
   * devices), compressed, kept under `name` until deleted or the VM is
   * destroyed. Runs in the VM's command queue, so it never meets a half-done
   * start or stop.
   */
  takeSnapshot(id: string, name: string): Promise<SnapshotInfo> {
    let taken: SnapshotInfo | null = null;
    return this.lifecycle(id, 'take snapshot', {}, async (vm) => {
      const guest = vm.guest;
      if (!guest || (vm.state !== 'running' && vm.state !== 'paused')) {
        throw new HvError('illegal-state', `cannot take a snapshot of ${vm.name}: it is ${vm.state} (a snapshot is of a running or paused VM)`, { state: vm.state });
      }
      const snapshotName = String(name ?? '').trim();
      this.snaps.checkName(vm.id, vm.name, snapshotName); // before the work of a save
      const t0 = performance.now();
      const saved = await guest.saveState();
      // The state holds no disk: each volume's blocks at the same instant become a volume snapshot beside it.
      if (saved.disks) await this.applyFlush(guest, saved.disks);
      const volumes = DISK_SLOTS.filter((slot) => vm.volumes[slot]).map((slot) => ({ slot, volume: vm.volumes[slot]!, snapshot: vmSnapshotName(vm.name, snapshotName) }));
      for (const x of volumes) {
        this.storage.volumes.snapshot(x.volume, x.snapshot);
        this.persistVolume(x.volume);
      }
      const raw = new Uint8Array(saved.state);
      const payload = await zstdCompress(raw, this.env.zstdWasmUrl);
      const header = {
        name: snapshotName,
        vm: vm.name,
        takenAt: Date.now(),
        image: snapshotImage(vm.image),
        memoryMiB: vm.memoryMiB,
        nic: NIC,
        ...(this.nicMtu(vm) !== ETH_MTU ? { mtu: this.nicMtu(vm) } : {}),
        mac: vm.mac,
        clockMs: saved.clockMs,
        ready: vm.ready,
        ...(volumes.length ? { volumes } : {}),
        codec: 'zstd' as const,
        stateBytes: raw.length,
      };
      taken = this.snaps.add(vm.id, header, payload, performance.now() - t0);
      this.persistSnapshot(taken);
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `snapshot ${taken.name} of ${vm.name} taken (${(taken.bytes / 2 ** 20).toFixed(1)} MiB, ${Math.round(taken.takeMs!)} ms)` });
    }).then(() => taken!);
  }

  /** Why a snapshot's disks do not fit the VM now (null: they do): the same volumes in the same slots, their snapshots still there. */
  private snapshotDisksMismatch(vm: VmRecord, disks: NonNullable<SnapshotHeader['volumes']>): string | null {
    const now = DISK_SLOTS.filter((slot) => vm.volumes[slot]).map((slot) => `${slot}=${vm.volumes[slot]}`).join(', ') || 'none';
    const then = disks.map((d) => `${d.slot}=${d.volume}`).join(', ') || 'none';
    if (now !== then) return `it was taken with volumes ${then}, and ${vm.name} has ${now} now (a guest's kernel knows its disks from boot)`;
    for (const d of disks) {
      if (!this.storage.volumes.get(d.volume).snapshots.some((s) => s.name === d.snapshot)) return `volume ${d.volume} no longer has its snapshot ${d.snapshot}`;
    }
    return null;
  }

  private revertDisks(disks: NonNullable<SnapshotHeader['volumes']>): void {
    for (const d of disks) {
      this.storage.volumes.revert(d.volume, d.snapshot);
      this.persistVolume(d.volume, true);
    }
  }

  /** Snapshots kept, of one VM or of all. */
  snapshots(vmId?: string): SnapshotInfo[] {
    return this.snaps.list(vmId === undefined ? undefined : this.record(vmId).id);
  }

  /**
   * Put a VM back to a snapshot of its own: a running or paused VM's guest is
   * replaced (its RAM stays reserved), a stopped one starts from it. The
   * guest goes on from where the snapshot was taken, its MAC and clock then.
   */
  revertSnapshot(snapshotId: string): Promise<void> {
    let snap: ReturnType<SnapshotStore['get']>;
    try {
      snap = this.snaps.get(snapshotId);
    } catch (err) {
      return Promise.reject(err);
    }
    return this.lifecycle(snap.info.vmId, 'revert', { cancellable: true }, async (vm, signal) => {
      const disks = snap.header.volumes ?? [];
      const why = this.snapshotDisksMismatch(vm, disks) ?? snapshotMismatch(snap.header, { image: snapshotImage(vm.image), memoryMiB: vm.memoryMiB, nic: NIC, mtu: this.nicMtu(vm) });
      if (why) throw new HvError('illegal-state', `cannot revert ${vm.name} to snapshot ${snap.info.name}: ${why}`, { snapshot: snap.info.name });
      if (holdsMemory(vm.state)) {
        const next = transition(vm.state, 'restart', vm.name);
        await this.teardown(vm, { keepMemory: true });
        this.revertDisks(disks);
        await this.boot(vm, next, signal, restoreOf(snap));
      } else {
        const next = transition(vm.state, 'start', vm.name);
        this.revertDisks(disks);
        await this.boot(vm, next, signal, restoreOf(snap));
      }
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `${vm.name} reverted to snapshot ${snap.info.name}` });
    });
  }

  deleteSnapshot(snapshotId: string): void {
    this.refusing('delete snapshot', null, () => {
      const { info, header } = this.snaps.get(snapshotId);
      this.snaps.remove(snapshotId);
      for (const d of header.volumes ?? []) {
        try {
          this.storage.volumes.deleteSnapshot(d.volume, d.snapshot);
          this.persistVolume(d.volume);
        } catch {
          // The volume or its snapshot is gone already.
        }
      }
      this.persist(`the deletion of snapshot ${info.name}`, (p) => p.deleteSnapshot(info.vm, info.name));
    });
  }

  /** A snapshot as the file to download (magic, version, header, zstd state, SHA-256). */
  exportSnapshot(snapshotId: string): Uint8Array {
    return this.snaps.file(snapshotId);
  }

  /**
   * Keep an uploaded snapshot file for a VM (by id or name; default: the VM
   * it names): refused, with what is wrong, when it is not a snapshot file,
   * is damaged, cut or of a newer format, or was taken with other images,
   * RAM or NIC than the VM has. Nothing runs or changes before it is checked.
   */
  importSnapshot(file: Uint8Array, vm?: string): SnapshotInfo {
    return this.refusing('upload snapshot', null, () => {
      if (!(file instanceof Uint8Array)) throw new HvError('invalid-argument', 'a snapshot upload must be the file\'s bytes', {});
      const target = this.recordNamed(vm ?? decodeSnapshotFile(file).header.vm);
      const image = snapshotImage(target.image);
      const info = this.snaps.addFile(target.id, target.name, file, (header) => snapshotMismatch(header, { image, memoryMiB: target.memoryMiB, nic: NIC, mtu: this.nicMtu(target) }));
      this.persistSnapshot(info);
      return info;
    });
  }

  // --- memory: balloon, free-page hinting, page sharing ---

  /**
   * Inflate or deflate a VM's balloon so that its guest keeps `targetMiB` of
   * its RAM (null: give it all back): at once on a running or paused guest,
   * and on its later boots once it is ready. The pages the guest gives up are
   * zeroed, so its snapshots and migrations shrink with the balloon.
   */
  async setBalloon(id: string, targetMiB: number | null): Promise<void> {
    const vm = this.refusing('set balloon', null, () => {
      const vm = this.record(id);
      vm.balloonMiB = checkBalloonTarget(targetMiB, vm.memoryMiB, vm.name);
      vm.autoBalloon = false;
      this.persistVm(vm);
      return vm;
    });
    this.emit({ type: 'vm-resources', at: this.timers.now(), vmId: vm.id, name: vm.name, resources: { ...vm.resources } });
    const guest = vm.guest;
    if (guest && !guest.isDestroyed && (vm.state === 'running' || vm.state === 'paused')) {
      await guest.setBalloon(balloonPages(vm.memoryMiB, vm.balloonMiB));
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: vm.balloonMiB === null ? `${vm.name}'s balloon deflates: it gets all ${vm.memoryMiB} MiB back` : `${vm.name}'s balloon inflates to leave it ${vm.balloonMiB} of its ${vm.memoryMiB} MiB` });
    }
  }

  /**
   * The overcommit policy: when the guests holding RAM reserve more than the
   * pool (overcommit on), the balloons of those whose target the user did not
   * set take the excess: from the idle guests first (under IDLE_SHARE_PCT of
   * a pCPU over the last 5 s), each left an equal share of what the busy ones
   * do not need, and when that would leave them less than BALLOON_FLOOR_MIB,
   * from all of them in equal shares (never below the floor). When RAM is
   * free again, they give it back. Each change is a note in the event log,
   * with the numbers.
   */
  private rebalanceBalloons(why: string): void {
    if (!this.pool.overcommit || this.disposed) return;
    const holding = [...this.vmsById.values()].filter((v) => this.pool.reservationOf(v.id) !== undefined);
    // A VM that holds no RAM keeps no balloon the policy gave it (its next start is divided afresh).
    for (const v of this.vmsById.values()) {
      if (v.autoBalloon && !holding.includes(v)) {
        v.balloonMiB = null;
        v.autoBalloon = false;
      }
    }
    const auto = holding.filter((v) => v.balloonMiB === null || v.autoBalloon);
    const fixed = holding.filter((v) => !auto.includes(v)).reduce((n, v) => n + v.balloonMiB!, 0);
    const want = auto.reduce((n, v) => n + v.memoryMiB, 0);
    const room = this.pool.totalMiB - fixed;
    const now = this.timers.now();
    const idle = auto.filter((v) => v.state === 'running' && this.history.summary(v.id, now - 5000).sharePct < IDLE_SHARE_PCT);
    const busyNeed = auto.filter((v) => !idle.includes(v)).reduce((n, v) => n + v.memoryMiB, 0);
    // The idle guests alone make room when each can keep at least the floor; otherwise all of them share.
    const idleOnly = idle.length > 0 && (room - busyNeed) / idle.length >= BALLOON_FLOOR_MIB;
    const changes: string[] = [];
    for (const v of auto) {
      // Each keeps its RAM when it all fits; otherwise an equal share of the room (a smaller guest keeps all of its own).
      let keep: number | null = null;
      if (want > room && (!idleOnly || idle.includes(v))) {
        const share = idleOnly ? Math.floor((room - busyNeed) / idle.length) : Math.floor(room / auto.length);
        keep = Math.max(BALLOON_FLOOR_MIB, Math.min(v.memoryMiB, share));
        if (keep >= v.memoryMiB) keep = null;
      }
      if (keep === v.balloonMiB) continue;
      v.balloonMiB = keep;
      v.autoBalloon = keep !== null;
      changes.push(keep === null ? `${v.name} gets all ${v.memoryMiB} MiB back` : `${v.name} keeps ${keep} of ${v.memoryMiB} MiB`);
      const guest = v.guest;
      if (guest && !guest.isDestroyed && (v.state === 'running' || v.state === 'paused')) {
        void guest.setBalloon(balloonPages(v.memoryMiB, keep)).catch((err: unknown) => this.fault(v.id, `${v.name}'s balloon: ${HvError.from(err).message}`));
      }
      this.emit({ type: 'vm-resources', at: this.timers.now(), vmId: v.id, name: v.name, resources: { ...v.resources } });
    }
    if (changes.length) {
      const total = this.pool.totalMiB;
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: holding[0]?.id ?? '', name: holding[0]?.name ?? '', message: `balloons (${why}; guests reserve ${want + fixed} MiB of a ${total} MiB pool): ${changes.join('; ')}` });
    }
  }

  /** A running guest's memory: its balloon (target, now, zeroed) and what its kernel reports. */
  async memoryInfo(id: string): Promise<GuestMemoryInfo> {
    const vm = this.record(id);
    if (!vm.guest || (vm.state !== 'running' && vm.state !== 'paused')) {
      throw new HvError('illegal-state', `${vm.name} is ${vm.state}: memory statistics come from a running guest`, { state: vm.state });
    }
    const b = await vm.guest.balloonInfo();
    const mib = (bytes: number): number => bytes / 2 ** 20;
    const pagesMiB = (pages: number): number => pages / 256;
    return {
      memoryMiB: vm.memoryMiB,
      targetMiB: vm.memoryMiB - pagesMiB(b.targetPages),
      keptMiB: vm.memoryMiB - pagesMiB(b.actualPages),
      balloonMiB: pagesMiB(b.actualPages),
      zeroedMiB: pagesMiB(b.zeroedPages),
      touchedMiB: pagesMiB(b.touchedPages),
      guest: b.stats ? { ...guestMemoryOf(b.stats), cachesMiB: mib(b.stats.caches) } : null,
    };
  }

  /** Free-page hinting: the guest reports its free pages and they are zeroed (a snapshot then skips them). MiB zeroed. */
  async hintFreePages(id: string): Promise<number> {
    const vm = this.record(id);
    if (!vm.guest || vm.state !== 'running') throw new HvError('illegal-state', `${vm.name} is ${vm.state}: free-page hinting needs a running guest`, { state: vm.state });
    const bytes = await vm.guest.hintFreePages();
    if (bytes === null) throw new HvError('guest-crashed', `${vm.name} did not report its free pages within 10 s (is its balloon driver loaded?)`, {});
    this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `${vm.name} reported ${(bytes / 2 ** 20).toFixed(1)} MiB of free pages, now zeroed` });
    return bytes / 2 ** 20;
  }

  /**
   * Reclaim for real: a WebAssembly memory never shrinks, so the guest's
   * free pages are hinted and zeroed, its state saved, and the guest rebuilt
   * in a fresh worker from that state, where only the non-zero pages are
   * touched (workers/v86-tuning.ts); the old worker and its memory go. The
   * guest goes on where it was, with its identity. Reports the host memory
   * before and after where it can be measured.
   */
  async compact(id: string): Promise<CompactionReport> {
    const vm = this.record(id);
    const t0 = performance.now();
    const measure = (): number | null => (this.env.hostMemoryBytes ? this.env.hostMemoryBytes() / 2 ** 20 : null);
    const hostBeforeMiB = measure();
    const zeroedMiB = await this.hintFreePages(id);
    let stateMiB = 0;
    await this.lifecycle(id, 'compact', { cancellable: true }, async (vm, signal) => {
      const guest = vm.guest;
      if (!guest || vm.state !== 'running') throw new HvError('illegal-state', `${vm.name} is ${vm.state}: compaction rebuilds a running guest`, { state: vm.state });
      // The state as v86 saves it (zero pages skipped), straight into the new worker: no copy, no compression.
      const saved = await guest.saveState();
      if (saved.disks) await this.applyFlush(guest, saved.disks);
      stateMiB = saved.state.byteLength / 2 ** 20;
      const next = transition(vm.state, 'restart', vm.name);
      await this.teardown(vm, { keepMemory: true });
      await this.boot(vm, next, signal, { state: () => saved.state, clockMs: saved.clockMs, ready: vm.ready, mac: vm.mac });
    });
    // The old worker's memory is the engine's to return: give it a moment.
    await new Promise((r) => setTimeout(r, 200));
    const report = { zeroedMiB, stateMiB, hostBeforeMiB, hostAfterMiB: measure(), ms: performance.now() - t0 };
    const host = report.hostBeforeMiB !== null && report.hostAfterMiB !== null ? `; host memory ${report.hostBeforeMiB.toFixed(0)} -> ${report.hostAfterMiB.toFixed(0)} MiB` : '';
    this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `${vm.name} compacted: ${zeroedMiB.toFixed(1)} MiB of free pages zeroed, rebuilt from a ${report.stateMiB.toFixed(1)} MiB state${host}` });
    return report;
  }

  /**
   * What page sharing (KSM, ESXi's TPS) could save across the running
   * guests: every 4 KiB page of each guest's RAM hashed in its worker, and the
   * copies of the same content counted. Browsers cannot share memory between
   * workers, so this is an estimate only.
   */
  async pageSharing(): Promise<SharingReport> {
    const running = [...this.vmsById.values()].filter((v) => v.guest && !v.guest.isDestroyed && (v.state === 'running' || v.state === 'paused'));
    const hashes = await Promise.all(running.map(async (v) => ({ id: v.name, hashes: await v.guest!.pageHashes() })));
    return sharingReport(hashes);
  }

  // --- storage ---

  /** Volumes, their sizes, written blocks, attachments and snapshots. */
  volumes(): VolumeInfo[] {
    return this.storage.volumes.list();
  }

  baseImages(): BaseImageInfo[] {
    return this.storage.volumes.baseImages();
  }

  /** A volume: empty of a size, or over a base image (its size by default). */
  createVolume(spec: VolumeSpec): VolumeInfo {
    return this.refusing('create volume', null, () => {
      const made = this.storage.volumes.create(spec);
      this.persistVolume(made.name);
      return made;
    });
  }

  /**
   * Keep an uploaded image as a base image (shared read-only by the volumes
   * made from it): refused unless it is a whole number of sectors, within the
   * size limit and a disk (partition table, ext2/3/4 or ISO 9660);
   * `declaredBytes`, when given, must be its size.
   */
  uploadBaseImage(name: string, bytes: Uint8Array, declaredBytes?: number): BaseImageInfo {
    return this.refusing('upload image', null, () => {
      const made = this.storage.volumes.addBase(String(name ?? '').trim(), bytes, declaredBytes);
      const kept = this.storage.volumes.baseBytes(made.name);
      this.persist(`base image ${made.name}`, (p) => p.putBase(made.name, kept));
      return made;
    });
  }

  deleteBaseImage(name: string): void {
    this.refusing('delete image', null, () => {
      this.storage.volumes.deleteBase(name);
      this.persist(`the deletion of base image ${name}`, (p) => p.deleteBase(name));
    });
  }

  /** A new volume with the other's base and a copy of its written blocks (not of the disk). */
  cloneVolume(from: string, name: string): VolumeInfo {
    return this.refusing('clone volume', null, () => {
      this.checkVolumeIdle(from, 'clone');
      const made = this.storage.volumes.clone(from, String(name ?? '').trim());
      this.persistVolume(made.name, true);
      return made;
    });
  }

  deleteVolume(name: string): void {
    this.refusing('delete volume', null, () => {
      this.storage.volumes.delete(name);
      this.persist(`the deletion of volume ${name}`, (p) => p.deleteVolume(name));
    });
  }

  /** Keep the volume's written blocks under a name (its guest must not be running: a running guest's disk is always changing). */
  snapshotVolume(name: string, snapshot: string): VolumeSnapshotInfo {
    return this.refusing('snapshot volume', null, () => {
      this.checkVolumeIdle(name, 'snapshot');
      const taken = this.storage.volumes.snapshot(name, String(snapshot ?? '').trim());
      this.persistVolume(name);
      return taken;
    });
  }

  revertVolume(name: string, snapshot: string): void {
    this.refusing('revert volume', null, () => {
      this.checkVolumeIdle(name, 'revert');
      this.storage.volumes.revert(name, snapshot);
      this.persistVolume(name, true);
    });
  }

  deleteVolumeSnapshot(name: string, snapshot: string): void {
    this.refusing('delete volume snapshot', null, () => {
      this.storage.volumes.deleteSnapshot(name, snapshot);
      this.persistVolume(name);
    });
  }

  /** Attach a volume to a VM that is not running, as hda (default) or hdb (hdb needs hda). */
  attachVolume(id: string, volume: string, slot: DiskSlot = 'hda'): void {
    this.refusing('attach volume', null, () => {
      const vm = this.record(id);
      this.checkNotRunning(vm, `attach volume ${volume} to`);
      if (!DISK_SLOTS.includes(slot)) throw new HvError('invalid-argument', `disk slot "${String(slot)}" is not valid: use hda or hdb`, { slot });
      if (vm.volumes[slot]) throw new HvError('illegal-state', `${vm.name} has volume ${vm.volumes[slot]} as ${slot} already: detach it first`, { slot });
      const volumes = this.checkVolumes(vm.name, { ...vm.volumes, [slot]: volume });
      this.storage.volumes.attach(volume, vm.name, slot);
      vm.volumes = volumes;
      this.persistVm(vm);
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `volume ${volume} attached to ${vm.name} as ${slot}` });
    });
  }

  detachVolume(id: string, slot: DiskSlot = 'hda'): void {
    this.refusing('detach volume', null, () => {
      const vm = this.record(id);
      const volume = vm.volumes[slot];
      if (!volume) throw new HvError('not-found', `${vm.name} has no volume as ${String(slot)}`, { slot });
      this.checkNotRunning(vm, `detach volume ${volume} from`);
      if (slot === 'hda' && vm.volumes.hdb) throw new HvError('illegal-state', `${vm.name} has ${vm.volumes.hdb} as hdb, which needs a disk as hda: detach hdb first`, {});
      this.storage.volumes.detach(volume);
      const { [slot]: _gone, ...rest } = vm.volumes;
      vm.volumes = rest;
      this.persistVm(vm);
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `volume ${volume} detached from ${vm.name}` });
    });
  }

  /** The volume as a raw disk image (a running guest's unsent blocks are fetched first). */
  async downloadVolume(name: string): Promise<Uint8Array> {
    const info = this.storage.volumes.get(name);
    await this.flushVolumes(info.attachedTo ? [info.attachedTo.vm] : []);
    return this.storage.volumes.raw(name);
  }

  /** Bring every block the named VMs' guests (all by default) wrote to their volumes, and persist them. */
  async flushVolumes(vmNames?: string[]): Promise<void> {
    const vms = [...this.vmsById.values()].filter((v) => v.guest && !v.guest.isDestroyed && Object.keys(v.volumes).length > 0 && (!vmNames || vmNames.includes(v.name)));
    await Promise.all(vms.map((v) => this.flushGuest(v.guest!)));
    await this.persistChain;
  }

  /** A guest's unsent blocks into its volumes (a guest that does not answer within 2 s has lost them). */
  private async flushGuest(guest: Guest): Promise<void> {
    const flush = await Promise.race([guest.flushDisks().catch(() => null), new Promise<null>((r) => setTimeout(() => r(null), 2000))]);
    if (flush) await this.applyFlush(guest, flush);
  }

  /** Blocks a flush answer carries, after the older ones that write-back events still carry (they arrive on another port). */
  private async applyFlush(guest: Guest, flush: DiskFlush): Promise<void> {
    await guest.disksSettled(flush.sentSeq).catch((err: unknown) => this.fault(null, `${guest.name}: written blocks lost on their way: ${HvError.from(err).message}`));
    for (const d of flush.disks) this.storage.written(d.volume, d.blocks);
  }

  /** A VM's disk limits and shares: at once on its running guest, and on later boots. */
  setIoLimits(id: string, change: Partial<IoLimits>): IoLimits {
    return this.refusing('set disk limits', null, () => {
      const vm = this.record(id);
      vm.io = normalizeIoLimits(change, vm.name, vm.io);
      void vm.guest?.setIoLimits(this.storage.effective(vm.id, vm.io)).catch(() => {});
      this.persistVm(vm);
      this.emit({ type: 'vm-resources', at: this.timers.now(), vmId: vm.id, name: vm.name, resources: { ...vm.resources } });
      return { ...vm.io };
    });
  }

  /** Put an ISO 9660 image into a running VM's CD-ROM drive (/dev/sr0), or eject it (null). */
  async setCdrom(id: string, iso: Uint8Array | null, name = 'image.iso'): Promise<void> {
    const vm = this.refusing('insert CD', null, () => {
      const vm = this.record(id);
      if (!vm.guest || (vm.state !== 'running' && vm.state !== 'paused')) {
        throw new HvError('illegal-state', `${vm.name} is ${vm.state}: a CD goes into a running guest's drive`, { state: vm.state });
      }
      if (!vm.cdrom && Object.keys(vm.volumes).length === 0) {
        throw new HvError('illegal-state', `${vm.name} has no CD-ROM drive its kernel knows: give it one (cdrom) or a volume, and start it again`, {});
      }
      if (iso) checkDiskImage(iso, name, { cd: true });
      return vm;
    });
    await vm.guest!.setCdrom(iso ? iso.slice().buffer : null);
    this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: iso ? `${name} inserted into ${vm.name}'s CD-ROM drive` : `${vm.name}'s CD-ROM drive ejected` });
  }

  /** Volumes by slot for a VM named `vmName`: they exist, are free (or its own already) and hdb comes with hda. */
  private checkVolumes(vmName: string, input: Partial<Record<DiskSlot, string>> | undefined): Partial<Record<DiskSlot, string>> {
    const out: Partial<Record<DiskSlot, string>> = {};
    for (const [slot, volume] of Object.entries(input ?? {})) {
      if (volume === undefined || volume === null) continue;
      if (!DISK_SLOTS.includes(slot as DiskSlot)) throw new HvError('invalid-argument', `${vmName}: disk slot "${slot}" is not valid: use hda or hdb`, { slot });
      const info = this.storage.volumes.get(String(volume));
      if (info.attachedTo && info.attachedTo.vm !== vmName) {
        throw new HvError('illegal-state', `volume ${info.name} is attached to ${info.attachedTo.vm}: detach it there first (a volume has one VM at a time)`, { volume: info.name });
      }
      out[slot as DiskSlot] = info.name;
    }
    if (out.hdb && !out.hda) throw new HvError('invalid-argument', `${vmName}: a volume as hdb needs one as hda (v86 has hdb only beside hda)`, {});
    if (out.hda && out.hda === out.hdb) throw new HvError('invalid-argument', `${vmName}: volume ${out.hda} cannot be both hda and hdb`, {});
    return out;
  }

  private checkNotRunning(vm: VmRecord, action: string): void {
    if (hasGuest(vm.state)) {
      throw new HvError('illegal-state', `cannot ${action} ${vm.name}: it is ${vm.state} (IDE disks have no hot-plug: stop it first)`, { state: vm.state });
    }
  }

  /** Refuse to work on a volume whose VM runs (its disk changes under us). */
  private checkVolumeIdle(name: string, action: string): void {
    const at = this.storage.volumes.get(name).attachedTo;
    const vm = at ? [...this.vmsById.values()].find((v) => v.name === at.vm) : undefined;
    if (vm && hasGuest(vm.state)) {
      throw new HvError('illegal-state', `cannot ${action} volume ${name}: ${vm.name} is ${vm.state} with it attached (stop it first)`, { volume: name });
    }
  }

  /** The boot spec's disks and limits for a VM's volumes. */
  private disksFor(vm: VmRecord): { disks?: ReturnType<HostStorage['volumes']['diskSpec']>[]; ioLimits?: { iops: number | null; bytesPerSec: number | null }; cdromDrive?: boolean } {
    const slots = DISK_SLOTS.filter((slot) => vm.volumes[slot]);
    if (slots.length === 0) return vm.cdrom ? { cdromDrive: true } : {};
    return { disks: slots.map((slot) => this.storage.volumes.diskSpec(vm.volumes[slot]!, slot)), ioLimits: this.storage.effective(vm.id, vm.io) };
  }

  /** Disk I/O into the period records, then the host's disk capacity divided again by shares. */
  private accountIo(records: ClosedPeriod['vms']): void {
    this.storage.account(records);
    for (const r of records) {
      const pages = this.balloonPages.get(r.vmId);
      if (pages !== undefined) r.balloonMiB = pages / 256;
      const stats = pages ? this.balloonStats.get(r.vmId) : undefined;
      if (stats) r.guestMemory = { ...stats };
    }
    const changes = this.storage.divide(this.diskIops, (vmId) => this.vmsById.get(vmId)?.io ?? NO_IO_LIMITS);
    for (const [vmId, limits] of changes) void this.vmsById.get(vmId)?.guest?.setIoLimits(limits).catch(() => {});
  }

  private persistVolume(name: string, withBlocks = false): void {
    const saved = this.storage.volumes.saved(name);
    const blocks = withBlocks ? this.storage.volumes.overlay(name) : null;
    this.persist(`volume ${name}`, async (p) => {
      await p.putVolume(saved);
      if (blocks) await p.replaceBlocks(name, blocks);
    });
  }

  // --- live migration ---

  /**
   * Move a running VM to another host (`target`, a Hypervisor of its own
   * pCPUs, pool and scheduler) while it runs: pre-copy. The target's worker
   * is built from a saved state first; then rounds copy the pages changed
   * since the round before (per-page hashes in the source worker) while the
   * guest runs, until the pages left would copy within the downtime budget
   * (options.downtimeMs, QEMU's default 300 ms; the stop also hashes the RAM
   * once and moves the CPU and device state, which the report shows) or the
   * round limit. While the
   * guest dirties pages faster than they copy, its CPU cap is lowered
   * (auto-converge). Then the guest stops, the last pages and its CPU and
   * device state move, and it runs on the target with its name, MAC, clock,
   * RAM and snapshots. Any failure leaves it running here and says why.
   */
  migrateTo(id: string, target: Hypervisor | MigrationTarget, options: MigrationOptions = {}): Promise<MigrationReport> {
    return this.migrateQueued(id, target, options, target instanceof Hypervisor && target.env.persistence === this.env.persistence);
  }

  /** `sharedStore`: the target keeps what it stores where this host does (then the source leaves the VM's record there). */
  private migrateQueued(id: string, target: Hypervisor | MigrationTarget, options: MigrationOptions, sharedStore: boolean): Promise<MigrationReport> {
    let report: MigrationReport | null = null;
    return this.lifecycle(id, 'migrate', {}, async (vm) => {
      report = await this.migrate(vm, target, options, sharedStore);
    }).then(() => report!);
  }

  private async migrate(vm: VmRecord, to: Hypervisor | MigrationTarget, options: MigrationOptions, sharedStore: boolean): Promise<MigrationReport> {
    const budgetMs = options.downtimeMs ?? 300;
    const maxRounds = options.maxRounds ?? 30;
    if (!(budgetMs > 0)) throw new HvError('invalid-argument', `a downtime budget of ${budgetMs} ms is not valid`, { budgetMs });
    if (to === this) throw new HvError('invalid-argument', `${vm.name} is on this host already: migrate it to another`, {});
    const bandwidth = options.maxBandwidthMBps;
    if (bandwidth !== undefined && !(bandwidth > 0)) throw new HvError('invalid-argument', `a bandwidth of ${bandwidth} MB/s is not valid`, { bandwidth });
    /** Wait out what copying `n` bytes over the link would take beyond the `ms` it took. */
    const pace = async (n: number, ms: number): Promise<number> => {
      const linkMs = bandwidth === undefined ? 0 : n / (bandwidth * 1000);
      if (linkMs > ms) await new Promise((r) => setTimeout(r, linkMs - ms));
      return Math.max(ms, linkMs);
    };
    const source = vm.guest;
    const attached = Object.values(vm.volumes);
    if (attached.length) {
      throw new HvError('unsupported', `${vm.name} has volumes attached (${attached.join(', ')}): volumes stay on their host, so stop it and detach them to move it`, {});
    }
    const next = transition(vm.state, 'migrate', vm.name);
    if (!source) throw new HvError('illegal-state', `${vm.name} has no guest to migrate`, {});
    const target = to instanceof Hypervisor ? to.incomingMigration() : to;
    this.setState(vm, next);
    const t0 = performance.now();
    const origCap = vm.resources.capPct;
    let cap = origCap;
    let paused = false;
    const rounds: MigrationRound[] = [];
    let bytes = 0;
    try {
      // Round 0: the whole state; the target checks it has room, builds its worker from it and waits.
      const start = await source.migration.start();
      bytes += start.state.byteLength;
      await target.prepare(specOf(vm), start, { ready: vm.ready, mac: vm.mac, consoleSize: vm.consoleSize, mtu: this.nicMtu(vm) });
      rounds.push({ round: 0, pages: 0, bytes: start.state.byteLength, ms: performance.now() - t0, hashMs: 0, dirtyPagesPerS: 0, capPct: cap });
      options.onRound?.(rounds[0]!);
      this.emit({ type: 'migration-round', at: this.timers.now(), vmId: vm.id, name: vm.name, round: rounds[0]! });
      let perPageMs = Infinity;
      let highRounds = 0;
      let last = performance.now();
      let converged = false;
      for (let round = 1; round <= maxRounds; round++) {
        const r0 = performance.now();
        const r = await source.migration.round();
        const n = r.pages.length;
        const c0 = performance.now();
        await target.write(r.pages, r.data);
        const copyMs = await pace(n * MIGRATION_PAGE_BYTES, performance.now() - c0);
        const ms = performance.now() - r0;
        // The copy cost per page, from rounds with enough pages to measure it.
        if (n >= 64) perPageMs = Math.min(perPageMs, copyMs / n);
        const dirtyPagesPerS = (n * 1000) / Math.max(1, r0 - last + ms);
        last = performance.now();
        bytes += n * MIGRATION_PAGE_BYTES;
        const entry = { round, pages: n, bytes: n * MIGRATION_PAGE_BYTES, ms, hashMs: r.hashMs, dirtyPagesPerS, capPct: cap };
        rounds.push(entry);
        options.onRound?.(entry);
        this.emit({ type: 'migration-round', at: this.timers.now(), vmId: vm.id, name: vm.name, round: entry });
        this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `${vm.name}: migration round ${round}, ${n} pages changed (${Math.round(dirtyPagesPerS)} pages/s)${cap !== origCap ? `, CPU cap ${cap} %` : ''}` });
        // What is left, at the copy speed measured (as QEMU's downtime-limit: the stop also hashes the RAM once and moves the device state, reported apart).
        const predictedMs = n * (Number.isFinite(perPageMs) ? perPageMs : DEFAULT_PAGE_MS);
        if (predictedMs <= budgetMs) {
          converged = true;
          break;
        }
        // Auto-converge (as QEMU's cpu-throttle): when a round's dirtied pages exceed half of the round
        // before's (throttle-trigger-threshold 50 %) twice running, halve the guest's CPU cap.
        const before = rounds[rounds.length - 2]!;
        highRounds = round >= 2 && n > before.pages / 2 ? highRounds + 1 : 0;
        const floor = Math.max(MIN_CONVERGE_CAP, vm.resources.reservationPct ?? 0);
        if ((options.autoConverge ?? true) && highRounds >= 2 && (cap ?? 100) > floor) {
          highRounds = 1; // the next round that stays high throttles again
          cap = Math.max(floor, Math.round((cap ?? 100) * 0.5));
          this.cpu.setResources(vm.id, { ...vm.resources, capPct: cap });
        }
      }
      // Stop and copy.
      const d0 = performance.now();
      this.cpu.setPaused(vm.id, true);
      paused = true;
      await source.pause();
      const fin = await source.migration.final();
      const f0 = performance.now();
      await target.write(fin.pages, fin.data);
      await pace(fin.pages.length * MIGRATION_PAGE_BYTES + fin.state.byteLength, performance.now() - f0);
      bytes += fin.pages.length * MIGRATION_PAGE_BYTES + fin.state.byteLength;
      const { targetId, stored } = await target.finish({ state: fin.state, clockMs: fin.clockMs }, { downtimeMs: performance.now() - d0 });
      // A target that keeps no store (another host in this page) did not take the VM's record: it goes from ours.
      if (stored === false) sharedStore = false;
      const downtimeMs = performance.now() - d0;
      // Snapshots follow the VM (after it runs there: they are not part of the downtime).
      for (const sn of this.snaps.list(vm.id)) {
        await target.snapshot(this.snaps.file(sn.id)).catch((err: unknown) => this.fault(vm.id, `snapshot ${sn.name} of ${vm.name} did not move: ${HvError.from(err).message}`));
      }
      const report: MigrationReport = {
        vm: vm.name,
        targetId,
        rounds,
        bytes,
        totalMs: performance.now() - t0,
        downtimeMs,
        finalPages: fin.pages.length,
        finalHashMs: fin.hashMs,
        converged,
        autoConverged: cap !== origCap,
      };
      this.emit({ type: 'migration-end', at: this.timers.now(), vmId: vm.id, name: vm.name, report, error: null });
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `${vm.name} moved to another host: ${rounds.length - 1} rounds, ${(bytes / 2 ** 20).toFixed(1)} MiB, downtime ${downtimeMs.toFixed(0)} ms${report.autoConverged ? ` (auto-converge capped it at ${cap} %)` : ''}` });
      // The source's last console bytes travel on its event channel, which may still deliver them after the
      // final answer: its worker goes a moment later (the guest runs on the target already).
      await new Promise((r) => setTimeout(r, SOURCE_LINGER_MS));
      // Hosts that share one store keep the VM under its name: the target wrote it already.
      await this.removeHere(vm, 'destroyed', sharedStore ? null : `the move of ${vm.name}`);
      return report;
    } catch (err) {
      const cause = HvError.from(err);
      await target.abort(cause.message).catch(() => {});
      if (sharedStore) {
        // The target removed the VM's record from the store both hosts use: it is this host's again.
        this.persistVm(vm);
        for (const sn of this.snaps.list(vm.id)) this.persistSnapshot(sn);
      }
      if (cap !== origCap) this.cpu.setResources(vm.id, vm.resources);
      if (paused && vm.guest === source && !source.isDestroyed) {
        await source.resume().catch(() => {});
        this.cpu.setPaused(vm.id, false);
      }
      if (vm.state === 'migrating') this.setState(vm, transition(vm.state, 'migrated', vm.name));
      this.emit({ type: 'migration-end', at: this.timers.now(), vmId: vm.id, name: vm.name, report: null, error: cause.message });
      throw new HvError(cause.code, `${vm.name} did not move (${cause.message}); it runs on here`, { name: vm.name });
    } finally {
      if (cap !== origCap && vm.state !== 'destroyed') this.cpu.setResources(vm.id, vm.resources);
    }
  }

  /**
   * Migrate a VM to the host that accepts migrations on the BroadcastChannel
   * `channel` (acceptMigrations there): another tab of this browser, or
   * another host in this one. Options as migrateTo's.
   */
  async migrateVia(id: string, channel: string, options: RemoteMigrationOptions = {}): Promise<MigrationReport> {
    const bc = openChannel(channel);
    try {
      // A BroadcastChannel joins pages of one origin, which share one IndexedDB: the target's record is this one's.
      return await this.migrateQueued(id, channelTarget(bc as unknown as MigrationChannel), options, this.env.persistence !== undefined);
    } finally {
      bc.close();
    }
  }

  /** Take migrations that come in on the BroadcastChannel `channel` (null: stop taking them). */
  acceptMigrations(channel: string | null, purpose = 'tabs'): void {
    this.refusing('accept migrations', null, () => {
      this.accepting.get(purpose)?.stop();
      this.accepting.delete(purpose);
      if (channel === null) return;
      const bc = openChannel(channel);
      const stop = serveMigrations(this, bc as unknown as MigrationChannel);
      this.accepting.set(purpose, {
        stop: () => {
          stop();
          bc.close();
        },
      });
    });
  }

  /**
   * This host's side of a migration coming in (MigrationTarget): a VM made
   * from the source's spec, its worker restored from the first state and
   * paused, pages written into it, then the CPU and device state and a start.
   * abort() removes whatever was made.
   */
  incomingMigration(): MigrationTarget {
    let vm: VmRecord | null = null;
    let guest: Guest | null = null;
    const need = (): { vm: VmRecord; guest: Guest } => {
      if (!vm || !guest) throw new HvError('illegal-state', 'no migration is being received here', {});
      return { vm, guest };
    };
    return {
      prepare: async (spec, start, extra) => {
        if (vm) throw new HvError('illegal-state', 'a migration is being received here already', {});
        if ([...this.vmsById.values()].some((v) => v.name === spec.name)) throw new HvError('duplicate-name', `the target host has a VM named ${spec.name} already`, { name: spec.name });
        if (spec.network && !this.nets.list().some((n) => n.name === spec.network)) {
          throw new HvError('invalid-argument', `the target host has no network ${spec.network} for ${spec.name}'s NIC`, { network: spec.network });
        }
        const mtu = extra.mtu ?? ETH_MTU;
        if (spec.network && this.nets.get(spec.network).mtu !== mtu) {
          throw new HvError('invalid-argument', `the target host's network ${spec.network} has an MTU of ${this.nets.get(spec.network).mtu}, ${spec.name}'s NIC ${mtu} (its driver keeps the MTU it booted with)`, { network: spec.network, mtu });
        }
        const made = this.record(this.createVm(spec).id);
        vm = made;
        this.pool.reserve(made.id, made.memoryMiB, made.name, 'migrate');
        this.setState(made, transition(made.state, 'start', made.name));
        const generation = ++made.generation;
        guest = await this.spawn(made, generation, new AbortController().signal, start, false, true);
        this.cpu.setPaused(made.id, true);
        guest.ready = extra.ready;
        made.mac = extra.mac;
        made.consoleSize = extra.consoleSize;
      },
      write: async (pages, data) => {
        await need().guest.migration.write(pages, data);
      },
      finish: async (final, extra) => {
        const { vm: made, guest: g } = need();
        await g.migration.finish(final);
        this.cpu.setPaused(made.id, false);
        made.ready = g.ready;
        made.bootedBy = 'migration';
        made.bootMs = extra.downtimeMs;
        this.setState(made, transition(made.state, 'booted', made.name));
        this.watchdog.watch(made.id, () => g.ping());
        if (made.consoleSize) g.resizeConsole(made.consoleSize.cols, made.consoleSize.rows);
        return { targetId: made.id, stored: this.env.persistence !== undefined };
      },
      snapshot: async (file) => {
        this.importSnapshot(file, need().vm.id);
      },
      abort: async () => {
        const made = vm;
        vm = guest = null;
        if (!made) return;
        await this.removeHere(made, 'destroyed', `the removal of ${made.name}, which did not arrive`);
        await this.persistChain; // done before the source hears of it (a shared store: it writes its record again)
      },
    };
  }

  // --- what survives a reload (HypervisorEnv.persistence) ---

  /**
   * Create again what storage kept: networks, VM definitions (defined, not
   * started) and their snapshots. Called once, before anything else is
   * created. What cannot come back (a network's VLAN taken, a snapshot whose
   * image changed) is skipped with a fault that says why. Returns the VMs
   * that were suspended ("Suspend all") and can be resumed.
   */
  async restoreSaved(): Promise<{ vms: number; snapshots: number; suspended: string[] }> {
    const p = this.env.persistence;
    if (!p) return { vms: 0, snapshots: 0, suspended: [] };
    let world: SavedWorld;
    try {
      world = await p.load();
    } catch (err) {
      this.storageError = storageProblem(err);
      this.fault(null, `could not read what was saved: ${this.storageError}`);
      return { vms: 0, snapshots: 0, suspended: [] };
    }
    this.restoring = true;
    let vms = 0;
    let snapshots = 0;
    const suspended: string[] = [];
    try {
      const skip = (what: string, err: unknown): void => this.fault(null, `could not bring back ${what}: ${HvError.from(err).message}`);
      for (const n of world.networks) {
        try {
          this.createNetwork(n);
        } catch (err) {
          skip(`network ${n.name}`, err);
        }
      }
      for (const b of world.bases ?? []) {
        try {
          this.storage.volumes.loadBase(b.name, b.bytes);
        } catch (err) {
          skip(`base image ${b.name}`, err);
        }
      }
      for (const v of world.volumes ?? []) {
        try {
          this.storage.volumes.load(v.volume, v.blocks);
        } catch (err) {
          skip(`volume ${v.volume.name}`, err);
        }
      }
      for (const v of world.vms) {
        try {
          this.createVm(v);
          vms++;
        } catch (err) {
          skip(`VM ${v.name}`, err);
        }
      }
      for (const sn of world.snapshots) {
        try {
          this.importSnapshot(sn.file, sn.vm);
          snapshots++;
          if (sn.name === SUSPENDED_SNAPSHOT) suspended.push(sn.vm);
        } catch (err) {
          skip(`snapshot ${sn.name} of ${sn.vm}`, err);
        }
      }
    } finally {
      this.restoring = false;
    }
    return { vms, snapshots, suspended };
  }

  /**
   * Save every running or paused guest as its snapshot "suspended" (replacing
   * an older one) and stop it: the next load offers to resume them
   * (resumeSuspended). Returns the VMs suspended.
   */
  async suspendAll(): Promise<string[]> {
    const done: string[] = [];
    for (const vm of [...this.vmsById.values()].filter((v) => v.state === 'running' || v.state === 'paused')) {
      await this.hibernate(vm.id);
      done.push(vm.name);
    }
    await this.persistChain;
    return done;
  }

  /**
   * Hibernate one guest: its whole state saved as its snapshot "suspended"
   * (zstd-compressed; kept in storage where the hypervisor has it, in memory
   * otherwise) and the VM stopped, its RAM back in the pool. wake() (or the
   * "Resume them" of a reload) starts it where it was.
   */
  async hibernate(id: string): Promise<void> {
    const vm = this.record(id);
    const old = this.snaps.list(vm.id).find((x) => x.name === SUSPENDED_SNAPSHOT);
    if (old) this.deleteSnapshot(old.id);
    await this.takeSnapshot(vm.id, SUSPENDED_SNAPSHOT);
    await this.stop(vm.id);
  }

  /** Start a hibernated guest from its snapshot "suspended", then drop the snapshot. */
  async wake(id: string): Promise<void> {
    const vm = this.record(id);
    const snap = this.snaps.list(vm.id).find((x) => x.name === SUSPENDED_SNAPSHOT);
    if (!snap) throw new HvError('not-found', `${vm.name} is not hibernated (it has no snapshot "${SUSPENDED_SNAPSHOT}")`, {});
    await this.revertSnapshot(snap.id);
    this.deleteSnapshot(snap.id);
  }

  /** Start every VM that has a "suspended" snapshot from it, then drop the snapshot. */
  async resumeSuspended(): Promise<string[]> {
    const done: string[] = [];
    for (const snap of this.snaps.list().filter((x) => x.name === SUSPENDED_SNAPSHOT)) {
      await this.wake(snap.vmId);
      done.push(snap.vm);
    }
    return done;
  }

  /** Whether storage keeps what is made here, how much it holds, and its last problem. */
  async storageInfo(): Promise<StorageInfo> {
    const p = this.env.persistence;
    if (!p) return { persistent: false, usedBytes: 0, quotaBytes: null, error: null };
    await this.persistChain;
    try {
      return { persistent: true, ...(await p.usage()), error: this.storageError };
    } catch (err) {
      return { persistent: true, usedBytes: 0, quotaBytes: null, error: storageProblem(err) };
    }
  }

  /** Write to storage in the order things happened; a failure is a fault naming what was not saved and why. */
  private persist(what: string, op: (p: Persistence) => Promise<void>): void {
    const p = this.env.persistence;
    if (!p || this.restoring) return;
    this.persistChain = this.persistChain.then(() =>
      op(p).then(
        () => {
          this.storageError = null;
        },
        (err: unknown) => {
          this.storageError = storageProblem(err);
          this.fault(null, `could not save ${what}: ${this.storageError}`);
        },
      ),
    );
  }

  private persistVm(vm: VmRecord): void {
    const saved = specOf(vm);
    this.persist(vm.name, (p) => p.putVm(saved));
  }

  private persistSnapshot(info: SnapshotInfo): void {
    const file = this.snaps.file(info.id);
    this.persist(`snapshot ${info.name} of ${info.vm}`, (p) => p.putSnapshot({ vm: info.vm, name: info.name, file }));
  }

  /** A running VM's switch port counters (and what its worker could not take); null when its NIC is on no network. */
  nicCounters(id: string): NicCounters | null {
    return this.nets.counters(this.record(id).id);
  }

  /** Capture a network's frames from now on (a ring of the last 10 000, 16 MiB at most). */
  startCapture(network: string): void {
    this.refusing('start capture', null, () => this.nets.startCapture(network));
  }

  stopCapture(network: string): void {
    this.refusing('stop capture', null, () => this.nets.stopCapture(network));
  }

  /** A network's capture: running or not, frames kept and let go, the last `n` as tcpdump-like lines; null before the first. */
  capture(network: string, n?: number) {
    return this.nets.capture(network, n);
  }

  /** A network's capture as a pcapng file that Wireshark and tshark open; `vm`: only the frames that entered or left by its port. */
  capturePcapng(network: string, vm?: string): Uint8Array {
    return this.nets.capturePcapng(network, vm);
  }

  /** A network's DHCP leases (address, MAC, VM, seconds left). */
  leases(network: string) {
    return this.nets.leases(network);
  }

  /** What the host's gateway, DHCP and DNS answered on a network, and the DHCP pool's exhaustion. */
  serviceCounters(network: string) {
    return this.nets.serviceCounters(network);
  }

  /** Networks, ports, leases, the MAC table and captures in one snapshot (the network view polls it). */
  networkView(frames?: number): NetworkView {
    return this.nets.view(frames);
  }

  /** The switch's learnt addresses (MAC, VLAN, port = VM id, age). */
  macTable() {
    return this.nets.macTable();
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

  /** Destroy every VM (commands in progress end as cancelled) and stop the scheduler. */
  async dispose(): Promise<void> {
    this.disposed = true;
    for (const a of this.accepting.values()) a.stop();
    this.accepting.clear();
    const vms = [...this.vmsById.values()];
    for (const vm of vms) vm.commands.cancelAll('dispose');
    this.templates.dispose();
    this.watchdog.dispose();
    await Promise.all(vms.map((vm) => this.teardown(vm)));
    await Promise.all(vms.map((vm) => vm.commands.idle()));
    await this.persistChain; // the last blocks the guests wrote
    this.vmsById.clear();
    this.cpu.dispose();
    this.nets.dispose();
    await this.standby?.dispose();
    this.listeners.clear();
    this.guestListeners.clear();
  }

  // --- internals ---

  /**
   * Queue a lifecycle command of a VM. A refusal is reported (a 'refusal'
   * event); a command cancelled by a later one is not a refusal: it is noted.
   */
  private lifecycle(
    id: string,
    action: string,
    options: { supersedes?: boolean; cancellable?: boolean },
    run: (vm: VmRecord, signal: AbortSignal) => Promise<void>,
  ): Promise<void> {
    let vm: VmRecord;
    try {
      vm = this.record(id);
    } catch (err) {
      return Promise.reject(this.refused(action, id, err));
    }
    return vm.commands.submit(action, (signal) => run(vm, signal), options).catch((err: unknown) => {
      const error = HvError.from(err);
      if (error.code !== 'cancelled') throw this.refused(action, id, error);
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: error.message });
      throw error;
    });
  }

  private async boot(vm: VmRecord, booting: VmState, signal: AbortSignal, snapshot?: Restore): Promise<void> {
    this.pool.reserve(vm.id, vm.memoryMiB, vm.name, 'start');
    this.rebalanceBalloons(`${vm.name} starts`);
    const generation = ++vm.generation;
    this.storage.booted(vm.id, this.diskIops);
    this.balloonPages.delete(vm.id);
    this.balloonStats.delete(vm.id);
    vm.lastOom = null;
    vm.ready = null;
    vm.reason = null;
    vm.bootMs = null;
    vm.bootedBy = null;
    vm.bootNote = null;
    vm.bootPhases = null;
    const clonePhases = { templateMs: 0, copyMs: 0 };
    this.setState(vm, booting);
    const t0 = this.timers.now();
    try {
      let guest: Guest | null = null;
      if (snapshot) {
        // The guest goes on from the snapshot with the identity it had then (no new one): its ready line is the snapshot's.
        guest = await this.spawn(vm, generation, signal, { state: snapshot.state(), clockMs: snapshot.clockMs }, false);
        guest.ready = snapshot.ready;
        vm.mac = snapshot.mac;
        vm.bootedBy = 'snapshot';
      } else if (vm.boot === 'clone' && (Object.keys(vm.volumes).length > 0 || vm.cdrom)) {
        // A template's kernel has no IDE driver and found no disks when it booted (IDE has no hot-plug).
        vm.bootNote = `${vm.name} has ${vm.cdrom && !Object.keys(vm.volumes).length ? 'a CD-ROM drive' : 'volumes attached'}, so it boots cold (a clone's kernel would not see its disks)`;
      } else if (vm.boot === 'clone') guest = await this.cloneBoot(vm, generation, signal, clonePhases);
      this.checkBoot(vm, generation, signal);
      guest ??= await this.spawn(vm, generation, signal);
      this.checkBoot(vm, generation, signal);
      vm.ready = guest.ready;
      vm.bootMs = this.timers.now() - t0;
      vm.bootedBy ??= 'cold';
      vm.bootPhases = phasesOf(guest, guest.boot?.restored ? clonePhases : { templateMs: 0, copyMs: 0 });
      if (vm.consoleSize) guest.resizeConsole(vm.consoleSize.cols, vm.consoleSize.rows);
      if (vm.balloonMiB !== null) await guest.setBalloon(balloonPages(vm.memoryMiB, vm.balloonMiB));
      this.setState(vm, transition(vm.state, 'booted', vm.name));
      this.watchdog.watch(vm.id, () => guest.ping());
    } catch (err) {
      if (signal.aborted) {
        // Cancelled by a later stop or destroy: release everything; that command sets the state.
        if (vm.generation === generation) await this.teardown(vm);
        throw signal.reason;
      }
      const error = HvError.from(err);
      // Still this boot (not crashed meanwhile): it failed to boot.
      if (vm.generation === generation) {
        await this.teardown(vm);
        vm.reason = error.message;
        this.setState(vm, transition(vm.state, 'crash', vm.name));
      }
      throw error;
    }
  }

  /** The MTU of a VM's NIC: its network's (v86 tells the guest's driver at boot), Ethernet's without one. */
  private nicMtu(vm: VmRecord): number {
    return (vm.network !== null ? this.nets.mtuOf(vm.network) : undefined) ?? ETH_MTU;
  }

  /** Throws when this boot was cancelled or its guest crashed meanwhile. */
  private checkBoot(vm: VmRecord, generation: number, signal: AbortSignal): void {
    signal.throwIfAborted();
    if (vm.generation !== generation) {
      throw new HvError('guest-crashed', `${vm.name} crashed while booting: ${vm.reason ?? 'its worker was lost'}`, { name: vm.name });
    }
  }

  /**
   * Get the templates these clones will need ready now (load the prebuilt
   * ones, or boot them), so that their start does not wait for it: a lab calls
   * this as soon as it has read its file. Failures show when a clone starts.
   */
  prepareTemplates(guests: { image?: string; memoryMiB: number; mtu?: number }[]): void {
    for (const g of guests) {
      let image: GuestImage;
      try {
        image = this.image(g.image);
      } catch {
        continue; // the clone's start reports an unknown image
      }
      void this.templates.get(image, g.memoryMiB, NIC, g.mtu ?? ETH_MTU).catch(() => {});
    }
  }

  /** Restore the template into a fresh worker; null (and a note) when that fails, so the caller boots cold. */
  private async cloneBoot(vm: VmRecord, generation: number, signal: AbortSignal, phases: { templateMs: number; copyMs: number }): Promise<Guest | null> {
    try {
      const t0 = performance.now();
      const template = await untilAborted(this.templates.get(vm.image, vm.memoryMiB, NIC, this.nicMtu(vm)), signal);
      this.checkBoot(vm, generation, signal);
      const t1 = performance.now();
      // Each clone gets its own copy: the buffer is transferred to its worker.
      const state = template.saved.state.slice(0);
      phases.templateMs = t1 - t0;
      phases.copyMs = performance.now() - t1;
      const guest = await this.spawn(vm, generation, signal, { state, clockMs: template.saved.clockMs });
      vm.bootedBy = 'clone';
      return guest;
    } catch (err) {
      if (signal.aborted || vm.generation !== generation) throw err;
      vm.guest = null;
      this.templates.discard(templateKey(vm.image, vm.memoryMiB, NIC, this.nicMtu(vm)));
      vm.bootNote = `cloning ${vm.name} from its template failed (${HvError.from(err).message}); booting it cold instead`;
      this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: vm.bootNote });
      return null;
    }
  }

  /** A guest for this VM under the scheduler: booted cold, or restored from state. */
  private spawn(vm: VmRecord, generation: number, signal: AbortSignal, state?: SavedState, newIdentity = true, startPaused = false): Promise<Guest> {
    const seed = randomHex(16);
    const identity = state && newIdentity ? { seed, mac: randomMac() } : null;
    if (identity) vm.mac = identity.mac;
    else if (!state) vm.mac = null;
    // One cell per start (a clone that falls back to a cold boot keeps it); teardown frees it.
    vm.cpuCell ??= this.cpuCells?.take() ?? null;
    const inbox: HandOffInbox = { key: `${this.cpuKey}:${vm.id}:${generation}`, cell: vm.cpuCell };
    return Guest.create(this.workers, {
      name: vm.name,
      memoryMiB: vm.memoryMiB,
      image: vm.image,
      wasm: this.env.wasm,
      scheduled: true,
      cpuInbox: inbox,
      ...(this.cpuCells ? { cpuCells: this.cpuCells.buffer } : {}),
      cpuPort: this.cpuChannelFor(vm.id, vm.resources, inbox),
      ...(vm.network ? { nicPort: this.nicChannelFor(vm.id, vm.network) } : {}),
      ...this.disksFor(vm),
      nic: NIC,
      nicMtu: this.nicMtu(vm),
      seed,
      readyTimeoutMs: vm.readyTimeoutMs,
      signal,
      admit: (s) => this.admission.acquire(s),
      ...(state ? { state } : {}),
      ...(startPaused ? { startPaused: true } : {}),
      ...(identity ? { identity } : {}),
      onSpawn: (g) => {
        vm.guest = g;
        for (const l of [...this.guestListeners]) {
          try {
            l(vm.id, g);
          } catch (err) {
            this.fault(vm.id, `a guest listener failed: ${err instanceof Error ? err.message : String(err)}`);
          }
        }
      },
      onEvent: (e) => {
        // Written blocks count even when they come from a boot being torn down (its last flush).
        if (e.type === 'disk-blocks') this.storage.written(e.volume, e.blocks);
        if (vm.generation !== generation || !vm.guest) return;
        if (e.type === 'boot-progress') this.emit({ type: 'boot-progress', at: this.timers.now(), vmId: vm.id, phase: e.phase, file: e.file, loaded: e.loaded, total: e.total });
        if (e.type === 'guest-crash') void this.crash(vm, generation, e.reason);
        if (e.type === 'disk-io') this.storage.reported(vm.id, e.counters);
        if (e.type === 'balloon') {
          this.balloonPages.set(vm.id, e.actualPages);
          if (e.stats) this.balloonStats.set(vm.id, guestMemoryOf(e.stats));
        }
        if (e.type === 'guest-oom') {
          const balloon = vm.balloonMiB === null ? '' : ` (its balloon leaves it ${vm.balloonMiB} of its ${vm.memoryMiB} MiB)`;
          vm.lastOom = { at: this.timers.now(), pid: e.pid, process: e.process };
          this.emit({ type: 'vm-note', at: this.timers.now(), vmId: vm.id, name: vm.name, message: `${vm.name} ran out of memory${balloon}: its kernel killed ${e.process} (pid ${e.pid})` });
          this.emit({ type: 'vm-resources', at: this.timers.now(), vmId: vm.id, name: vm.name, resources: { ...vm.resources } });
        }
      },
    });
  }

  /** A new CPU channel for a guest (its scheduler id): one end is registered with the scheduler, the other goes to the guest's worker. */
  private cpuChannelFor(cpuId: string, resources: VmResourcesInput, inbox: HandOffInbox): MessagePort {
    const channel = new MessageChannel();
    this.cpu.register(cpuId, channel.port2, resources, inbox);
    return channel.port1;
  }

  /** A new NIC channel for a VM's boot: one end wired to its switch port, the other goes to its worker. */
  private nicChannelFor(vmId: string, network: string): MessagePort {
    const channel = new MessageChannel();
    const vm = this.vmsById.get(vmId);
    this.nets.connect(vmId, network, channel.port2, vm?.nicLimit ?? null, vm?.trunk ?? []);
    return channel.port1;
  }

  /**
   * A template's guest (TemplateHost): booted under the scheduler with the
   * default weight, its RAM shown as the host's own reservation until release().
   */
  private async bootTemplate(image: GuestImage, key: TemplateKey, signal: AbortSignal): Promise<{ guest: Guest; release: () => Promise<void> }> {
    const slot = templateSlot(key);
    const cpuId = `template:${slot}`;
    this.hostHeld.set(cpuId, { id: cpuId, label: `template ${slot}`, mib: key.memoryMiB });
    const cell = this.cpuCells?.take() ?? null;
    const inbox: HandOffInbox = { key: `${this.cpuKey}:${cpuId}:${randomHex(4)}`, cell };
    let guest: Guest | null = null;
    const release = async (): Promise<void> => {
      this.cpu.unregister(cpuId);
      if (cell !== null) this.cpuCells?.release(cell);
      this.hostHeld.delete(cpuId);
      await guest?.destroy();
    };
    try {
      guest = await Guest.create(this.workers, {
        name: 'template',
        template: true,
        memoryMiB: key.memoryMiB,
        image,
        wasm: this.env.wasm,
        nic: key.nic,
        ...(key.mtu !== undefined ? { nicMtu: key.mtu } : {}),
        scheduled: true,
        cpuInbox: inbox,
        ...(this.cpuCells ? { cpuCells: this.cpuCells.buffer } : {}),
        cpuPort: this.cpuChannelFor(cpuId, {}, inbox),
        signal,
        admit: (s) => this.admission.acquire(s),
        onSpawn: (g) => {
          guest = g;
        },
      });
      return { guest, release };
    } catch (err) {
      await release();
      throw err;
    }
  }

  /** A grant whose slice report never came: logged, and its worker asked whether it still answers. */
  private onVoided(v: VoidedGrant): void {
    const vm = this.vmsById.get(v.vmId);
    this.fault(vm ? vm.id : null, `grant ${v.grantId} of ${vm?.name ?? v.vmId} had no slice report ${Math.round(v.lateMs)} ms after its end: voided, pCPU ${v.pcpu} freed`);
    if (vm) this.watchdog.check(vm.id);
  }

  private async crash(vm: VmRecord, generation: number, reason: string): Promise<void> {
    if (vm.generation !== generation || !['booting', 'running', 'paused'].includes(vm.state)) return;
    vm.reason = reason;
    this.setState(vm, transition(vm.state, 'crash', vm.name));
    await this.teardown(vm);
  }

  /**
   * The VM leaves this host (destroyed, moved away, or a migration that did
   * not arrive): its worker, CPU, RAM, switch port and snapshots go, and its
   * stored record too unless `stored` is null (what the deletion is called).
   */
  private async removeHere(vm: VmRecord, state: VmState, stored: string | null): Promise<void> {
    await this.teardown(vm);
    this.nets.forgetPort(vm.id);
    this.snaps.removeVm(vm.id);
    this.storage.volumes.detachFrom(vm.name);
    this.storage.forget(vm.id);
    if (stored !== null) this.persist(stored, (p) => p.deleteVm(vm.name));
    this.vmsById.delete(vm.id);
    this.setState(vm, state);
  }

  /** Release the worker, the CPU and (unless kept for a restart) the RAM of a VM. Idempotent. */
  private async teardown(vm: VmRecord, options: { keepMemory?: boolean } = {}): Promise<void> {
    vm.generation++;
    this.watchdog.unwatch(vm.id);
    this.cpu.unregister(vm.id);
    this.nets.disconnect(vm.id);
    if (vm.cpuCell !== null) this.cpuCells?.release(vm.cpuCell);
    vm.cpuCell = null;
    if (!options.keepMemory && this.pool.reservationOf(vm.id) !== undefined) {
      this.pool.release(vm.id);
      this.rebalanceBalloons(`${vm.name} released its RAM`);
    }
    const guest = vm.guest;
    // Blocks written and not yet sent reach the volume before the worker goes (a dead worker has nothing to send).
    if (guest && !guest.isDestroyed && Object.keys(vm.volumes).length > 0) await this.flushGuest(guest);
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

  /** Every subscriber hears every event; one that throws is reported (a 'fault') and the others go on. */
  private emit(e: HvEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch (err) {
        const message = `a subscriber failed on a ${e.type} event: ${err instanceof Error ? err.message : String(err)}`;
        console.error(message, err);
        // A subscriber that fails on faults too is not told again (no loop).
        if (e.type !== 'fault') this.fault('vmId' in e ? e.vmId : null, message);
      }
    }
  }

  private fault(vmId: string | null, message: string): void {
    if (this.disposed) return;
    const f = { at: this.timers.now(), vmId, message };
    this.faultLog.push(f);
    if (this.faultLog.length > FAULT_LIMIT) this.faultLog.shift();
    this.emit({ type: 'fault', ...f });
  }

  /** A VM by id, or by name (what people and lab files write). */
  private recordNamed(ref: string): VmRecord {
    const vm = this.vmsById.get(ref) ?? [...this.vmsById.values()].find((v) => v.name === ref);
    if (!vm) throw new HvError('not-found', `there is no VM named ${ref}`, { vm: ref });
    return vm;
  }

  private record(id: string): VmRecord {
    const vm = this.vmsById.get(id);
    if (!vm) throw new HvError('not-found', `there is no VM with id ${id}`, { id });
    return vm;
  }

  private image(id?: string): GuestImage {
    return imageById(this.env.images, id);
  }

  private allReservations(): { vmId: string; reservationPct: number | null }[] {
    return [...this.vmsById.values()].map((v) => ({ vmId: v.name, reservationPct: v.resources.reservationPct }));
  }

  private refusing<T>(action: string, vmId: string | null, fn: () => T): T {
    try {
      return fn();
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
  const { id, name, state, memoryMiB, image, resources, ready, reason, bootMs, boot, bootedBy, bootNote, bootPhases, network, nicLimit, ip, trunk, volumes, io, cdrom, balloonMiB, lastOom } = vm;
  return {
    id,
    name,
    state,
    memoryMiB,
    image,
    resources: { ...resources },
    ready,
    reason,
    bootMs,
    boot,
    bootedBy,
    bootNote,
    bootPhases,
    network,
    nicLimit: nicLimit ? { ...nicLimit } : null,
    ip,
    trunk: [...trunk],
    volumes: { ...volumes },
    io: { ...io },
    cdrom,
    balloonMiB,
    lastOom: lastOom ? { ...lastOom } : null,
  };
}

/** A ready guest's start, by phase (see BootPhases). */
function phasesOf(guest: Guest, clone: { templateMs: number; copyMs: number }): BootPhases | null {
  const s = guest.startup;
  const p = guest.boot?.phases;
  if (!s || !p) return null;
  const inWorker = p.filesMs + p.constructMs + p.restoreMs + p.runMs;
  return { ...clone, workerMs: s.workerMs, ...p, transferMs: Math.max(0, s.bootCallMs - inWorker), readyMs: s.readyMs };
}

/** Waits for p, or rejects with the signal's reason once it is aborted. */
function untilAborted<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

/** n random bytes as hex. */
function randomHex(n: number): string {
  return Array.from(crypto.getRandomValues(new Uint8Array(n)), (b) => b.toString(16).padStart(2, '0')).join('');
}

/** A random locally administered, unicast MAC address (first byte's low bits 10). */
/** What a VM is made from again (storage, a migration's target): its spec as it is now. */
function specOf(vm: VmRecord): SavedVm {
  return {
    name: vm.name,
    memoryMiB: vm.memoryMiB,
    image: vm.image.id,
    weight: vm.resources.weight,
    capPct: vm.resources.capPct,
    reservationPct: vm.resources.reservationPct,
    boot: vm.boot,
    readyTimeoutMs: vm.readyTimeoutMs,
    network: vm.network,
    nicLimit: vm.nicLimit,
    trunk: [...vm.trunk],
    volumes: { ...vm.volumes },
    io: { ...vm.io },
    cdrom: vm.cdrom,
    balloonMiB: vm.balloonMiB,
  };
}

/** The image files a snapshot's state was made from (its header's `image`; the same hashes key the templates). */
function snapshotImage(image: GuestImage): SnapshotHeader['image'] {
  return { id: image.id, kernelSha256: image.kernel.sha256, initrdSha256: image.initrd.sha256, biosSha256: image.bios.sha256 };
}

function randomMac(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(6));
  bytes[0] = (bytes[0]! & 0xfc) | 0x02;
  return Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join(':');
}

/** The host's settings from the scheduler's config and the pool. */
function hostSettings(config: SchedulerConfig, pool: MemoryPool, diskIops: number | null): HostSettings {
  return { pcpus: config.pcpus, periodMs: config.periodMs, sliceMs: config.sliceMs, handOff: config.handOff, memoryMiB: pool.totalMiB, overcommit: pool.overcommit, diskIops };
}

function memoryView(pool: MemoryPool, held: HostReservation[]): MemoryView {
  const host = held.map((r) => ({ ...r }));
  return {
    totalMiB: pool.totalMiB,
    reservedMiB: pool.reservedMiB,
    freeMiB: pool.freeMiB,
    overcommit: pool.overcommit,
    overcommitRatio: pool.overcommitRatio,
    hostMiB: host.reduce((sum, r) => sum + r.mib, 0),
    host,
  };
}

/**
 * The settings and pool a new Hypervisor built with these settings reports
 * (the page shows them until the hypervisor's worker answers); throws as the
 * constructor would on bad ones.
 */
export function initialHost(settings: Partial<HostSettings> & Pick<HostSettings, 'pcpus' | 'memoryMiB'>): { settings: HostSettings; memory: MemoryView } {
  const config = normalizeConfig({ pcpus: settings.pcpus, periodMs: settings.periodMs, sliceMs: settings.sliceMs, handOff: settings.handOff });
  const pool = new MemoryPool({ totalMiB: settings.memoryMiB, overcommit: settings.overcommit ?? false });
  return { settings: hostSettings(config, pool, checkDiskIops(settings.diskIops ?? null)), memory: memoryView(pool, []) };
}

/** A guest state to boot from, with the identity it had (a snapshot's, or a compaction's). */
interface Restore {
  /** The state's buffer (a fresh one each call: it is transferred to the worker). */
  state: () => ArrayBuffer;
  clockMs: number;
  ready: ReadyInfo | null;
  mac: string | null;
}

function restoreOf(snap: { header: SnapshotHeader; payload: Uint8Array }): Restore {
  return { state: () => snap.payload.slice().buffer, clockMs: snap.header.clockMs, ready: snap.header.ready, mac: snap.header.mac };
}

/** A guest runs in the state (or boots): its disks are in use and its hardware is fixed. */
function hasGuest(state: VmState): boolean {
  return holdsMemory(state) || state === 'booting';
}

/** A guest's balloon statistics in MiB (faults and swap as counts). */
function guestMemoryOf(s: BalloonStats): { totalMiB: number; freeMiB: number; availableMiB: number; majorFaults: number; swapIn: number; swapOut: number } {
  const mib = (bytes: number): number => bytes / 2 ** 20;
  return { totalMiB: mib(s.memTotal), freeMiB: mib(s.memFree), availableMiB: mib(s.memAvailable), majorFaults: s.majorFaults, swapIn: s.swapIn, swapOut: s.swapOut };
}

/** A guest under this share of a pCPU (last 5 s) is idle to the overcommit policy, which balloons idle guests first. */
const IDLE_SHARE_PCT = 5;

/** Pages a balloon takes so that a guest of `memoryMiB` keeps `targetMiB` (null: none). */
function balloonPages(memoryMiB: number, targetMiB: number | null): number {
  return targetMiB === null ? 0 : (memoryMiB - targetMiB) * 256;
}

/** The host disk's capacity: requests/s above 0, or null (unlimited). */
function checkDiskIops(value: unknown): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0 || value > 1_000_000) {
    throw new HvError('invalid-argument', `a host disk capacity of ${String(value)} requests/s is not valid: use a number above 0 and at most 1000000, or none`, { value });
  }
  return value;
}

/** A NIC limit as the switch takes it: a positive rate and a burst of at least one full frame. */
function checkRateLimit(limit: RateLimit, vm: string): RateLimit {
  const { rateKbps, burstKb } = limit;
  if (!(typeof rateKbps === 'number' && rateKbps > 0 && Number.isFinite(rateKbps))) {
    throw new HvError('invalid-argument', `${vm}'s NIC limit: a rate of ${String(rateKbps)} kbit/s is not valid (a positive number)`, { rateKbps });
  }
  if (!(typeof burstKb === 'number' && burstKb >= 12.2 && Number.isFinite(burstKb))) {
    throw new HvError('invalid-argument', `${vm}'s NIC limit: a burst of ${String(burstKb)} kbit is not valid: at least 12.2 kbit (one full frame)`, { burstKb });
  }
  return { rateKbps, burstKb };
}
