// One colour per VM, the same on its card, in the host chart and in the log.
// Picked from the VM's id (vm1, vm2, ...) so it never changes while it exists.

/** Distinguishable on white and for the common colour-vision deficiencies (Okabe-Ito based). */
const PALETTE = ['#0072b2', '#e69f00', '#009e73', '#cc79a7', '#56b4e9', '#8c6d1f', '#6a3d9a', '#1b7f7f'];

/** The i-th colour of the palette (series that are not VMs of the dashboard: an experiment's guests). */
export function paletteColor(i: number): string {
  return PALETTE[i % PALETTE.length]!;
}

/** Idle pCPU time and the "promised" line. */
export const IDLE_COLOR = '#d8dde3';
export const PROMISE_COLOR = '#1b1f24';
/** Ready time: red, kept out of the VM palette. */
export const READY_COLOR = '#c62828';

export function colorFor(vmId: string): string {
  const n = Number(/\d+$/.exec(vmId)?.[0] ?? 0);
  return PALETTE[(Math.max(1, n) - 1) % PALETTE.length]!;
}
