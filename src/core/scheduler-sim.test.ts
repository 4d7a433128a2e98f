import { describe, expect, it } from 'vitest';
import { burstyGuest, busyGuest, idleGuest, SchedulerSim } from './scheduler-sim.ts';

describe('SchedulerSim', () => {
  it('is deterministic for a seed', () => {
    const a = new SchedulerSim({ config: { pcpus: 1 }, seed: 4 });
    const b = new SchedulerSim({ config: { pcpus: 1 }, seed: 4 });
    const draws = (s: SchedulerSim) => Array.from({ length: 5 }, () => s.random());
    const da = draws(a);
    expect(draws(b)).toEqual(da);
    for (const x of da) expect(x >= 0 && x < 1).toBe(true);
  });

  it('models a busy guest: uses every grant in full, plus its overrun', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    sim.addGuest('a', busyGuest(() => 1.5));
    sim.runPeriods(4);
    // Grants to the period end overrun by 1.5 ms each, which the next period's budget takes back.
    expect(sim.records('a').map((r) => Math.round(r.usedMs * 10) / 10)).toEqual([100, 100, 100, 100]);
    // The report of each grant arrives after the boundary: its instructions are estimated
    // at the guest's last known speed (350 MIPS here), unknown in the first period.
    expect(sim.records('a').map((r) => Math.round(r.instructions / 1e5) / 10)).toEqual([0, 70, 35, 35]);
  });

  it('models an idle guest: halts at once and wakes on a timer', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    sim.addGuest('i', idleGuest(50, 0.2));
    sim.runPeriods(10);
    const used = sim.records('i').reduce((a, r) => a + r.usedMs, 0);
    expect(used).toBeCloseTo(19 * 0.2, 6); // woken at 50, 100, ... 950
    expect(sim.records('i').reduce((a, r) => a + r.idleMs, 0)).toBeGreaterThan(990);
  });

  it('models a bursty guest: uses its bursts and nothing more', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    sim.addGuest('b', burstyGuest(30, 200));
    sim.runPeriods(10);
    expect(sim.records('b').reduce((a, r) => a + r.usedMs, 0)).toBeCloseTo(5 * 30, 6);
  });

  it('models message delays: the pCPU is idle while a hand-over or a grant is on its way', () => {
    const run = (options: { grantDelayMs?: number; handOffDelayMs?: number; handOff?: boolean }) => {
      const sim = new SchedulerSim({ config: { pcpus: 1, handOff: options.handOff ?? true }, ...options });
      sim.addGuest('a', busyGuest());
      sim.addGuest('b', busyGuest());
      sim.runPeriods(21);
      const busy = sim.periods.slice(1).map((p) => p.host.busyMs[0] ?? 0);
      return busy.reduce((x, y) => x + y, 0) / busy.length;
    };
    expect(run({})).toBeCloseTo(100, 6);
    // Ten slices a period, two of them a VM following itself: eight hand-overs of 0.5 ms.
    expect(run({ handOffDelayMs: 0.5, grantDelayMs: 0.5 })).toBeCloseTo(96, 0);
    // The hand-over delay alone costs nothing once every slice goes through the host.
    expect(run({ handOffDelayMs: 5, grantDelayMs: 0.2, handOff: false })).toBeCloseTo(98, 0);
  });

  it('keeps each VM on the pCPU it last ran on (affinity), at no cost to the shares', () => {
    // Slices overrun their grants by up to a tick (v86's ~1 ms), so the pCPUs' turns drift apart.
    const sim = new SchedulerSim({ config: { pcpus: 2, handOff: true }, reportDelayMs: 0.2, grantDelayMs: 0.2, handOffDelayMs: 0.1, seed: 3 });
    for (const id of ['a', 'b', 'c', 'd']) sim.addGuest(id, busyGuest((random) => random()));
    sim.runPeriods(20);
    const moves = new Map<string, number>();
    const last = new Map<string, number>();
    for (const { decision: d } of sim.decisions) {
      if (d.kind !== 'grant' && d.kind !== 'queue') continue;
      if (last.has(d.vmId) && last.get(d.vmId) !== d.pcpu) moves.set(d.vmId, (moves.get(d.vmId) ?? 0) + 1);
      last.set(d.vmId, d.pcpu);
    }
    // Two pairs, each taking turns on one pCPU: no VM moves after it found its pair.
    expect([...moves.values()].reduce((a, x) => a + x, 0)).toBeLessThanOrEqual(4);
    const totals = ['a', 'b', 'c', 'd'].map((id) => sim.records(id).slice(1).reduce((a, r) => a + r.usedMs, 0));
    expect(Math.min(...totals) / Math.max(...totals)).toBeGreaterThan(0.98);
    for (const id of ['a', 'b', 'c', 'd']) expect(Math.min(...sim.records(id).slice(1).map((r) => r.usedMs))).toBeGreaterThan(45);
  });

  it('removes a guest', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    sim.addGuest('a', busyGuest());
    sim.addGuest('b', busyGuest());
    sim.runUntil(150);
    sim.removeGuest('a');
    sim.runUntil(400);
    expect(sim.records('a').map((r) => r.periodIndex)).toEqual([0, 1]);
    expect(sim.records('b').slice(2).every((r) => r.usedMs === 100)).toBe(true);
  });

  it('refuses an unknown guest', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    expect(() => sim.setPaused('x', true)).toThrow('the simulation has no guest named x');
  });
});
