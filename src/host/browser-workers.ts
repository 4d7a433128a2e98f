// Guest workers, and the hypervisor's CPU worker, as browser Web Workers (module workers bundled by Vite).
import { proxy, releaseProxy, transfer, wrap } from 'comlink';
import type { GuestApi } from '../protocol/guest-api.ts';
import type { CpuServiceFactory } from './cpu/cpu-service.ts';
import type { CpuWorkerRpc } from './cpu/cpu.worker.ts';
import type { GuestWorker, GuestWorkerFactory } from './worker-port.ts';

/** Guest workers this page has started and terminated so far (tests read them). */
export const browserWorkerCounts = { started: 0, terminated: 0 };

/** Spawn guest workers as Web Workers. */
export const browserGuestWorkers: GuestWorkerFactory = (): GuestWorker => {
  const worker = new Worker(new URL('../../workers/guest.worker.ts', import.meta.url), { type: 'module', name: 'guest' });
  browserWorkerCounts.started++;
  const api = wrap<GuestApi>(worker);
  const failureListeners: ((reason: string) => void)[] = [];
  let terminated = false;
  worker.addEventListener('error', (event) => {
    event.preventDefault();
    if (!terminated) for (const l of failureListeners) l(`worker error: ${event.message || 'unknown error'}`);
  });
  return {
    api,
    onFailure: (l) => failureListeners.push(l),
    async terminate() {
      if (terminated) return;
      terminated = true;
      api[releaseProxy]();
      worker.terminate();
      browserWorkerCounts.terminated++;
    },
  };
};

/**
 * The CPU scheduler in a dedicated worker (src/host/cpu/cpu.worker.ts): its
 * clock is not throttled with a background tab's timers and a busy page does
 * not delay it. Calls are one-way messages; a failed one is logged.
 */
export const browserCpuService: CpuServiceFactory = (options, events) => {
  const worker = new Worker(new URL('./cpu/cpu.worker.ts', import.meta.url), { type: 'module', name: 'hypervisor-cpu' });
  const rpc = wrap<CpuWorkerRpc>(worker);
  const logged = (p: Promise<unknown>): void => void p.catch((err: unknown) => console.error('the CPU worker refused a call:', err));
  logged(rpc.start(options, proxy(events)));
  return {
    register: (vmId, port, resources, inbox) => logged(rpc.register(vmId, transfer(port, [port as unknown as Transferable]), resources, inbox)),
    unregister: (vmId) => logged(rpc.unregister(vmId)),
    setPaused: (vmId, paused) => logged(rpc.setPaused(vmId, paused)),
    setResources: (vmId, resources) => logged(rpc.setResources(vmId, resources)),
    setConfig: (config) => logged(rpc.setConfig(config)),
    dispose: () => {
      void rpc.dispose().finally(() => {
        rpc[releaseProxy]();
        worker.terminate();
      });
    },
  };
};
