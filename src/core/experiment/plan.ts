// An experiment's runs: every sweep point, repeated; and the slice of them one
// shard runs (`--shard i/n`: run k goes to shard k mod n + 1, so every shard
// gets points from across the sweep). Pure.
import { HvError } from '../errors.ts';
import { sweepPoints, type Experiment } from '../lab/experiment-parse.ts';

export interface PlannedRun {
  /** 0-based index over the whole experiment: point * repeats + repeat. */
  index: number;
  /** "p2-r1": the run's key in every output. */
  key: string;
  point: number;
  repeat: number;
  /** The swept values of its point, in the sweep's order. */
  params: { key: string; value: number | null }[];
}

export interface Shard {
  /** 1-based. */
  index: number;
  count: number;
}

/** "2/3" -> { index: 2, count: 3 }; a clear error for anything else. */
export function parseShard(text: string): Shard {
  const m = /^(\d+)\/(\d+)$/.exec(text.trim());
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index < 1 || index > count) {
    throw new HvError('invalid-argument', `--shard takes i/n with 1 <= i <= n (e.g. 1/3), got "${text}"`, { shard: text });
  }
  return { index, count };
}

/** Every run of the experiment, or the runs of one shard. */
export function planRuns(experiment: Experiment, shard: Shard = { index: 1, count: 1 }): PlannedRun[] {
  const runs: PlannedRun[] = [];
  sweepPoints(experiment.sweep).forEach((params, point) => {
    for (let repeat = 0; repeat < experiment.repeats; repeat++) {
      const index = point * experiment.repeats + repeat;
      if (index % shard.count === shard.index - 1) runs.push({ index, key: `p${point + 1}-r${repeat + 1}`, point, repeat, params });
    }
  });
  return runs;
}
