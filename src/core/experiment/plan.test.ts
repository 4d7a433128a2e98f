import { describe, expect, it } from 'vitest';
import { caught } from '../caught.test-helper.ts';
import { parseExperiment, pointSetup, applyPoint, type Experiment } from '../lab/experiment-parse.ts';
import type { LabContext } from '../lab/parse.ts';
import { parseShard, planRuns } from './plan.ts';
import { runRows, summarizeRuns } from './results.ts';
import { simulateRun } from './simulate.ts';

const CTX: LabContext = { images: [{ id: 'hv', minMiB: 68, maxMiB: 2048 }], maxPcpus: 8, maxMemoryMiB: 4096, defaultPcpus: 1, defaultMemoryMiB: 1024 };

function experiment(text: string): Experiment {
  const r = parseExperiment(text, CTX);
  if (!r.ok) throw new Error(JSON.stringify(r.problems));
  return r.experiment;
}

const E = experiment(`version: 1
title: t
guests:
  - { name: a, workload: { run: burn } }
  - { name: b, workload: { run: burn }, capPct: 20 }
  - { name: c }
sweep:
  guests.b.capPct: [20, null]
  host.pcpus: [1, 2]
durationS: 2.5
windowS: 1
repeats: 3
`);

describe('experiment plans', () => {
  it('plans every point times its repeats, and shards them into disjoint slices that cover all', () => {
    const all = planRuns(E);
    expect(all.map((r) => r.key)).toEqual(['p1-r1', 'p1-r2', 'p1-r3', 'p2-r1', 'p2-r2', 'p2-r3', 'p3-r1', 'p3-r2', 'p3-r3', 'p4-r1', 'p4-r2', 'p4-r3']);
    const shards = [1, 2, 3, 4, 5].map((i) => planRuns(E, { index: i, count: 5 }).map((r) => r.index));
    expect(shards.flat().sort((x, y) => x - y)).toEqual(all.map((r) => r.index));
    expect(shards[0]).toEqual([0, 5, 10]);
  });

  it('reads --shard i/n, and refuses anything else with the reason', () => {
    expect(parseShard('2/3')).toEqual({ index: 2, count: 3 });
    for (const bad of ['0/3', '4/3', '1/0', 'x', '1-2']) expect(caught(() => parseShard(bad)).message).toMatch(/--shard takes i\/n with 1 <= i <= n/);
  });

  it('turns simulated periods into one row per VM and window (a partial last window kept), and run rows the summary averages', () => {
    const runs = planRuns(E);
    const rows = runs.map((run) => {
      const setup = pointSetup(applyPoint(E.file, run.params), CTX, () => {
        throw new Error('invalid');
      });
      const sim = simulateRun(setup, E.warmUpS, E.durationS);
      return runRows(E, run, sim.periods, sim.fromMs, sim.vms);
    });
    // 2.5 s in 1 s windows: 3 windows, 3 VMs.
    expect(rows[0]!.windows).toHaveLength(9);
    expect(rows[0]!.windows.map((w) => w['window'])).toEqual([1, 1, 1, 2, 2, 2, 3, 3, 3]);
    const p1 = rows[0]!.runs; // b capped at 20 % on one pCPU: a takes the rest, c idles
    expect(p1.map((r) => r['vm'])).toEqual(['a', 'b', 'c']);
    expect(Number(p1[0]!['share_pct'])).toBeCloseTo(80, 0);
    expect(p1[1]!['share_pct']).toBe(20);
    expect(Number(p1[2]!['share_pct'])).toBeLessThan(1);
    const p4 = rows[9]!.runs; // two pCPUs, no cap: both busy guests get a whole one
    expect(p4.slice(0, 2).map((r) => Math.round(Number(r['share_pct'])))).toEqual([100, 100]);
    const summary = summarizeRuns(E, rows.flatMap((r) => r.runs));
    expect(summary).toHaveLength(4);
    expect(summary[1]!.params).toEqual({ 'guests.b.capPct': 20, 'host.pcpus': 2 });
    expect(summary[0]!.vms[1]!.metrics['share_pct']).toEqual({ n: 3, mean: 20, ci95: 0 });
  });
});
