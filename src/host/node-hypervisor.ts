// A Hypervisor over real guests in Node worker_threads: tests, benchmarks and
// the lab command line use it (the same host code as the page's).
import { availableParallelism } from 'node:os';
import { Hypervisor, type HostSettings } from './hypervisor.ts';
import { nodeGuestWorkers } from './node-workers.ts';
import { nodeImages, nodeWasmUrl } from './node-images.ts';

/** A hypervisor with image `firstImage` (default HV_TEST_IMAGE, else the catalog's first) first in its catalog. */
export function nodeHypervisor(
  settings: Partial<HostSettings> & Pick<HostSettings, 'pcpus' | 'memoryMiB'>,
  standbyWorkers = 1,
  firstImage = process.env['HV_TEST_IMAGE'],
): Hypervisor {
  const images = nodeImages().sort((a, b) => Number(b.id === firstImage) - Number(a.id === firstImage));
  return new Hypervisor({ workers: nodeGuestWorkers, images, wasm: { url: nodeWasmUrl }, standbyWorkers, hostCores: availableParallelism() }, settings);
}
