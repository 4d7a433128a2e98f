// An experiment's results as tidy tables: one row per VM and measured window,
// one per VM and run, and the summary over repeats (mean and 95 % CI per sweep
// point, VM and metric). Rows are flat records keyed by column name, so the
// CSV files, the merge of shards and the plots all read the same thing. Pure.
import { summarize } from '../metrics.ts';
import type { ClosedPeriod } from '../scheduler-types.ts';
import type { Experiment } from '../lab/experiment-parse.ts';
import type { MetricName } from '../lab/experiment-schema.ts';
import type { PlannedRun } from './plan.ts';
import { meanCi, type MeanCi } from './stats.ts';

export type Cell = string | number | null;
export type Row = Record<string, Cell>;

/** The columns each metric adds (share adds the scheduler's promise beside what the VM got). */
const METRIC_COLUMNS: Record<MetricName, string[]> = {
  share: ['share_pct', 'entitlement_pct'],
  mips: ['mips'],
  ready: ['ready_pct'],
  score: ['score'],
  busy: ['host_busy_pct'],
};

/** The per-run columns of the recorded metrics. */
export function metricColumns(metrics: readonly MetricName[]): string[] {
  return metrics.flatMap((m) => METRIC_COLUMNS[m]);
}

/** Column of a metric's main value (share -> share_pct). */
export function metricColumn(metric: MetricName): string {
  return METRIC_COLUMNS[metric][0]!;
}

const ID_COLUMNS = ['run', 'point', 'repeat'];

/** windows.csv's columns: the run, its swept values, the VM, the window (index, start in s from the measurement's start) and the per-window metrics. */
export function windowColumns(experiment: Experiment): string[] {
  return [...ID_COLUMNS, ...experiment.sweep.map((s) => s.key), 'vm', 'window', 'start_s', ...metricColumns(experiment.metrics.filter((m) => m !== 'score'))];
}

/** runs.csv's columns: the run, its swept values, the VM, and each metric over the whole measured time. */
export function runColumns(experiment: Experiment): string[] {
  return [...ID_COLUMNS, ...experiment.sweep.map((s) => s.key), 'vm', ...metricColumns(experiment.metrics)];
}

/** A guest of a run: the hypervisor's id and the experiment's name. */
export interface RunVm {
  vmId: string;
  name: string;
}

const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

function idCells(run: PlannedRun): Row {
  const row: Row = { run: run.key, point: run.point + 1, repeat: run.repeat + 1 };
  for (const p of run.params) row[p.key] = p.value;
  return row;
}

function metricCells(metrics: readonly MetricName[], s: ReturnType<typeof summarize>, busyPct: number, score: number | null): Row {
  const row: Row = {};
  for (const m of metrics) {
    if (m === 'share') Object.assign(row, { share_pct: round(s.sharePct), entitlement_pct: round(s.entitlementPct) });
    if (m === 'mips') row['mips'] = round(s.mips);
    if (m === 'ready') row['ready_pct'] = round(s.readyPct);
    if (m === 'score') row['score'] = score;
    if (m === 'busy') row['host_busy_pct'] = round(busyPct);
  }
  return row;
}

/** Busy % of the host's pCPUs over periods: guest time used, in grants or outside them (a guest woken by a frame), / pCPU time. */
export function hostBusyPct(periods: readonly ClosedPeriod[]): number {
  let busy = 0;
  let span = 0;
  for (const p of periods) {
    busy += p.host.busyMs.reduce((s, b) => s + b, 0) + p.host.unscheduledMs;
    span += p.host.periodMs * p.host.pcpus;
  }
  return span > 0 ? (100 * busy) / span : 0;
}

/**
 * One run's rows from the periods that closed while it was measured: the
 * periods that started at or after fromMs and ended by fromMs + durationMs,
 * in windows of windowMs (a window no period fell in is left out).
 */
export function runRows(
  experiment: Experiment,
  run: PlannedRun,
  periods: readonly ClosedPeriod[],
  fromMs: number,
  vms: readonly RunVm[],
  scores: ReadonlyMap<string, number | null> = new Map(),
): { windows: Row[]; runs: Row[] } {
  const durationMs = experiment.durationS * 1000;
  const windowMs = experiment.windowS * 1000;
  const measured = periods.filter((p) => p.host.startMs >= fromMs && p.host.startMs + p.host.periodMs <= fromMs + durationMs + 1e-6);
  const buckets = new Map<number, ClosedPeriod[]>();
  for (const p of measured) {
    const w = Math.floor((p.host.startMs - fromMs) / windowMs);
    if (w * windowMs >= durationMs) continue;
    buckets.set(w, [...(buckets.get(w) ?? []), p]);
  }
  const perWindow = experiment.metrics.filter((m) => m !== 'score');
  const windows: Row[] = [];
  for (const w of [...buckets.keys()].sort((a, b) => a - b)) {
    const ps = buckets.get(w)!;
    const busy = hostBusyPct(ps);
    for (const vm of vms) {
      const s = summarize(ps.flatMap((p) => p.vms.filter((r) => r.vmId === vm.vmId)));
      windows.push({ ...idCells(run), vm: vm.name, window: w + 1, start_s: round((w * windowMs) / 1000), ...metricCells(perWindow, s, busy, null) });
    }
  }
  const busy = hostBusyPct(measured);
  const runs = vms.map((vm) => {
    const s = summarize(measured.flatMap((p) => p.vms.filter((r) => r.vmId === vm.vmId)));
    return { ...idCells(run), vm: vm.name, ...metricCells(experiment.metrics, s, busy, scores.get(vm.name) ?? null) };
  });
  return { windows, runs };
}

export interface PointSummary {
  point: number;
  params: Record<string, number | null>;
  /** Per VM: each metric column's mean and 95 % CI over the repeats. */
  vms: { vm: string; metrics: Record<string, MeanCi> }[];
}

/** Mean and 95 % CI over repeats, per sweep point, VM and metric column (from runs rows). */
export function summarizeRuns(experiment: Experiment, runs: readonly Row[]): PointSummary[] {
  const columns = metricColumns(experiment.metrics);
  const byPoint = new Map<number, Row[]>();
  for (const r of runs) byPoint.set(Number(r['point']), [...(byPoint.get(Number(r['point'])) ?? []), r]);
  return [...byPoint.keys()]
    .sort((a, b) => a - b)
    .map((point) => {
      const rows = byPoint.get(point)!;
      const params = Object.fromEntries(experiment.sweep.map((s) => [s.key, rows[0]![s.key] as number | null]));
      const names = [...new Set(rows.map((r) => String(r['vm'])))];
      return {
        point,
        params,
        vms: names.map((vm) => {
          const mine = rows.filter((r) => r['vm'] === vm);
          return { vm, metrics: Object.fromEntries(columns.map((c) => [c, meanCi(mine.map((r) => (r[c] === null || r[c] === '' ? null : Number(r[c]))))])) };
        }),
      };
    });
}

/** Rows in run order (point, repeat), keeping each run's own order of VMs and windows. */
export function sortRows(rows: readonly Row[]): Row[] {
  return rows
    .map((r, i) => ({ r, i }))
    .sort((a, b) => Number(a.r['point']) - Number(b.r['point']) || Number(a.r['repeat']) - Number(b.r['repeat']) || a.i - b.i)
    .map(({ r }) => r);
}
