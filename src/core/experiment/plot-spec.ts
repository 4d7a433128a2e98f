// The plots of an experiment as Vega-Lite specifications (plain JSON): for
// each plotted metric, its mean per sweep point and VM with the 95 %
// confidence interval as error bars; for the share, the scheduler's promise
// (entitlement) dashed beside it. Rendering to SVG happens on the host side
// (plots.ts). Pure.
import type { Experiment } from '../lab/experiment-parse.ts';
import type { MetricName } from '../lab/experiment-schema.ts';
import { metricColumn, type PointSummary } from './results.ts';

const TITLES: Record<MetricName, string> = {
  share: 'share of one pCPU (%)',
  mips: 'MIPS',
  ready: 'ready (% of the time)',
  score: 'workload score',
  busy: 'host pCPUs busy (%)',
};

export interface PlotSpec {
  metric: MetricName;
  /** File name of its SVG, e.g. "share_pct.svg". */
  file: string;
  spec: Record<string, unknown>;
}

/** The experiment's plots (one per plotted metric) over the summary. */
export function plotSpecs(experiment: Experiment, summary: readonly PointSummary[]): PlotSpec[] {
  const x = experiment.plot.x;
  return experiment.plot.y.flatMap((metric): PlotSpec[] => {
    const column = metricColumn(metric);
    const values = summary.flatMap((p) =>
      p.vms.flatMap((v) => {
        const m = v.metrics[column];
        const e = v.metrics['entitlement_pct'];
        if (!m || !Number.isFinite(m.mean)) return [];
        const xv = x ? p.params[x] ?? 'none' : `point ${p.point}`;
        // A series per VM and value of the other swept parameters.
        const others = Object.entries(p.params).filter(([k]) => k !== x).map(([k, val]) => `${k.split('.').pop()}=${val ?? 'none'}`);
        const series = `${metric === 'busy' ? 'host' : v.vm}${others.length ? ` (${others.join(', ')})` : ''}`;
        const row = { x: xv, vm: series, mean: m.mean, lo: m.mean - (m.ci95 ?? 0), hi: m.mean + (m.ci95 ?? 0), n: m.n, promise: e?.mean ?? null };
        return [row];
      }),
    );
    // The host's busy % is the same in every VM's row: one line.
    const data = metric === 'busy' ? values.filter((r, i) => values.findIndex((o) => o.x === r.x && o.vm === r.vm) === i) : values;
    if (data.length === 0) return []; // nothing measured (a score on the simulator)
    const numeric = data.every((r) => typeof r.x === 'number');
    const xEnc = { field: 'x', type: numeric ? 'quantitative' : 'ordinal', title: x ?? 'sweep point', ...(numeric ? { scale: { zero: false } } : {}) };
    const color = { field: 'vm', type: 'nominal', title: experiment.sweep.length > 1 ? 'VM (other swept values)' : 'VM' };
    const layers: Record<string, unknown>[] = [
      { mark: { type: 'line', point: true }, encoding: { x: xEnc, y: { field: 'mean', type: 'quantitative', title: TITLES[metric] }, color } },
      { mark: { type: 'rule' }, encoding: { x: xEnc, y: { field: 'lo', type: 'quantitative' }, y2: { field: 'hi' }, color } },
    ];
    if (metric === 'share') {
      layers.push({ mark: { type: 'line', strokeDash: [4, 3], opacity: 0.7 }, encoding: { x: xEnc, y: { field: 'promise', type: 'quantitative' }, color } });
    }
    return [{
      metric,
      file: `${column}.svg`,
      spec: {
        $schema: 'https://vega.github.io/schema/vega-lite/v6.json',
        title: { text: experiment.title, subtitle: `${TITLES[metric]}: mean of ${experiment.repeats} run(s), bars 95 % CI${metric === 'share' ? '; dashed: the scheduler\'s promise' : ''}` },
        width: 480,
        height: 280,
        data: { values: data },
        layer: layers,
      },
    }];
  });
}
