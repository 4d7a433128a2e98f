// A Hypervisor over real guests in Node worker_threads, for integration tests.
export { nodeHypervisor } from '../../src/host/node-hypervisor.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
