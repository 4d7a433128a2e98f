import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SerialBatcher, type SerialPort } from './serial-batch.ts';

describe('SerialBatcher', () => {
  let out: [SerialPort, string, number][];
  let batcher: SerialBatcher;
  const text = (b: Uint8Array) => String.fromCharCode(...b);
  const push = (port: SerialPort, s: string) => [...s].forEach((c) => batcher.push(port, c.charCodeAt(0)));

  beforeEach(() => {
    vi.useFakeTimers();
    out = [];
    batcher = new SerialBatcher((port, bytes) => out.push([port, text(bytes), Date.now()]), () => Date.now(), 16);
  });
  afterEach(() => {
    batcher.dispose();
    vi.useRealTimers();
  });

  it('sends the first bytes after a quiet spell at once, as one batch per tick', () => {
    const t0 = Date.now();
    push(0, 'ab');
    expect(out).toEqual([]); // not inside the tick that wrote them
    vi.advanceTimersByTime(0);
    expect(out).toEqual([[0, 'ab', t0]]);
  });

  it('sends what follows at most once per interval, nothing lost or reordered', () => {
    const t0 = Date.now();
    push(0, 'a');
    vi.advanceTimersByTime(0);
    vi.advanceTimersByTime(5);
    push(0, 'b');
    vi.advanceTimersByTime(3);
    push(0, 'c');
    push(1, 'X');
    vi.advanceTimersByTime(7);
    expect(out.map((o) => o[1])).toEqual(['a']); // 15 ms after the last batch: still waiting
    vi.advanceTimersByTime(1);
    expect(out).toEqual([
      [0, 'a', t0],
      [1, 'X', t0 + 16],
      [0, 'bc', t0 + 16],
    ]);
  });

  it('runs no timer while nothing is printed, and none after dispose', () => {
    expect(vi.getTimerCount()).toBe(0);
    push(1, 'x');
    expect(vi.getTimerCount()).toBe(1);
    vi.advanceTimersByTime(0);
    expect(vi.getTimerCount()).toBe(0);
    push(0, 'y');
    batcher.dispose();
    expect(vi.getTimerCount()).toBe(0);
    // Bytes a guest still prints while it is torn down go nowhere.
    push(0, 'z');
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(100);
    expect(out.map((o) => o[1])).toEqual(['x']);
  });

  it('flush() sends what is pending at once', () => {
    push(0, 'panic');
    batcher.flush();
    expect(out.map((o) => o[1])).toEqual(['panic']);
    vi.advanceTimersByTime(100);
    expect(out).toHaveLength(1);
  });
});
