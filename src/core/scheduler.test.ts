// Event-level tests of CpuScheduler: one call at a time on a FakeClock.
// Whole-system properties (shares, caps, fairness) are in scheduler-properties.test.ts.
import { describe, expect, it } from 'vitest';
import { FakeClock } from './clock.ts';
import { CpuScheduler } from './scheduler.ts';
import type { Decision, GrantDecision, PeriodRecord, QueueDecision, SliceReport, VmResourcesInput } from './scheduler-types.ts';
import { caught as refusal } from './caught.test-helper.ts';

// These tests follow every hand-over through the host (handOff off);
// hand-overs between workers have their own block at the end.
function setup(pcpus = 1, vms: Record<string, VmResourcesInput> = {}, start = 0, handOff = false) {
  const clock = new FakeClock(start);
  const s = new CpuScheduler({ pcpus, handOff }, clock);
  for (const [id, res] of Object.entries(vms)) s.addVm(id, res);
  return { clock, s };
}

function grants(ds: Decision[]): GrantDecision[] {
  return ds.filter((d): d is GrantDecision => d.kind === 'grant');
}

function only<T>(list: T[]): T {
  expect(list).toHaveLength(1);
  return list[0] as T;
}


const expired = (usedMs: number) => ({ usedMs, instructions: usedMs * 350_000, reason: 'expired' as const });
const idle = (usedMs: number) => ({ usedMs, instructions: 0, reason: 'idle' as const });

function bucketsSum(r: PeriodRecord): number {
  return r.runningMs + r.readyMs + r.cappedMs + r.idleMs + r.pausedMs;
}

describe('CpuScheduler basics', () => {
  it('starts its first period at the clock time', () => {
    const { s } = setup(2, {}, 1000);
    expect(s.nextDeadline()).toBe(1100);
    expect(s.config).toEqual({ pcpus: 2, periodMs: 100, sliceMs: 10, minGrantMs: 1, handOff: false });
    expect(s.view()).toMatchObject({ periodIndex: 0, periodStartMs: 1000, periodEndMs: 1100, pcpus: [null, null] });
  });

  it('gives a lone VM one grant to the period end', () => {
    const { s } = setup(1, { a: {} });
    expect(s.dispatch(0)).toEqual([{ kind: 'grant', vmId: 'a', pcpu: 0, ms: 100, grantId: 1 }]);
    expect(s.dispatch(0)).toEqual([]);
  });

  it('slices when others wait, with increasing grant ids', () => {
    const { s } = setup(1, { a: {}, b: {} });
    const first = only(grants(s.dispatch(0)));
    expect(first).toMatchObject({ vmId: 'a', ms: 10, grantId: 1 });
    s.onSliceEnd('a', 1, expired(10), 10);
    expect(only(grants(s.dispatch(10)))).toMatchObject({ vmId: 'b', ms: 10, grantId: 2 });
  });

  it('fills every pCPU, one VM per pCPU at most', () => {
    const { s } = setup(3, { a: {}, b: {} });
    const ds = grants(s.dispatch(0));
    expect(ds.map((d) => [d.vmId, d.pcpu])).toEqual([
      ['a', 0],
      ['b', 1],
    ]);
    // Nobody else waits, so both run to the period end.
    expect(ds.map((d) => d.ms)).toEqual([100, 100]);
  });

  it('takes a halted guest off the CPU until it wakes', () => {
    const { s } = setup(1, { a: {} });
    const g = only(grants(s.dispatch(0)));
    s.onSliceEnd('a', g.grantId, idle(0.5), 0.5);
    expect(s.dispatch(0.5)).toEqual([]);
    expect(s.view().vms[0]?.state).toBe('blocked');
    s.onWake('a', 30);
    expect(only(grants(s.dispatch(30)))).toMatchObject({ vmId: 'a', ms: 70 });
  });

  it.each([
    ['a stale grant id', (s: CpuScheduler) => s.onSliceEnd('a', 999, expired(5), 5)],
    ['an unknown VM', (s: CpuScheduler) => s.onSliceEnd('zz', 1, expired(5), 5)],
    ['a wake of a running VM', (s: CpuScheduler) => s.onWake('a', 5)],
    ['a wake of an unknown VM', (s: CpuScheduler) => s.onWake('zz', 5)],
    ['usage of an unknown VM', (s: CpuScheduler) => s.onUsage('zz', { usedMs: 1, instructions: 1 }, 5)],
  ])('ignores %s', (_what, act) => {
    const { s } = setup(1, { a: {} });
    s.dispatch(0);
    const before = s.view();
    act(s);
    expect({ ...s.view(), nowMs: 0 }).toEqual({ ...before, nowMs: 0 });
  });

  it('refuses bad input with typed errors', () => {
    const { s } = setup(1, { a: { reservationPct: 60 } });
    expect(refusal(() => s.addVm('a')).code).toBe('duplicate-name');
    expect(refusal(() => s.addVm('')).code).toBe('invalid-argument');
    expect(refusal(() => s.addVm('b', { weight: 0 })).message).toBe('weight of b must be a whole number from 1 to 100000, got 0');
    const over = refusal(() => s.addVm('b', { reservationPct: 50 }));
    expect(over.code).toBe('reservation-overcommit');
    expect(over.message).toBe("cannot reserve 50 % of one pCPU for b: reservations would total 110 % but the host's 1 pCPU provides 100 % (others: a 60 %)");
    expect(refusal(() => s.setResources('nope', {})).code).toBe('not-found');
    expect(refusal(() => s.setPaused('nope', true)).code).toBe('not-found');
    expect(refusal(() => s.dispatch(Number.NaN)).message).toBe('a scheduler time must be a finite number of ms, got NaN');
    expect(refusal(() => s.onUsage('a', { usedMs: -1, instructions: 0 })).code).toBe('invalid-argument');
    expect(refusal(() => s.setConfig({ sliceMs: 500 })).code).toBe('invalid-argument');
  });

  it('refuses fewer pCPUs than the reservations need', () => {
    const { s } = setup(2, { a: { reservationPct: 80 }, b: { reservationPct: 80 } });
    const e = refusal(() => s.setConfig({ pcpus: 1 }));
    expect(e.code).toBe('reservation-overcommit');
    expect(e.message).toBe("reservations would total 160 % but the host's 1 pCPU provides 100 % (a 80 %, b 80 %)");
    expect(s.pendingConfig).toBeNull();
  });

  it('treats time that goes back as now', () => {
    const { s } = setup(1, { a: {} });
    s.dispatch(50);
    s.onWake('a', 10);
    expect(s.view().nowMs).toBe(50);
  });

  it('defaults every time argument to the clock', () => {
    const { clock, s } = setup(1, { a: {}, b: {} });
    const g = only(grants(s.dispatch()));
    clock.advance(10);
    s.onSliceEnd(g.vmId, g.grantId, expired(10));
    expect(only(grants(s.dispatch()))).toMatchObject({ vmId: 'b' });
    clock.advance(95);
    expect(s.tick().map((r) => r.vmId)).toEqual(['a', 'b']);
  });
});

