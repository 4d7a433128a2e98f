import { describe, expect, it } from 'vitest';
import type { GuestEvent } from '../src/protocol/guest-api.ts';
import { TickGate, type V86Internals } from './tick-gate.ts';

/**
 * A stand-in for v86's internals with the same control flow: do_tick() runs
 * one ~1 ms slice of "guest execution" and schedules the next with next_tick().
 * Scheduled ticks are run by step(); time is a fake clock.
 */
class FakeV86 implements V86Internals {
  time = 0;
  counter = 0;
  pending: number | null = null; // delay of the scheduled tick, null when none
  halted = false;
  /** ms of execution per tick, and instructions per ms. */
  tickMs = 1;
  ips = 300_000;
  stoppedEvents = 0;
  v86 = {
    running: true,
    stopping: false,
    cpu: { in_hlt: new Uint8Array(1), wasm_memory: { buffer: new ArrayBuffer(64) } as WebAssembly.Memory },
    do_tick: () => {
      const v = this.v86;
      if (v.stopping || !v.running) {
        v.stopping = v.running = false;
        this.stoppedEvents++;
        return;
      }
      this.time += this.tickMs;
      this.counter = (this.counter + this.tickMs * this.ips) >>> 0;
      v.cpu.in_hlt[0] = this.halted ? 1 : 0;
      v.next_tick(this.halted ? 0.3 : 0);
    },
    next_tick: (ms: number) => {
      this.pending = ms;
    },
  };
  get_instruction_counter(): number {
    return this.counter;
  }
  /** Run the scheduled tick, if any; false when the instance is parked or stopped. */
  step(): boolean {
    if (this.pending === null) return false;
    this.pending = null;
    this.v86.do_tick();
    return true;
  }
  run(n: number): number {
    let ran = 0;
    while (ran < n && this.step()) ran++;
    return ran;
  }
}

function setup(scheduled = true, counterStart = 0, passOn?: (grantId: number) => void, clock?: () => number, notice?: (grantId: number) => void) {
  const fake = new FakeV86();
  fake.counter = counterStart;
  const events: GuestEvent[] = [];
  const gate = new TickGate(fake, (e) => events.push(e), clock ?? (() => fake.time), scheduled, passOn, notice);
  fake.pending = 0; // v86.run() schedules the first tick
  return { fake, events, gate };
}

/** Two gated guests sharing one clock, whose hand-overs travel on a fake channel to the other. */
function pair() {
  let a: ReturnType<typeof setup> | null = null;
  let b: ReturnType<typeof setup> | null = null;
  const sent: number[] = [];
  // One wall clock for both: each one's ticks advance its own fake time.
  const now = () => (a?.fake.time ?? 0) + (b?.fake.time ?? 0);
  a = setup(true, 0, (id) => (sent.push(id), b?.gate.onHandOff(id)), now);
  b = setup(true, 0, (id) => (sent.push(id), a?.gate.onHandOff(id)), now);
  a.fake.run(1);
  b.fake.run(1);
  return { a, b, sent };
}

