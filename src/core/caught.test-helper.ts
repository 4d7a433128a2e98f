// For tests: run fn and return the HvError it throws (fail if it throws none).
import { HvError } from './errors.ts';

/** The HvError thrown by fn; throws if fn throws something else or nothing. */
export function caught(fn: () => unknown): HvError {
  try {
    fn();
  } catch (e) {
    if (e instanceof HvError) return e;
    throw e;
  }
  throw new Error('expected an HvError');
}