describe('CpuScheduler accounting', () => {
  it('closes periods and attributes time in states to the right period', () => {
    const { s } = setup(1, { a: {}, b: {} });
    const g1 = only(grants(s.dispatch(0))); // a runs 0..10, b waits
    s.onSliceEnd('a', g1.grantId, idle(10), 10); // a halts at 10
    const g2 = only(grants(s.dispatch(10))); // b alone: runs to 100
    expect(g2).toMatchObject({ vmId: 'b', ms: 90 });
    s.onSliceEnd('b', g2.grantId, expired(90), 100);
    s.onWake('a', 250); // a blocked from 10 to 250: spans two boundaries
    const periods = s.tickPeriods(250);
    expect(periods.map((p) => p.host.periodIndex)).toEqual([0, 1]);
    const [p0, p1] = periods;
    const a0 = p0?.vms.find((r) => r.vmId === 'a');
    const b0 = p0?.vms.find((r) => r.vmId === 'b');
    expect(a0).toMatchObject({ usedMs: 10, runningMs: 10, idleMs: 90, readyMs: 0, grantedMs: 10, grants: 1 });
    expect(b0).toMatchObject({ usedMs: 90, runningMs: 90, readyMs: 10, grantedMs: 90, instructions: 90 * 350_000 });
    expect(p1?.vms.find((r) => r.vmId === 'a')).toMatchObject({ idleMs: 100, usedMs: 0 });
    // b is runnable from 100 on, but nobody dispatched: that is ready time.
    expect(p1?.vms.find((r) => r.vmId === 'b')).toMatchObject({ readyMs: 100 });
    for (const r of periods.flatMap((p) => p.vms)) expect(bucketsSum(r)).toBeCloseTo(100, 9);
    expect(p0?.host).toEqual({ periodIndex: 0, startMs: 0, periodMs: 100, pcpus: 1, busyMs: [100], idleMs: [0], byVm: [{ a: 10, b: 90 }], unscheduledMs: 0 });
    expect(p1?.host).toMatchObject({ busyMs: [0], idleMs: [100] });
    // The rest of period 2 is still open.
    expect(s.tick(299)).toEqual([]);
    expect(s.tick(300).map((r) => [r.periodIndex, r.vmId, r.idleMs, r.readyMs])).toEqual([
      [2, 'a', 50, 50],
      [2, 'b', 0, 100],
    ]);
  });

  it('estimates a grant still running at the boundary and corrects it with the late report', () => {
    const { s } = setup(1, { a: {} });
    const g = only(grants(s.dispatch(0)));
    const [p0] = s.tickPeriods(100); // the report has not arrived yet
    expect(p0?.vms[0]).toMatchObject({ usedMs: 100, runningMs: 100, instructions: 0 });
    s.onSliceEnd('a', g.grantId, expired(101.5), 100.7); // 1.5 ms overrun, heard 0.7 ms late
    const [p1] = s.tickPeriods(200);
    expect(p1?.vms[0]?.usedMs).toBeCloseTo(1.5, 9);
    expect(p1?.vms[0]?.instructions).toBe(101.5 * 350_000);
    expect(p1?.vms[0]?.runningMs).toBeCloseTo(0.7, 9);
  });

  it('estimates the instructions of a grant cut by the boundary from the last known speed', () => {
    const { s } = setup(1, { a: {}, b: {} });
    const g1 = only(grants(s.dispatch(0)));
    s.onSliceEnd('a', g1.grantId, { usedMs: 10, instructions: 4_000_000, reason: 'expired' }, 10); // 400 MIPS
    const g2 = only(grants(s.dispatch(10)));
    s.onSliceEnd('b', g2.grantId, idle(0), 10);
    const g3 = only(grants(s.dispatch(10))); // a runs 10..100
    const [p0] = s.tickPeriods(100);
    expect(p0?.vms[0]).toMatchObject({ usedMs: 100, instructions: 40_000_000 });
    s.onSliceEnd('a', g3.grantId, { usedMs: 90, instructions: 35_000_000, reason: 'expired' }, 100.4);
    // The guest was slower than estimated: the next period's count is corrected (never below 0).
    const [p1] = s.tickPeriods(200);
    expect(p1?.vms[0]?.instructions).toBe(0);
  });

  it('charges an overrun against the next period cap', () => {
    const { s } = setup(1, { a: { capPct: 30 } });
    const g = only(grants(s.dispatch(0)));
    expect(g.ms).toBe(30);
    s.onSliceEnd('a', g.grantId, expired(34), 34);
    expect(s.dispatch(34)).toEqual([]); // cap spent
    s.tick(100);
    // 4 ms over the 30 ms budget: this period's budget is 26 ms.
    expect(only(grants(s.dispatch(100))).ms).toBeCloseTo(26, 9);
  });

  it('records time held back by the cap as capped, not ready', () => {
    const { s } = setup(1, { a: { capPct: 30 } });
    const g = only(grants(s.dispatch(0)));
    s.onSliceEnd('a', g.grantId, expired(30), 30);
    expect(s.dispatch(30)).toEqual([]);
    expect(only(s.tick(100))).toMatchObject({ runningMs: 30, cappedMs: 70, readyMs: 0, capPct: 30 });
  });

  it('accounts usage outside grants and charges it', () => {
    const { s } = setup(1, { a: {}, b: {} });
    const g = only(grants(s.dispatch(0)));
    s.onSliceEnd('a', g.grantId, idle(1), 1);
    s.onUsage('a', { usedMs: 0.3, instructions: 1000 }, 50);
    expect(s.view().vms[0]?.creditMs).toBeCloseTo(50 - 1.3, 9);
    const [p0] = s.tickPeriods(100);
    expect(p0?.vms[0]).toMatchObject({ usedMs: 1.3, unscheduledMs: 0.3, instructions: 1000 });
    expect(p0?.host.unscheduledMs).toBeCloseTo(0.3, 9);
    expect(p0?.host.byVm[0]?.['a']).toBeCloseTo(1, 9);
  });

  it('does not carry unused credit into the next period', () => {
    const { s } = setup(1, { a: {}, b: {} });
    s.tick(100);
    expect(s.view().vms.map((v) => v.creditMs)).toEqual([50, 50]);
  });

  it('trims the credit of runnable VMs by one factor when the time left cannot pay it', () => {
    const { s } = setup(1, { a: { weight: 1000 }, b: { weight: 3000 }, c: { weight: 1000 } });
    // Credit 20 / 60 / 20 ms. a and b run a slice each; c halts at once.
    const step = (vmId: string, at: number, report: SliceReport, reportAt: number) => {
      expect(only(grants(s.dispatch(at)))).toMatchObject({ vmId });
      s.onSliceEnd(vmId, s.view().vms.find((v) => v.vmId === vmId)!.grantId!, report, reportAt);
    };
    step('a', 0, expired(10), 10);
    step('b', 10, expired(10), 20);
    step('c', 20, idle(0), 20);
    // b's next report comes 25 ms late: 10 ms used, 35 ms gone. 45 ms are
    // left for the 50 that a and b are owed; the blocked c waits for nobody.
    step('b', 20, expired(10), 55);
    s.dispatch(55);
    const credit = Object.fromEntries(s.view().vms.map((v) => [v.vmId, v.creditMs]));
    expect(credit['a']).toBeCloseTo(10 * 0.9, 9);
    expect(credit['b']).toBeCloseTo(40 * 0.9, 9);
    expect(credit['c']).toBeCloseTo(20, 9);
  });

  it('leaves credit alone while the time left covers it', () => {
    const { s } = setup(2, { a: {}, b: {}, c: {} });
    const ds = grants(s.dispatch(0));
    for (const d of ds) s.onSliceEnd(d.vmId, d.grantId, expired(10), 10);
    s.dispatch(10);
    expect(s.view().vms.map((v) => v.creditMs).reduce((x, y) => x + y, 0)).toBeCloseTo(200 - 20, 9);
  });

  it('gives a VM added mid-period no credit and a prorated cap until the next period', () => {
    const { s } = setup(1, { a: {} });
    s.addVm('b', { capPct: 50, reservationPct: 20 }, 40);
    expect(s.view().vms[1]).toMatchObject({ creditMs: 0, entitlementPct: 0, limitMs: 30, reservationMs: 0 });
    expect(s.view().vms[0]?.entitlementPct).toBe(100);
    s.tick(100);
    expect(s.view().vms.map((v) => v.entitlementPct)).toEqual([50, 50]);
    expect(s.view().vms[1]).toMatchObject({ limitMs: 50, reservationMs: 20 });
  });
});

