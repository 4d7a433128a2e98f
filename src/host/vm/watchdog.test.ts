import { describe, expect, it } from 'vitest';
import { FakeTimers } from '../fake-timers.test-helper.ts';
import { Watchdog } from './watchdog.ts';

const options = { intervalMs: 400, timeoutMs: 1000 };

describe('Watchdog', () => {
  it('keeps asking a worker that answers, and never reports it', async () => {
    const timers = new FakeTimers();
    const dead: string[] = [];
    let pings = 0;
    const dog = new Watchdog(timers, (id) => dead.push(id), options);
    dog.watch('a', async () => void pings++);
    await timers.advance(10_000);
    expect(dead).toEqual([]);
    expect(pings).toBeGreaterThanOrEqual(20);
    dog.dispose();
  });

  it('reports a worker that stops answering within interval + timeout, once', async () => {
    const timers = new FakeTimers();
    const dead: { id: string; at: number; reason: string }[] = [];
    let hung = false;
    const dog = new Watchdog(timers, (id, reason) => dead.push({ id, at: timers.now(), reason }), options);
    dog.watch('a', () => (hung ? new Promise(() => {}) : Promise.resolve()));
    dog.watch('b', () => Promise.resolve());
    await timers.advance(2000);
    hung = true;
    const hungAt = timers.now();
    await timers.advance(5000);
    expect(dead.map((d) => d.id)).toEqual(['a']);
    expect(dead[0]!.at - hungAt).toBeLessThanOrEqual(options.intervalMs + options.timeoutMs);
    expect(dead[0]!.reason).toMatch(/did not answer for 1000 ms/);
    expect(dog.has('a')).toBe(false);
    expect(dog.has('b')).toBe(true);
    dog.dispose();
  });

  it('reports a worker whose answer is an error, and check() asks at once', async () => {
    const timers = new FakeTimers();
    const dead: string[] = [];
    const dog = new Watchdog(timers, (id, reason) => dead.push(`${id}: ${reason}`), options);
    dog.watch('a', () => Promise.reject(new Error('channel closed')));
    dog.check('a');
    await timers.advance(1);
    expect(dead).toEqual(['a: its worker failed to answer: channel closed']);
  });

  it('an unwatched worker is never reported', async () => {
    const timers = new FakeTimers();
    const dead: string[] = [];
    const dog = new Watchdog(timers, (id) => dead.push(id), options);
    dog.watch('a', () => new Promise(() => {}));
    await timers.advance(500);
    dog.unwatch('a');
    await timers.advance(5000);
    expect(dead).toEqual([]);
  });
});

describe('Watchdog checks', () => {
  it('asking again while a question is out does not restart its timeout', async () => {
    const timers = new FakeTimers();
    const dead: number[] = [];
    const dog = new Watchdog(timers, () => dead.push(timers.now()), options);
    dog.watch('a', () => new Promise(() => {}));
    dog.check('a');
    for (let i = 0; i < 10; i++) {
      await timers.advance(300);
      dog.check('a');
    }
    expect(dead).toEqual([1000]);
  });
});
