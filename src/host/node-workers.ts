// Guest workers as Node worker_threads, running the same workers/guest.worker.ts
// as the browser. The TypeScript is compiled once per process with esbuild into
// one module (packages stay imports from node_modules); a thread then starts in
// ~0.15 s instead of ~0.5 s with tsx compiling every file in every thread,
// which stays the fallback (node-worker-boot.mjs).
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { buildSync } from 'esbuild';
import { wrap, releaseProxy } from 'comlink';
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs';
import type { GuestApi } from '../protocol/guest-api.ts';
import type { GuestWorker } from './worker-port.ts';

const bootstrap = new URL('./node-worker-boot.mjs', import.meta.url);
const entry = new URL('../../workers/guest.worker.ts', import.meta.url).href;
/** Inside node_modules, so that the bundle's package imports resolve from there. */
const cacheDir = new URL('../../node_modules/.cache/hv-playground/', import.meta.url);

let bundle: URL | null | undefined;

/** The worker compiled into one module for this process, or null (then tsx compiles it in each thread). Done on first use; call it to do it earlier. */
export function workerBundle(): URL | null {
  if (bundle !== undefined) return bundle;
  try {
    const [output] = buildSync({
      entryPoints: [fileURLToPath(entry)],
      bundle: true,
      packages: 'external',
      format: 'esm',
      platform: 'node',
      target: 'node20',
      write: false,
      logLevel: 'silent',
    }).outputFiles;
    if (!output) throw new Error('esbuild wrote nothing');
    // Named by content: processes started at once (test runners) share one file,
    // and an edited worker gets a new one.
    const hash = createHash('sha256').update(output.contents).digest('hex').slice(0, 16);
    const file = new URL(`guest.worker.${hash}.mjs`, cacheDir);
    if (!existsSync(file)) {
      mkdirSync(cacheDir, { recursive: true });
      const tmp = fileURLToPath(new URL(`guest.worker.${hash}.${process.pid}.tmp`, cacheDir));
      writeFileSync(tmp, output.contents);
      renameSync(tmp, file);
    }
    bundle = file;
  } catch {
    bundle = null;
  }
  return bundle;
}

/** Threads started by this factory and not yet exited (tests check it drops to 0). */
const live = new Set<Worker>();

/** How many guest worker threads are alive in this process. */
export function liveGuestThreads(): number {
  return live.size;
}

/** A guest worker in a worker_thread; `thread` is the thread itself (tests kill it behind the host's back). */
export interface NodeGuestWorker extends GuestWorker {
  readonly thread: Worker;
}

/** Spawn guest workers as worker_threads. */
export const nodeGuestWorkers = (): NodeGuestWorker => {
  const compiled = workerBundle();
  const worker = compiled ? new Worker(compiled) : new Worker(bootstrap, { workerData: { entry } });
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
    thread: worker,
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
