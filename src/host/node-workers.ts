// Guest workers as Node worker_threads, running the same workers/guest.worker.ts
// as the browser (TypeScript compiled on load by tsx, see node-worker-boot.mjs).
import { Worker } from 'node:worker_threads';
import { wrap, releaseProxy } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { GuestApi } from '../protocol/guest-api.ts';
import type { GuestWorker, GuestWorkerFactory } from './worker-port.ts';

const bootstrap = new URL('./node-worker-boot.mjs', import.meta.url);
const entry = new URL('../../workers/guest.worker.ts', import.meta.url).href;

/** Threads started by this factory and not yet exited (tests check it drops to 0). */
const live = new Set<Worker>();

/** How many guest worker threads are alive in this process. */
export function liveGuestThreads(): number {
  return live.size;
}

/** Spawn guest workers as worker_threads. */
export const nodeGuestWorkers: GuestWorkerFactory = (): GuestWorker => {
  const worker = new Worker(bootstrap, { workerData: { entry } });
  live.add(worker);
  const api = wrap<GuestApi>(nodeEndpoint(worker));
  let exited = false;
  const exit = new Promise<void>((resolve) =>
    worker.once('exit', () => {
      exited = true;
      live.delete(worker);
      resolve();
    }),
  );
  const failureListeners: ((reason: string) => void)[] = [];
  let terminating = false;
  worker.on('error', (err) => {
    if (!terminating) for (const l of failureListeners) l(`worker error: ${err.message}`);
  });
  worker.once('exit', (code) => {
    if (!terminating) for (const l of failureListeners) l(`worker exited with code ${code}`);
  });
  return {
    api,
    onFailure: (l) => failureListeners.push(l),
    async terminate() {
      terminating = true;
      if (!exited) {
        api[releaseProxy]();
        await worker.terminate();
      }
      await exit;
    },
  };
};
