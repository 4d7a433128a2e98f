// Time source for core logic. Core never reads a real clock itself: the host
// passes one backed by performance.now(), tests pass a FakeClock.

/** A monotonic time source in milliseconds. */
export interface Clock {
  /** Current time in ms; never decreases. */
  now(): number;
}

/** A clock that moves only when a test tells it to. */
export class FakeClock implements Clock {
  private ms: number;

  /** Starts the clock at `start` ms. */
  constructor(start = 0) {
    assertFinite(start, 'start');
    this.ms = start;
  }

  /** Current fake time in ms. */
  now(): number {
    return this.ms;
  }

  /** Moves time forward by `ms` (>= 0) and returns the new time. */
  advance(ms: number): number {
    assertFinite(ms, 'advance');
    if (ms < 0) throw new RangeError(`FakeClock.advance(${ms}): a monotonic clock cannot go back`);
    this.ms += ms;
    return this.ms;
  }

  /** Sets time to `ms`, which must not be earlier than now. */
  set(ms: number): number {
    assertFinite(ms, 'set');
    if (ms < this.ms) {
      throw new RangeError(`FakeClock.set(${ms}): a monotonic clock cannot go back from ${this.ms}`);
    }
    this.ms = ms;
    return this.ms;
  }
}

function assertFinite(value: number, what: string): void {
  if (!Number.isFinite(value)) throw new RangeError(`FakeClock.${what}: ${value} is not a finite number of ms`);
}
