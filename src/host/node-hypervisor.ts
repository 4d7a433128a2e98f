// A Hypervisor over real guests in Node worker_threads: tests, benchmarks and
// the lab command line use it (the same host code as the page's).
import { createReadStream, existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { Hypervisor, type HostSettings, type HypervisorEnv } from './hypervisor.ts';
import { templateFiles, type TemplateSource } from './template-files.ts';
import { nodeGuestWorkers } from './node-workers.ts';
import { nodeImages, nodeWasmUrl } from './node-images.ts';

/** A hypervisor with image `firstImage` (default HV_TEST_IMAGE, else the catalog's first) first in its catalog. */
export function nodeHypervisor(
  settings: Partial<HostSettings> & Pick<HostSettings, 'pcpus' | 'memoryMiB'>,
  standbyWorkers = 1,
  firstImage = process.env['HV_TEST_IMAGE'],
  extra: Partial<HypervisorEnv> = {},
): Hypervisor {
  const images = nodeImages().sort((a, b) => Number(b.id === firstImage) - Number(a.id === firstImage));
  return new Hypervisor(
    { workers: nodeGuestWorkers, images, wasm: { url: nodeWasmUrl }, standbyWorkers, hostCores: availableParallelism(), hostMemoryBytes: () => process.memoryUsage().rss, ...extra },
    settings,
  );
}

/** Makes more hosts (a lab's other hosts): each a Hypervisor of its own in this thread, with one standby worker. */
export const nodeHostFactory = (settings: { pcpus: number; memoryMiB: number }): Hypervisor => nodeHypervisor(settings, 1);

/** The templates folder `dir` (as npm run templates writes it) as a TemplateSource. */
export function nodeTemplateFiles(dir: string): TemplateSource {
  return templateFiles(async (name) => {
    const file = join(dir, name);
    return existsSync(file) ? (Readable.toWeb(createReadStream(file)) as ReadableStream<Uint8Array>) : null;
  }, `${dir}/`);
}
