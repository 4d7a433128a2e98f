// The size of a guest's console in character cells, as a terminal pane reports it.
import { HvError } from './errors.ts';
import { describeValue } from './format.ts';

export interface ConsoleSize {
  cols: number;
  rows: number;
}

export const CONSOLE_LIMITS = { cols: { min: 2, max: 1000 }, rows: { min: 1, max: 1000 } } as const;

/** Validates a console size; refuses anything but whole numbers within CONSOLE_LIMITS. */
export function checkConsoleSize(cols: unknown, rows: unknown): ConsoleSize {
  for (const [what, value, { min, max }] of [
    ['columns', cols, CONSOLE_LIMITS.cols],
    ['rows', rows, CONSOLE_LIMITS.rows],
  ] as const) {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      throw new HvError('invalid-argument', `a console needs a whole number of ${what} from ${min} to ${max}, got ${describeValue(value)}`, { cols, rows });
    }
  }
  return { cols: cols as number, rows: rows as number };
}
