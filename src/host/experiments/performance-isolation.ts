// Performance isolation (noisy neighbour): on one pCPU, a victim guest runs a
// CPU benchmark while three neighbours burn CPU and one of them also runs a
// fork bomb. Run once with equal weights (the victim's promise is a fair
// quarter) and once with a reservation for the victim (its promise is the
// reservation). The victim's achieved share must meet its promise: what the
// neighbours do inside their own guests cannot take it away.
import type { VmState } from '../../core/lifecycle.ts';
import type { HostApi } from '../host-api.ts';
import {
  DEFAULT_GUEST_MIB,
  ExperimentGuests,
  Steps,
  abortable,
  now,
  sleep,
  waitWarm,
  type ExperimentOptions,
  type GuestRef,
  type Verdict,
} from './experiment.ts';
import { benchCommand, parseBench, type BenchResult } from './guest-tools.ts';

export interface PerformanceIsolationOptions extends ExperimentOptions {
  /** The victim's reservation in the second run, % of one pCPU (default 50). */
  reservationPct?: number;
  /** Length of each benchmark run on the guest's clock (default 8 s). */
  benchSeconds?: number;
  /** Shell-loop iterations per benchmark round (default 200). */
  benchRound?: number;
  /** How far (percentage points) the victim may fall short of its promise (default 5). */
  tolerancePts?: number;
  /** Also run the benchmark alone first, as the reference (default true). */
  baseline?: boolean;
  /** One neighbour also runs hv-forkbomb (default true). */
  forkBomb?: boolean;
}

export interface PerfGuestNumbers extends GuestRef {
  /** % of one pCPU used during the run. */
  sharePct: number;
  /** Million guest instructions per second of wall time. */
  mips: number;
}

export interface PerfRun {
  label: 'alone' | 'equal weights' | 'reservation';
  /** The victim's configuration in words. */
  setting: string;
  windowMs: number;
  victim: PerfGuestNumbers & {
    /** What the scheduler promised the victim (its entitlement), % of one pCPU. */
    entitlementPct: number;
    /** % of the window it was runnable but waiting for the pCPU. */
    readyPct: number;
    bench: BenchResult;
  };
  neighbours: PerfGuestNumbers[];
  /**
   * How busy the one pCPU was, all guests together, % of the window. Below
   * 100 % while everyone is runnable means this computer gave the hypervisor
   * less than a whole core (other programs were running on it).
   */
  hostBusyPct: number;
  /** The victim's part of the time the pCPU did run guests, %: its share of what the host delivered. */
  victimPartPct: number;
  /** Accounting periods the hypervisor closed during the run, and how many the window should hold. */
  periods: number;
  expectedPeriods: number;
}

export interface PerformanceIsolationResult {
  kind: 'performance';
  pcpus: number;
  reservationPct: number;
  tolerancePts: number;
  victim: GuestRef;
  neighbours: (GuestRef & { load: string; stateAfter: VmState; answersAfter: boolean })[];
  runs: PerfRun[];
  /** Time the four guests burned CPU before the runs until their speed levelled off. */
  warmUp: { ms: number; steady: boolean };
  verdict: Verdict;
  durationMs: number;
}

/** Below this, the pCPU counts as short of time (see judge). */
const HOST_SHORT_PCT = 90;