describe('TickGate', () => {
  it('parks a scheduled guest until it holds a grant', () => {
    const { fake, gate } = setup();
    expect(fake.run(5)).toBe(1); // the first tick parks
    expect(gate.isParked).toBe(true);
    expect(fake.time).toBe(0);
    gate.grant(1, 5);
    expect(gate.isParked).toBe(false);
    expect(fake.pending).toBe(0); // re-armed with next_tick(0)
  });

  it('runs a grant to its end and reports use and instructions', () => {
    const { fake, events, gate } = setup();
    fake.run(1);
    gate.grant(7, 5);
    fake.run(100);
    expect(fake.time).toBe(5);
    expect(events).toEqual([{ type: 'cpu-slice-end', grantId: 7, usedMs: 5, instructions: 1_500_000, reason: 'expired', handedOff: null }]);
    expect(gate.state).toBe('waiting');
    expect(gate.isParked).toBe(true);
  });

  it('counts instructions across the u32 wrap of the counter', () => {
    const { fake, gate } = setup(true, 2 ** 32 - 100_000);
    fake.run(1);
    gate.grant(1, 3);
    fake.run(10);
    expect(gate.instructions).toBe(900_000);
  });

  it('gives the rest of a grant back when the guest halts, then wakes when it has work', () => {
    const { fake, events, gate } = setup();
    fake.run(1);
    gate.grant(2, 10);
    fake.run(2);
    fake.halted = true;
    fake.run(1);
    expect(events.at(-1)).toEqual({ type: 'cpu-slice-end', grantId: 2, usedMs: 3, instructions: 900_000, reason: 'idle', handedOff: null });
    expect(gate.state).toBe('blocked');
    // Blocked: ticks still run (timer interrupts) and are charged as ungranted use.
    expect(fake.pending).toBe(1); // a sub-ms wait while halted is rounded up to 1 ms
    fake.run(3);
    fake.halted = false;
    fake.run(1);
    expect(events.at(-1)).toEqual({ type: 'cpu-wake', usedMs: 4, instructions: 1_200_000 });
    expect(gate.state).toBe('waiting');
    fake.run(5);
    expect(gate.isParked).toBe(true);
  });

  it('preempts only the current grant', () => {
    const { fake, events, gate } = setup();
    fake.run(1);
    gate.grant(3, 50);
    fake.run(2);
    gate.preempt(99);
    expect(gate.state).toBe('granted');
    gate.preempt(3);
    expect(events.at(-1)).toMatchObject({ type: 'cpu-slice-end', grantId: 3, usedMs: 2, reason: 'preempted' });
    fake.run(5);
    expect(fake.time).toBe(2);
  });

  it('lets stop() through a parked instance', () => {
    const { fake, gate } = setup();
    fake.run(1);
    expect(gate.isParked).toBe(true);
    fake.v86.stopping = true;
    gate.unpark();
    fake.run(1);
    expect(fake.stoppedEvents).toBe(1);
  });

  it('runs freely when not scheduled and reports use in batches', () => {
    const { fake, events, gate } = setup(false);
    fake.run(10);
    expect(fake.time).toBe(10);
    expect(events).toEqual([]);
    gate.flushUsage();
    expect(events).toEqual([{ type: 'cpu-usage', usedMs: 10, instructions: 3_000_000, haltedMs: 0 }]);
  });

  it('charges a slice the wall time from its start, yields between ticks included', () => {
    // The fake's ticks take 1 ms of its time; gaps between them are added here.
    let gaps = 0;
    const { fake, events, gate } = setup(true, 0, undefined, () => fake.time + gaps);
    fake.run(1);
    gate.grant(4, 3);
    gaps += 0.25; // the worker's wake-up before its first tick
    for (let i = 0; i < 3; i++) {
      fake.step();
      gaps += 0.1; // the yield between ticks
    }
    // Ticks of 1 ms each, but the slice held the pCPU from 0 to the third tick's end at 3.45.
    expect(events).toEqual([{ type: 'cpu-slice-end', grantId: 4, usedMs: 3.45, instructions: 900_000, reason: 'expired', handedOff: null }]);
  });

  it('hands the pCPU to the queued grant of another worker when its slice ends', () => {
    const { a, b, sent } = pair();
    b.gate.queue(12, 2);
    a.gate.grant(11, 3);
    a.gate.handOff(11, 12);
    a.fake.run(10);
    expect(a.events.at(-1)).toMatchObject({ type: 'cpu-slice-end', grantId: 11, reason: 'expired', handedOff: 12 });
    expect(sent).toEqual([12]);
    expect(b.gate.state).toBe('granted');
    b.fake.run(10);
    expect(b.events.at(-1)).toMatchObject({ type: 'cpu-slice-end', grantId: 12, usedMs: 2, handedOff: null });
    // The host's own grant for the same id, arriving late, is not a second slice.
    b.gate.grant(12, 2);
    expect(b.gate.state).toBe('waiting');
    // Nor does it cut short a newer grant.
    b.gate.grant(14, 5);
    b.fake.run(1);
    b.gate.grant(12, 2);
    expect(b.gate.state).toBe('granted');
    expect(b.events.filter((e) => e.type === 'cpu-slice-end')).toHaveLength(1);
  });

  it('starts a queued grant when the host grants it after a lost hand-over', () => {
    const { b } = pair();
    b.gate.queue(62, 3);
    b.gate.grant(62, 3);
    expect(b.gate.state).toBe('granted');
  });

  it('ends the slice before it hands over: time the thread loses to the woken worker is not charged', () => {
    // Posting the hand-over wakes the next worker, which may take this thread's core for a while.
    let lost = 0;
    const { fake, events, gate } = setup(true, 0, () => void (lost += 2), () => fake.time + lost);
    fake.run(1);
    gate.grant(71, 3);
    gate.handOff(71, 72);
    fake.run(5);
    expect(lost).toBe(2);
    expect(events).toEqual([{ type: 'cpu-slice-end', grantId: 71, usedMs: 3, instructions: 900_000, reason: 'expired', handedOff: 72 }]);
  });

  it('starts on a hand-over that carries its grant, with no queue message before', () => {
    const { b } = pair();
    b.gate.onHandOff(22, 4);
    expect(b.gate.state).toBe('granted');
    b.fake.run(10);
    expect(b.events.at(-1)).toMatchObject({ type: 'cpu-slice-end', grantId: 22, usedMs: 4 });
  });

  it('does not start a grant the host withdrew before its hand-over came', () => {
    const { b } = pair();
    b.gate.preempt(26);
    b.gate.onHandOff(26, 4);
    expect(b.gate.state).toBe('waiting');
    b.gate.queue(26, 4);
    b.gate.onHandOff(26);
    expect(b.gate.state).toBe('waiting');
    b.gate.onHandOff(27, 4); // the next one is not withdrawn
    expect(b.gate.state).toBe('granted');
  });

  it('keeps a queued grant and its promised hand-over when the host is faster than the hand-over', () => {
    const { a, b, sent } = pair();
    b.gate.queue(52, 2);
    a.gate.grant(51, 1);
    a.gate.handOff(51, 52);
    // The host heard of the hand-over and queues b after itself before b has seen it.
    const onHandOff = b.gate.onHandOff.bind(b.gate);
    const late: number[] = [];
    b.gate.onHandOff = (id) => void late.push(id);
    a.fake.run(5);
    b.gate.queue(53, 2);
    b.gate.handOff(52, 53);
    for (const id of late) onHandOff(id);
    expect(sent).toEqual([52]);
    b.fake.run(10);
    expect(b.events.map((e) => e.type === 'cpu-slice-end' && [e.grantId, e.handedOff])).toEqual([
      [52, 53],
      [53, null],
    ]);
  });

  it('ignores a hand-over of a withdrawn or replaced grant', () => {
    const { a, b } = pair();
    b.gate.queue(32, 2);
    b.gate.preempt(32); // withdrawn
    a.gate.grant(31, 1);
    a.gate.handOff(31, 32);
    a.fake.run(5);
    expect(b.gate.state).toBe('waiting');
    b.gate.queue(34, 2);
    b.gate.grant(35, 2); // a grant on a free pCPU replaces the queued one
    a.gate.grant(33, 1);
    a.gate.handOff(33, 34);
    a.fake.run(5);
    expect(b.gate.state).toBe('granted');
    b.fake.run(10);
    expect(b.events.map((e) => (e.type === 'cpu-slice-end' ? e.grantId : 0))).toEqual([35]);
  });

  it('continues with its own queued grant without a message, unless it halted', () => {
    const { a, sent } = pair();
    a.gate.grant(41, 2);
    a.gate.queue(42, 2);
    a.gate.handOff(41, 42);
    a.fake.run(3);
    expect(a.events.map((e) => e.type === 'cpu-slice-end' && [e.grantId, e.handedOff])).toEqual([[41, 42]]);
    expect(a.gate.state).toBe('granted');
    expect(sent).toEqual([]);
    a.gate.queue(43, 2);
    a.gate.handOff(42, 43);
    a.fake.halted = true;
    a.fake.run(1);
    expect(a.events.at(-1)).toMatchObject({ grantId: 42, reason: 'idle', handedOff: null });
    expect(a.gate.state).toBe('blocked');
  });

  it('gives notice to another worker before the tick that likely ends its slice, once, and not for its own successor', () => {
    const log: string[] = [];
    const { fake, gate } = setup(true, 0, (id) => log.push(`hand-over ${id}`), undefined, (id) => log.push(`notice ${id} at ${fake.time}`));
    fake.run(1);
    gate.grant(81, 4);
    gate.handOff(81, 82);
    fake.run(10);
    // Ticks of 1 ms: after the third (at 3 ms) the next one ends the 4 ms slice.
    expect(log).toEqual(['notice 82 at 3', 'hand-over 82']);
    log.length = 0;
    gate.grant(83, 3);
    gate.queue(84, 3);
    gate.handOff(83, 84);
    fake.run(5);
    expect(log).toEqual([]);
  });

  it('starts its own next slice before it reports the one that ended', () => {
    // Reporting costs this thread time (0.5 ms here), which belongs to the slice already running.
    let spent = 0;
    const events: GuestEvent[] = [];
    const fake = new FakeV86();
    const gate = new TickGate(fake, (e) => { events.push(e); spent += 0.5; }, () => fake.time + spent, true);
    fake.pending = 0;
    fake.run(1);
    gate.grant(91, 2);
    gate.queue(92, 2);
    gate.handOff(91, 92);
    fake.run(4);
    expect(events.map((e) => e.type === 'cpu-slice-end' && [e.grantId, e.usedMs])).toEqual([
      [91, 2],
      [92, 2.5],
    ]);
  });

  it('detach puts the original methods back', () => {
    const { fake, gate } = setup();
    const wrapped = fake.v86.do_tick;
    gate.detach();
    expect(fake.v86.do_tick).not.toBe(wrapped);
  });
});
