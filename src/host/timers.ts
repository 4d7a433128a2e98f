// The host's real clock and timers, behind a small interface so that the
// loops that use them can be driven by a fake in tests.
import type { Clock } from '../core/clock.ts';

export interface HostTimers extends Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

/** performance.now() and the platform's setTimeout (browser or Node). */
export const realTimers: HostTimers = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};
