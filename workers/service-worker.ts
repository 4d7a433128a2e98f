// The site's service worker: the playground works offline after the first
// visit. The build (vite.config.ts, offlineSite) compiles this file with the
// list of the build's files and an id of the build:
// - install: every file of this build (page, scripts, guest images, v86.wasm,
//   bundled labs) goes into a cache of its own, all or nothing;
// - fetch: this build's files come from its cache; anything else (a lab file
//   from elsewhere, the prebuilt templates) from the network, kept for offline
//   use, and from that copy when the network fails;
// - update: a new build's worker installs beside the running one and waits, so
//   no page runs a mix of two builds; the page says an update is ready and
//   asks it to take over ('skip-waiting'), then reloads.
/// <reference lib="WebWorker" />
export {};
declare const self: ServiceWorkerGlobalScope;
/** Replaced by the build. */
declare const HV_BUILD: string;
declare const HV_FILES: string[];

const PREFIX = 'hv-site-';
const SITE_CACHE = `${PREFIX}${HV_BUILD}`;
/** What came from the network beside the build's files (lab files, templates), kept across builds. */
const RUNTIME_CACHE = 'hv-runtime';

const scope = new URL(self.registration.scope);
/** The build's files as absolute URLs (the page itself as the scope's root). */
const siteUrls = new Set(HV_FILES.map((f) => new URL(f, scope).href));

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(SITE_CACHE);
      // Files under assets/ are named by their content's hash, so whatever copy
      // the HTTP cache holds is this build's (the page has just fetched most of
      // them: no second download). The others (the page, labs) come from the
      // network, so that they are this build's.
      const assets = new URL('assets/', scope).href;
      await cache.addAll([...siteUrls].map((url) => new Request(url, { cache: url.startsWith(assets) ? 'force-cache' : 'reload' })));
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== SITE_CACHE) await caches.delete(name);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('message', (event) => {
  const data = event.data as { type?: string } | null;
  if (data?.type === 'skip-waiting') void self.skipWaiting();
  if (data?.type === 'build') event.source?.postMessage({ type: 'build', build: HV_BUILD });
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  if (request.method !== 'GET') return;
  const url = new URL(request.url);
  // Pages of the site (?lab=..., ?gallery) are the one index.html.
  const key = request.mode === 'navigate' && url.href.startsWith(scope.href) ? new URL('./', scope).href : url.origin + url.pathname;
  if (siteUrls.has(key)) {
    event.respondWith(fromSite(key, request));
    return;
  }
  if (url.protocol === 'http:' || url.protocol === 'https:') event.respondWith(networkFirst(request));
});

async function fromSite(key: string, request: Request): Promise<Response> {
  const cache = await caches.open(SITE_CACHE);
  const hit = await cache.match(key);
  return hit ?? fetch(request);
}

async function networkFirst(request: Request): Promise<Response> {
  const cache = await caches.open(RUNTIME_CACHE);
  try {
    const response = await fetch(request);
    if (response.ok && (response.type === 'basic' || response.type === 'cors')) await cache.put(request, response.clone());
    return response;
  } catch (err) {
    const hit = await cache.match(request);
    if (hit) return hit;
    throw err;
  }
}
