// What a balloon target may be: the RAM (MiB) a guest keeps once its balloon
// has taken the rest. Not above its RAM, and not below what its kernel and
// its in-memory root file system need to keep running.
import { HvError } from '../errors.ts';
import { describeValue } from '../format.ts';

/** Below this a guest of the small kernel has too little left for its kernel, busybox and the root file system in RAM. */
export const BALLOON_FLOOR_MIB = 48;

/** The target as whole MiB, or an HvError naming what is wrong; null: no balloon (all RAM back). */
export function checkBalloonTarget(value: unknown, memoryMiB: number, vm: string): number | null {
  if (value === null) return null;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new HvError('invalid-argument', `${vm}: a balloon target of ${describeValue(value)} is not a whole number of MiB`, { value });
  }
  if (value > memoryMiB) {
    throw new HvError('invalid-argument', `${vm}: a balloon target of ${value} MiB is above its RAM (${memoryMiB} MiB): a balloon only takes memory back`, { value, memoryMiB });
  }
  if (value < BALLOON_FLOOR_MIB) {
    throw new HvError(
      'invalid-argument',
      `${vm}: a balloon target of ${value} MiB is below the ${BALLOON_FLOOR_MIB} MiB its kernel and in-memory root file system need; the guest would run out of memory`,
      { value, floorMiB: BALLOON_FLOOR_MIB },
    );
  }
  return value;
}