/** Run the noisy-neighbour experiment on hv: it sets 1 pCPU for the time of the run and creates iso-victim, iso-n1..n3. */
export async function runPerformanceIsolation(hv: HostApi, options: PerformanceIsolationOptions = {}): Promise<PerformanceIsolationResult> {
  const t0 = now();
  const { signal } = options;
  const baseline = options.baseline ?? true;
  const forkBomb = options.forkBomb ?? true;
  const reservationPct = options.reservationPct ?? 50;
  const tolerancePts = options.tolerancePts ?? 5;
  const benchSeconds = options.benchSeconds ?? 8;
  const round = options.benchRound ?? 200;
  const memoryMiB = options.memoryMiB ?? DEFAULT_GUEST_MIB;
  const prefix = options.namePrefix ?? 'iso';
  const steps = new Steps(baseline ? 8 : 7, options);
  const guests = new ExperimentGuests(hv, signal);
  const pcpusBefore = hv.settings.pcpus;
  let pcpusChanged = false;
  try {
    steps.next(`Booting ${prefix}-victim and ${prefix}-n1..n3 (${memoryMiB} MiB each)`);
    const [victim, ...neighbours] = (await guests.start(
      ['victim', 'n1', 'n2', 'n3'].map((n) => ({ name: `${prefix}-${n}`, memoryMiB })),
    )) as [GuestRef, GuestRef, GuestRef, GuestRef];
    if (pcpusBefore !== 1) {
      await hv.setHost({ pcpus: 1 });
      pcpusChanged = true;
    }
    // Warm up: a cold guest runs several times slower for a while (v86
    // compiles hot guest code as it runs, and the host compiles that), which
    // would make the first run look worse than it is.
    steps.next('Warming up: all four burn CPU until their speed levels off');
    const all = [victim, ...neighbours];
    for (const g of all) await guests.run(g, 'hv-burn > /dev/null &');
    const warmUp = await waitWarm(hv, all.map((g) => g.vmId), {}, signal);
    for (const g of all) await guests.run(g, 'pkill -KILL hv-burn; true');

    const bench = async (label: PerfRun['label'], setting: string): Promise<PerfRun> => {
      const from = now();
      const out = await guests.run(victim, benchCommand(benchSeconds, round), benchSeconds * 1000 + 120_000);
      const to = now();
      return measure(hv, label, setting, victim, neighbours, from, to, parseBench(out.output));
    };

    const runs: PerfRun[] = [];
    if (baseline) {
      steps.next(`Reference: ${victim.name} runs hv-bench alone for ${benchSeconds} s`);
      runs.push(await bench('alone', 'alone on the pCPU (neighbours idle)'));
    }

    const bomber = neighbours[2];
    steps.next(`${neighbours.map((n) => n.name).join(', ')} burn CPU${forkBomb ? `; ${bomber.name} also starts a fork bomb` : ''}`);
    for (const n of neighbours) await guests.run(n, 'hv-burn > /dev/null &');
    // Typed, not exec'd: once the bomb owns the guest, its shell may never
    // get the CPU to print an exec's end marker.
    if (forkBomb) hv.guest(bomber.vmId)?.write('hv-forkbomb\n');
    await sleep(3000, signal);

    steps.next(`Run 1: equal weights; ${victim.name} runs hv-bench for ${benchSeconds} s`);
    runs.push(await bench('equal weights', 'weight 1000 like everyone, no reservation'));

    steps.next(`Run 2: ${victim.name} gets a reservation of ${reservationPct} % of a pCPU`);
    await hv.setResources(victim.vmId, { reservationPct });
    await sleep(2 * hv.settings.periodMs, signal);
    runs.push(await bench('reservation', `weight 1000, reservation ${reservationPct} % of a pCPU`));

    steps.next('Checking the neighbours');
    const neighbourState = await Promise.all(
      neighbours.map(async (n, i) => ({
        ...n,
        load: i === 2 && forkBomb ? 'hv-burn + fork bomb' : 'hv-burn',
        stateAfter: hv.vm(n.vmId).state,
        answersAfter: await abortable(hv.exec(n.vmId, 'echo alive', 15_000), signal).then(
          (r) => r.output.trim() === 'alive',
          () => false,
        ),
      })),
    );

    steps.next('Cleaning up');
    return {
      kind: 'performance',
      pcpus: 1,
      reservationPct,
      tolerancePts,
      victim,
      neighbours: neighbourState,
      runs,
      warmUp,
      verdict: judge(runs, victim, reservationPct, tolerancePts),
      durationMs: now() - t0,
    };
  } finally {
    await guests.dispose();
    if (pcpusChanged) {
      try {
        await hv.setHost({ pcpus: pcpusBefore });
      } catch (err) {
        console.warn(`experiment cleanup: could not restore ${pcpusBefore} pCPUs: ${(err as Error).message}`);
      }
    }
  }
}

