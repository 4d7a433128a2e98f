// One lab running on a hypervisor (HostApi): sets the host up as the lab says, creates
// and starts its guests (clones by default), places their files and runs their
// set-up through each guest's agent, runs checks and solutions, and remembers
// what happened to the guests (for lifecycle checks). The page, `npm run
// lab:test` and the tests drive it the same way.
import { includesBytes } from '../../core/bytes.ts';
import { HvError } from '../../core/errors.ts';
import { CHECK_TIMEOUT_MS, judgeCapture, judgeCommand, judgeFact, judgeMemory, judgeMigration, judgeSnapshot, judgeVolume, judgeBalloon, type CheckResult, type LabEvent, type LabFacts } from '../../core/lab/checks.ts';
import { LAB_FIRST_HOST, type Lab, type LabContext, type LabGuest } from '../../core/lab/parse.ts';
import type { LabAction, LabCheck } from '../../core/lab/schema.ts';
import { initrdMemoryLimits } from '../../core/memory-size.ts';
import { cpuSettings } from '../../core/resources.ts';
import type { GuestImage } from '../../protocol/guest-api.ts';
import type { HostApi } from '../host-api.ts';
import type { HvEvent, VmInfo } from '../hypervisor.ts';
import { placeFileScript } from './place-file.ts';

/** Captured frames a capture check looks at (the newest). */
const CAPTURE_FRAMES = 5000;

/** Limits of this playground for labs: pCPUs and pool a lab may ask for. */
export const LAB_MAX_PCPUS = 8;
export const LAB_MAX_MEMORY_MIB = 4096;

/** What a lab may use with these images (the first is the default). */
export function labContext(images: readonly GuestImage[]): LabContext {
  return {
    images: images.map((im) => ({ id: im.id, ...initrdMemoryLimits(im.initrd.bytes) })),
    maxPcpus: LAB_MAX_PCPUS,
    maxMemoryMiB: LAB_MAX_MEMORY_MIB,
    defaultPcpus: 1,
    defaultMemoryMiB: 1024,
  };
}

/** The verdict on a whole step. */
export interface StepCheck {
  stepId: string;
  passed: boolean;
  results: CheckResult[];
  /** Host ms the check took. */
  ms: number;
}

export interface LabSessionOptions {
  /** Progress while the lab starts ("a: ready"), for a status line. */
  onStatus?: (message: string) => void;
  /** A guest that starts with the lab is ready (booted, files placed, set-up run). */
  onGuestReady?: (name: string) => void;
  /** Makes the lab's other hosts (its `hosts:`), each a hypervisor of its own. */
  makeHost?: (settings: { pcpus: number; memoryMiB: number }) => HostApi;
}

/** One host of a lab: its name (host1 is the lab's own), its hypervisor, the channel it takes migrations on. */
export interface LabHostHandle {
  name: string;
  hv: HostApi;
  channel: string;
}

export class LabSession {
  readonly events: LabEvent[] = [];
  private stepStartedAt: number;
  private labStartedAt: number;
  private readonly off: () => void;
  private disposed = false;
  /** The lab's other hosts, made on its first start and kept across resets. */
  private readonly others = new Map<string, { hv: HostApi; off: () => void }>();
  /** The downtime (ms) of each guest's last move, by name. */
  private readonly lastMove = new Map<string, number>();
  /** Distinct per session: another page's hosts never answer this lab's moves. */
  private readonly channelPrefix = `hv-lab-${Math.random().toString(36).slice(2, 10)}`;

  constructor(
    readonly hv: HostApi,
    readonly lab: Lab,
    private readonly options: LabSessionOptions = {},
  ) {
    this.labStartedAt = this.stepStartedAt = hv.now();
    this.off = hv.on((e) => {
      this.noteMove(e);
      if (e.type === 'vm-state') this.events.push({ at: e.at, vm: e.name, kind: 'state', state: e.state, previous: e.previous });
      else if (e.type === 'refusal' && e.vmId) {
        const name = this.nameOf(e.vmId);
        if (name) this.events.push({ at: e.at, vm: name, kind: 'refusal', message: e.error.message });
      }
      if (this.events.length > 1000) this.events.splice(0, this.events.length - 1000);
    });
  }

