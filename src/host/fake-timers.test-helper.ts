// HostTimers on a FakeClock: timers fire, in order, only when a test advances time.
import { FakeClock } from '../core/clock.ts';
import type { HostTimers } from './timers.ts';

export class FakeTimers implements HostTimers {
  readonly clock = new FakeClock(0);
  private readonly due = new Map<number, { at: number; fn: () => void }>();
  private nextId = 1;

  now(): number {
    return this.clock.now();
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const id = this.nextId++;
    this.due.set(id, { at: this.now() + Math.max(0, ms), fn });
    return id;
  }

  clearTimeout(handle: unknown): void {
    this.due.delete(handle as number);
  }

  /** Move time forward by ms, firing every timer that falls due (microtasks run between them). */
  async advance(ms: number): Promise<void> {
    const end = this.now() + ms;
    for (;;) {
      await flush();
      const [id, next] = [...this.due.entries()].sort((a, b) => a[1].at - b[1].at || a[0] - b[0])[0] ?? [];
      if (id === undefined || !next || next.at > end) break;
      this.due.delete(id);
      this.clock.advance(next.at - this.now());
      next.fn();
    }
    this.clock.advance(end - this.now());
    await flush();
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 10; i++) await Promise.resolve();
}
