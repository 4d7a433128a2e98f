// Node worker_threads cannot load TypeScript by themselves: register tsx in this
// thread, then load the worker entry (workers/guest.worker.ts).
import { register } from 'tsx/esm/api';
import { workerData } from 'node:worker_threads';

register();
await import(workerData.entry);
