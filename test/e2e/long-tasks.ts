// The page's (or a frame's) long tasks, from PerformanceObserver 'longtask'.
import type { Frame, Page } from 'playwright-core';

/** (Re)start collecting long tasks in this page or frame. */
export function watchLongTasks(target: Page | Frame): Promise<void> {
  return target.evaluate(() => {
    const w = window as unknown as { __longTasks: number[]; __ltObserver?: PerformanceObserver };
    w.__ltObserver?.disconnect();
    w.__longTasks = [];
    w.__ltObserver = new PerformanceObserver((list) => {
      for (const e of list.getEntries()) w.__longTasks.push(e.duration);
    });
    w.__ltObserver.observe({ type: 'longtask' });
  });
}

/** Durations (ms) of the long tasks since watchLongTasks. */
export function longTasksSoFar(target: Page | Frame): Promise<number[]> {
  return target.evaluate(() => (window as unknown as { __longTasks: number[] }).__longTasks);
}
