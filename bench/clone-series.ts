// A series of clones, one at a time (as a student clicks), each timed from
// start() to a shell answer, with where its ms went (VmInfo.bootPhases):
// the rows give p50, p95 and max, and the note compares the slowest clone's
// phases with the median one's, so a slow clone says which phase was slow.
import { percentile } from '../src/core/metrics.ts';
import type { BootPhases } from '../src/host/hypervisor.ts';
import { targetRow, type BenchRow } from './table.ts';

export interface CloneSample {
  seconds: number;
  phases: BootPhases | null;
}

const SHORT: Record<keyof BootPhases, string> = {
  templateMs: 'template',
  copyMs: 'copy',
  workerMs: 'worker',
  filesMs: 'files',
  constructMs: 'construct',
  restoreMs: 'restore',
  runMs: 'run',
  transferMs: 'transfer',
  readyMs: 'identity',
};

/** "worker 3, files 1, construct 120, ..." in ms. */
export function describePhases(p: BootPhases | null): string {
  if (!p) return 'no phases';
  return (Object.keys(SHORT) as (keyof BootPhases)[]).map((k) => `${SHORT[k]} ${Math.round(p[k])}`).join(', ');
}

export function cloneRows(section: string, where: string, samples: CloneSample[], p95TargetS: number, note: string): BenchRow[] {
  const s = samples.map((c) => c.seconds);
  const sorted = [...samples].sort((a, b) => a.seconds - b.seconds);
  const median = sorted[Math.floor((sorted.length - 1) / 2)]!;
  const slowest = sorted.at(-1)!;
  return [
    { section, metric: `clone to shell answer, p50 of ${s.length} (${where})`, value: percentile(s, 50), unit: 's', note },
    targetRow(section, `clone to shell answer, p95 of ${s.length} (${where})`, percentile(s, 95), 's', '<=', p95TargetS, `all: ${s.map((x) => x.toFixed(2)).join(' ')}`),
    {
      section,
      metric: `clone to shell answer, max of ${s.length} (${where})`,
      value: slowest.seconds,
      unit: 's',
      note: `ms by phase, slowest: ${describePhases(slowest.phases)}; median clone: ${describePhases(median.phases)}`,
    },
  ];
}
