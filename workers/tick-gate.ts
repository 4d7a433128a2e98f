// With v86-tuning.ts, the only file that touches v86 internals (emulator.v86.*):
// it gates guest execution on CPU grants from the hypervisor's scheduler.
//
// v86 runs the guest in ticks: do_tick() runs main_loop() for about 1 ms (or
// until the guest halts) and schedules the next tick with next_tick(ms).
// Wrapping do_tick lets us skip a tick (park the guest) while it holds no
// grant, and measure the time each tick really took. A parked guest is re-armed
// with next_tick(0). v86's own stop() needs one more tick to finish, so a
// stopping instance is never parked.
//
// A slice is charged the wall time from its start (grant or hand-over
// received) to its end: the pCPU was this guest's for all of it, the
// emulator's yields between ticks included.
//
// Hand-over: the host tells the running guest which queued grant takes its
// pCPU when its grant ends (handOff). At its slice end the running worker
// then sends that grant (id and length) to the queued guest's worker, which
// starts on it: one message between workers instead of a report to the host
// and a grant back. The queued guest hears of its grant only then: a message
// to a parked worker wakes its thread, which takes a core from a running
// guest. A grant the host withdraws (preempt) before its hand-over comes is
// remembered and not started. When the queued grant is the running guest's
// own (queue), it starts without a message; a guest that halted does not
// start its own queued grant. Grant ids only grow: starting a grant retires
// queued grants older than it, and a grant the host sends again after a
// hand-over is not a second slice.
//
// Before what is likely the last tick of a slice handed to another worker,
// the gate gives notice (notice callback): that worker may then stay awake and
// take the hand-over at once instead of being woken for it (see hand-off.ts).
import type { GuestEvent, SliceEndReason } from '../src/protocol/guest-api.ts';

/** The parts of v86's internal objects the gate reads or wraps. */
export interface V86Internals {
  v86: {
    do_tick(): void;
    next_tick(ms: number): void;
    running: boolean;
    stopping: boolean;
    /** True between ticks (a tick is scheduled). */
    idle: boolean;
    cpu: { in_hlt: Uint8Array; wasm_memory: WebAssembly.Memory };
  };
  get_instruction_counter(): number;
}

/**
 * free: runs whenever runnable (no scheduler). waiting: runnable, parked until
 * a grant. granted: executing under a grant. blocked: halted without a grant;
 * it may still take ticks to service its timers, charged as ungranted use.
 */
export type GateState = 'free' | 'waiting' | 'granted' | 'blocked';

export class TickGate {
  state: GateState;
  /** Totals since the gate was installed. */
  runMs = 0;
  haltedMs = 0;
  instructions = 0;

  private readonly origDoTick: () => void;
  private readonly origNextTick: (ms: number) => void;
  private parked = false;
  private lastCounter: number;
  private lastTickEnd = -1;
  private lastHalted = false;
  private grantId = 0;
  private grantMs = 0;
  private sliceStart = 0;
  private sliceInstr = 0;
  private noticeGiven = false;
  // Queued grants (id -> ms), and hand-overs promised for grants not started yet (id -> next id).
  private readonly armed = new Map<number, number>();
  private readonly after = new Map<number, number>();
  private successor: number | null = null;
  // Grants withdrawn before they came (their hand-over may still be on its way).
  private readonly revoked = new Map<number, true>();
  // Use that is not part of a slice (free or blocked), reported in batches.
  private pendingUsed = 0;
  private pendingInstr = 0;
  private pendingHalted = 0;

  constructor(
    private readonly emulator: V86Internals,
    private readonly emit: (event: GuestEvent) => void,
    private readonly now: () => number,
    scheduled: boolean,
    /** Posts a hand-over (a queued grant's id) to the worker that queued it. */
    private readonly passOn: (grantId: number) => void = () => {},
    /** Tells that worker the hand-over of grantId is about one tick away. */
    private readonly notice: (grantId: number) => void = () => {},
  ) {
    const v86 = emulator.v86;
    this.state = scheduled ? 'waiting' : 'free';
    this.lastCounter = emulator.get_instruction_counter();
    this.origDoTick = v86.do_tick.bind(v86);
    this.origNextTick = v86.next_tick.bind(v86);
    v86.do_tick = () => this.tick();
    // A halted guest asks to be woken in under 1 ms before each timer; waiting
    // a whole ms instead cuts an idle guest's host CPU from ~27 % to ~7 %.
    v86.next_tick = (ms: number) => this.origNextTick(ms < 1 && v86.cpu.in_hlt[0] ? 1 : ms);
  }

