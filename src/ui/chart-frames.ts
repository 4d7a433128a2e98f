// Chart redraws, spread over short tasks: each dashboard frame hands every
// chart new data, and the charts draw a few at a time, yielding between
// batches, so the main thread (which also runs the CPU scheduler) never sees
// one long task. Counts frames and draws for the tests and the bench.
import type uPlot from 'uplot';

/** Drawing stops for this many ms before yielding to other tasks. */
const BUDGET_MS = 4;

/** Counters read by tests and `bench/ui.ts` through the page's test hook. */
export const chartStats = {
  /** Dashboard frames in which at least one chart redrew. */
  frames: 0,
  /** Chart redraws in total. */
  draws: 0,
  /** The current frame number (set by the dashboard each frame). */
  frame: 0,
  lastCountedFrame: -1,
};

/** Called by the dashboard when it publishes a new frame of data. */
export function nextFrame(): void {
  chartStats.frame++;
}

/** Called from each chart's uPlot `draw` hook. */
export function noteDraw(): void {
  chartStats.draws++;
  if (chartStats.lastCountedFrame !== chartStats.frame) {
    chartStats.lastCountedFrame = chartStats.frame;
    chartStats.frames++;
  }
}

const pending = new Map<uPlot, uPlot.AlignedData>();
let scheduled = false;
const channel = typeof MessageChannel === 'undefined' ? null : new MessageChannel();

function drain(): void {
  const t0 = performance.now();
  for (const [plot, data] of pending) {
    pending.delete(plot);
    // batch() draws now instead of in a microtask, so the budget sees the real cost.
    plot.batch(() => plot.setData(data));
    if (performance.now() - t0 > BUDGET_MS) break;
  }
  if (pending.size > 0) post();
  else scheduled = false;
}

function post(): void {
  if (channel) channel.port2.postMessage(0);
  else setTimeout(drain, 0);
}

if (channel) channel.port1.onmessage = drain;

/** Give a chart new data; it is drawn in a later short task (the newest data wins). */
export function scheduleDraw(plot: uPlot, data: uPlot.AlignedData): void {
  pending.set(plot, data);
  if (!scheduled) {
    scheduled = true;
    post();
  }
}

/** Forget a chart that is being destroyed. */
export function cancelDraw(plot: uPlot): void {
  pending.delete(plot);
}
