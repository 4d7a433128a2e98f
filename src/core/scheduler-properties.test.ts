// Whole-system properties of the CPU scheduler, checked by simulating guests
// (scheduler-sim.ts plays the host) on a fake clock.
import { describe, expect, it } from 'vitest';
import { jainIndex } from './metrics.ts';
import { burstyGuest, busyGuest, idleGuest, SchedulerSim, type GuestProfile } from './scheduler-sim.ts';
import type { PeriodRecord } from './scheduler-types.ts';

// Average achieved share (% of one pCPU) over records.
function share(records: PeriodRecord[]): number {
  const used = records.reduce((a, r) => a + r.usedMs, 0);
  const span = records.reduce((a, r) => a + r.periodMs, 0);
  return (100 * used) / span;
}

// Records of periods [from, to) of one VM.
function window(sim: SchedulerSim, id: string, from: number, to = Number.POSITIVE_INFINITY): PeriodRecord[] {
  return sim.records(id).filter((r) => r.periodIndex >= from && r.periodIndex < to);
}

// Fails the run if a pCPU is left free while a VM that may run waits for one.
function checkWorkConserving(sim: SchedulerSim): void {
  sim.afterDispatch = (s) => {
    const v = s.scheduler.view();
    if (v.periodEndMs - v.nowMs < v.config.minGrantMs) return; // too late in the period to grant
    const free = v.pcpus.slice(0, v.config.pcpus).filter((p) => p === null).length;
    const waiting = v.vms.filter((vm) => vm.state === 'runnable' && vm.eligible).map((vm) => vm.vmId);
    if (free > 0 && waiting.length > 0) throw new Error(`at ${v.nowMs} ms ${free} pCPU(s) idle while ${waiting.join(', ')} wait`);
  };
}

function busyMix(sim: SchedulerSim, weights: Record<string, number>, profile: () => GuestProfile = () => busyGuest()): void {
  for (const [id, weight] of Object.entries(weights)) sim.addGuest(id, profile(), { weight });
}

const overrun = (r: () => number): number => r() * 2; // v86 stops on a 1-2 ms tick boundary