  /**
   * A device outside the tick (the NIC) has work for a halted guest: tick now,
   * not at the halted guest's next whole ms. The tick scheduled before goes
   * stale (v86 runs only its newest).
   */
  wake(): void {
    const v86 = this.emulator.v86;
    if (v86.idle && v86.running && !v86.stopping) this.origNextTick(0);
  }

  /** After stop(): a halted guest's next tick may be far off; run one now so that the stop completes. */
  tickSoon(): void {
    if (this.emulator.v86.idle) this.origNextTick(0);
  }

  get wasmBytes(): number {
    return this.emulator.v86.cpu.wasm_memory.buffer.byteLength;
  }

  get isParked(): boolean {
    return this.parked;
  }

  /** True while grantId is queued here and not started. */
  isQueued(grantId: number): boolean {
    return this.armed.has(grantId);
  }

  setScheduled(scheduled: boolean): void {
    if (!scheduled) {
      this.forgetQueued();
      if (this.state === 'granted') this.endSlice('preempted');
      this.state = 'free';
      this.unpark();
    } else if (this.state === 'free') {
      this.state = 'waiting';
    }
  }

  /**
   * Start a slice of ms; a grant while another runs replaces it. Grant ids only
   * grow: one not newer than the last started (by a grant or a hand-over) is
   * not run, so the host may grant a handed-over grant again to be sure.
   */
  grant(grantId: number, ms: number): void {
    if (this.state === 'free' || grantId <= this.grantId) return;
    if (this.state === 'granted') {
      this.successor = null;
      this.endSlice('preempted');
    }
    this.start(grantId, ms);
  }

  /** Wait for a hand-over of grantId (or its grant) to run ms. */
  queue(grantId: number, ms: number): void {
    if (this.state === 'free' || grantId <= this.grantId || this.revoked.has(grantId)) return;
    remember(this.armed, grantId, ms);
  }

  /** When grant grantId (running, or queued here) ends, hand the pCPU to queued grant nextGrantId. */
  handOff(grantId: number, nextGrantId: number): void {
    if (this.state === 'granted' && this.grantId === grantId) this.successor = nextGrantId;
    else if (grantId > this.grantId) remember(this.after, grantId, nextGrantId);
  }

  /** Another worker handed over grantId, of ms (or of the length queued here). */
  onHandOff(grantId: number, ms?: number): void {
    if (grantId <= this.grantId || this.revoked.has(grantId)) return;
    const length = ms ?? this.armed.get(grantId);
    if (length !== undefined && this.state === 'waiting') this.start(grantId, length);
  }

  preempt(grantId: number): void {
    if (this.state === 'granted' && grantId === this.grantId) this.endSlice('preempted');
    else {
      this.armed.delete(grantId);
      if (grantId > this.grantId) remember(this.revoked, grantId, true);
    }
  }

  /** Drop any grant without reporting it (user pause: the host already knows). */
  dropGrant(): void {
    this.forgetQueued();
    if (this.state === 'granted' || this.state === 'blocked') this.state = 'waiting';
  }

  /** Wake a parked instance so that a pending stop() or run() takes effect. */
  unpark(): void {
    if (this.parked) {
      this.parked = false;
      this.origNextTick(0);
    }
  }

  /** Report use that happened outside slices (free running or blocked). */
  flushUsage(): void {
    if (this.pendingUsed > 0 || this.pendingHalted > 0 || this.pendingInstr > 0) {
      this.emit({ type: 'cpu-usage', usedMs: this.pendingUsed, instructions: this.pendingInstr, haltedMs: this.pendingHalted });
      this.pendingUsed = this.pendingInstr = this.pendingHalted = 0;
    }
  }

  /** Put v86's own methods back. */
  detach(): void {
    const v86 = this.emulator.v86;
    v86.do_tick = this.origDoTick;
    v86.next_tick = this.origNextTick;
  }

