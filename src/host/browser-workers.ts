// Guest workers as browser Web Workers (module workers bundled by Vite).
import { wrap, releaseProxy } from 'comlink';
import type { GuestApi } from '../protocol/guest-api.ts';
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
