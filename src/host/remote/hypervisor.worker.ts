// The hypervisor's own worker in the browser: the Hypervisor (lifecycle and
// its command queues, the memory pool, templates, the watchdog, exec and the
// accounting) runs here, not on the page; guest workers and the CPU worker
// are its own workers. The page talks to it through HypervisorClient.
import { browserCpuService, browserGuestWorkers, browserWorkerCounts } from '../browser-workers.ts';
import { Hypervisor } from '../hypervisor.ts';
import { fetchedTemplateFiles } from '../template-files.ts';
import { indexedDbStore } from '../persist/store.ts';
import { HypervisorServer, type Endpoint } from './server.ts';
// Snapshots are zstd-compressed here; the build serves the codec's wasm beside
// the site's other assets (by path: the package's exports do not list the file).
import zstdWasmUrl from '../../../node_modules/@bokuweb/zstd-wasm/dist/web/zstd.wasm?url';

new HypervisorServer(
  self as unknown as Endpoint,
  ({ env, settings }) => {
    const templates = env.templatesUrl === null ? undefined : fetchedTemplateFiles(env.templatesUrl);
    // A lab clones its guests: have the index on hand when it has read its file.
    if (env.primeTemplates) templates?.prime?.();
    return new Hypervisor(
      {
        workers: browserGuestWorkers,
        cpu: browserCpuService,
        images: env.images,
        wasm: { url: env.wasmUrl },
        standbyWorkers: env.standbyWorkers,
        zstdWasmUrl,
        ...(env.persistIn ? { persistence: indexedDbStore(env.persistIn) } : {}),
        ...(templates ? { templates } : {}),
      },
      settings,
    );
  },
  () => ({ ...browserWorkerCounts }),
);