  private tick(): void {
    const v86 = this.emulator.v86;
    if (v86.stopping || !v86.running) {
      this.parked = false;
      this.origDoTick();
      return;
    }
    if (this.state === 'waiting') {
      this.parked = true;
      return;
    }
    const t0 = this.now();
    if (this.lastHalted && this.lastTickEnd >= 0) {
      const halted = t0 - this.lastTickEnd;
      this.haltedMs += halted;
      this.pendingHalted += halted;
    }
    this.origDoTick();
    const t1 = this.now();
    const dt = t1 - t0;
    const counter = this.emulator.get_instruction_counter();
    const instr = (counter - this.lastCounter) >>> 0; // u32 wraps every ~13 s
    this.lastCounter = counter;
    this.lastTickEnd = t1;
    this.runMs += dt;
    this.instructions += instr;
    const halted = v86.cpu.in_hlt[0] !== 0;
    this.lastHalted = halted;

    switch (this.state) {
      case 'free':
        this.pendingUsed += dt;
        this.pendingInstr += instr;
        break;
      case 'granted':
        this.sliceInstr += instr;
        if (halted) this.endSlice('idle');
        else if (t1 - this.sliceStart >= this.grantMs) this.endSlice('expired');
        else if (t1 + dt - this.sliceStart >= this.grantMs) this.noticeSuccessor();
        break;
      case 'blocked':
        this.pendingUsed += dt;
        this.pendingInstr += instr;
        if (!halted) {
          this.emit({ type: 'cpu-wake', usedMs: this.pendingUsed, instructions: this.pendingInstr });
          this.pendingUsed = this.pendingInstr = 0;
          this.state = 'waiting';
        }
        break;
    }
  }

  private start(grantId: number, ms: number): void {
    // Queued grants older than this one were withdrawn (ids only grow).
    for (const id of this.armed.keys()) if (id <= grantId) this.armed.delete(id);
    this.successor = this.after.get(grantId) ?? null;
    for (const id of this.after.keys()) if (id <= grantId) this.after.delete(id);
    this.grantId = grantId;
    this.grantMs = ms;
    this.sliceStart = this.now();
    this.sliceInstr = 0;
    this.noticeGiven = false;
    this.state = 'granted';
    this.unpark();
  }

  // The next tick (as long as this one) will likely end the slice: tell a successor in another worker, once.
  private noticeSuccessor(): void {
    const next = this.successor;
    if (this.noticeGiven || next === null || this.armed.has(next)) return;
    this.noticeGiven = true;
    this.notice(next);
  }

  // Ends the current slice: hands over if asked to, reports, and leaves the
  // gate blocked (the guest halted) or waiting, or running its own queued grant.
  private endSlice(reason: SliceEndReason): void {
    // The slice ends before the hand-over: the woken worker may take this
    // thread's core at once (measured: ~2 ms per hand-over charged twice).
    const usedMs = this.now() - this.sliceStart;
    const ended = { grantId: this.grantId, instructions: this.sliceInstr };
    const next = this.successor;
    // A successor queued here is this guest's own: it starts without a message, unless the guest halted.
    const ownMs = next === null ? undefined : this.armed.get(next);
    const startOwn = ownMs !== undefined && reason !== 'idle';
    if (next !== null && ownMs === undefined) this.passOn(next);
    const handedOff = next !== null && (ownMs === undefined || startOwn) ? next : null;
    this.successor = null;
    this.sliceInstr = 0;
    this.state = reason === 'idle' ? 'blocked' : 'waiting';
    // Its own next slice starts before the report goes out (posting it took ~0.1 ms, measured).
    if (startOwn && handedOff !== null) this.start(handedOff, ownMs);
    this.emit({ type: 'cpu-slice-end', ...ended, usedMs, reason, handedOff });
  }

  private forgetQueued(): void {
    this.armed.clear();
    this.after.clear();
    this.successor = null;
  }
}

/** Adds to a small map, dropping the oldest entries beyond `limit`: what is never used must not pile up. */
export function remember<V>(map: Map<number, V>, key: number, value: V, limit = 8): void {
  map.set(key, value);
  for (const k of map.keys()) if (map.size > limit) map.delete(k);
}