  /** Set the host up, create every guest and start the ones that start with the lab; resolves when they are ready. */
  async start(): Promise<void> {
    const { host } = this.lab;
    // Guests and networks of an earlier lab (or of the user) go first: the pool, the pCPUs and the switch are the lab's.
    await Promise.all(this.hv.vms().map((vm) => this.hv.destroy(vm.id).catch(() => {})));
    await this.startHosts();
    for (const n of (await this.hv.networkView(0)).networks) await this.hv.deleteNetwork(n.name);
    // So do volumes (the guests that had them are gone): the lab's start empty.
    for (const v of await this.hv.volumes()) await this.hv.deleteVolume(v.name);
    for (const v of this.lab.volumes) await this.hv.createVolume({ name: v.name, size: v.sizeMiB });
    for (const n of this.lab.networks) {
      await this.hv.createNetwork({
        name: n.name,
        ...(n.vlan !== undefined ? { vlan: n.vlan } : {}),
        ...(n.subnet !== undefined ? { subnet: n.subnet } : {}),
        ...(n.dhcp !== undefined ? { dhcp: n.dhcp } : {}),
        ...(n.dns !== undefined ? { dns: n.dns } : {}),
        ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
      });
      // Capture checks look at every frame since the lab began.
      await this.hv.startCapture(n.name);
    }
    await this.hv.setHost({
      pcpus: host.pcpus,
      memoryMiB: host.memoryMiB,
      overcommit: host.overcommit,
      ...(host.periodMs !== undefined ? { periodMs: host.periodMs } : {}),
      ...(host.sliceMs !== undefined ? { sliceMs: host.sliceMs } : {}),
      diskIops: host.diskIops ?? null,
    });
    for (const g of this.lab.guests) {
      await this.hv.createVm({
        name: g.name,
        memoryMiB: g.memoryMiB,
        image: g.image,
        boot: g.boot,
        ...(g.network !== undefined ? { network: g.network } : {}),
        ...(g.trunk.length ? { trunk: g.trunk } : {}),
        ...cpuSettings(g),
        ...(g.volumes.hda !== undefined ? { volumes: g.volumes } : {}),
        ...(g.io ? { io: g.io } : {}),
        ...(g.balloonMiB !== undefined ? { balloonMiB: g.balloonMiB } : {}),
      });
    }
    for (const m of this.lab.mirrors) {
      const from = 'guest' in m.from ? { vm: m.from.guest, ...(m.from.direction ? { direction: m.from.direction } : {}) } : { network: m.from.network };
      await this.hv.addMirror({ name: m.name, from, to: m.to });
    }
    this.labStartedAt = this.stepStartedAt = this.hv.now();
    await Promise.all(this.lab.guests.filter((g) => g.start).map((g) => this.startGuest(g)));
  }

  /** The lab's hosts: its own (host1) first, then the ones it declares. */
  hosts(): LabHostHandle[] {
    return [
      { name: LAB_FIRST_HOST, hv: this.hv, channel: `${this.channelPrefix}-${LAB_FIRST_HOST}` },
      ...[...this.others].map(([name, h]) => ({ name, hv: h.hv, channel: `${this.channelPrefix}-${name}` })),
    ];
  }

  // The other hosts, made once and emptied on a reset; every host takes migrations on its channel.
  private async startHosts(): Promise<void> {
    this.lastMove.clear();
    if (this.lab.hosts.length > 0 && !this.options.makeHost) throw new HvError('unsupported', 'this lab has more than one host, and this runner cannot make hosts', {});
    for (const spec of this.lab.hosts) {
      let h = this.others.get(spec.name);
      const settings = { pcpus: spec.pcpus ?? 1, memoryMiB: spec.memoryMiB ?? 1024 };
      if (!h) {
        const hv = this.options.makeHost!(settings);
        h = { hv, off: hv.on((e) => this.noteMove(e)) };
        this.others.set(spec.name, h);
      } else {
        await Promise.all(h.hv.vms().map((vm) => h!.hv.destroy(vm.id).catch(() => {})));
        await h.hv.setHost(settings);
      }
    }
    for (const h of this.hosts()) await h.hv.acceptMigrations(h.channel, 'cluster');
  }

  private noteMove(e: HvEvent): void {
    if (e.type === 'migration-end' && e.report) this.lastMove.set(e.name, e.report.downtimeMs);
  }

  /** Where a guest of the lab is now: its host and its VM there, or null. */
  private locate(name: string): { host: string; hv: HostApi; vm: VmInfo } | null {
    for (const h of this.hosts()) {
      const vm = h.hv.vms().find((v) => v.name === name);
      if (vm) return { host: h.name, hv: h.hv, vm };
    }
    return null;
  }

  /** Start one lab guest and prepare it (files, set-up commands). */
  private async startGuest(g: LabGuest): Promise<void> {
    const vm = this.vmNamed(g.name);
    this.say(`${g.name}: starting`);
    await this.hv.start(vm.id);
    if (this.disposed) return;
    const guest = this.hv.guest(vm.id)!;
    for (const f of g.files) {
      const r = await guest.agent(placeFileScript(f.path, f.content, f.mode), 20_000);
      if (r.status !== 0) throw new HvError('internal', `${g.name}: placing ${f.path} failed (exit status ${r.status}): ${r.output.trim()}`, {});
    }
    for (const command of g.setup) {
      const r = await guest.agent(command, 30_000);
      if (r.status !== 0) throw new HvError('internal', `${g.name}: set-up command "${command}" failed (exit status ${r.status}): ${r.output.trim()}`, {});
    }
    this.say(`${g.name}: ready`);
    this.options.onGuestReady?.(g.name);
  }

