import { describe, expect, it } from 'vitest';
import { describeValue, fmtMiB, fmtMs, fmtNumber, fmtPct, joinWords } from './format.ts';

describe('format', () => {
  it.each([
    [12.5, 1, '12.5'],
    [12.0, 1, '12'],
    [33.3333, 1, '33.3'],
    [-0.01, 1, '0'],
    [1.005, 2, '1'],
    [Number.NaN, 1, 'NaN'],
  ])('fmtNumber(%s, %s) = %s', (value, digits, expected) => {
    expect(fmtNumber(value, digits)).toBe(expected);
  });

  it('formats units', () => {
    expect(fmtMiB(128)).toBe('128 MiB');
    expect(fmtPct(14.2857)).toBe('14.3 %');
    expect(fmtMs(12.345)).toBe('12.35 ms');
  });

  it.each([
    [[], ''],
    [['a'], 'a'],
    [['a', 'b'], 'a or b'],
    [['a', 'b', 'c'], 'a, b or c'],
  ])('joinWords(%j) = %s', (words, expected) => {
    expect(joinWords(words)).toBe(expected);
  });

  it.each([
    ['abc', '"abc"'],
    [12, '12'],
    [null, 'null'],
    [undefined, 'undefined'],
    [[1], 'an array'],
    [{}, 'a value of type object'],
  ])('describeValue(%j) = %s', (value, expected) => {
    expect(describeValue(value)).toBe(expected);
  });
});
