// Vite build of the playground page. The site must work from any static file
// server under any sub-path with no special headers, so: relative base, module
// workers, guest images and v86.wasm emitted as plain assets, and no `process`
// polyfill (v86 would take its Node code path if `process` existed).
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { build as esbuild } from 'esbuild';
import { defineConfig, type Plugin } from 'vite';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { cspMetaPolicy } from './src/csp.ts';

/**
 * The bundled labs (labs/*.yaml) and the lab JSON Schema as files of the
 * site, at labs/NAME: ?lab=labs/NAME.yaml loads them like any lab URL, and
 * editors find the schema beside them. The dev server serves them from the
 * project root already.
 */
function labFiles(): Plugin {
  const dir = new URL('./labs/', import.meta.url);
  return {
    name: 'hv-lab-files',
    apply: 'build',
    generateBundle() {
      for (const name of readdirSync(dir).filter((f) => /\.(ya?ml|json)$/.test(f))) {
        this.emitFile({ type: 'asset', fileName: `labs/${name}`, source: readFileSync(new URL(name, dir)) });
      }
    },
  };
}

/**
 * The booted templates the bundled labs clone from, as files of the site at
 * templates/ (scripts/templates.ts boots them in Node, cached between builds):
 * a lab's first guest then restores one instead of booting a template cold.
 * HV_TEMPLATES=0 builds a site without them (guests then boot their template).
 */
function templateFiles(): Plugin {
  let dir: string | null = null;
  return {
    name: 'hv-template-files',
    apply: 'build',
    buildStart() {
      if (process.env['HV_TEMPLATES'] === '0') return;
      const run = spawnSync('npx', ['tsx', 'scripts/templates.ts'], { cwd: new URL('.', import.meta.url), encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
      if (run.status !== 0) throw new Error(`scripts/templates.ts failed with status ${run.status} (HV_TEMPLATES=0 builds without templates)`);
      dir = run.stdout.trim().split('\n').at(-1) ?? null;
    },
    generateBundle() {
      if (!dir) return;
      for (const name of readdirSync(dir)) this.emitFile({ type: 'asset', fileName: `templates/${name}`, source: readFileSync(join(dir, name)) });
    },
  };
}

/**
 * The Content-Security-Policy (src/csp.ts) as the first tag of the built
 * page's <head>. Not in the dev server: its client needs inline code and a
 * WebSocket the policy does not allow.
 */
function cspMeta(): Plugin {
  return {
    name: 'hv-csp-meta',
    apply: 'build',
    transformIndexHtml: () => [{ tag: 'meta', attrs: { 'http-equiv': 'Content-Security-Policy', content: cspMetaPolicy() }, injectTo: 'head-prepend' }],
  };
}

/**
 * The service worker (workers/service-worker.ts) as sw.js at the site's root,
 * compiled with the list of this build's files (the public folder's too) and
 * an id made of their contents: a new deploy is a new worker, which the
 * browser installs beside the old one. The prebuilt templates are left to
 * the worker's runtime cache (a lab fetches the ones it needs).
 */
function offlineSite(): Plugin {
  const publicDir = new URL('./public/', import.meta.url);
  return {
    name: 'hv-offline-site',
    apply: 'build',
    enforce: 'post',
    async generateBundle(_, bundle) {
      const hash = createHash('sha256');
      const files: string[] = [''];
      const items = Object.values(bundle).sort((a, b) => a.fileName.localeCompare(b.fileName));
      for (const item of items) {
        if (item.fileName.startsWith('templates/') || item.fileName.endsWith('.map')) continue;
        files.push(item.fileName);
        hash.update(item.fileName).update(item.type === 'chunk' ? item.code : item.source);
      }
      for (const name of readdirSync(publicDir).sort()) {
        files.push(name);
        hash.update(name).update(readFileSync(new URL(name, publicDir)));
      }
      const out = await esbuild({
        entryPoints: [new URL('./workers/service-worker.ts', import.meta.url).pathname],
        bundle: true,
        write: false,
        format: 'iife',
        target: 'es2022',
        minify: true,
        define: { HV_BUILD: JSON.stringify(hash.digest('hex').slice(0, 16)), HV_FILES: JSON.stringify(files) },
      });
      this.emitFile({ type: 'asset', fileName: 'sw.js', source: out.outputFiles[0]!.text });
    },
  };
}

const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;

export default defineConfig({
  base: './',
  // The project version, recorded in the results of experiments run in the page.
  define: { __HV_VERSION__: JSON.stringify(version) },
  plugins: [svelte(), labFiles(), templateFiles(), cspMeta(), offlineSite()],
  build: {
    target: 'es2022',
    // Images and wasm are fetched (and sha256-checked) by the guest worker:
    // keep them as files, never as inlined data: URLs.
    assetsInlineLimit: 0,
    // The kernel images are several MB; that is expected, not a warning.
    chunkSizeWarningLimit: 1024,
  },
  worker: {
    format: 'es',
  },
  server: {
    // images/.work holds a Linux source tree while a kernel is being built:
    // watching it would cost the dev server CPU on every compiled file.
    watch: { ignored: ['**/images/.work/**', '**/test-results/**', '**/bench-results/**'] },
  },
  optimizeDeps: {
    // The page is the only entry (the default scans every *.html under the
    // root, including a kernel source tree in images/.work).
    entries: ['index.html'],
    // Pre-bundle what the guest worker imports too: otherwise the dev server
    // discovers v86 only when the first guest starts and reloads the page.
    include: ['v86', 'comlink', '@xterm/xterm', '@xterm/addon-fit'],
  },
});
