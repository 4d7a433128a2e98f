// How one guest worker hands the pCPU to the others and takes it from them:
// its inbox (a BroadcastChannel only it listens on), the other workers'
// inboxes it posts to, and, where memory can be shared, the hypervisor's
// array of hand-over cells (one Int32 per guest worker).
//
// A hand-over goes into the successor's cell, where it may be polling, and to
// its inbox, which wakes it if it is not. One channel for all woke every guest
// worker for each hand-over; on two cores the successor then waited for a
// core (measured, three guests on one pCPU: hand-over latency p90 1.4-3.4 ms
// broadcast, 0.6 ms directed). A thread that sleeps ~10 ms between slices took
// 0.1-0.5 ms to wake for the message (measured here), so the worker before it
// gives notice ahead of its slice's likely last tick, and the successor stays
// awake for at most AWAIT_MS, turn after turn of its event loop (which lets
// messages in), reading its cell: it starts ~0.03 ms after the hand-over.
// Like a hypervisor's halt polling, that spends a spare core; the host asks
// for notice only while it has one (HandOffTarget.notice).
import type { HandOffInbox, HandOffTarget } from '../src/protocol/guest-api.ts';
import { remember, type GateState } from './tick-gate.ts';

/** Other workers' inboxes kept open (the oldest is closed first). */
const MAX_OUTBOXES = 32;
/** Queued successors whose route is kept (the oldest is dropped first). */
const MAX_ROUTES = 16;
/** How long a worker given notice of a hand-over stays awake for it (a slice's last tick is 1-2 ms). */
export const AWAIT_MS = 3;

/** What the link needs of the worker's tick gate. */
export interface HandOffGate {
  readonly state: GateState;
  isQueued(grantId: number): boolean;
  onHandOff(grantId: number): void;
}

/** A message on an inbox: a hand-over (the grant id), or notice of one. */
type InboxMessage = number | { notice: number };

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
  private readonly inbox: BroadcastChannel | null;
  private readonly outboxes = new Map<string, BroadcastChannel>();
  /** Where each queued successor's worker listens (next grant id -> its inbox), from the host's handOff. */
  private readonly routes = new Map<number, HandOffTarget>();
  private readonly cells: Int32Array | null;
  private readonly ownCell: number | null;
  private awaiting = false;

  constructor(
    inbox: HandOffInbox | undefined,
    cells: SharedArrayBuffer | undefined,
    private readonly gate: () => HandOffGate | null,
    /** A monotonic clock in ms. */
    private readonly now: () => number,
  ) {
    this.inbox = inbox ? new BroadcastChannel(inbox.channel) : null;
    if (this.inbox) this.inbox.onmessage = (e: MessageEvent<unknown>) => this.onInbox(e.data);
    this.cells = inbox && cells && inbox.cell !== null ? new Int32Array(cells) : null;
    this.ownCell = this.cells ? inbox!.cell : null;
    if (this.cells && this.ownCell !== null) Atomics.store(this.cells, this.ownCell, 0);
  }

  /** True while it stays awake for a hand-over. */
  get isAwaiting(): boolean {
    return this.awaiting;
  }

  /** Queued grant nextGrantId runs in the worker at `to`. */
  route(nextGrantId: number, to: HandOffTarget): void {
    // Routes of hand-overs that never happen (withdrawn grants) must not pile up.
    remember(this.routes, nextGrantId, to, MAX_ROUTES);
  }

  /** Hands the pCPU to queued grant grantId's worker. */
  passOn(grantId: number): void {
    const to = this.routes.get(grantId);
    // Ids only grow: routes up to this one are used or void.
    for (const id of this.routes.keys()) if (id <= grantId) this.routes.delete(id);
    if (to === undefined) return;
    if (this.cells && to.cell !== null) Atomics.store(this.cells, to.cell, grantId);
    this.post(to.channel, grantId);
  }

  /** The slice handed to grantId is about one tick from its end: its worker may stay awake for it. */
  giveNotice(grantId: number): void {
    const to = this.routes.get(grantId);
    if (to?.notice) this.post(to.channel, { notice: grantId });
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
    this.inbox?.close();
    for (const channel of this.outboxes.values()) channel.close();
    this.outboxes.clear();
  }

  private onInbox(data: unknown): void {
    if (typeof data === 'number') this.gate()?.onHandOff(data);
    else if (typeof data === 'object' && data !== null && typeof (data as { notice?: unknown }).notice === 'number') {
      this.awaitHandOff((data as { notice: number }).notice);
    }
  }

  private post(to: string, message: InboxMessage): void {
    let channel = this.outboxes.get(to);
    if (!channel) {
      channel = new BroadcastChannel(to);
      this.outboxes.set(to, channel);
      // Inboxes of guests long gone (each boot has its own) must not pile up.
      for (const [name, old] of this.outboxes) {
        if (this.outboxes.size <= MAX_OUTBOXES) break;
        old.close();
        this.outboxes.delete(name);
      }
    }
    channel.postMessage(message);
  }
}
