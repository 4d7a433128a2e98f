// The hypervisor's CPU worker (browser): the CPU scheduler, its clock and its
// accounting (cpu-service.ts), away from the page's main thread. Guest
// workers reach it over their CPU channels; the page over comlink.
import { expose } from 'comlink';
import { CpuService, type CpuServiceEvents, type CpuServiceOptions } from './cpu-service.ts';

let service: CpuService | null = null;

const api = {
  /** Start the service (once); its events go back to the page through a comlink proxy. */
  start(options: CpuServiceOptions, events: CpuServiceEvents): void {
    service ??= new CpuService(options, events);
  },
  register: (...a: Parameters<CpuService['register']>) => service?.register(...a),
  unregister: (...a: Parameters<CpuService['unregister']>) => service?.unregister(...a),
  setPaused: (...a: Parameters<CpuService['setPaused']>) => service?.setPaused(...a),
  setResources: (...a: Parameters<CpuService['setResources']>) => service?.setResources(...a),
  setConfig: (...a: Parameters<CpuService['setConfig']>) => service?.setConfig(...a),
  dispose(): void {
    service?.dispose();
    service = null;
  },
};

export type CpuWorkerRpc = typeof api;

expose(api);