describe('CpuScheduler preemption', () => {
  it('preempts a long grant once it has run a slice when another VM wakes', () => {
    const { s } = setup(1, { a: {}, b: {} });
    const ga = only(grants(s.dispatch(0)));
    s.onSliceEnd('a', ga.grantId, expired(10), 10);
    const gb = only(grants(s.dispatch(10)));
    s.onSliceEnd('b', gb.grantId, idle(0.1), 10.1);
    const long = only(grants(s.dispatch(10.1)));
    expect(long).toMatchObject({ vmId: 'a', ms: 89.9 });
    s.onWake('b', 15); // a has run 4.9 ms: not yet
    expect(s.dispatch(15)).toEqual([]);
    expect(s.nextDeadline()).toBeCloseTo(20.1, 9);
    expect(s.dispatch(20.1)).toEqual([{ kind: 'preempt', vmId: 'a', grantId: long.grantId }]);
    expect(s.dispatch(20.3)).toEqual([]); // asked once
    expect(s.nextDeadline()).toBe(100);
    s.onSliceEnd('a', long.grantId, { usedMs: 10.4, instructions: 0, reason: 'preempted' }, 20.5);
    expect(only(grants(s.dispatch(20.5)))).toMatchObject({ vmId: 'b' });
    // b woke within the charged head (the first 10 ms), so all 10.4 ms are charged.
    expect(s.view().vms[0]?.creditMs).toBeCloseTo(50 - 10 - 10.4, 9);
    const a0 = s.tick(100).find((r) => r.vmId === 'a');
    // Preemption takes the unused rest of the grant back.
    expect(a0?.grantedMs).toBeCloseTo(10 + 10.4, 9);
  });

  it('does not preempt a normal slice', () => {
    const { s } = setup(1, { a: {}, b: {} });
    s.dispatch(0);
    s.addVm('c', {}, 5);
    expect(s.dispatch(15)).toEqual([]);
  });

  it('does not preempt a grant that ends soon anyway', () => {
    const { s } = setup(1, { a: {}, b: {} });
    const ga = only(grants(s.dispatch(0)));
    s.onSliceEnd('a', ga.grantId, expired(10), 10);
    const gb = only(grants(s.dispatch(10)));
    s.onSliceEnd('b', gb.grantId, idle(0), 10);
    only(grants(s.dispatch(10)));
    s.onWake('b', 99.5);
    expect(s.dispatch(99.5)).toEqual([]);
    expect(s.nextDeadline()).toBe(100);
  });

  it('makes no grant in the last moments of a period', () => {
    const { s } = setup(1, { a: {}, b: {} });
    const g = only(grants(s.dispatch(0)));
    s.onSliceEnd('a', g.grantId, expired(99.5), 99.5);
    expect(s.dispatch(99.5)).toEqual([]);
    expect(s.nextDeadline()).toBe(100);
  });
});

