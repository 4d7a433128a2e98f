// `npm run lab:scorm`: the package (the built site inside) unpacked under a
// stand-in LMS whose SCORM 1.2 API records every call; a student completes
// the lab and the LMS receives the score, the passed status and the passed
// steps in cmi.suspend_data.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { unzipSync } from 'fflate';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { packScorm } from '../../scripts/scorm.ts';
import { serveStatic, type StaticServer } from './static-server.ts';
import { TEST_SITE_DIR } from './test-site.ts';

const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));

describe('a lab as a SCORM 1.2 package', () => {
  let dir: string;
  let server: StaticServer;
  let browser: Browser;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'hv-scorm-'));
    const zip = join(dir, 'tiny.zip');
    // The test build of the site (npm run test:e2e builds it) stands in for dist/.
    expect(packScorm([join(fixtures, 'tiny.yaml'), '--out', zip, '--site-dir', TEST_SITE_DIR])).toBe(0);
    const files = unzipSync(readFileSync(zip));
    for (const [name, bytes] of Object.entries(files)) {
      const path = join(dir, 'lms', 'package', name);
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, bytes);
    }
    cpSync(join(fixtures, 'lms.html'), join(dir, 'lms', 'index.html'));
    server = await serveStatic(join(dir, 'lms'), '/lms/');
    browser = await chromium.connect(inject('wsEndpoint'));
  });
  afterAll(async () => {
    await browser?.close();
    await server?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has a SCORM 1.2 manifest that lists its files', () => {
    const manifest = readFileSync(join(dir, 'lms', 'package', 'imsmanifest.xml'), 'utf8');
    expect(manifest).toMatch(/<schemaversion>1\.2<\/schemaversion>/);
    expect(manifest).toMatch(/adlcp:scormtype="sco" href="index.html"/);
    expect(manifest).toMatch(/<file href="site\/labs\/tiny.yaml"\/>/);
    expect(manifest).toMatch(/<title>Tiny lab<\/title>/);
  });

  it('reports the score, completion and passed steps to the LMS', async () => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    const page = await context.newPage();
    await page.goto(server.url);
    const lab = page.frameLocator('#sco').frameLocator('#lab');
    await lab.locator('[data-testid="lab"][data-phase="ready"]').waitFor({ timeout: 120_000 });
    const calls = () => page.evaluate(() => (window as unknown as { scormCalls: string[][] }).scormCalls);
    await expect.poll(async () => (await calls()).map((c) => c[0])).toContain('LMSInitialize');
    await lab.locator('[data-testid="guest-console"][data-guest="t"] .xterm').click();
    await page.keyboard.type('touch /root/done');
    await page.keyboard.press('Enter');
    await expect
      .poll(async () => {
        await lab.getByTestId('lab-check').click();
        return lab.getByTestId('lab-verdict').getAttribute('data-passed');
      }, { timeout: 30_000, interval: 1500 })
      .toBe('true');
    const data = () => page.evaluate(() => (window as unknown as { scormData: Record<string, string> }).scormData);
    await expect.poll(data).toMatchObject({ 'cmi.core.score.raw': '100', 'cmi.core.lesson_status': 'passed', 'cmi.suspend_data': 'done' });
    expect((await calls()).some((c) => c[0] === 'LMSCommit')).toBe(true);
    await context.close();
  });
});
