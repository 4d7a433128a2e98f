// Page entry: the guest images and v86.wasm bundled with this build, Web
// Workers for guests, and the Svelte app on top.
import { mount } from 'svelte';
import App from './ui/App.svelte';
import { Lab } from './ui/lab.svelte.ts';
import { browserImages, browserWasmUrl } from './host/browser-images.ts';
import { browserGuestWorkers } from './host/browser-workers.ts';
import './ui/app.css';

const target = document.getElementById('app');
if (!target) throw new Error('index.html has no #app element');

const lab = new Lab(browserImages(), browserGuestWorkers, browserWasmUrl);
mount(App, { target, props: { lab } });

// Leave nothing running when the page goes away (workers die with it anyway).
addEventListener('pagehide', () => {
  for (const s of lab.sessions) void s.destroy();
});
