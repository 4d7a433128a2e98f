// The CPU scheduler as a service: the CpuLoop (scheduler, clock, accounting)
// with every guest reached over its own CPU channel (a MessagePort; see
// src/protocol/cpu-port.ts). In the browser it runs in a worker of its own
// (workers/cpu.worker.ts), so that neither a busy page nor a background
// tab's throttled timers delay what it decides; in Node it runs in the host
// thread, over the same ports. The hypervisor registers a guest's channel
// before its boot; the guest's first cpu-wake puts it under the scheduler.
// Guest workers hand the pCPU to each other over ports of their own: before
// the first hand-over from one worker to another, the service makes a
// MessageChannel and gives one end to each.
import type { ClosedPeriod, SchedulerConfigInput, SchedulerView, VmResourcesInput, VoidedGrant } from '../../core/scheduler-types.ts';
import type { HandOffInbox } from '../../protocol/guest-api.ts';
import type { CpuCommand, CpuPortLike, CpuReport } from '../../protocol/cpu-port.ts';
import { CpuLoop } from '../cpu-loop.ts';
import { realTimers, type HostTimers } from '../timers.ts';

/** What the service tells the hypervisor: closed periods (with the scheduler's picture after them), voided grants. */
export interface CpuServiceEvents {
  periods(periods: ClosedPeriod[], view: SchedulerView): void;
  voided(voided: VoidedGrant): void;
}

/** What the hypervisor asks of the CPU scheduler (in this thread, or in its worker through comlink). */
export interface CpuControl {
  register(vmId: string, port: CpuPortLike, resources: VmResourcesInput, inbox: HandOffInbox): void;
  unregister(vmId: string): void;
  setPaused(vmId: string, paused: boolean): void;
  setResources(vmId: string, resources: VmResourcesInput): void;
  setConfig(config: Partial<SchedulerConfigInput>): void;
  dispose(): void;
}

/** Where the hypervisor gets its CPU scheduler: in this thread (localCpuService) or in a worker (browserCpuService). */
export type CpuServiceFactory = (options: CpuServiceOptions, events: CpuServiceEvents) => CpuControl;

/** The scheduler in the host's own thread, on the host's timers (Node: tests, benches, the lab prover). */
export function localCpuService(timers: HostTimers = realTimers): CpuServiceFactory {
  return (options, events) => new CpuService(options, events, timers);
}

export interface CpuServiceOptions {
  config: SchedulerConfigInput;
  /** Threads the machine runs at once (see CpuLoop's notices). */
  hostCores: number;
}

interface Registered {
  port: CpuPortLike;
  resources: VmResourcesInput;
  inbox: HandOffInbox;
  paused: boolean;
  attached: boolean;
  /** Keys of the workers this one has a port to (it hands over to them). */
  links: Set<string>;
}

export class CpuService implements CpuControl {
  private readonly loop: CpuLoop;
  private readonly guests = new Map<string, Registered>();
  /** The same registrations by their inbox key. */
  private readonly byKey = new Map<string, Registered>();

  constructor(
    options: CpuServiceOptions,
    private readonly events: CpuServiceEvents,
    timers: HostTimers = realTimers,
  ) {
    this.loop = new CpuLoop(
      options.config,
      timers,
      (period) => this.events.periods([period], this.loop.scheduler.view()),
      options.hostCores,
      (voided) => this.events.voided(voided),
    );
  }

  register(vmId: string, port: CpuPortLike, resources: VmResourcesInput, inbox: HandOffInbox): void {
    this.unregister(vmId);
    const g: Registered = { port, resources, inbox, paused: false, attached: false, links: new Set() };
    this.guests.set(vmId, g);
    this.byKey.set(inbox.key, g);
    port.addEventListener('message', ({ data }) => {
      if (this.guests.get(vmId) === g) this.onReport(vmId, g, data as CpuReport);
    });
    port.start?.();
  }

  unregister(vmId: string): void {
    const g = this.guests.get(vmId);
    if (!g) return;
    this.guests.delete(vmId);
    this.byKey.delete(g.inbox.key);
    if (g.attached) this.loop.detach(vmId);
    g.port.close();
    const gone: CpuCommand = { op: 'unlink', key: g.inbox.key };
    for (const other of this.guests.values()) if (other.links.delete(g.inbox.key)) other.port.postMessage(gone);
  }

  setPaused(vmId: string, paused: boolean): void {
    const g = this.guests.get(vmId);
    if (!g) return;
    g.paused = paused;
    if (g.attached) this.loop.setPaused(vmId, paused);
  }

  setResources(vmId: string, resources: VmResourcesInput): void {
    const g = this.guests.get(vmId);
    if (!g) return;
    g.resources = resources;
    if (g.attached) this.loop.setResources(vmId, resources);
  }

  setConfig(config: Partial<SchedulerConfigInput>): void {
    this.loop.setConfig(config);
  }

  /** The scheduler's live picture (the hypervisor also gets one with every period). */
  view(): SchedulerView {
    return this.loop.scheduler.view();
  }

  dispose(): void {
    for (const id of [...this.guests.keys()]) this.unregister(id);
    this.loop.dispose();
  }

  private onReport(vmId: string, g: Registered, e: CpuReport): void {
    if (!g.attached) {
      // The first wake says the emulator is ready to execute: put it under the scheduler.
      if (e.type !== 'cpu-wake') return;
      g.attached = true;
      const send = (c: CpuCommand, transfer: unknown[] = []): void => g.port.postMessage(c, transfer);
      this.loop.attach(
        vmId,
        {
          grant: (grantId, ms) => send({ op: 'grant', grantId, ms }),
          preempt: (grantId) => send({ op: 'preempt', grantId }),
          queue: (grantId, ms) => send({ op: 'queue', grantId, ms }),
          handOff: (grantId, nextGrantId, ms, to) => {
            const link = this.linkFor(g, to.key);
            send({ op: 'handOff', grantId, nextGrantId, ms, to, ...(link ? { link } : {}) }, link ? [link] : []);
          },
          inbox: g.inbox,
        },
        g.resources,
      );
      if (g.paused) this.loop.setPaused(vmId, true);
      return;
    }
    this.loop.onGuestEvent(vmId, e);
  }

  /** A new port from `from` to the worker at `key` (the other end goes to that worker), or none when it has one or needs none. */
  private linkFor(from: Registered, key: string): CpuPortLike | undefined {
    const to = this.byKey.get(key);
    if (!to || to === from || from.links.has(key)) return undefined;
    const channel = new MessageChannel();
    const c: CpuCommand = { op: 'link', port: channel.port2 };
    to.port.postMessage(c, [channel.port2]);
    from.links.add(key);
    return channel.port1;
  }
}
