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

function setup(scheduled = true, counterStart = 0) {
  const fake = new FakeV86();
  fake.counter = counterStart;
  const events: GuestEvent[] = [];
  const gate = new TickGate(fake, (e) => events.push(e), () => fake.time, scheduled);
  fake.pending = 0; // v86.run() schedules the first tick
  return { fake, events, gate };
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
    expect(events).toEqual([{ type: 'cpu-slice-end', grantId: 7, usedMs: 5, instructions: 1_500_000, reason: 'expired' }]);
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
    expect(events.at(-1)).toEqual({ type: 'cpu-slice-end', grantId: 2, usedMs: 3, instructions: 900_000, reason: 'idle' });
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

  it('detach puts the original methods back', () => {
    const { fake, gate } = setup();
    const wrapped = fake.v86.do_tick;
    gate.detach();
    expect(fake.v86.do_tick).not.toBe(wrapped);
  });
});
