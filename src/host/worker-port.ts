// How the host gets a guest worker, in the browser or in Node: a small port
// interface so that the rest of src/host does not care which.
import type { Remote } from 'comlink';
import type { GuestApi } from '../protocol/guest-api.ts';

export interface GuestWorker {
  readonly api: Remote<GuestApi>;
  /** Called once if the worker dies on its own (uncaught error, out of memory). */
  onFailure(listener: (reason: string) => void): void;
  /** Kill the thread; resolves when it is gone. Idempotent. */
  terminate(): Promise<void>;
}

export type GuestWorkerFactory = () => GuestWorker;
