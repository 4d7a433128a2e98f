// The first page, end to end: the built site from a plain static server under
// /lab/, a real Linux guest booted from the page, typed into through its
// xterm.js console, and a refused request that starts nothing.
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { guestPanel, openLabPage, terminalText, waitForTerminal, type LabPage } from './page.ts';

const resultsDir = fileURLToPath(new URL('../../test-results/', import.meta.url));
const GUEST = 'web1';
/** busybox sh with PS1='\h:\w\$ ' as root in /root (rows are read with trailing blanks trimmed). */
const PROMPT = new RegExp(`^${GUEST}:~#$`, 'm');

describe('first page', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
  });
  afterEach(() => {
    if (lab.consoleErrors.length) console.warn(`page console errors:\n${lab.consoleErrors.splice(0).join('\n')}`);
    expect(lab.pageErrors, 'uncaught errors in the page').toEqual([]);
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('loads from a sub-path without cross-origin isolation', async () => {
    const { page } = lab;
    await expect.poll(() => page.title()).toBe('Hypervisor playground');
    expect(new URL(page.url()).pathname).toBe('/lab/');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    await page.getByTestId('boot-form').waitFor();
    const images = await page.getByTestId('image').locator('option').allTextContents();
    expect(images.length).toBeGreaterThan(0);
  });

  it('refuses a RAM size below the minimum with its reason, and starts nothing', async () => {
    const { page } = lab;
    // Keyboard only: type the name, Tab to the RAM field, Enter submits.
    await page.getByTestId('name').fill('tiny');
    await page.keyboard.press('Tab');
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('memory');
    await page.keyboard.press('ControlOrMeta+A');
    await page.keyboard.type('32');
    await page.keyboard.press('Enter');
    const error = page.getByTestId('boot-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/memory size 32 MiB is below the minimum of \d+ MiB: .*initrd/);
    expect(await page.getByTestId('memory').getAttribute('aria-invalid')).toBe('true');
    mkdirSync(resultsDir, { recursive: true });
    await page.screenshot({ path: `${resultsDir}first-page-refused.png` });
    expect(await page.getByTestId('guest-panel').count()).toBe(0);
    await page.waitForTimeout(500);
    expect(lab.workersStarted).toEqual([]);
  });

  it('boots a guest and runs a command typed into its console', async () => {
    const { page } = lab;
    // HV_E2E_IMAGE=debian boots the generic kernel instead of the default (first) image.
    const imageId = process.env['HV_E2E_IMAGE'];
    if (imageId) await page.getByTestId('image').selectOption(imageId);
    await page.getByTestId('name').fill(GUEST);
    await page.getByTestId('memory').fill('128');
    const t0 = Date.now();
    await page.getByTestId('boot').click();
    const panel = guestPanel(page, GUEST);
    await panel.waitFor();
    expect(await page.getByTestId('boot-error').count()).toBe(0);
    await expect.poll(() => lab.workersStarted.length).toBe(1);

    // Progress: image download, then booting, then ready with a shell prompt.
    const seen = new Set<string>();
    for (;;) {
      const status = (await panel.getAttribute('data-status')) ?? '';
      if (status === 'booting' && !seen.has('booting')) await page.screenshot({ path: `${resultsDir}first-page-booting.png` });
      seen.add(status);
      if (status === 'ready') break;
      if (status === 'failed' || status === 'crashed') {
        throw new Error(`boot ${status}: ${await panel.getByTestId('guest-error').textContent()}`);
      }
      if (Date.now() - t0 > 170_000) throw new Error(`no ready guest after 170 s; statuses seen: ${[...seen].join(', ')}`);
      await page.waitForTimeout(100);
    }
    const readyMs = Date.now() - t0;
    await waitForTerminal(page, GUEST, PROMPT, 10_000);
    const promptMs = Date.now() - t0;
    expect(seen.has('booting')).toBe(true);
    const image = await page.getByTestId('image').locator('option:checked').textContent();
    console.info(`${image}: boot to ready ${(readyMs / 1000).toFixed(1)} s, to prompt on screen ${(promptMs / 1000).toFixed(1)} s; ${await panel.getByTestId('guest-status').textContent()}`);

    // Type through the keyboard into the terminal, as a user would.
    await panel.locator('.xterm').click();
    await page.keyboard.type('echo $((6*7))');
    await page.keyboard.press('Enter');
    await waitForTerminal(page, GUEST, /^42$/m, 20_000);
    await waitForTerminal(page, GUEST, new RegExp(`^42\\n${GUEST}:~#$`, 'm'), 5_000);

    await page.screenshot({ path: `${resultsDir}first-page.png` });
  });

  it('pastes into the console and copies a selection from it through the clipboard', async () => {
    const { page } = lab;
    const panel = guestPanel(page, GUEST);
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((1+1))'));
    await panel.locator('.xterm').click();
    await page.keyboard.press('Control+V');
    await page.keyboard.press('Enter');
    await waitForTerminal(page, GUEST, /^pasted-2$/m, 20_000);
    // Double-click selects the word in xterm.js; Ctrl+C with a selection copies it (no ^C to the guest).
    const row = panel.locator('.xterm-rows > div').filter({ hasText: /^pasted-2\s*$/ });
    // The rows sit under xterm's mouse layer: click where the row is, on its first characters.
    const box = await row.boundingBox();
    if (!box) throw new Error('the pasted-2 row is not on screen');
    await page.mouse.dblclick(box.x + 12, box.y + box.height / 2);
    await page.keyboard.press('Control+C');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe('pasted-2');
    expect(await terminalText(page, GUEST)).not.toMatch(/\^C/);
  });

  it('destroys the guest and its worker', async () => {
    const { page } = lab;
    const panel = guestPanel(page, GUEST);
    const text = await terminalText(page, GUEST);
    expect(text).toContain('echo $((6*7))');
    await panel.getByTestId('destroy').click();
    await panel.waitFor({ state: 'detached' });
    await expect.poll(() => lab.workersClosed.length, { timeout: 10_000 }).toBe(1);
    expect(await page.getByTestId('guest-panel').count()).toBe(0);
  });

  it('cancels a boot in progress with Destroy', async () => {
    const { page } = lab;
    await page.getByTestId('name').fill('gone');
    await page.getByTestId('boot').click();
    const panel = guestPanel(page, 'gone');
    await expect.poll(() => panel.getAttribute('data-status'), { timeout: 30_000 }).toBe('booting');
    await panel.getByTestId('destroy').click();
    await panel.waitFor({ state: 'detached' });
    expect(lab.workersStarted).toHaveLength(2);
    await expect.poll(() => lab.workersClosed.length, { timeout: 10_000 }).toBe(2);
  });
});