describe('CpuScheduler pause, removal and changes', () => {
  it('pauses a running VM: frees its pCPU, gives it nothing, counts paused time', () => {
    const { s } = setup(1, { a: {}, b: {} });
    const g = only(grants(s.dispatch(0)));
    s.setPaused('a', true, 4);
    expect(s.view().pcpus[0]).toBeNull();
    expect(only(grants(s.dispatch(4)))).toMatchObject({ vmId: 'b', ms: 96 });
    // The late report of the voided grant still corrects the estimate (4 ms).
    s.onSliceEnd('a', g.grantId, { usedMs: 4.5, instructions: 10, reason: 'preempted' }, 4.2);
    const [p0, p1] = s.tickPeriods(200);
    expect(p0?.vms[0]).toMatchObject({ usedMs: 4.5, pausedMs: 96, runningMs: 4, grantedMs: 4 });
    expect(p1?.vms[0]).toMatchObject({ usedMs: 0, pausedMs: 100, entitlementPct: 0, grants: 0 });
    expect(p1?.vms[1]?.entitlementPct).toBe(100);
    s.setPaused('a', false, 200);
    s.setPaused('a', false, 200); // idempotent
    expect(s.view().vms[0]?.state).toBe('runnable');
  });

  it('removes a VM: frees its pCPU, keeps its final record, ignores it afterwards', () => {
    const { s } = setup(1, { a: {}, b: {} });
    const g = only(grants(s.dispatch(0)));
    expect(s.removeVm('a', 5)).toBe(true);
    expect(s.removeVm('a', 5)).toBe(false);
    expect(only(grants(s.dispatch(5)))).toMatchObject({ vmId: 'b' });
    s.onSliceEnd('a', g.grantId, expired(10), 10);
    const [p0, p1] = s.tickPeriods(200);
    expect(p0?.vms.map((r) => [r.vmId, r.usedMs, r.runningMs])).toEqual([
      ['a', 5, 5],
      ['b', 95, 95],
    ]);
    expect(p1?.vms.map((r) => r.vmId)).toEqual(['b']);
  });

  it('applies resource changes from the next period', () => {
    const { s } = setup(1, { a: {}, b: {} });
    expect(s.setResources('a', { weight: 3000 }, 30)).toEqual({ weight: 3000, capPct: null, reservationPct: null });
    expect(s.view().vms[0]).toMatchObject({ entitlementPct: 50, pendingResources: { weight: 3000 } });
    const [p0] = s.tickPeriods(100);
    expect(p0?.vms[0]).toMatchObject({ weight: 1000, entitlementPct: 50 });
    expect(s.view().vms.map((v) => v.entitlementPct)).toEqual([75, expect.closeTo(25, 9)]);
    expect(s.tick(200)[0]).toMatchObject({ weight: 3000, entitlementPct: 75 });
  });

  it('applies config changes from the next period', () => {
    const { s } = setup(1, { a: {}, b: {} });
    s.setConfig({ pcpus: 2, periodMs: 50 }, 10);
    expect(s.config.pcpus).toBe(1);
    expect(s.pendingConfig).toMatchObject({ pcpus: 2, periodMs: 50 });
    expect(s.nextDeadline()).toBe(100);
    s.tick(100);
    expect(s.config).toMatchObject({ pcpus: 2, periodMs: 50 });
    expect(s.nextDeadline()).toBe(150);
    expect(grants(s.dispatch(100)).map((g) => [g.vmId, g.pcpu, g.ms])).toEqual([
      ['a', 0, 50],
      ['b', 1, 50],
    ]);
  });

  it('keeps a grant on a removed pCPU until it reports', () => {
    const { s } = setup(2, { a: {}, b: {} });
    s.dispatch(0);
    s.setConfig({ pcpus: 1 }, 0);
    const [p0] = s.tickPeriods(100);
    expect(p0?.host.pcpus).toBe(2);
    expect(s.view().pcpus).toHaveLength(2);
    s.onSliceEnd('b', 2, expired(100), 100.5);
    expect(s.view().pcpus).toHaveLength(1);
  });

  it('snapshots and restores its configuration', () => {
    const { s } = setup(2, { a: { weight: 2000 }, b: { capPct: 40, reservationPct: 10 } });
    s.setResources('a', { capPct: 90 });
    s.setConfig({ sliceMs: 5 });
    const snap = JSON.parse(JSON.stringify(s.snapshot())) as ReturnType<CpuScheduler['snapshot']>;
    expect(snap).toEqual({
      config: { pcpus: 2, periodMs: 100, sliceMs: 5, minGrantMs: 1, handOff: false },
      vms: [
        { vmId: 'a', resources: { weight: 2000, capPct: 90, reservationPct: null } },
        { vmId: 'b', resources: { weight: 1000, capPct: 40, reservationPct: 10 } },
      ],
    });
    const back = CpuScheduler.restore(snap, new FakeClock(500));
    expect(back.snapshot()).toEqual(snap);
    // Restored VMs count in the first period at once.
    expect(back.view().vms.map((v) => v.entitlementPct)).toEqual([90, 40]);
    expect(back.nextDeadline()).toBe(600);
  });
});

