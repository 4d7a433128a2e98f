// Water-filling of CPU capacity: how much of one pCPU each VM should get in a
// period. A reservation is a floor, a cap (and the single vCPU, 100 %) is a
// ceiling, and in between capacity is shared in proportion to weight; what a
// capped VM cannot take flows to the others. This is vSphere's
// shares/reservation/limit model: entitlement_i = clamp(w_i * L, r_i, c_i),
// with the "water level" L chosen so the entitlements add up to the capacity.

/** What water-filling needs to know about one VM. */
export interface EntitlementInput {
  weight: number;
  capPct?: number | null;
  reservationPct?: number | null;
}

/** Expected % of one pCPU per VM (same order as `vms`) when `capacityPctTotal` (pcpus x 100) is shared. */
export function entitlements(vms: readonly EntitlementInput[], capacityPctTotal: number): number[] {
  const ceil = vms.map((vm) => Math.min(vm.capPct ?? 100, 100));
  const floor = vms.map((vm, i) => Math.min(Math.max(vm.reservationPct ?? 0, 0), ceil[i] ?? 0));
  const weight = vms.map((vm) => vm.weight);
  const capacity = Math.max(0, capacityPctTotal);

  const sumCeil = sum(ceil);
  if (sumCeil <= capacity) return ceil; // Everyone gets all it can take.
  const sumFloor = sum(floor);
  if (sumFloor >= capacity) {
    // Only reachable when reservations were not validated: scale them down.
    return sumFloor === 0 ? floor : floor.map((r) => (r * capacity) / sumFloor);
  }

  const at = (level: number): number[] => weight.map((w, i) => clamp(w * level, floor[i] ?? 0, ceil[i] ?? 0));
  // total(level) is continuous, piecewise linear and non-decreasing, with kinks
  // where a VM leaves its floor or reaches its ceiling: walk the kinks until
  // the total passes the capacity, then interpolate on that linear piece.
  const kinks = [...new Set(weight.flatMap((w, i) => [(floor[i] ?? 0) / w, (ceil[i] ?? 0) / w]))].sort((a, b) => a - b);
  let lo = 0;
  let totalLo = sumFloor;
  for (const k of kinks) {
    if (k <= lo) continue;
    const totalK = sum(at(k));
    if (totalK >= capacity) {
      const level = lo + ((capacity - totalLo) * (k - lo)) / (totalK - totalLo);
      return at(level);
    }
    lo = k;
    totalLo = totalK;
  }
  return ceil; // Unreachable: sumCeil > capacity guarantees a crossing.
}

function clamp(v: number, lo: number, hi: number): number {
  return Math.min(Math.max(v, lo), hi);
}

function sum(values: readonly number[]): number {
  let s = 0;
  for (const v of values) s += v;
  return s;
}
