// The page's hypervisor: HypervisorClient over a dedicated worker
// (hypervisor.worker.ts). A worker that fails to load or dies makes every
// call fail with the reason, and the page hears it as a fault.
import { HvError } from '../../core/errors.ts';
import { HypervisorClient } from './client.ts';
import type { Endpoint } from './server.ts';
import type { RemoteInit } from './protocol.ts';

export function browserHypervisor(init: RemoteInit): HypervisorClient {
  const worker = new Worker(new URL('./hypervisor.worker.ts', import.meta.url), { type: 'module', name: 'hypervisor' });
  const client = new HypervisorClient(worker as unknown as Endpoint, init, () => worker.terminate());
  worker.addEventListener('error', (e) => {
    e.preventDefault();
    client.fail(new HvError('internal', `the hypervisor's worker failed: ${e.message || 'it could not be loaded'}`, {}));
  });
  return client;
}
