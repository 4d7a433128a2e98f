// The public surface of src/core: the hypervisor's pure decision logic.
// Internal helpers of the scheduler (grant.ts, ranking.ts, scheduler-vm.ts,
// accounting.ts) are importable directly but not part of this surface.
export * from './clock.ts';
export * from './console-size.ts';
export * from './errors.ts';
export * from './lifecycle.ts';
export * from './memory-pool.ts';
export * from './memory-size.ts';
export * from './entitlement.ts';
export * from './resources.ts';
export * from './scheduler-types.ts';
export * from './scheduler.ts';
export * from './scheduler-sim.ts';
export * from './metrics.ts';
export { fmtMiB, fmtMs, fmtPct } from './format.ts';
