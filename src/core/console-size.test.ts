import { describe, expect, it } from 'vitest';
import { caught } from './caught.test-helper.ts';
import { checkConsoleSize } from './console-size.ts';

describe('checkConsoleSize', () => {
  it('takes whole numbers of columns and rows', () => {
    expect(checkConsoleSize(80, 24)).toEqual({ cols: 80, rows: 24 });
    expect(checkConsoleSize(2, 1)).toEqual({ cols: 2, rows: 1 });
  });

  it.each([
    [0, 24, 'a console needs a whole number of columns from 2 to 1000, got 0'],
    [80.5, 24, 'a console needs a whole number of columns from 2 to 1000, got 80.5'],
    [80, 0, 'a console needs a whole number of rows from 1 to 1000, got 0'],
    [80, 5000, 'a console needs a whole number of rows from 1 to 1000, got 5000'],
    ['80', 24, 'a console needs a whole number of columns from 2 to 1000, got "80"'],
    [80, Number.NaN, 'a console needs a whole number of rows from 1 to 1000, got NaN'],
  ])('refuses %s x %s', (cols, rows, message) => {
    const e = caught(() => checkConsoleSize(cols, rows));
    expect(e.code).toBe('invalid-argument');
    expect(e.message).toBe(message);
  });
});