describe('scheduler properties (simulated guests)', () => {
  it('shares one pCPU in proportion to weights 1:2:4', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    checkWorkConserving(sim);
    busyMix(sim, { a: 1000, b: 2000, c: 4000 });
    sim.runPeriods(101);
    const expected = { a: 100 / 7, b: 200 / 7, c: 400 / 7 };
    for (const [id, pct] of Object.entries(expected)) {
      expect(share(window(sim, id, 1))).toBeCloseTo(pct, 0);
      expect(Math.abs(share(window(sim, id, 1)) - pct)).toBeLessThan(1);
      expect(window(sim, id, 1).every((r) => Math.abs(r.entitlementPct - pct) < 1e-9)).toBe(true);
    }
  });

  it('keeps weights proportional with overruns and late reports', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 }, reportDelayMs: 0.3, seed: 3 });
    busyMix(sim, { a: 1000, b: 2000, c: 4000 }, () => busyGuest(overrun));
    sim.runPeriods(101);
    const shares = ['a', 'b', 'c'].map((id) => share(window(sim, id, 1)));
    const total = shares.reduce((a, b) => a + b, 0);
    // Report delays cost some pCPU time; what is used is split by weight.
    expect(total).toBeGreaterThan(95);
    [1, 2, 4].forEach((w, i) => expect(Math.abs((100 * (shares[i] ?? 0)) / total - (100 * w) / 7)).toBeLessThan(1));
  });

  it('loses no pCPU time to report latency when workers hand over, and only then meets the weights absolutely', () => {
    // 0.6 ms from a worker to the host and back is what a hand-over through the host costs here.
    const run = (handOff: boolean) => {
      const sim = new SchedulerSim({ config: { pcpus: 1, handOff }, reportDelayMs: 0.6, seed: 7 });
      busyMix(sim, { a: 1000, b: 2000, c: 4000 }, () => busyGuest(overrun));
      sim.runPeriods(101);
      const records = ['a', 'b', 'c'].flatMap((id) => window(sim, id, 1));
      handedOver[String(handOff)] = records.reduce((s, r) => s + r.handedOver, 0) / records.reduce((s, r) => s + r.grants, 0);
      return ['a', 'b', 'c'].map((id) => share(window(sim, id, 1)));
    };
    const handedOver: Record<string, number> = {};
    const viaHost = run(false);
    const handed = run(true);
    const total = (s: number[]) => s.reduce((a, b) => a + b, 0);
    expect(total(viaHost)).toBeLessThan(96);
    expect(total(handed)).toBeGreaterThan(99.5);
    [1, 2, 4].forEach((w, i) => expect(Math.abs((handed[i] ?? 0) - (100 * w) / 7)).toBeLessThan(1));
    expect(Math.abs((viaHost[2] ?? 0) - 400 / 7)).toBeGreaterThan(1.5);
    // Every grant but the first of each period (decided at the turn-over) is handed over.
    expect(handedOver.true).toBeGreaterThan(0.85);
    expect(handedOver.false).toBe(0);
  });

  it('shares the time lost between slices by weight, not at the cost of the VM ranked last', () => {
    // Measured here: a hand-over between workers ~0.25 ms, a message either way ~0.3 ms.
    const sim = new SchedulerSim({ config: { pcpus: 1 }, reportDelayMs: 0.3, grantDelayMs: 0.3, handOffDelayMs: 0.25, seed: 5 });
    busyMix(sim, { a: 1000, b: 2000, c: 4000 }, () => busyGuest(overrun));
    sim.runPeriods(101);
    const shares = ['a', 'b', 'c'].map((id) => share(window(sim, id, 1)));
    const total = shares.reduce((x, y) => x + y, 0);
    // About ten hand-overs a period cost 2-3 % of the pCPU...
    expect(total).toBeGreaterThan(96);
    expect(total).toBeLessThan(99);
    // ...and each VM bears it in proportion to its weight: with untrimmed
    // credit, the heaviest was 0.3-0.45 points short of its part of what was
    // used (seeds 1-8); trimmed, every VM is within 0.07-0.2.
    [1, 2, 4].forEach((w, i) => expect(Math.abs((100 * (shares[i] ?? 0)) / total - (100 * w) / 7)).toBeLessThan(0.25));
  });

  it('never lets a capped VM exceed its cap by more than one overrun, and averages the cap', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 }, seed: 11 });
    checkWorkConserving(sim);
    sim.addGuest('capped', busyGuest(overrun), { capPct: 25, weight: 8000 });
    sim.addGuest('other', busyGuest(overrun));
    sim.runPeriods(101);
    const recs = window(sim, 'capped', 1);
    for (const r of recs) expect(r.usedMs).toBeLessThanOrEqual(25 + 2);
    expect(Math.abs(share(recs) - 25)).toBeLessThan(0.5);
    expect(recs.reduce((a, r) => a + r.cappedMs, 0)).toBeGreaterThan(0);
  });

  it('holds a cap for a VM alone on the host (idle time is not handed out beyond the cap)', () => {
    const sim = new SchedulerSim({ config: { pcpus: 2 }, seed: 5 });
    checkWorkConserving(sim);
    sim.addGuest('a', busyGuest(overrun), { capPct: 10 });
    sim.runPeriods(51);
    const recs = window(sim, 'a', 1);
    for (const r of recs) expect(r.usedMs).toBeLessThanOrEqual(12);
    expect(Math.abs(share(recs) - 10)).toBeLessThan(0.5);
    for (const p of sim.periods.slice(1)) expect(p.host.idleMs.reduce((a, b) => a + b, 0)).toBeGreaterThan(180);
  });

  it('honours a 50 % reservation against three busy VMs', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    checkWorkConserving(sim);
    sim.addGuest('r', busyGuest(), { reservationPct: 50 });
    busyMix(sim, { a: 1000, b: 1000, c: 1000 });
    sim.runPeriods(101);
    for (const rec of window(sim, 'r', 1)) expect(rec.usedMs).toBeGreaterThanOrEqual(50 - 1e-9);
    for (const id of ['a', 'b', 'c']) expect(share(window(sim, id, 1))).toBeCloseTo(50 / 3, 0);
  });

  it('honours a reservation for a VM with a tiny weight', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    sim.addGuest('r', busyGuest(), { reservationPct: 30, weight: 1 });
    busyMix(sim, { a: 100_000, b: 100_000 });
    sim.runPeriods(21);
    for (const rec of window(sim, 'r', 1)) expect(rec.usedMs).toBeGreaterThanOrEqual(30 - 1e-9);
  });

  it('gives an idle VM time to the busy ones (work conservation)', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    checkWorkConserving(sim);
    busyMix(sim, { a: 1000, b: 1000 });
    sim.addGuest('idle', idleGuest(250, 0.3));
    sim.runPeriods(101);
    const idleShare = share(window(sim, 'idle', 1));
    expect(idleShare).toBeLessThan(0.5);
    for (const id of ['a', 'b']) expect(Math.abs(share(window(sim, id, 1)) - (100 - idleShare) / 2)).toBeLessThan(0.5);
    for (const p of sim.periods.slice(1)) expect(p.host.busyMs[0]).toBeGreaterThan(99);
  });

  it('does not let a VM hoard credit while idle', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    checkWorkConserving(sim);
    busyMix(sim, { a: 1000, b: 1000 });
    // Idle for ten periods, then busy for good.
    sim.addGuest('late', { initialWorkMs: 0, arrivals: { firstAtMs: 1000, everyMs: 1e9, workMs: Number.POSITIVE_INFINITY } });
    sim.runPeriods(41);
    for (const r of window(sim, 'late', 0, 10)) expect(r.usedMs).toBe(0);
    for (const r of window(sim, 'late', 10)) expect(r.usedMs).toBeLessThanOrEqual(100 / 3 + 10);
    expect(share(window(sim, 'late', 10))).toBeCloseTo(100 / 3, 0);
    expect(share(window(sim, 'a', 10))).toBeCloseTo(100 / 3, 0);
  });

  it('gives each of four equal VMs 50 % of two pCPUs, fairly', () => {
    const sim = new SchedulerSim({ config: { pcpus: 2 } });
    checkWorkConserving(sim);
    busyMix(sim, { a: 1000, b: 1000, c: 1000, d: 1000 });
    sim.runPeriods(101);
    const shares = ['a', 'b', 'c', 'd'].map((id) => share(window(sim, id, 1)));
    for (const s of shares) expect(Math.abs(s - 50)).toBeLessThan(1);
    expect(jainIndex(shares)).toBeGreaterThanOrEqual(0.99);
    // Per period too, not only on average.
    for (let k = 1; k < 101; k++) {
      expect(jainIndex(['a', 'b', 'c', 'd'].map((id) => window(sim, id, k, k + 1)[0]?.usedMs ?? 0))).toBeGreaterThanOrEqual(0.99);
    }
  });

  it('gives each of three equal VMs two thirds of two pCPUs', () => {
    const sim = new SchedulerSim({ config: { pcpus: 2 }, seed: 9 });
    checkWorkConserving(sim);
    busyMix(sim, { a: 1000, b: 1000, c: 1000 }, () => busyGuest(overrun));
    sim.runPeriods(101);
    for (const id of ['a', 'b', 'c']) expect(Math.abs(share(window(sim, id, 1)) - 200 / 3)).toBeLessThan(1);
  });

  it('gives a lone busy VM long grants: about one host round trip per period', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    sim.addGuest('a', busyGuest());
    sim.runPeriods(50);
    const recs = sim.records('a');
    for (const r of recs) expect(r.grants).toBe(1);
    expect(share(recs)).toBeCloseTo(100, 6);
  });

  it('preempts a long grant when another VM wakes, so the waker waits at most a slice', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    checkWorkConserving(sim);
    sim.addGuest('busy', busyGuest());
    sim.addGuest('waker', idleGuest(137, 0.5, 37));
    sim.runPeriods(40);
    const preempts = sim.decisions.filter((d) => d.decision.kind === 'preempt');
    expect(preempts.length).toBeGreaterThan(10);
    expect(preempts.every((d) => d.decision.vmId === 'busy')).toBe(true);
    // The waker is never kept waiting for more than one slice.
    for (const r of sim.records('waker')) expect(r.readyMs).toBeLessThanOrEqual(10 + 1e-9);
    expect(share(sim.records('busy'))).toBeGreaterThan(99);
  });

  it('measures ready time when VMs wait for a pCPU', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    busyMix(sim, { a: 1000, b: 1000, c: 1000 });
    sim.addGuest('quiet', idleGuest(1000, 0.1));
    sim.runPeriods(30);
    for (const id of ['a', 'b', 'c']) {
      for (const r of window(sim, id, 1)) expect(r.readyMs).toBeCloseTo(100 - r.usedMs, 6);
    }
    expect(window(sim, 'quiet', 1).reduce((a, r) => a + r.idleMs, 0)).toBeGreaterThan(2800);
  });

  it('gives a paused VM nothing and counts its paused time', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    checkWorkConserving(sim);
    busyMix(sim, { a: 1000, b: 1000 });
    sim.runUntil(1005);
    sim.setPaused('a', true);
    sim.runUntil(2000);
    sim.setPaused('a', false);
    sim.runUntil(3000);
    for (const r of window(sim, 'a', 11, 20)) expect(r).toMatchObject({ usedMs: 0, pausedMs: 100, entitlementPct: 0, grants: 0 });
    expect(window(sim, 'a', 10, 11)[0]?.pausedMs).toBeCloseTo(95, 6);
    for (const r of window(sim, 'b', 11, 20)) expect(r.usedMs).toBeCloseTo(100, 6);
    expect(share(window(sim, 'a', 21, 30))).toBeCloseTo(50, 0);
  });

  it('applies live changes from the next period', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    busyMix(sim, { a: 1000, b: 1000 });
    sim.runUntil(1050);
    sim.scheduler.setResources('a', { weight: 3000 }, 1050);
    sim.scheduler.setResources('b', { capPct: 10 }, 1050);
    sim.runUntil(3000);
    expect(window(sim, 'a', 10, 11)[0]).toMatchObject({ entitlementPct: 50, weight: 1000 });
    expect(window(sim, 'a', 10, 11)[0]?.usedMs).toBeCloseTo(50, 6);
    expect(window(sim, 'a', 11, 12)[0]).toMatchObject({ entitlementPct: 90, weight: 3000 });
    expect(share(window(sim, 'a', 11))).toBeCloseTo(90, 6);
    for (const r of window(sim, 'b', 11)) expect(r.usedMs).toBeLessThanOrEqual(10 + 1e-9);
  });

  it('applies a pCPU change from the next period', () => {
    const sim = new SchedulerSim({ config: { pcpus: 1 } });
    busyMix(sim, { a: 1000, b: 1000 });
    sim.runUntil(520);
    sim.scheduler.setConfig({ pcpus: 2 }, 520);
    sim.runUntil(1500);
    expect(window(sim, 'a', 5, 6)[0]?.usedMs).toBeCloseTo(50, 6);
    for (const r of window(sim, 'a', 6)) expect(r.usedMs).toBeCloseTo(100, 6);
    expect(sim.periods[6]?.host.pcpus).toBe(2);
  });

  it('keeps its books consistent in a random mix', () => {
    const sim = new SchedulerSim({ config: { pcpus: 2, sliceMs: 7, periodMs: 50 }, reportDelayMs: 0.2, seed: 21 });
    checkWorkConserving(sim);
    sim.addGuest('busy', busyGuest(overrun), { weight: 2000 });
    sim.addGuest('capped', busyGuest(overrun), { capPct: 30 });
    sim.addGuest('reserved', burstyGuest(20, 90), { reservationPct: 40 });
    sim.addGuest('bursty', burstyGuest(35, 120));
    sim.addGuest('idle', idleGuest(80, 0.4));
    sim.runPeriods(200);
    for (const p of sim.periods) {
      for (const r of p.vms) {
        expect(r.runningMs + r.readyMs + r.cappedMs + r.idleMs + r.pausedMs).toBeCloseTo(r.periodMs, 6);
        expect(r.usedMs).toBeLessThanOrEqual(r.periodMs + 4);
      }
      for (const b of p.host.busyMs) expect(b).toBeLessThanOrEqual(p.host.periodMs);
      const usedOnPcpus = p.host.byVm.reduce((a, m) => a + Object.values(m).reduce((x, y) => x + y, 0), 0);
      const used = p.vms.reduce((a, r) => a + r.usedMs - r.unscheduledMs, 0);
      expect(usedOnPcpus).toBeCloseTo(used, 6);
    }
    for (const r of window(sim, 'capped', 1)) expect(r.usedMs).toBeLessThanOrEqual(15 + 2);
    // The bursty reserved VM gets all it asks for (20 ms per 90 ms is 22 %).
    expect(share(window(sim, 'reserved', 2))).toBeGreaterThan(21.5);
  });

  it.each([1, 2, 3, 4])('survives random user actions with consistent books (seed %d)', (seed) => {
    const sim = new SchedulerSim({ config: { pcpus: 1 + (seed % 2) }, reportDelayMs: 0.1 * seed, seed });
    checkWorkConserving(sim);
    const profiles = [() => busyGuest(overrun), () => idleGuest(60, 0.3), () => burstyGuest(25, 140)];
    const ids = ['v0', 'v1', 'v2', 'v3', 'v4'];
    ids.forEach((id, i) => sim.addGuest(id, profiles[i % 3]?.() ?? busyGuest(), { weight: 500 * (i + 1) }));
    const paused = new Set<string>();
    const removed = new Set<string>();
    for (let step = 0; step < 60; step++) {
      sim.runUntil(sim.clock.now() + 17 + sim.random() * 40);
      const id = ids[Math.floor(sim.random() * ids.length)] ?? 'v0';
      if (removed.has(id)) continue;
      const roll = sim.random();
      if (roll < 0.3) {
        sim.setPaused(id, !paused.has(id));
        if (paused.has(id)) paused.delete(id);
        else paused.add(id);
      } else if (roll < 0.6) {
        sim.scheduler.setResources(id, { weight: 1 + Math.floor(sim.random() * 5000), capPct: sim.random() < 0.5 ? null : 5 + Math.floor(sim.random() * 95) });
      } else if (roll < 0.65 && removed.size < 2) {
        sim.removeGuest(id);
        removed.add(id);
      } else if (roll < 0.7) {
        sim.scheduler.setConfig({ pcpus: 1 + Math.floor(sim.random() * 3) });
      }
    }
    sim.runPeriods(2);
    const present = new Map<string, number>(); // periods each VM was present for in full
    for (const p of sim.periods) {
      for (const r of p.vms) {
        const covered = r.runningMs + r.readyMs + r.cappedMs + r.idleMs + r.pausedMs;
        expect(covered).toBeLessThanOrEqual(r.periodMs + 1e-6);
        if (Math.abs(covered - r.periodMs) < 1e-6) present.set(r.vmId, (present.get(r.vmId) ?? 0) + 1);
        expect(r.usedMs).toBeLessThanOrEqual(r.periodMs * 1.05);
        if (r.capPct !== null) expect(r.usedMs).toBeLessThanOrEqual((r.capPct * r.periodMs) / 100 + 2 + 1e-6);
        if (r.pausedMs === r.periodMs) expect(r.grants).toBe(0);
      }
      expect(p.host.busyMs.every((b, i) => b + (p.host.idleMs[i] ?? 0) === p.host.periodMs)).toBe(true);
    }
    for (const id of ids) if (!removed.has(id)) expect(present.get(id) ?? 0).toBeGreaterThan(10);
  });
});
