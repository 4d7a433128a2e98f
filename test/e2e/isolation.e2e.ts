// The Isolation tab, end to end: the memory experiment run from the view in
// Chromium, with real guests in Web Workers. A typed secret must be found in
// the RAM of the guest that holds it and nowhere else.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_STANDBY_WORKERS } from '../../src/host/standby-workers.ts';
import { noWorkerTaken, openLabPage, type LabPage } from './page.ts';

const resultsDir = fileURLToPath(new URL('../../test-results/', import.meta.url));

describe('isolation view', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
    mkdirSync(resultsDir, { recursive: true });
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('refuses a bad secret before any guest starts', async () => {
    const { page } = lab;
    await expect.poll(() => lab.workersStarted.length).toBe(PAGE_STANDBY_WORKERS);
    await page.getByTestId('tab-isolation').click();
    await page.getByTestId('isolation-view').waitFor();
    await page.getByTestId('iso-memory-secret').fill('short');
    await page.getByTestId('iso-memory-secret-error').waitFor();
    expect(await page.getByTestId('iso-memory-run').isDisabled()).toBe(true);
    expect(await noWorkerTaken(lab, PAGE_STANDBY_WORKERS)).toBe(true);
  });

  it('runs the memory experiment: the typed secret is in the holder only', { timeout: 300_000 }, async () => {
    const { page } = lab;
    const secret = `e2e-secret-${Date.now().toString(36)}`;
    await page.getByTestId('iso-memory-secret').fill(secret);
    await page.getByTestId('iso-memory-run').click();
    await page.getByTestId('iso-memory-progress').waitFor();
    const verdict = page.getByTestId('iso-memory-verdict');
    await verdict.waitFor({ timeout: 280_000 });
    await page.screenshot({ path: `${resultsDir}isolation-memory.png` });
    expect(await page.getByTestId('iso-memory-secret-value').textContent()).toBe(secret);
    expect(await page.getByTestId('iso-memory-row-iso-a').getAttribute('data-found')).toBe('true');
    expect(await page.getByTestId('iso-memory-row-iso-b').getAttribute('data-found')).toBe('false');
    const tool = page.getByTestId('iso-memory-guest-tool');
    expect(await tool.getAttribute('data-secret-hits')).toBe('0');
    expect(Number(await tool.getAttribute('data-control-hits'))).toBeGreaterThan(0);
    expect(await verdict.getAttribute('data-pass')).toBe('true');
    expect(lab.pageErrors).toEqual([]);
    // The experiment destroys the guests it made.
    const isoVms = () => page.evaluate(() => (window.__hvDashboard?.dash.vms ?? []).filter((v) => v.name.startsWith('iso-')).length);
    await expect.poll(isoVms, { timeout: 30_000 }).toBe(0);
  });
});
