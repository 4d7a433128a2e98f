// Once per e2e run: serve the test build (dist-test/, see test-site.ts) under a sub-path (/lab/) and start
// Debian's Chromium as a Playwright browser server; test files connect to it.
import { existsSync } from 'node:fs';
import type { TestProject } from 'vitest/node';
import { launchChromiumServer } from './browser.ts';
import { serveStatic } from './static-server.ts';
import { TEST_SITE_DIR } from './test-site.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** URL of the built site, e.g. http://127.0.0.1:PORT/lab/ */
    siteUrl: string;
    /** Playwright endpoint of the shared Chromium. */
    wsEndpoint: string;
  }
}

const dist = TEST_SITE_DIR;

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  // HV_E2E_URL=http://127.0.0.1:5173/lab/ runs the tests against a running
  // `vite --base /lab/` (dev server) or `vite preview` instead of the test build.
  const external = process.env['HV_E2E_URL'];
  if (!external && !existsSync(`${dist}/index.html`)) throw new Error(`${dist}/index.html is missing: run \`npm run build:test\` first (npm run test:e2e does)`);
  const server = external ? { url: external, close: async () => {} } : await serveStatic(dist, '/lab/');
  const browser = await launchChromiumServer();
  project.provide('siteUrl', server.url);
  project.provide('wsEndpoint', browser.wsEndpoint());
  return async () => {
    await browser.close();
    await server.close();
  };
}
