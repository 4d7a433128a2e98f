// Validation of a guest's RAM size. v86 keeps guest RAM, video memory and its
// own tables in one WebAssembly memory, and with bzImage + initrd it loads the
// initrd at the 64 MiB boundary, so sizes have a floor and a ceiling.
import { HvError } from './errors.ts';
import { describeValue, fmtMiB } from './format.ts';

/** Largest guest RAM we allow, in MiB (leaves room below the browsers' wasm memory limit). */
export const MAX_GUEST_MEMORY_MIB = 2048;

/** Where v86 places the initrd when booting bzImage + initrd, in MiB. */
export const INITRD_LOAD_ADDRESS_MIB = 64;

/**
 * MiB added above the initrd's end: the kernel unpacks the initramfs and
 * allocates its own structures right after boot, so RAM that ends exactly at
 * the initrd's end would boot into an out-of-memory kernel.
 */
export const INITRD_HEADROOM_MIB = 2;

/** Why the ceiling exists, shown when a size is above the maximum. */
export const MAX_MEMORY_WHY =
  'browsers limit a WebAssembly memory to 4 GiB (some to 2 GiB), and v86 keeps guest RAM, video memory and its own tables in that one memory';

const BYTES_PER_MIB = 1024 * 1024;

/** Bounds for validateMemoryMiB; `why` explains the minimum, `maxWhy` the maximum. */
export interface MemoryLimits {
  minMiB: number;
  maxMiB: number;
  why?: string;
  maxWhy?: string;
}

/** Smallest RAM in MiB for a bzImage + initrd boot: 64 + ceil(initrd MiB) + 2 headroom. */
export function minMemoryMiBForInitrd(initrdBytes: number): number {
  if (!Number.isFinite(initrdBytes) || initrdBytes < 0) {
    throw new HvError('invalid-argument', `initrd size must be a non-negative number of bytes, got ${describeValue(initrdBytes)}`, {
      initrdBytes,
    });
  }
  return INITRD_LOAD_ADDRESS_MIB + Math.ceil(initrdBytes / BYTES_PER_MIB) + INITRD_HEADROOM_MIB;
}

/** Limits for a guest booted from bzImage + an initrd of `initrdBytes`, with the reason spelled out. */
export function initrdMemoryLimits(initrdBytes: number, maxMiB = MAX_GUEST_MEMORY_MIB): MemoryLimits {
  const minMiB = minMemoryMiBForInitrd(initrdBytes);
  return {
    minMiB,
    maxMiB,
    why:
      `a guest booted from bzImage + initrd needs at least ${INITRD_LOAD_ADDRESS_MIB} MiB + the initrd size` +
      ` + ${INITRD_HEADROOM_MIB} MiB for the kernel, here ${fmtMiB(minMiB)}, because v86 places the initrd at the ${INITRD_LOAD_ADDRESS_MIB} MiB boundary`,
  };
}

/** Accepts whole MiB as a number or numeric string ("128", "128 MiB") within limits, or throws HvError 'invalid-argument'. */
export function validateMemoryMiB(value: unknown, limits: MemoryLimits): number {
  const mib = parseMiB(value);
  const details = { value, minMiB: limits.minMiB, maxMiB: limits.maxMiB };
  if (mib === null) {
    throw new HvError('invalid-argument', `memory size ${describeValue(value)} is not a number of MiB`, details);
  }
  if (!Number.isInteger(mib)) {
    throw new HvError('invalid-argument', `memory size ${mib} MiB is not a whole number of MiB`, details);
  }
  if (mib < limits.minMiB) {
    const why = limits.why ? `: ${limits.why}` : '';
    throw new HvError('invalid-argument', `memory size ${fmtMiB(mib)} is below the minimum of ${fmtMiB(limits.minMiB)}${why}`, details);
  }
  if (mib > limits.maxMiB) {
    const why = limits.maxWhy ?? MAX_MEMORY_WHY;
    throw new HvError('invalid-argument', `memory size ${fmtMiB(mib)} is above the maximum of ${fmtMiB(limits.maxMiB)}: ${why}`, details);
  }
  return mib;
}

// Decimal digits with an optional "MiB" unit; no hex, exponents or other units,
// so "1G" or "0x80" are refused instead of silently misread.
const MIB_TEXT = /^\s*(-?\d+(?:\.\d+)?)\s*(?:MiB)?\s*$/i;

function parseMiB(value: unknown): number | null {
  if (typeof value === 'number') return Number.isFinite(value) ? value : null;
  if (typeof value !== 'string') return null;
  const m = MIB_TEXT.exec(value);
  return m?.[1] === undefined ? null : Number(m[1]);
}
