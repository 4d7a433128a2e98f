// uPlot options for the dashboard's charts, and the data layout each expects.
// x is seconds relative to the newest period (negative, 0 = now).
import uPlot from 'uplot';
import { fmtNumber } from '../core/format.ts';
import { PROMISE_COLOR, READY_COLOR } from './palette.ts';
import type { HostSeries, VmSeries } from './series.ts';

type Opts = Omit<uPlot.Options, 'width' | 'height'>;

const AXIS_FONT = '11px system-ui, sans-serif';
const AXIS_STROKE = '#57606a';
const GRID = { stroke: '#e6e9ed', width: 1 };

/** Stepped lines: a period's value holds over the period that ends at x. */
const stepped = uPlot.paths.stepped!({ align: -1 });

function alpha(hex: string, a: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${a})`;
}

function xAxis(): uPlot.Axis {
  return { font: AXIS_FONT, stroke: AXIS_STROKE, grid: GRID, ticks: { show: false }, size: 22, values: (_u, vals) => vals.map((v) => `${fmtNumber(v, 0)} s`) };
}

function yAxis(unit: string, size = 40): uPlot.Axis {
  return { font: AXIS_FONT, stroke: AXIS_STROKE, grid: GRID, ticks: { show: false }, size, values: (_u, vals) => vals.map((v) => `${fmtNumber(v, 0)}${unit}`) };
}

const base = (windowS: number): Pick<Opts, 'legend' | 'cursor' | 'scales'> => ({
  legend: { show: false },
  cursor: { show: false },
  scales: { x: { time: false, range: [-windowS, 0] } },
});

/** Range from 0 to at least `min`, with a little headroom above the data. */
function fromZero(min: number): uPlot.Scale['range'] {
  return (_u, _lo, hi) => [0, Math.max(min, (hi ?? 0) * 1.15)];
}

/** A card's sparkline: share (with the promise dashed) or MIPS, no axes. */
export function sparkOptions(kind: 'share' | 'mips', color: string, windowS: number): Opts {
  const series: uPlot.Series[] = [{}, { stroke: color, width: 1.5, points: { show: false } }];
  if (kind === 'share') series.push({ stroke: PROMISE_COLOR, width: 1, dash: [3, 3], points: { show: false } });
  return {
    ...base(windowS),
    scales: { x: { time: false, range: [-windowS, 0] }, y: { range: kind === 'share' ? [0, 105] : fromZero(1) } },
    axes: [{ show: false }, { show: false }],
    series,
    padding: [2, 0, 2, 0],
  };
}

export function sparkData(s: VmSeries | undefined, kind: 'share' | 'mips'): uPlot.AlignedData {
  if (!s) return kind === 'share' ? [[], [], []] : [[], []];
  return kind === 'share' ? [s.x, s.share, s.entitlement] : [s.x, s.mips];
}

/** CPU share against the promise, with ready time: % of one pCPU. */
export function shareOptions(color: string, windowS: number): Opts {
  return {
    ...base(windowS),
    scales: { x: { time: false, range: [-windowS, 0] }, y: { range: fromZero(100) } },
    axes: [xAxis(), yAxis(' %')],
    series: [
      {},
      { label: 'share', stroke: color, width: 2, fill: alpha(color, 0.12), points: { show: false } },
      { label: 'promised', stroke: PROMISE_COLOR, width: 1.5, dash: [5, 4], points: { show: false } },
      { label: 'ready', stroke: READY_COLOR, width: 1, points: { show: false } },
    ],
  };
}

export function shareData(s: VmSeries | undefined): uPlot.AlignedData {
  return s ? [s.x, s.share, s.entitlement, s.ready] : [[], [], [], []];
}

export function lineOptions(color: string, windowS: number, unit: string, minTop: number, step = false): Opts {
  return {
    ...base(windowS),
    scales: { x: { time: false, range: [-windowS, 0] }, y: { range: fromZero(minTop) } },
    axes: [xAxis(), yAxis(unit, 46)],
    series: [{}, { stroke: color, width: 2, points: { show: false }, ...(step ? { paths: stepped } : {}) }],
  };
}

/**
 * One pCPU's time per period, stacked: each guest's used ms from the bottom;
 * what is left up to the period length is idle, shown by the chart's grey
 * background (class "idle-bg"), so idle costs no drawing. Series are
 * cumulative sums drawn top-down so that each fill paints over the one above.
 */
export function pcpuOptions(vmColors: string[], windowS: number, periodMs: number): Opts {
  const series: uPlot.Series[] = [{}];
  for (let v = vmColors.length - 1; v >= 0; v--) {
    series.push({ stroke: vmColors[v]!, fill: vmColors[v]!, width: 0, paths: stepped, points: { show: false } });
  }
  // The scale is the period: an overrun (charged to the next period) would only squash the chart.
  return {
    ...base(windowS),
    scales: { x: { time: false, range: [-windowS, 0] }, y: { range: [0, periodMs] } },
    axes: [xAxis(), { ...yAxis(' ms', 48), splits: () => [0, periodMs] }],
    series,
  };
}

export function pcpuData(h: HostSeries, cpu: number): uPlot.AlignedData {
  const perVm = h.stacked[cpu] ?? [];
  return [h.x, ...[...perVm].reverse()];
}

/** Ready ms per period, stacked by guest (no idle band). */
export function readyOptions(vmColors: string[], windowS: number): Opts {
  const series: uPlot.Series[] = [{}];
  for (let v = vmColors.length - 1; v >= 0; v--) {
    series.push({ stroke: vmColors[v]!, fill: alpha(vmColors[v]!, 0.7), width: 0, paths: stepped, points: { show: false } });
  }
  return {
    ...base(windowS),
    scales: { x: { time: false, range: [-windowS, 0] }, y: { range: fromZero(10) } },
    // A small chart: label only its floor and its top.
    axes: [xAxis(), { ...yAxis(' ms', 48), splits: (u) => [0, Math.floor(u.scales['y']?.max ?? 0)] }],
    series,
  };
}

export function readyData(h: HostSeries): uPlot.AlignedData {
  return [h.x, ...[...h.readyStacked].reverse()];
}

/** An experiment run's share per guest and window: x from 0 to the measured seconds, one line per guest. */
export function experimentShareOptions(colors: string[], durationS: number): Opts {
  return {
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false, range: [0, durationS] }, y: { range: fromZero(100) } },
    axes: [xAxis(), yAxis(' %', 46)],
    series: [{}, ...colors.map((stroke) => ({ stroke, width: 2, points: { show: true, size: 5 } }))],
  };
}

/** A live migration's MiB copied per round: x the round number, one line with its points. */
export function migrationRoundOptions(): Opts {
  return {
    legend: { show: false },
    cursor: { show: false },
    scales: { x: { time: false, range: (_u, lo, hi) => [Math.min(0, lo ?? 0) - 0.25, Math.max(1, hi ?? 1) + 0.25] }, y: { range: fromZero(1) } },
    axes: [
      { ...xAxis(), splits: (u) => Array.from({ length: Math.max(1, Math.floor(u.scales['x']!.max ?? 1)) + 1 }, (_, i) => i), values: (_u, vals) => vals.map((v) => `round ${v}`) },
      yAxis(' MiB', 56),
    ],
    series: [{}, { stroke: PROMISE_COLOR, width: 2, points: { show: true, size: 6 } }],
  };
}
