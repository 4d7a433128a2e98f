// How one guest worker hands the pCPU to the others and takes it from them:
// a MessagePort to each worker it hands over to, and one from each worker
// that hands over to it (the CPU service links two workers before their first
// hand-over), and, where memory can be shared, the hypervisor's array of
// hand-over cells (one Int32 per guest worker).
//
// A hand-over carries the queued grant (its id and length) on the port to the
// successor's worker, which wakes it, and writes the id into the successor's
// cell, where it may be polling. Only the successor's thread wakes: every
// wake of a parked worker takes a core from a running guest on a busy host.
// (BroadcastChannel inboxes woke, with each hand-over, every worker that had
// ever handed over to the same successor: a channel's senders listen on its
// name too.) A thread that sleeps ~10 ms between slices took 0.1-0.5 ms to
// wake for the message (measured here), so the worker before it gives notice
// ahead of its slice's likely last tick, and the successor stays awake for at
// most AWAIT_MS, turn after turn of its event loop (which lets messages in),
// reading its cell: it starts ~0.03 ms after the hand-over. Like a
// hypervisor's halt polling, that spends a spare core; the host asks for
// notice only while it has one (HandOffTarget.notice).
import type { CpuPortLike } from '../src/protocol/cpu-port.ts';
import type { HandOffTarget } from '../src/protocol/guest-api.ts';
import { remember, type GateState } from './tick-gate.ts';

/** Queued successors whose route is kept (the oldest is dropped first). */
const MAX_ROUTES = 16;
/** How long a worker given notice of a hand-over stays awake for it (a slice's last tick is 1-2 ms). */
export const AWAIT_MS = 3;

/** What the link needs of the worker's tick gate. */
export interface HandOffGate {
  readonly state: GateState;
  isQueued(grantId: number): boolean;
  queue(grantId: number, ms: number): void;
  onHandOff(grantId: number, ms?: number): void;
}

/** A message between linked workers: a hand-over of a grant, or notice of one. */
type LinkMessage = { grant: number; ms: number } | { notice: number; ms: number };

/** Runs fn in a later turn of this thread's event loop, after pending messages. */
const nextTurn: (fn: () => void) => void = (() => {
  if (typeof setImmediate === 'function') return (fn: () => void) => void setImmediate(fn);
  // Browsers: a message to itself (setTimeout(0) would wait ~4 ms after a few turns).
  const channel = new MessageChannel();
  const queue: (() => void)[] = [];
  channel.port1.onmessage = () => queue.shift()?.();
  return (fn: () => void) => {
    queue.push(fn);
    channel.port2.postMessage(0);
  };
})();

export class HandOffLink {
  /** Ports to the workers this one hands over to, by their HandOffInbox key. */
  private readonly outgoing = new Map<string, CpuPortLike>();
  private readonly incoming: CpuPortLike[] = [];
  /** Queued successors (next grant id -> its length and its worker), from the host's handOff. */
  private readonly routes = new Map<number, { ms: number; to: HandOffTarget }>();
  private readonly cells: Int32Array | null;
  private awaiting = false;

  constructor(
    /** This worker's cell in `cells`, or null. */
    private readonly ownCell: number | null,
    cells: SharedArrayBuffer | undefined,
    private readonly gate: () => HandOffGate | null,
    /** A monotonic clock in ms. */
    private readonly now: () => number,
  ) {
    this.cells = cells && ownCell !== null ? new Int32Array(cells) : null;
    if (this.cells && ownCell !== null) Atomics.store(this.cells, ownCell, 0);
  }

  /** True while it stays awake for a hand-over. */
  get isAwaiting(): boolean {
    return this.awaiting;
  }

  /** Another worker hands over to this one on `port`. */
  accept(port: CpuPortLike): void {
    this.incoming.push(port);
    port.addEventListener('message', ({ data }) => this.onMessage(data));
    port.start?.();
  }

  /** Queued grant nextGrantId, of ms, runs in the worker at `to`; `port` (if given) is the new link to that worker. */
  route(nextGrantId: number, ms: number, to: HandOffTarget, port?: CpuPortLike): void {
    if (port) {
      this.outgoing.get(to.key)?.close();
      this.outgoing.set(to.key, port);
    }
    // Routes of hand-overs that never happen (withdrawn grants) must not pile up.
    remember(this.routes, nextGrantId, { ms, to }, MAX_ROUTES);
  }

  /** The worker at `key` is gone: close the port to it. */
  unlink(key: string): void {
    this.outgoing.get(key)?.close();
    this.outgoing.delete(key);
  }

  /** Hands the pCPU to queued grant grantId's worker. */
  passOn(grantId: number): void {
    const r = this.routes.get(grantId);
    // Ids only grow: routes up to this one are used or void.
    for (const id of this.routes.keys()) if (id <= grantId) this.routes.delete(id);
    if (r === undefined) return;
    if (this.cells && r.to.cell !== null) Atomics.store(this.cells, r.to.cell, grantId);
    this.post(r.to.key, { grant: grantId, ms: r.ms });
  }

  /** The slice handed to grantId is about one tick from its end: its worker may stay awake for it. */
  giveNotice(grantId: number): void {
    const r = this.routes.get(grantId);
    if (r?.to.notice) this.post(r.to.key, { notice: grantId, ms: r.ms });
  }

  /** Stays awake until queued grant grantId starts or AWAIT_MS pass, taking a hand-over from its cell. */
  awaitHandOff(grantId: number): void {
    if (this.awaiting || !this.gate()?.isQueued(grantId)) return;
    this.awaiting = true;
    const until = this.now() + AWAIT_MS;
    const poll = (): void => {
      const gate = this.gate();
      const handed = this.cells && this.ownCell !== null ? Atomics.exchange(this.cells, this.ownCell, 0) : 0;
      if (handed !== 0) gate?.onHandOff(handed);
      if (!gate || gate.state !== 'waiting' || !gate.isQueued(grantId) || this.now() > until) {
        this.awaiting = false;
        return;
      }
      nextTurn(poll);
    };
    poll();
  }

  close(): void {
    for (const port of [...this.incoming, ...this.outgoing.values()]) port.close();
    this.incoming.length = 0;
    this.outgoing.clear();
  }

  private onMessage(data: unknown): void {
    const m = data as Partial<{ grant: number; notice: number; ms: number }>;
    if (typeof m !== 'object' || m === null || typeof m.ms !== 'number') return;
    if (typeof m.grant === 'number') this.gate()?.onHandOff(m.grant, m.ms);
    else if (typeof m.notice === 'number') {
      this.gate()?.queue(m.notice, m.ms);
      this.awaitHandOff(m.notice);
    }
  }

  private post(key: string, message: LinkMessage): void {
    this.outgoing.get(key)?.postMessage(message);
  }
}
