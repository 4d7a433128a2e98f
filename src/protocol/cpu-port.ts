// The CPU channel: a MessagePort between a guest worker and the CPU scheduler
// (which runs in a worker of its own in the browser). The scheduler's
// decisions go down it and the guest's CPU reports come up it, so neither
// waits for the page's main thread. Types only.
import type { GuestEvent, HandOffTarget } from './guest-api.ts';

/**
 * What the scheduler tells a guest worker (GuestApi.grant, preempt, queue,
 * handOff). A handOff to a worker this one has no port to yet brings one
 * (`link`, transferred), whose other end goes to that worker in a 'link'
 * command; 'unlink' closes the port to a worker whose boot ended.
 */
export type CpuCommand =
  | { op: 'grant'; grantId: number; ms: number }
  | { op: 'preempt'; grantId: number }
  | { op: 'queue'; grantId: number; ms: number }
  | { op: 'handOff'; grantId: number; nextGrantId: number; ms: number; to: HandOffTarget; link?: CpuPortLike }
  | { op: 'link'; port: CpuPortLike }
  | { op: 'unlink'; key: string };

/** The guest events that belong to the scheduler. */
export type CpuReport = Extract<GuestEvent, { type: 'cpu-slice-end' | 'cpu-wake' | 'cpu-usage' }>;

/** The part of a MessagePort both ends use (browser MessagePort and Node's worker_threads one alike). */
export interface CpuPortLike {
  /** transfer: ports that go with the message (CpuCommand 'link'). */
  postMessage(message: unknown, transfer?: unknown[]): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  start?(): void;
  close(): void;
}

export function isCpuReport(e: GuestEvent): e is CpuReport {
  return e.type === 'cpu-slice-end' || e.type === 'cpu-wake' || e.type === 'cpu-usage';
}
