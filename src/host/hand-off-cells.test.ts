import { afterEach, describe, expect, it } from 'vitest';
import { HandOffCells } from './hand-off-cells.ts';

describe('HandOffCells', () => {
  const g = globalThis as { crossOriginIsolated?: boolean };
  afterEach(() => {
    delete g.crossOriginIsolated;
  });

  it('hands out distinct cells of one shared buffer, then none, and takes them back', () => {
    const cells = HandOffCells.create();
    expect(cells).not.toBeNull();
    expect(cells!.buffer).toBeInstanceOf(SharedArrayBuffer);
    const taken = Array.from({ length: 64 }, () => cells!.take());
    expect(new Set(taken).size).toBe(64);
    expect(taken.every((c) => c !== null && c >= 0 && c < cells!.buffer.byteLength / 4)).toBe(true);
    expect(cells!.take()).toBeNull();
    cells!.release(taken[10]!);
    cells!.release(taken[10]!); // twice is once
    expect(cells!.take()).toBe(taken[10]);
    expect(cells!.take()).toBeNull();
  });

  it('is not there on a page that is not cross-origin isolated', () => {
    g.crossOriginIsolated = false;
    expect(HandOffCells.create()).toBeNull();
  });
});
