// The receiving end of a live migration (Hypervisor.migrateTo): what the
// source host asks of the target host, in order. Hypervisor.incomingMigration
// implements it in the same thread; channel.ts carries it over any
// postMessage-like channel (a MessagePort, a BroadcastChannel between tabs),
// and another transport (e.g. WebRTC) only needs to carry the same five calls.
import type { ConsoleSize } from '../../core/console-size.ts';
import type { SavedState } from '../../protocol/guest-api.ts';
import type { ReadyInfo } from '../guest.ts';
import type { VmSpec } from '../hypervisor.ts';

export interface MigrationTarget {
  /** Make the VM (refused: a VM of that name, no room, no such network) and restore its worker from `start`, paused. */
  prepare(spec: VmSpec & { memoryMiB: number }, start: SavedState, extra: { ready: ReadyInfo | null; mac: string | null; consoleSize: ConsoleSize | null; mtu?: number }): Promise<void>;
  /** Write a round's pages into the paused guest. */
  write(pages: Uint32Array, data: Uint8Array): Promise<void>;
  /** Restore the CPU and device state over those pages and run the guest; its id on the target. */
  /** `stored`: the target keeps the VM's record in its persistent store (a host without one: false). */
  finish(final: SavedState, extra: { downtimeMs: number }): Promise<{ targetId: string; stored?: boolean }>;
  /** Keep one of the VM's snapshots (its file). */
  snapshot(file: Uint8Array): Promise<void>;
  /** Remove what prepare made (the migration failed or was cancelled). */
  abort(reason: string): Promise<void>;
}
