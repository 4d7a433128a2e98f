// Page entry: a Hypervisor over Web Worker guests with the guest images and
// v86.wasm bundled with this build, and the dashboard on top.
import { mount } from 'svelte';
import App from './ui/App.svelte';
import { Dashboard } from './ui/dashboard.svelte.ts';
import { chartStats } from './ui/chart-frames.ts';
import { browserImages, browserWasmUrl } from './host/browser-images.ts';
import { browserGuestWorkers, browserWorkerCounts } from './host/browser-workers.ts';
import { PAGE_STANDBY_WORKERS } from './host/standby-workers.ts';
import './ui/app.css';

declare global {
  interface Window {
    /** Test hook for e2e tests and bench/ui.ts: the dashboard model, chart and worker counters. */
    __hvDashboard?: { dash: Dashboard; chartStats: typeof chartStats; workers: typeof browserWorkerCounts };
  }
}

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

/** One pCPU fewer than the machine's threads (the page itself needs one), at least 1. */
const pcpus = Math.max(1, (navigator.hardwareConcurrency || 2) - 1);
const dash = new Dashboard({ workers: browserGuestWorkers, images: browserImages(), wasm: { url: browserWasmUrl }, standbyWorkers: PAGE_STANDBY_WORKERS }, { pcpus, memoryMiB: 1024 });
mount(App, { target, props: { dash } });
window.__hvDashboard = { dash, chartStats, workers: browserWorkerCounts };

// Leave nothing running when the page goes away (workers die with it anyway).
addEventListener('pagehide', () => void dash.dispose());
