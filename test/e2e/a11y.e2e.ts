// An automated accessibility audit (axe-core) of every view: the dashboard
// (cards and list, a running guest), the create and destroy dialogs, the
// isolation view, the cluster view, the network view, the experiments view, the lab page and the gallery. No serious or critical
// violation may be found. Then a keyboard-only script: create a guest, change
// its weight with Enter, open its console and type into it.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { terminalText, vmCard, waitForStates } from './lab-page.ts';

const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/**
 * Serious and critical violations on the page as it is now, one line each,
 * and any aria-controls / -describedby / -labelledby naming an element that
 * is not there (a Help popover's button names its text only while it is shown).
 */
async function audit(page: Page): Promise<string[]> {
  if (!(await page.evaluate(() => 'axe' in window))) await page.evaluate(AXE);
  const dangling = await page.evaluate(() =>
    Array.from(document.querySelectorAll('[aria-controls], [aria-describedby], [aria-labelledby]')).flatMap((el) =>
      ['aria-controls', 'aria-describedby', 'aria-labelledby'].flatMap((attr) =>
        (el.getAttribute(attr) ?? '')
          .split(/\s+/)
          .filter((id: string) => id && !document.getElementById(id))
          .map((id: string) => `${attr}="${id}" on <${el.tagName.toLowerCase()}> names no element`),
      ),
    ),
  );
  return [...dangling, ...(await axeViolations(page))];
}

function axeViolations(page: Page): Promise<string[]> {
  return page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run(ctx: Document, o: object): Promise<{ violations: { id: string; impact: string; help: string; nodes: { target: string[] }[] }[] }> } }).axe;
    const r = await axe.run(document, { resultTypes: ['violations'] });
    return r.violations
      .filter((v) => v.impact === 'serious' || v.impact === 'critical')
      .map((v) => `${v.id} (${v.impact}): ${v.help}: ${v.nodes.slice(0, 4).map((n) => n.target.join(' ')).join(' | ')}`);
  });
}

/** Press Tab until `target` has the focus (at most `most` times); fails when it never does. */
async function tabTo(page: Page, target: Locator, most: number): Promise<void> {
  for (let i = 0; i < most; i++) {
    if (await target.evaluate((el) => el === document.activeElement)) return;
    await page.keyboard.press('Tab');
  }
  expect(await target.evaluate((el) => el === document.activeElement), `${target} never took the focus in ${most} presses of Tab`).toBe(true);
}

