// Page entry: the UI, over the hypervisor in its own worker (src/host/remote/),
// with the guest images and v86.wasm bundled with this build. The URL says which page:
//   (none)            the dashboard
//   ?gallery          the labs bundled with the site
//   ?lab=URL          a lab (relative to the site, or absolute); &parentOrigin=ORIGIN[,ORIGIN]
//                     lets an embedding page talk to it; &author=1 reloads it when its file changes
import { mount } from 'svelte';
import App from './ui/App.svelte';
import { Dashboard } from './ui/dashboard.svelte.ts';
import { chartStats } from './ui/chart-frames.ts';
import { browserImages, browserWasmUrl } from './host/browser-images.ts';
import { labContext } from './host/lab/lab-session.ts';
import { browserHypervisor } from './host/remote/browser-client.ts';
import type { WorkerCounts } from './host/remote/protocol.ts';
import { PAGE_STANDBY_WORKERS } from './host/standby-workers.ts';
import Gallery from './ui/lab/Gallery.svelte';
import LabApp from './ui/lab/LabApp.svelte';
import { LabModel } from './ui/lab/lab-model.svelte.ts';
import { registerServiceWorker } from './ui/offline/offline.svelte.ts';
import UpdateBanner from './ui/offline/UpdateBanner.svelte';
import './ui/app.css';

declare global {
  interface Window {
    /** Test hook for e2e tests and benches, compiled in only by `npm run build:test`: the dashboard model, chart and worker counters. */
    __hvDashboard?: { dash: Dashboard; chartStats: typeof chartStats; workers: () => Promise<WorkerCounts | null> };
  }
}

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

// Offline after the first visit (workers/service-worker.ts, built as sw.js); not in the dev server.
if (import.meta.env.PROD) {
  const bar = document.createElement('div');
  target.before(bar);
  mount(UpdateBanner, { target: bar });
  void registerServiceWorker(new URL('sw.js', document.baseURI).href);
}

const params = new URLSearchParams(location.search);
const labParam = params.get('lab');
const images = browserImages();

if (params.has('gallery') && labParam === null) {
  document.title = 'Labs · Hypervisor playground';
  mount(Gallery, { target, props: { context: labContext(images) } });
} else {
  /** One pCPU at first: two busy guests then take turns, as they would on a loaded host (the host panel says how to raise it; a lab sets its own). */
  const pcpus = 1;
  // Booted templates built with the site (vite.config.ts): a clone needs no cold boot first.
  const templatesUrl = new URL('templates/', location.href).href;
  const hv = browserHypervisor({
    env: {
      images,
      wasmUrl: browserWasmUrl,
      standbyWorkers: PAGE_STANDBY_WORKERS,
      templatesUrl,
      // A lab clones its guests: have the index on hand when it has read its file.
      primeTemplates: labParam !== null,
      // The dashboard keeps its networks, VMs and snapshots across reloads; a lab's guests are the lab's.
      persistIn: labParam === null ? 'hv-playground' : null,
    },
    settings: { pcpus, memoryMiB: 1024 },
  });
  const dash = new Dashboard(hv);
  // Another host (the Cluster tab's, a lab's host2): its own hypervisor worker, pCPUs and pool; it keeps nothing across reloads.
  const otherHost = (settings: { pcpus: number; memoryMiB: number }) =>
    browserHypervisor({ env: { images, wasmUrl: browserWasmUrl, standbyWorkers: 1, templatesUrl, primeTemplates: labParam !== null, persistIn: null }, settings });
  // Replaced at build time: a production build has no trace of the hook.
  if (import.meta.env.VITE_HV_TEST_HOOKS === '1') window.__hvDashboard = { dash, chartStats, workers: () => hv.workerCounts() };
  if (labParam !== null) {
    const model = new LabModel(dash, { url: new URL(labParam, location.href).href, parentOrigin: params.get('parentOrigin'), author: params.get('author') === '1', makeHost: otherHost });
    mount(LabApp, { target, props: { model } });
    void model.load().then(() => {
      if (model.lab) document.title = `${model.lab.title} · Hypervisor playground`;
    });
    addEventListener('pagehide', (e) => {
      if (!e.persisted) model.dispose();
    });
  } else {
    mount(App, { target, props: { dash, clusterHost: otherHost } });
    void dash.restore();
  }
  // Leave nothing running when the page goes away (workers die with it anyway);
  // a page kept in the back/forward cache keeps its guests for when it comes back.
  addEventListener('pagehide', (e) => {
    if (!e.persisted) void dash.dispose();
  });
}
