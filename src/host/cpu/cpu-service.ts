// The CPU scheduler as a service: the CpuLoop (scheduler, clock, accounting)
// with every guest reached over its own CPU channel (a MessagePort; see
// src/protocol/cpu-port.ts). In the browser it runs in a worker of its own
// (workers/cpu.worker.ts), so that neither a busy page nor a background
// tab's throttled timers delay what it decides; in Node it runs in the host
// thread, over the same ports. The hypervisor registers a guest's channel
// before its boot; the guest's first cpu-wake puts it under the scheduler.
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
}

export class CpuService implements CpuControl {
  private readonly loop: CpuLoop;
  private readonly guests = new Map<string, Registered>();

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
    const g: Registered = { port, resources, inbox, paused: false, attached: false };
    this.guests.set(vmId, g);
    port.addEventListener('message', ({ data }) => {
      if (this.guests.get(vmId) === g) this.onReport(vmId, g, data as CpuReport);
    });
    port.start?.();
  }

  unregister(vmId: string): void {
    const g = this.guests.get(vmId);
    if (!g) return;
    this.guests.delete(vmId);
    if (g.attached) this.loop.detach(vmId);
    g.port.close();
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
      const send = (c: CpuCommand): void => g.port.postMessage(c);
      this.loop.attach(
        vmId,
        {
          grant: (grantId, ms) => send({ op: 'grant', grantId, ms }),
          preempt: (grantId) => send({ op: 'preempt', grantId }),
          queue: (grantId, ms) => send({ op: 'queue', grantId, ms }),
          handOff: (grantId, nextGrantId, to) => send({ op: 'handOff', grantId, nextGrantId, to }),
          inbox: g.inbox,
        },
        g.resources,
      );
      if (g.paused) this.loop.setPaused(vmId, true);
      return;
    }
    this.loop.onGuestEvent(vmId, e);
  }
}
