// The CPU channel: a MessagePort between a guest worker and the CPU scheduler
// (which runs in a worker of its own in the browser). The scheduler's
// decisions go down it and the guest's CPU reports come up it, so neither
// waits for the page's main thread. Types only.
import type { GuestEvent, HandOffTarget } from './guest-api.ts';

/** What the scheduler tells a guest worker (GuestApi.grant, preempt, queue, handOff). */
export type CpuCommand =
  | { op: 'grant'; grantId: number; ms: number }
  | { op: 'preempt'; grantId: number }
  | { op: 'queue'; grantId: number; ms: number }
  | { op: 'handOff'; grantId: number; nextGrantId: number; to: HandOffTarget };

/** The guest events that belong to the scheduler. */
export type CpuReport = Extract<GuestEvent, { type: 'cpu-slice-end' | 'cpu-wake' | 'cpu-usage' }>;

/** The part of a MessagePort both ends use (browser MessagePort and Node's worker_threads one alike). */
export interface CpuPortLike {
  postMessage(message: unknown): void;
  addEventListener(type: 'message', listener: (event: { data: unknown }) => void): void;
  start?(): void;
  close(): void;
}

export function isCpuReport(e: GuestEvent): e is CpuReport {
  return e.type === 'cpu-slice-end' || e.type === 'cpu-wake' || e.type === 'cpu-usage';
}
