// The isolation experiments: plain async functions over a Hypervisor, shared
// by the integration tests, the Isolation view and the headless runner.
export * from './experiment.ts';
export * from './memory-isolation.ts';
export * from './fault-isolation.ts';
export * from './performance-isolation.ts';
export { SECRET_MAX_CHARS, SECRET_MIN_CHARS, randomSecret, validateSecret } from './secret.ts';
export { reportFault, reportMemory, reportPerformance } from './report.ts';