  /** The step the student works on now began (lifecycle checks count from here). */
  beginStep(): void {
    this.stepStartedAt = this.hv.now();
  }

  /** Run every check of step `index` (in parallel; one guest's commands in turn). */
  async check(index: number): Promise<StepCheck> {
    const step = this.lab.steps[index];
    if (!step) throw new HvError('invalid-argument', `the lab has no step ${index + 1}`, { index });
    const t0 = this.hv.now();
    const results = await Promise.all(step.checks.map((c) => this.runCheck(c)));
    return { stepId: step.id, passed: results.every((r) => r.passed), results, ms: this.hv.now() - t0 };
  }

  /** Run step `index`'s solution, action by action. */
  async solve(index: number): Promise<void> {
    const step = this.lab.steps[index];
    if (!step) throw new HvError('invalid-argument', `the lab has no step ${index + 1}`, { index });
    for (const action of step.solution ?? []) await this.act(action);
  }

  /** Destroy the lab's guests and start it again from its file. */
  async reset(): Promise<void> {
    this.events.length = 0;
    await this.start();
  }

  /**
   * Stop listening; the lab's guests stay with the hypervisor (its owner
   * disposes it); the lab's other hosts end, and the promise settles when
   * they have (their guests' workers gone).
   */
  dispose(): Promise<void> {
    this.disposed = true;
    this.off();
    const ending = [...this.others.values()].map((h) => {
      h.off();
      return Promise.resolve(h.hv.dispose()).catch(() => {});
    });
    this.others.clear();
    return Promise.all(ending).then(() => {});
  }

  private async runCheck(check: LabCheck): Promise<CheckResult> {
    if (check.type === 'command') {
      const guest = this.runningGuest(check.guest);
      if (typeof guest === 'string') return judgeCommand(check, { error: guest });
      const r = await guest.agent(check.command, check.timeoutMs ?? CHECK_TIMEOUT_MS).catch((err: unknown) => ({ error: HvError.from(err).message }));
      return judgeCommand(check, r);
    }
    if (check.type === 'memory') {
      const guest = this.runningGuest(check.guest);
      if (typeof guest === 'string') return judgeMemory(check, { error: guest });
      const r = await guest.searchMemory(check.contains, 16).then(
        (m) => ({ hits: m.hits.length }),
        (err: unknown) => ({ error: HvError.from(err).message }),
      );
      return judgeMemory(check, r);
    }
    if (check.type === 'capture') {
      const frames = await Promise.resolve(this.hv.networkView(CAPTURE_FRAMES)).then(
        (view) => view.networks.find((n) => n.name === check.network)?.capture?.list ?? { error: `network ${check.network} has no capture` },
        (err: unknown) => ({ error: HvError.from(err).message }),
      );
      return judgeCapture(check, frames);
    }
    if (check.type === 'balloon') {
      const found = await Promise.resolve(this.hv.memoryInfo(this.vmNamed(check.guest).id)).then(
        (m) => ({ keptMiB: m.keptMiB, guestTotalMiB: m.guest?.totalMiB ?? null }),
        (err: unknown) => ({ error: HvError.from(err).message }),
      );
      return judgeBalloon(check, found);
    }
    if (check.type === 'volume') {
      let found: Parameters<typeof judgeVolume>[1];
      try {
        const info = (await this.hv.volumes()).find((v) => v.name === check.volume);
        if (!info) throw new HvError('not-found', `there is no volume ${check.volume}`, {});
        const holds = check.contains === undefined ? null : includesBytes(await this.hv.downloadVolume(check.volume), new TextEncoder().encode(check.contains));
        found = { attachedTo: info.attachedTo?.vm ?? null, holds };
      } catch (err) {
        found = { error: HvError.from(err).message };
      }
      return judgeVolume(check, found);
    }
    if (check.type === 'migration') {
      const at = this.locate(check.guest);
      return judgeMigration(check, { on: at?.host ?? null, state: at?.vm.state ?? null, downtimeMs: this.lastMove.get(check.guest) ?? null });
    }
    if (check.type === 'snapshot') {
      let names: string[] | { error: string };
      try {
        names = (await this.hv.snapshots(this.vmNamed(check.guest).id)).map((s) => s.name);
      } catch (err) {
        names = { error: HvError.from(err).message };
      }
      return judgeSnapshot(check, names);
    }
    return judgeFact(check, this.facts());
  }

