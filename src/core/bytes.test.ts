import { describe, expect, it } from 'vitest';
import { concatBytes, findAll, includesBytes } from './bytes.ts';

const b = (s: string) => new TextEncoder().encode(s);

describe('bytes', () => {
  it('joins chunks and finds patterns', () => {
    expect(concatBytes([b('ab'), b('c')])).toEqual(b('abc'));
    const hits: number[] = [];
    expect(findAll(b('xabxab'), b('ab'), 0, 6, 8, hits)).toBe(false);
    expect(hits).toEqual([1, 4]);
    expect(includesBytes(b('a disk holds this'), b('holds'))).toBe(true);
    expect(includesBytes(b('a disk holds this'), b('holdz'))).toBe(false);
    expect(includesBytes(b('short'), b('shorter'))).toBe(false);
    expect(includesBytes(b('any'), b(''))).toBe(true);
  });
});