function measure(
  hv: HostApi,
  label: PerfRun['label'],
  setting: string,
  victim: GuestRef,
  neighbours: GuestRef[],
  from: number,
  to: number,
  bench: BenchResult,
): PerfRun {
  const v = hv.history.summary(victim.vmId, from, to);
  const periodMs = hv.settings.periodMs;
  const hosts = hv.history.between(from, to).map((p) => p.host);
  const span = hosts.reduce((sum, h) => sum + h.periodMs * h.pcpus, 0);
  const busy = hosts.reduce((sum, h) => sum + h.busyMs.reduce((a, b) => a + b, 0), 0);
  const hostBusyPct = span > 0 ? (100 * busy) / span : 0;
  return {
    label,
    setting,
    windowMs: to - from,
    victim: { ...victim, sharePct: v.sharePct, mips: v.mips, entitlementPct: v.entitlementPct, readyPct: v.readyPct, bench },
    neighbours: neighbours.map((n) => {
      const s = hv.history.summary(n.vmId, from, to);
      return { ...n, sharePct: s.sharePct, mips: s.mips };
    }),
    hostBusyPct,
    victimPartPct: hostBusyPct > 0 ? (100 * v.sharePct) / hostBusyPct : 0,
    periods: v.periods,
    expectedPeriods: Math.floor((to - from) / periodMs) - 1,
  };
}

function judge(runs: PerfRun[], victim: GuestRef, reservationPct: number, tolerancePts: number): Verdict {
  const stalled = runs.find((r) => r.periods < 0.9 * r.expectedPeriods);
  if (stalled) {
    return { pass: false, reason: `the hypervisor closed only ${stalled.periods} of ${stalled.expectedPeriods} accounting periods during the ${stalled.label} run` };
  }
  const notes: string[] = [];
  for (const r of runs.filter((x) => x.label !== 'alone')) {
    const promise = r.label === 'reservation' ? Math.max(reservationPct, r.victim.entitlementPct) : r.victim.entitlementPct;
    if (r.victim.sharePct >= promise - tolerancePts) continue;
    // A pCPU that is itself short of time (this computer is busy with other
    // programs) cannot deliver a promise in % of a whole core; the hypervisor
    // can still split what it got as promised.
    if (r.hostBusyPct < HOST_SHORT_PCT && r.victimPartPct >= promise - tolerancePts) {
      notes.push(
        ` (with ${r.setting} the pCPU itself ran guests only ${r.hostBusyPct.toFixed(0)} % of the time, this computer being busy; ` +
          `${victim.name} got ${r.victimPartPct.toFixed(1)} % of that against its ${promise.toFixed(1)} %)`,
      );
      continue;
    }
    return {
      pass: false,
      reason:
        `with ${r.setting}, ${victim.name} got ${r.victim.sharePct.toFixed(1)} % of the pCPU against a promise of ${promise.toFixed(1)} % (tolerance ${tolerancePts} points)` +
        (r.hostBusyPct < HOST_SHORT_PCT ? `, and ${r.victimPartPct.toFixed(1)} % of the ${r.hostBusyPct.toFixed(0)} % the pCPU delivered` : ''),
    };
  }
  const eq = runs.find((r) => r.label === 'equal weights')!;
  const res = runs.find((r) => r.label === 'reservation')!;
  return {
    pass: true,
    reason:
      `${victim.name} got ${eq.victim.sharePct.toFixed(1)} % of the pCPU with equal weights (promise ${eq.victim.entitlementPct.toFixed(1)} %) ` +
      `and ${res.victim.sharePct.toFixed(1)} % with a ${reservationPct} % reservation (${res.victim.mips.toFixed(1)} MIPS, ` +
      `hv-bench ${res.victim.bench.perS} iterations/s against ${eq.victim.bench.perS}), whatever its neighbours ran` +
      notes.join(''),
  };
}