  private async act(action: LabAction): Promise<void> {
    switch (action.do) {
      case 'run': {
        const guest = this.runningGuest(action.guest);
        if (typeof guest === 'string') throw new HvError('illegal-state', guest, {});
        await guest.agent(action.command, action.timeoutMs ?? 30_000);
        return;
      }
      case 'type': {
        const guest = this.runningGuest(action.guest);
        if (typeof guest === 'string') throw new HvError('illegal-state', guest, {});
        guest.write(action.text.endsWith('\n') ? action.text : `${action.text}\n`);
        return;
      }
      case 'set': {
        const { do: _, guest, ...change } = action;
        await this.hv.setResources(this.vmNamed(guest).id, change);
        return;
      }
      case 'host': {
        const { do: _, ...change } = action;
        await this.hv.setHost(change);
        return;
      }
      case 'wait':
        await new Promise((r) => setTimeout(r, action.seconds * 1000));
        return;
      case 'migrate': {
        const at = this.locate(action.guest);
        if (!at) throw new HvError('not-found', `there is no guest named ${action.guest}`, {});
        const to = this.hosts().find((h) => h.name === action.to);
        if (!to) throw new HvError('not-found', `there is no host ${action.to}`, {});
        if (to.name === at.host) throw new HvError('illegal-state', `${action.guest} runs on ${at.host} already`, {});
        await at.hv.migrateVia(at.vm.id, to.channel);
        return;
      }
      case 'snapshot': {
        const id = this.vmNamed(action.guest).id;
        const old = (await this.hv.snapshots(id)).find((s) => s.name === action.name);
        if (old) await this.hv.deleteSnapshot(old.id);
        await this.hv.takeSnapshot(id, action.name);
        return;
      }
      case 'revert': {
        const id = this.vmNamed(action.guest).id;
        const snap = (await this.hv.snapshots(id)).find((s) => s.name === action.snapshot);
        if (!snap) throw new HvError('not-found', `${action.guest} has no snapshot named ${action.snapshot}`, {});
        await this.hv.revertSnapshot(snap.id);
        return;
      }
      case 'attach':
        await this.hv.attachVolume(this.vmNamed(action.guest).id, action.volume, action.slot ?? 'hda');
        return;
      case 'detach':
        await this.hv.detachVolume(this.vmNamed(action.guest).id, action.slot ?? 'hda');
        return;
      case 'balloon':
        await this.hv.setBalloon(this.vmNamed(action.guest).id, action.targetMiB);
        return;
      case 'hint':
        await this.hv.hintFreePages(this.vmNamed(action.guest).id);
        return;
      case 'clone-volume':
        await this.hv.cloneVolume(action.volume, action.name);
        return;
      case 'io': {
        const { do: _, guest, mbps, ...change } = action;
        await this.hv.setIoLimits(this.vmNamed(guest).id, { ...change, ...(mbps !== undefined ? { bytesPerSec: mbps === null ? null : mbps * 1e6 } : {}) });
        return;
      }
      default: {
        const at = this.locate(action.guest);
        if (!at) throw new HvError('not-found', `there is no guest named ${action.guest}`, { name: action.guest });
        // A refused command is part of what a solution may show (e.g. a pool that says no).
        await at.hv[action.do](at.vm.id).catch(() => {});
      }
    }
  }

  private facts(): LabFacts {
    const now = this.hv.now();
    const m = this.hv.memory;
    const s = this.hv.settings;
    return {
      now,
      stepStartedAt: this.stepStartedAt,
      labStartedAt: this.labStartedAt,
      vm: (name) => {
        const vm = this.locate(name)?.vm;
        return vm ? { state: vm.state, memoryMiB: vm.memoryMiB, ...vm.resources, iops: vm.io.iops } : null;
      },
      host: { pcpus: s.pcpus, memoryMiB: m.totalMiB, reservedMiB: m.reservedMiB, freeMiB: m.freeMiB, overcommit: m.overcommit },
      window: (name, ms) => {
        const at = this.locate(name);
        return at ? at.hv.history.summary(at.vm.id, at.hv.now() - ms) : null;
      },
      events: this.events,
    };
  }

  /** The guest handle of a running lab guest, or why there is none. */
  private runningGuest(name: string) {
    const at = this.locate(name);
    if (!at) return `there is no guest ${name}`;
    const { hv, vm } = at;
    const guest = hv.guest(vm.id);
    if (vm.state !== 'running' || !guest) return `${name} is ${vm.state}, not running`;
    return guest;
  }

  private vmNamed(name: string): VmInfo {
    const vm = this.hv.vms().find((v) => v.name === name);
    if (!vm) throw new HvError('not-found', `there is no guest named ${name}`, { name });
    return vm;
  }

  private nameOf(vmId: string): string | null {
    return this.hv.vms().find((v) => v.id === vmId)?.name ?? null;
  }

  private say(message: string): void {
    this.options.onStatus?.(message);
  }
}

