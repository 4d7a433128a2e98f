// The guest's time base. v86 reads time through performance.now (it binds it
// once, when its module loads), and its timers (PIT, APIC, ACPI PM timer, TSC)
// keep host timestamps in their state. A restored state comes from another
// worker whose performance.now started elsewhere: without a shift, the devices
// see time jump backwards and the guest spins until "now" catches up.
// This module must load before v86 (guest-runtime.ts imports it first).
const rawNow = performance.now.bind(performance);
let offsetMs = 0;
performance.now = () => rawNow() + offsetMs;

/** Make the guest clock read `ms` now (the clock of the state being restored). */
export function setGuestClock(ms: number): void {
  offsetMs = ms - rawNow();
}

/** The worker's own clock in ms, never shifted (for durations that span a restore). */
export function hostClock(): number {
  return rawNow();
}

/** The guest clock in ms (what v86 sees). */
export function guestClock(): number {
  return rawNow() + offsetMs;
}