describe('CpuScheduler hand-over between workers', () => {
  const queued = (ds: Decision[]) => ds.filter((d): d is QueueDecision => d.kind === 'queue');
  const handed = (usedMs: number, to: number) => ({ ...expired(usedMs), handedOff: to });

  it('queues who follows a running grant while others wait, and takes the hand-over report as the start', () => {
    const { s } = setup(1, { a: {}, b: {} }, 0, true);
    const ds = s.dispatch(0);
    expect(only(grants(ds))).toMatchObject({ vmId: 'a', ms: 10, grantId: 1 });
    const q = only(queued(ds));
    expect(q).toEqual({ kind: 'queue', vmId: 'b', pcpu: 0, ms: 10, grantId: 2, after: { vmId: 'a', grantId: 1 } });
    expect(s.view().pcpus[0]?.nextVmId).toBe('b');
    s.onSliceEnd('a', 1, handed(10, 2), 10.3);
    expect(s.view().pcpus[0]).toMatchObject({ vmId: 'b', grantId: 2, startMs: 10.3 });
    // b already runs; the host grants it again all the same (a worker ignores
    // a grant it has started; one whose hand-over was lost starts on it), and a is queued to follow b.
    const next = s.dispatch(10.3);
    expect(only(grants(next))).toMatchObject({ vmId: 'b', grantId: 2 });
    expect(only(queued(next))).toMatchObject({ vmId: 'a', after: { vmId: 'b', grantId: 2 } });
  });

  it('grants the queued VM itself when the worker did not hand over', () => {
    const { s } = setup(1, { a: {}, b: {} }, 0, true);
    s.dispatch(0);
    s.onSliceEnd('a', 1, expired(10), 10);
    expect(only(grants(s.dispatch(10)))).toMatchObject({ vmId: 'b', grantId: 2, ms: 10 });
  });

  it('queues the running VM after itself when it still ranks first, for what its credit will be', () => {
    const { s } = setup(1, { a: { weight: 1000 }, b: { weight: 4000 } }, 0, true);
    s.dispatch(0); // a runs, b queued
    s.onSliceEnd('a', 1, handed(10, 2), 10);
    // b will have 70 of its 80 ms credit left, a 10 of 20: b follows itself.
    expect(only(queued(s.dispatch(10)))).toMatchObject({ vmId: 'b', ms: 10, after: { vmId: 'b', grantId: 2 } });
  });

  it('withdraws a queued VM that is paused, and frees the pCPU when the hand-over report names it', () => {
    const { s } = setup(1, { a: {}, b: {}, c: {} }, 0, true);
    s.dispatch(0); // a runs, b queued
    s.setPaused('b', true, 5);
    expect(s.view().pcpus[0]?.nextVmId).not.toBe('b');
    s.onSliceEnd('a', 1, handed(10, 2), 10);
    expect(s.view().pcpus[0]?.vmId).not.toBe('b');
    expect(grants(s.dispatch(10)).map((d) => d.vmId)).not.toContain('b');
  });

  it('gives the pCPU to the queued VM when the running one is paused', () => {
    const { s } = setup(1, { a: {}, b: {} }, 0, true);
    s.dispatch(0);
    s.setPaused('a', true, 4);
    expect(only(grants(s.dispatch(4)))).toMatchObject({ vmId: 'b', grantId: 2 });
    expect(s.view().pcpus[0]).toMatchObject({ vmId: 'b', startMs: 4 });
  });

  it('books a queued grant whose report arrives before the hand-over report', () => {
    const { s, clock } = setup(1, { a: {}, b: {} }, 0, true);
    s.dispatch(0);
    // b started at 10 from a's hand-over and halted at 10.5; its report wins the race.
    s.onSliceEnd('b', 2, idle(0.5), 10.6);
    expect(s.view().vms.find((v) => v.vmId === 'b')).toMatchObject({ state: 'blocked', usedMs: 0.5 });
    s.onSliceEnd('a', 1, handed(10, 2), 10.7);
    expect(s.view().pcpus[0]).toBeNull();
    expect(only(grants(s.dispatch(10.7)))).toMatchObject({ vmId: 'a' });
    clock.set(100);
    const records = s.tick(100);
    expect(records.find((r) => r.vmId === 'b')).toMatchObject({ usedMs: 0.5, grants: 1, handedOver: 1 });
  });

  it('does not queue a capped VM after itself for the grant its cap ends', () => {
    // a's reservation ranks it first until it has had its 30 ms, which its cap also ends.
    const { s } = setup(1, { a: { capPct: 30, reservationPct: 30 }, b: {} }, 0, true);
    expect(only(queued(s.dispatch(0)))).toMatchObject({ vmId: 'a', grantId: 2, ms: 10, after: { vmId: 'a', grantId: 1 } });
    s.onSliceEnd('a', 1, handed(10, 2), 10);
    // Grant 2 ends at 20 with 10 ms of cap left, all of a third grant: but grant 2
    // may overrun, which is known only from its report. Nobody is queued; the report decides.
    expect(queued(s.dispatch(10))).toEqual([]);
    s.onSliceEnd('a', 2, expired(11.5), 21.5);
    expect(only(grants(s.dispatch(21.5)))).toMatchObject({ vmId: 'a', ms: 8.5 });
  });

  // Runs a and b (equal weights) slice by slice through their hand-overs up to `until`;
  // returns the running grant and the one queued after it.
  function chain(until: number) {
    const { s } = setup(1, { a: {}, b: {} }, 0, true);
    const ds = s.dispatch(0);
    let running: { vmId: string; grantId: number } = only(grants(ds));
    let next = only(queued(ds));
    for (let t = 10; t < until; t += 10) {
      s.onSliceEnd(running.vmId, running.grantId, handed(10, next.grantId), t);
      running = next;
      next = only(queued(s.dispatch(t)));
    }
    return { s, running, next };
  }

  it('queues the next period\'s first after a grant that ends at the period end, ranked by the next period\'s credit', () => {
    const { s, running, next } = chain(100);
    // b runs 90-100 with its credit spent; a waited since 90: both start the next period with 50 ms.
    expect(running.vmId).toBe('b');
    expect(next).toMatchObject({ vmId: 'a', ms: 10, after: { vmId: 'b', grantId: running.grantId } });
    s.onSliceEnd('b', running.grantId, handed(10.4, next.grantId), 100.6);
    expect(s.view()).toMatchObject({ periodIndex: 1, pcpus: [{ vmId: 'a', grantId: next.grantId, startMs: 100.6 }] });
    s.dispatch(100.6);
    const a1 = s.tick(200).find((r) => r.vmId === 'a' && r.periodIndex === 1);
    expect(a1).toMatchObject({ handedOver: 1 });
  });

  it('stops a next-period grant that its predecessor started early, and fills the rest of this period', () => {
    const { s, running, next } = chain(100);
    // b halts at 95 and its worker hands over at once: a's grant belongs to the next period.
    s.onSliceEnd('b', running.grantId, { ...idle(5), handedOff: next.grantId }, 95);
    const ds = s.dispatch(95);
    expect(ds[0]).toEqual({ kind: 'preempt', vmId: 'a', grantId: next.grantId });
    // The 5 ms left go to a as leftovers (its credit is spent).
    expect(only(grants(ds))).toMatchObject({ vmId: 'a', ms: 5 });
  });

  it('queues a lone VM after itself for the whole next period, and preempts that grant for a VM that wakes', () => {
    const { s } = setup(1, { a: {} }, 0, true);
    const ds = s.dispatch(0);
    expect(only(grants(ds))).toMatchObject({ vmId: 'a', ms: 100, grantId: 1 });
    expect(only(queued(ds))).toMatchObject({ vmId: 'a', ms: 100, grantId: 2, after: { vmId: 'a', grantId: 1 } });
    s.onSliceEnd('a', 1, handed(100.5, 2), 100.7);
    expect(s.view().pcpus[0]).toMatchObject({ vmId: 'a', grantId: 2, extended: true });
    // And after itself again for the period after.
    const again = only(queued(s.dispatch(100.7)));
    expect(again).toMatchObject({ vmId: 'a', grantId: 3, after: { vmId: 'a', grantId: 2 } });
    expect(again.ms).toBeCloseTo(100 - 0.7, 9); // its cap budget (one vCPU) less the overrun into period 1
    s.addVm('b', {}, 105);
    expect(s.dispatch(105).filter((d) => d.kind === 'preempt')).toEqual([]);
    expect(s.dispatch(110.7)).toContainEqual({ kind: 'preempt', vmId: 'a', grantId: 2 });
  });

  it('withdraws a grant queued for the next period when that period\'s settings change', () => {
    const { s } = setup(1, { a: {} }, 0, true);
    const q = only(queued(s.dispatch(0)));
    s.setResources('a', { capPct: 20 }, 50);
    expect(s.dispatch(50)).toEqual([{ kind: 'preempt', vmId: 'a', grantId: q.grantId }]);
    // The turn-over decides under the new cap: 20 ms of the next period, less the 0.3 ms overrun into it.
    s.onSliceEnd('a', 1, expired(100.3), 100.3);
    const g = only(grants(s.dispatch(100.3)));
    expect(g.vmId).toBe('a');
    expect(g.ms).toBeCloseTo(19.7, 9);
    const { s: s2 } = setup(1, { a: {} }, 0, true);
    const q2 = only(queued(s2.dispatch(0)));
    s2.setConfig({ sliceMs: 5 }, 50);
    expect(s2.dispatch(50)).toContainEqual({ kind: 'preempt', vmId: 'a', grantId: q2.grantId });
  });

  it('queues nobody for a grant that ends in the last moments of the period', () => {
    const { s } = setup(1, { a: {}, b: {} }, 0, true);
    s.dispatch(0);
    s.onSliceEnd('a', 1, handed(10, 2), 89.5); // b's grant would end at 99.5
    expect(queued(s.dispatch(89.5))).toEqual([]);
  });

  it('queues nothing with hand-over off', () => {
    const { s } = setup(1, { a: {}, b: {} }, 0, false);
    expect(queued(s.dispatch(0))).toEqual([]);
  });
});

describe('CpuScheduler overdue reports', () => {
  it('voids a grant whose report does not come, frees its pCPU for the others, and books a late report', () => {
    const { clock, s } = setup(1, { a: {}, b: {} });
    const first = only(grants(s.dispatch()));
    expect(s.reportDue()).toBe(first.ms);
    clock.advance(first.ms + 100);
    expect(s.voidOverdue(200)).toEqual([]);
    clock.advance(150);
    const voided = s.voidOverdue(200);
    expect(voided).toEqual([{ vmId: first.vmId, grantId: first.grantId, pcpu: 0, lateMs: 250 }]);
    expect(s.view().pcpus[0]).toBeNull();
    expect(s.reportDue()).toBe(Infinity);
    // The pCPU goes to the other VM at once.
    const next = only(grants(s.dispatch()));
    expect(next.vmId).not.toBe(first.vmId);
    // The lost report arriving now is booked, not treated as the running grant's.
    s.onSliceEnd(first.vmId, first.grantId, expired(first.ms));
    expect(s.view().pcpus[0]?.grantId).toBe(next.grantId);
  });
});
