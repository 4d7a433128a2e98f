// Offline after the first visit (workers/service-worker.ts): the first visit
// caches the site; with the network cut, a reload still boots a guest that
// answers, and a bundled lab still opens; where no service worker is allowed
// the site works without one; a new build deployed is announced and taken on
// the user's reload, never mixed with the running one.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { serveStatic, type StaticServer } from './static-server.ts';
import { TEST_SITE_DIR } from './test-site.ts';

/** The id of the build whose service worker controls the page. */
function controllingBuild(page: Page): Promise<string> {
  return page.evaluate(
    () =>
      new Promise<string>((resolve) => {
        const sw = navigator.serviceWorker;
        sw.addEventListener('message', (e) => resolve((e.data as { build: string }).build), { once: true });
        sw.controller!.postMessage({ type: 'build' });
      }),
  );
}

describe('offline after the first visit', () => {
  let dir: string;
  let server: StaticServer;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    // A copy of the site: the second test deploys a new build over it.
    dir = mkdtempSync(join(tmpdir(), 'hv-offline-'));
    cpSync(TEST_SITE_DIR, dir, { recursive: true });
    server = await serveStatic(dir, '/offline/');
    browser = await chromium.connect(inject('wsEndpoint'));
    context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('caches the site on the first visit; offline, a reload boots a guest that answers, and a bundled lab opens', async () => {
    const t0 = Date.now();
    await page.goto(server.url);
    // The worker controls the page once it has cached every file of the build.
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null, undefined, { timeout: 60_000 });
    const firstVisitS = (Date.now() - t0) / 1000;
    const mb = server.bytesServed() / 2 ** 20;
    expect(mb).toBeGreaterThan(5); // the images and v86.wasm came down with the site
    // What the first visit's page may still fetch ends before the network goes (the server quiet for 1 s), so
    // that a request in flight is not counted as one made offline (a loaded CI run counted one such request).
    for (let n = -1; n !== server.log.length; ) {
      n = server.log.length;
      await page.waitForTimeout(1000);
    }

    await context.setOffline(true);
    const served = server.log.length;
    const t1 = Date.now();
    await page.reload();
    const answer = await page.evaluate(async () => {
      const { hv } = (window as unknown as { __hvDashboard: { dash: { hv: { createVm(s: object): Promise<{ id: string }>; start(id: string): Promise<void>; exec(id: string, c: string): Promise<{ output: string }> } } } }).__hvDashboard.dash;
      const { id } = await hv.createVm({ name: 'off1', memoryMiB: 96, boot: 'cold' });
      await hv.start(id);
      return (await hv.exec(id, 'echo offline-$((40+2))')).output.trim();
    });
    const offlineS = (Date.now() - t1) / 1000;
    expect(answer).toBe('offline-42');
    expect(server.log.slice(served), 'nothing reached the server while offline').toEqual([]);
    console.info(`first visit: ${mb.toFixed(1)} MiB from the loopback server, cached after ${firstVisitS.toFixed(1)} s; offline reload to a cold-booted guest's answer: ${offlineS.toFixed(1)} s`);

    await page.goto(`${server.url}?lab=labs/cpu-slicing.yaml`);
    await expect.poll(() => page.getByTestId('lab').getAttribute('data-phase'), { timeout: 60_000 }).toBe('ready');
    await context.setOffline(false);
  });

  it('works where no service worker is allowed, and caches nothing', async () => {
    const plain = await browser.newContext({ viewport: { width: 1280, height: 720 }, serviceWorkers: 'block' });
    try {
      const p = await plain.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(e.message));
      await p.goto(server.url);
      const answer = await p.evaluate(async () => {
        const { hv } = (window as unknown as { __hvDashboard: { dash: { hv: { createVm(s: object): Promise<{ id: string }>; start(id: string): Promise<void>; exec(id: string, c: string): Promise<{ output: string }> } } } }).__hvDashboard.dash;
        const { id } = await hv.createVm({ name: 'nosw', memoryMiB: 96 });
        await hv.start(id);
        return (await hv.exec(id, 'echo plain')).output.trim();
      });
      expect(answer).toBe('plain');
      expect(await p.evaluate(() => navigator.serviceWorker?.controller ?? null)).toBeNull();
      expect(errors).toEqual([]);
    } finally {
      await plain.close();
    }
  });

  it('announces a new build deployed, and takes it on reload', async () => {
    await page.goto(server.url);
    const before = await controllingBuild(page);
    // Deploy: a build with another id (every file of it is the same here), and a page that says which it is.
    const next = 'deploy2deploy2de';
    const sw = readFileSync(join(dir, 'sw.js'), 'utf8');
    expect(sw).toContain(before);
    writeFileSync(join(dir, 'sw.js'), sw.replaceAll(before, next));
    const html = readFileSync(join(dir, 'index.html'), 'utf8');
    writeFileSync(join(dir, 'index.html'), html.replace('<head>', '<head><meta name="hv-deploy" content="2">'));

    await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())!.update());
    await page.getByTestId('update-ready').waitFor({ timeout: 30_000 });
    // Until the reload, the page and its worker are the old build's.
    expect(await page.locator('meta[name="hv-deploy"]').count()).toBe(0);
    expect(await controllingBuild(page)).toBe(before);
    await Promise.all([page.waitForNavigation(), page.getByTestId('update-reload').click()]);
    await page.waitForFunction(() => navigator.serviceWorker.controller !== null);
    expect(await page.locator('meta[name="hv-deploy"]').count()).toBe(1);
    expect(await controllingBuild(page)).toBe(next);
    expect(await page.getByTestId('update-ready').count()).toBe(0);
  });
});
