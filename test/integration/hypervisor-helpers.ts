// A Hypervisor over real guests in Node worker_threads, for integration tests.
import { availableParallelism } from 'node:os';
import { Hypervisor, type HostSettings } from '../../src/host/hypervisor.ts';
import { nodeGuestWorkers } from '../../src/host/node-workers.ts';
import { nodeImages, nodeWasmUrl } from '../../src/host/node-images.ts';

/** A hypervisor with the test image first in its catalog, and one standby worker (as the dashboard has some). */
export function nodeHypervisor(settings: Partial<HostSettings> & Pick<HostSettings, 'pcpus' | 'memoryMiB'>, standbyWorkers = 1): Hypervisor {
  const wanted = process.env['HV_TEST_IMAGE'];
  const images = nodeImages().sort((a, b) => Number(b.id === wanted) - Number(a.id === wanted));
  return new Hypervisor({ workers: nodeGuestWorkers, images, wasm: { url: nodeWasmUrl }, standbyWorkers, hostCores: availableParallelism() }, settings);
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
