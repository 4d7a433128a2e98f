// Experiment files in Chromium, from the Experiments tab: a malformed file
// shows its problems with line and field; a small experiment runs on this
// page's real guests with a live plot and its files as downloads; a shipped
// experiment runs on the scheduler simulator and plots the ideal.
import { mkdtempSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Download } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLabPage, type LabPage } from './page.ts';

const SMALL = `version: 1
title: two guests in the page
host: { pcpus: 1, memoryMiB: 512 }
guests:
  - { name: ea, memoryMiB: 80, workload: { run: burn } }
  - { name: eb, memoryMiB: 80, weight: 3000, workload: { run: burn } }
warmUpS: 1
durationS: 3
`;

const dir = mkdtempSync(join(tmpdir(), 'hv-exp-'));

/** A download's text (saved first: the browser is driven over a connection). */
async function downloaded(d: Download): Promise<string> {
  const file = join(dir, d.suggestedFilename());
  await d.saveAs(file);
  return readFile(file, 'utf8');
}

describe('experiments in the browser', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('shows a bad file\'s problems, runs a small one on real guests with a live plot, and offers its files', async () => {
    const { page } = lab;
    await page.getByTestId('tab-experiments').click();
    const view = page.getByTestId('experiments');
    await view.waitFor({ timeout: 30_000 });
    const text = view.getByTestId('exp-text');
    await text.fill(SMALL.replace('durationS: 3', 'durationS: 0'));
    await expect.poll(() => view.getByTestId('exp-problems').textContent()).toMatch(/line 8, column 12, durationS: expected >=1 but received 0/);
    expect(await view.getByTestId('exp-run').isDisabled()).toBe(true);

    await text.fill(SMALL);
    await expect.poll(() => view.getByTestId('exp-plan').textContent()).toMatch(/1 run /);
    await view.getByTestId('exp-run').click();
    await view.getByTestId('exp-live-chart').waitFor({ timeout: 60_000 });
    await view.getByTestId('exp-result').waitFor({ timeout: 90_000 });
    const rows = view.getByTestId('exp-summary').locator('tbody tr');
    expect(await rows.count()).toBe(2);
    const cells = await Promise.all([0, 1].map((i) => rows.nth(i).locator('td').allTextContents()));
    // eb has three times ea's weight: about 75 % against 25 % (generous bounds). Cells: point, VM, share, ...
    const share = (vm: string): number => Number.parseFloat(cells.find((c) => c[1] === vm)![2]!);
    expect(share('eb') / share('ea'), JSON.stringify(cells)).toBeGreaterThan(1.8);
    // The guests are gone again; the host settings are back.
    await expect.poll(() => page.evaluate(() => window.__hvDashboard!.dash.vms.length)).toBe(0);

    const [download] = await Promise.all([page.waitForEvent('download'), view.getByTestId('exp-download-windows.csv').click()]);
    const csv = await downloaded(download);
    expect(csv.split('\n')[0]).toBe('run,point,repeat,vm,window,start_s,share_pct,entitlement_pct,mips,ready_pct,host_busy_pct');
    expect(csv.trim().split('\n')).toHaveLength(1 + 2 * 3);
    expect(await view.getByTestId('exp-plot').count()).toBeGreaterThan(0);
    if (process.env['HV_SHOT']) await page.screenshot({ path: process.env['HV_SHOT'], fullPage: true });
  });

  it('runs a shipped experiment on the scheduler simulator', async () => {
    const { page } = lab;
    const view = page.getByTestId('experiments');
    await view.getByTestId('exp-pick').selectOption('weights.yaml');
    await view.getByTestId('exp-simulate').check();
    await view.getByTestId('exp-run').click();
    await expect.poll(() => view.getByTestId('exp-result').textContent(), { timeout: 30_000 }).toMatch(/simulator, 12 runs/);
    const [download] = await Promise.all([page.waitForEvent('download'), view.getByTestId('exp-download-share_pct.svg').click()]);
    expect(await downloaded(download)).toMatch(/^<svg [^>]*>.*Weights vs achieved shares/s);
  });
});