describe('accessibility', () => {
  const site = inject('siteUrl');
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;

  beforeAll(async () => {
    browser = await chromium.connect(inject('wsEndpoint'));
    // axe runs as a script of the test, which the page's policy would refuse.
    context = await browser.newContext({ viewport: { width: 1280, height: 720 }, bypassCSP: true });
    page = await context.newPage();
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  it('a keyboard alone creates a guest, changes its weight with Enter and types into its console', async () => {
    await page.goto(site);
    await page.locator('body').focus();
    // Tab to the create button and press it.
    await tabTo(page, page.getByTestId('open-create'), 30);
    await page.keyboard.press('Enter');
    const dialog = page.getByTestId('create-dialog');
    await dialog.waitFor();
    // The dialog takes the focus (its first field); Tab on to the name.
    await expect.poll(() => dialog.evaluate((d) => d.contains(document.activeElement))).toBe(true);
    await tabTo(page, dialog.getByTestId('create-name'), 10);
    await page.keyboard.press('Control+A');
    await page.keyboard.type('kb1');
    // Enter submits the form (start now is on by default).
    await page.keyboard.press('Enter');
    await dialog.waitFor({ state: 'hidden' });
    await waitForStates(page, ['kb1'], 'running', 120_000);

    // Tab to the weight field of kb1's card, type a weight, Enter applies and keeps the focus.
    const weight = vmCard(page, 'kb1').getByTestId('vm-weight');
    await tabTo(page, weight, 80);
    await page.keyboard.press('Control+A');
    await page.keyboard.type('2500');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.evaluate(() => (window as unknown as { __hvDashboard: { dash: { vms: { name: string; resources: { weight: number } }[] } } }).__hvDashboard.dash.vms.find((v) => v.name === 'kb1')?.resources.weight)).toBe(2500);
    expect(await weight.evaluate((el) => el === document.activeElement)).toBe(true);

    // On to the console (a terminal takes the keys), and type a command.
    const term = page.locator('[data-testid="guest-console"][data-guest="kb1"] textarea');
    await tabTo(page, term, 80);
    await page.keyboard.type('echo keyboard-$((3*4))\n');
    await expect.poll(() => terminalText(page, 'kb1'), { timeout: 20_000 }).toContain('keyboard-12');
  });

  it('finds no serious or critical violation on the dashboard (cards and list)', async () => {
    // The audit sees what it should: a button without a name is a critical violation.
    await page.evaluate(() => document.body.append(Object.assign(document.createElement('button'), { id: 'planted' })));
    expect((await audit(page)).join('\n')).toMatch(/^button-name \(critical\).*#planted/m);
    await page.evaluate(() => document.getElementById('planted')?.remove());
    expect(await audit(page)).toEqual([]);
    // With a Help text open, its button names it.
    const help = page.locator('button.help').first();
    await help.click();
    expect(await help.getAttribute('aria-controls')).not.toBeNull();
    expect(await audit(page)).toEqual([]);
    await help.click();
    await page.getByTestId('view-list').click();
    expect(await audit(page)).toEqual([]);
    await page.getByTestId('view-cards').click();
  });

  it('finds none in the create and destroy dialogs', async () => {
    await page.getByTestId('open-create').click();
    await page.getByTestId('create-dialog').waitFor();
    expect(await audit(page)).toEqual([]);
    await page.keyboard.press('Escape');
    await vmCard(page, 'kb1').getByTestId('vm-destroy').click();
    await page.getByTestId('confirm-destroy').waitFor();
    expect(await audit(page)).toEqual([]);
    await page.getByTestId('confirm-cancel').click();
  });

  it('finds none in the isolation view', async () => {
    await page.getByTestId('tab-isolation').click();
    await page.getByTestId('isolation-view').waitFor();
    expect(await audit(page)).toEqual([]);
  });

  it('finds none in the network view, with a network and a capture', async () => {
    await page.getByTestId('tab-network').click();
    const view = page.getByTestId('network-view');
    await view.getByTestId('net-name').fill('a11y');
    await view.getByTestId('net-create').click();
    await view.getByTestId('net-capture-start').click();
    await view.getByTestId('net-packets').waitFor();
    expect(await audit(page)).toEqual([]);
  });

  it('finds none in the storage view, with a volume', async () => {
    await page.getByTestId('tab-storage').click();
    const view = page.getByTestId('storage-view');
    await view.getByTestId('vol-name').fill('a11y');
    await view.getByTestId('vol-create').click();
    await view.locator('tr[data-volume="a11y"]').waitFor();
    expect(await audit(page)).toEqual([]);
  });

  it('finds none in the cluster view, with a second host', async () => {
    await page.getByTestId('tab-cluster').click();
    const view = page.getByTestId('cluster');
    await view.getByTestId('cluster-add').click();
    await view.locator('[data-host="host2"]').waitFor({ timeout: 30_000 });
    expect(await audit(page)).toEqual([]);
  });

  it('finds none in the experiments view, with a file\'s problems and with a simulated run\'s results', async () => {
    await page.getByTestId('tab-experiments').click();
    const view = page.getByTestId('experiments');
    await view.waitFor({ timeout: 30_000 });
    const text = view.getByTestId('exp-text');
    const good = await text.inputValue();
    await text.fill(good.replace('durationS: 8', 'durationS: 0'));
    await view.getByTestId('exp-problems').waitFor();
    expect(await audit(page)).toEqual([]);
    await text.fill(good);
    await view.getByTestId('exp-simulate').check();
    await view.getByTestId('exp-run').click();
    await view.getByTestId('exp-result').waitFor({ timeout: 30_000 });
    expect(await audit(page)).toEqual([]);
  });

  it('finds none on the lab page and the gallery', async () => {
    await page.goto(`${site}?lab=labs/cpu-slicing.yaml`);
    await expect.poll(() => page.getByTestId('lab').getAttribute('data-phase'), { timeout: 60_000 }).toBe('ready');
    expect(await audit(page)).toEqual([]);
    await page.goto(`${site}?gallery`);
    await page.getByTestId('gallery').waitFor();
    expect(await audit(page)).toEqual([]);
  });
});
