// The page's side of the service worker (workers/service-worker.ts): register
// it, say when a new build is installed and waiting, and switch to it on the
// user's word (or at once when the page has just been reloaded: nothing runs
// yet). Where service workers are unavailable (plain http on another host,
// some sandboxed frames) the site works as before, without the cache.

export const offline = $state({
  /** A new build is installed and waits for a reload. */
  updateReady: false,
});

/** No offline copy: said in the console (the site works on without one). */
function unavailable(why: string): void {
  console.info(`the playground will not work offline: ${why}`);
}

let registration: ServiceWorkerRegistration | null = null;
let switching = false;

export async function registerServiceWorker(url: string): Promise<void> {
  const sw = typeof navigator === 'undefined' ? undefined : navigator.serviceWorker;
  if (!sw) {
    unavailable('this browser gives the page no service worker here (e.g. plain http from another host)');
    return;
  }
  try {
    registration = (await sw.register(url)) ?? null;
  } catch (err) {
    unavailable(`the service worker was refused: ${(err as Error).message}`);
    return;
  }
  const reg = registration;
  // A browser that blocks service workers may answer with nothing at all.
  if (!reg) {
    unavailable('the browser did not register the service worker');
    return;
  }
  sw.addEventListener('controllerchange', () => {
    if (switching) location.reload();
  });
  // A build that waited while this page loaded: the reload was the user's word.
  if (reg.waiting && sw.controller) {
    applyUpdate();
    return;
  }
  const watch = (worker: ServiceWorker | null): void => {
    if (!worker) return;
    const check = (): void => {
      if (worker.state !== 'installed') return;
      if (sw.controller) offline.updateReady = true;
    };
    check();
    worker.addEventListener('statechange', check);
  };
  watch(reg.installing);
  reg.addEventListener('updatefound', () => watch(reg.installing));
}

/** Let the waiting build take over, then reload into it. */
export function applyUpdate(): void {
  const waiting = registration?.waiting;
  if (!waiting) {
    location.reload();
    return;
  }
  switching = true;
  waiting.postMessage({ type: 'skip-waiting' });
}
