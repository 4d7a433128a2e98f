// The dashboard, end to end: the built site from a plain static server under
// /lab/, real Linux guests booted from the create dialog, typed into through
// their xterm.js consoles, scheduled by weight on one pCPU, and destroyed.
// The tests share one page and run in order (each builds on the last).
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PAGE_STANDBY_WORKERS, REFILL_DELAY_MS } from '../../src/host/standby-workers.ts';
import { fillCreate, guestConsole, noWorkerTaken, openLabPage, shareOf, terminalText, typeInto, vmCard, waitForStates, waitForTerminal, type LabPage } from './page.ts';

const resultsDir = fileURLToPath(new URL('../../test-results/', import.meta.url));
/** busybox sh with PS1='\h:\w\$ ' as root in /root (rows are read with trailing blanks trimmed). */
const prompt = (name: string): RegExp => new RegExp(`^${name}:~#$`, 'm');
/** Two cold boots at once in Chromium on a loaded 2-core machine took about 60 s. */
const BOOT_MS = 280_000;

describe('dashboard', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
    mkdirSync(resultsDir, { recursive: true });
  });
  afterEach(() => {
    if (lab.consoleErrors.length) console.warn(`page console errors:\n${lab.consoleErrors.splice(0).join('\n')}`);
    expect(lab.pageErrors, 'uncaught errors in the page').toEqual([]);
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('loads from a sub-path without cross-origin isolation, with the host defaults', async () => {
    const { page } = lab;
    await expect.poll(() => page.title()).toBe('Hypervisor playground');
    expect(new URL(page.url()).pathname).toBe('/lab/');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(false);
    // One pCPU on a first visit, so that two busy guests take turns; the host panel says how to raise it.
    const cores = await page.evaluate(() => navigator.hardwareConcurrency);
    expect(await page.getByTestId('host-pcpus').inputValue()).toBe('1');
    expect(await page.getByTestId('host-pcpus-hint').count()).toBe(cores > 2 ? 1 : 0);
    const gauge = page.getByTestId('pool-gauge');
    expect(await gauge.getAttribute('data-total')).toBe('1024');
    expect(await gauge.getAttribute('data-reserved')).toBe('0');
    // The Isolation tab mounts issue 5's view (or a placeholder while it does not exist).
    await page.getByTestId('tab-isolation').click();
    await expect.poll(async () => ((await page.locator('#panel-isolation').textContent()) ?? '').length).toBeGreaterThan(100);
    expect(await page.locator('#panel-isolation').textContent()).not.toMatch(/failed to load/);
    await page.getByTestId('tab-dashboard').click();
    // No guest runs: only the page's standby workers were started (loaded ahead of the first start).
    await expect.poll(() => lab.workersStarted.length).toBe(PAGE_STANDBY_WORKERS);
  });

  it('applies a number field on Enter and keeps the focus there', async () => {
    const { page } = lab;
    const field = page.getByTestId('host-pcpus');
    const focused = () => page.evaluate(() => (document.activeElement as HTMLElement | null)?.dataset['testid'] ?? null);
    await field.focus();
    await page.keyboard.press('Control+A');
    await page.keyboard.type('2');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('host-panel').textContent()).toMatch(/At most 2 guests execute/);
    expect(await focused()).toBe('host-pcpus');
    await page.keyboard.press('Control+A');
    await page.keyboard.type('1');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByTestId('host-panel').textContent()).toMatch(/At most 1 guest executes/);
    expect(await focused()).toBe('host-pcpus');
  });

  it('refuses a bad create beside its field before anything starts', async () => {
    const { page } = lab;
    const started = lab.workersStarted.length;
    const dialog = await fillCreate(page, { count: 1, name: 'big', memoryMiB: 32 });
    const memoryError = dialog.getByTestId('create-error-memory');
    await memoryError.waitFor();
    expect(await memoryError.textContent()).toMatch(/memory size 32 MiB is below the minimum of \d+ MiB: .*initrd/);
    // Over the pool: 1500 MiB is a valid guest size, but the pool has 1024 MiB.
    await dialog.getByTestId('create-memory').fill('1500');
    await expect.poll(() => memoryError.textContent()).toMatch(/1500 MiB does not fit: only 1024 MiB of the 1024 MiB pool is free/);
    expect(await dialog.getByTestId('create-memory').getAttribute('aria-invalid')).toBe('true');
    await page.screenshot({ path: `${resultsDir}dashboard-refused.png` });
    // Enter submits; the refusal stands and focus goes to the field in error.
    await page.keyboard.press('Enter');
    await page.waitForTimeout(300);
    expect(await page.evaluate(() => document.activeElement?.getAttribute('data-testid'))).toBe('create-memory');
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.getByTestId('vm-card').count()).toBe(0);
    expect(await noWorkerTaken(lab, started)).toBe(true);
    expect(await page.getByTestId('pool-gauge').getAttribute('data-reserved')).toBe('0');
  });

  it('creates two guests that both boot; a command typed in each console answers there only', async () => {
    const { page } = lab;
    const dialog = await fillCreate(page, { count: 2, name: 'web', memoryMiB: 128 });
    expect(await dialog.getByTestId('create-names').textContent()).toContain('web1, web2');
    const t0 = Date.now();
    await dialog.getByTestId('create-submit').click();
    await dialog.waitFor({ state: 'hidden' });
    // While it boots: a progress bar over the console and the booting state on the card.
    await page.getByTestId('boot-progress').first().waitFor({ timeout: 30_000 });
    await page.screenshot({ path: `${resultsDir}dashboard-booting.png` });
    // Each took a standby worker; no replacement starts while a guest boots (it would compete with the boots).
    expect(lab.workersStarted.length).toBe(PAGE_STANDBY_WORKERS);
    await waitForStates(page, ['web1', 'web2'], 'running', BOOT_MS);
    console.info(`two cold boots to running: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    // Two replacements followed once no guest was booting.
    await expect.poll(() => lab.workersStarted.length, { timeout: 10_000 }).toBe(2 * PAGE_STANDBY_WORKERS);
    expect(await page.getByTestId('pool-gauge').getAttribute('data-reserved')).toBe('256');

    for (const [name, word] of [['web1', 'one'], ['web2', 'two']] as const) {
      await vmCard(page, name).locator('button.name').click();
      await waitForTerminal(page, name, prompt(name), 20_000);
      await typeInto(page, name, `echo ${word}-$((6*7))`);
      await waitForTerminal(page, name, new RegExp(`^${word}-42\\n${name}:~#$`, 'm'), 30_000);
    }
    // Each answer is in its own console only.
    expect(await terminalText(page, 'web1')).not.toContain('two-42');
    expect(await terminalText(page, 'web2')).not.toContain('one-42');
    // A lifecycle command that is illegal now is inactive and says why.
    const start = vmCard(page, 'web1').getByTestId('vm-start');
    expect(await start.getAttribute('aria-disabled')).toBe('true');
    expect(await start.getAttribute('title')).toMatch(/cannot start web1: it is already running/);
    expect(await page.getByTestId('event-log').textContent()).toMatch(/web1: booting → running \(cold boot, shell after [\d.]+ s\)/);
    await page.waitForTimeout(1500); // a few chart frames with both guests
    await page.screenshot({ path: `${resultsDir}dashboard.png` });
  }, BOOT_MS + 60_000);

  it('pastes into a console and copies a selection from it through the clipboard', async () => {
    const { page } = lab;
    await vmCard(page, 'web1').locator('button.name').click();
    await page.evaluate(() => navigator.clipboard.writeText('echo pasted-$((1+1))'));
    await guestConsole(page, 'web1').locator('.xterm').click();
    await page.keyboard.press('Control+V');
    await page.keyboard.press('Enter');
    await waitForTerminal(page, 'web1', /^pasted-2$/m, 20_000);
    // Double-click selects the word; Ctrl+C with a selection copies it (no ^C to the guest).
    const row = guestConsole(page, 'web1').locator('.xterm-rows > div').filter({ hasText: /^pasted-2\s*$/ });
    const box = await row.boundingBox();
    if (!box) throw new Error('the pasted-2 row is not on screen');
    await page.mouse.dblclick(box.x + 12, box.y + box.height / 2);
    await page.keyboard.press('Control+C');
    await expect.poll(() => page.evaluate(() => navigator.clipboard.readText())).toBe('pasted-2');
    expect(await terminalText(page, 'web1')).not.toMatch(/\^C/);
  });

  it('switches the consoles to screen-reader mode and back', async () => {
    const { page } = lab;
    const tree = guestConsole(page, 'web1').locator('.xterm-accessibility-tree');
    expect(await tree.count()).toBe(0);
    await page.getByTestId('reader-mode').check();
    await expect.poll(() => tree.count()).toBe(1);
    // The rows the screen reader reads hold the console's text.
    await expect.poll(async () => (await tree.textContent()) ?? '').toMatch(/web1:~#/);
    await page.getByTestId('reader-mode').uncheck();
    await expect.poll(() => tree.count()).toBe(0);
  });

  it('gives the guest its console pane\'s size, also after the window changes size', async () => {
    const { page } = lab;
    await vmCard(page, 'web1').locator('button.name').click();
    const pane = guestConsole(page, 'web1');
    const sizeOf = async () => ({ cols: Number(await pane.getAttribute('data-cols')), rows: Number(await pane.getAttribute('data-rows')) });
    const askGuest = async (size: { cols: number; rows: number }) => {
      await typeInto(page, 'web1', 'stty size');
      await waitForTerminal(page, 'web1', new RegExp(`^${size.rows} ${size.cols}$`, 'm'), 20_000);
    };
    const first = await sizeOf();
    expect(first.cols).toBeGreaterThan(20);
    await askGuest(first);
    // A narrower, lower window (the layout may then give the console more columns, not fewer).
    await page.setViewportSize({ width: 1000, height: 600 });
    try {
      await expect.poll(async () => JSON.stringify(await sizeOf()), { timeout: 5000 }).not.toBe(JSON.stringify(first));
      const second = await sizeOf();
      await page.waitForTimeout(500); // the pane's size settles before it goes to the guest
      await askGuest(second);
    } finally {
      await page.setViewportSize({ width: 1280, height: 720 });
    }
  });

  it('refuses a duplicate name beside the name field', async () => {
    const { page } = lab;
    const dialog = await fillCreate(page, { count: 1, name: 'web1', memoryMiB: 128 });
    await dialog.getByTestId('create-submit').click();
    expect(await dialog.getByTestId('create-error-name').textContent()).toMatch(/a VM named web1 already exists/);
    await page.keyboard.press('Escape');
    await dialog.waitFor({ state: 'hidden' });
    expect(await page.getByTestId('vm-card').count()).toBe(2);
  });

  it('gives a guest three times the CPU of another when its weight is three times as large', async () => {
    const { page } = lab;
    // One pCPU: the two guests must take turns. Slices of 50 ms: every hand-over of the pCPU
    // costs a round trip page -> worker -> page, which on a loaded machine eats into 10 ms slices.
    await page.getByTestId('host-pcpus').fill('1');
    await page.getByTestId('host-pcpus').press('Enter');
    await page.getByTestId('host-slice').fill('50');
    await page.getByTestId('host-slice').press('Enter');
    // The log line comes back from the hypervisor's worker with its next batch.
    await expect.poll(() => page.getByTestId('event-log').textContent()).toMatch(/host: slice 10 ms → 50 ms/);
    for (const name of ['web1', 'web2']) {
      await typeInto(page, name, 'hv-burn > /dev/null &');
      await waitForTerminal(page, name, new RegExp(`hv-burn > /dev/null &\\n${name}:~#$`, 'm'), 20_000);
    }
    await page.waitForTimeout(6000); // a full 5 s window of both burning
    const before = [await shareOf(page, 'web1'), await shareOf(page, 'web2')];
    console.info(`equal weights: shares ${before.map((s) => s.toFixed(1)).join(' / ')} %`);
    expect(Math.abs(before[0]! - before[1]!)).toBeLessThan(15);

    const frames0 = await page.evaluate(() => window.__hvDashboard!.chartStats.frames);
    const t0 = Date.now();
    const weight = vmCard(page, 'web1').getByTestId('vm-weight');
    await weight.fill('3000');
    await weight.press('Enter');
    await page.waitForTimeout(6000);
    // Three readings 2 s apart of the cards' 5 s averages: less noise than one.
    const after = [0, 0];
    for (let i = 0; i < 3; i++) {
      if (i > 0) await page.waitForTimeout(2000);
      after[0]! += (await shareOf(page, 'web1')) / 3;
      after[1]! += (await shareOf(page, 'web2')) / 3;
    }
    const entitlement = Number(await vmCard(page, 'web1').getAttribute('data-entitlement'));
    const ready = [await vmCard(page, 'web1').getAttribute('data-ready'), await vmCard(page, 'web2').getAttribute('data-ready')];
    const hz = ((await page.evaluate(() => window.__hvDashboard!.chartStats.frames)) - frames0) / ((Date.now() - t0) / 1000);
    console.info(
      `web1 weight 3000: shares ${after.map((s) => s.toFixed(1)).join(' / ')} %, ready ${ready.join(' / ')} %, web1 promised ${entitlement.toFixed(1)} %; charts ${hz.toFixed(1)} frames/s`,
    );
    // 3:1 is promised (75 % / 25 %). What the guests achieve also depends on the OS giving
    // their workers CPU time: with a load average of 8-12 on this 2-core machine a worker
    // got at most ~30 % of a core, and ratios of 1.5-2 were measured.
    expect(entitlement).toBeGreaterThan(70);
    expect(Number(await vmCard(page, 'web2').getAttribute('data-entitlement'))).toBeLessThan(30);
    expect(after[0]! / after[1]!).toBeGreaterThan(1.3);
    expect(hz).toBeGreaterThan(2); // 5 Hz nominal; generous on a loaded machine (bench/ui.ts measures it)
    expect(await page.getByTestId('event-log').textContent()).toContain('web1: weight 3000, no cap, no reservation');
    // The share chart's data shows it too (numbers, not pixels): the last 3 s of half-second buckets.
    await vmCard(page, 'web1').locator('button.name').click();
    const chart = await page.evaluate(() => {
      const { dash } = window.__hvDashboard!;
      return ['web1', 'web2'].map((name) => {
        const id = dash.vms.find((v) => v.name === name)!.id;
        const s = dash.live.vms[id]!.share.slice(-6).filter((v): v is number => v !== null);
        return s.reduce((a, b) => a + b, 0) / s.length;
      });
    });
    console.info(`share charts, last 3 s: ${chart.map((s) => s.toFixed(1)).join(' / ')} %`);
    expect(chart[0]! / chart[1]!).toBeGreaterThan(1.2);
    await page.screenshot({ path: `${resultsDir}dashboard-weights.png` });
  });

  it('pauses and resumes a guest, with the console saying so', async () => {
    const { page } = lab;
    const card = vmCard(page, 'web2');
    await card.locator('button.name').click();
    await card.getByTestId('vm-pause').click();
    await expect.poll(() => card.getAttribute('data-state')).toBe('paused');
    expect(await page.locator('[data-testid="console-state"]').textContent()).toMatch(/Paused/);
    expect(await card.getByTestId('vm-pause').getAttribute('aria-disabled')).toBe('true');
    // An inactive command says why in visible text, to a keyboard user too.
    await card.getByTestId('vm-pause').focus();
    expect(await card.getByTestId('vm-why').textContent()).toMatch(/^cannot pause web2: it is already paused \(pause is legal when /);
    await card.getByTestId('vm-resume').click();
    await expect.poll(() => card.getAttribute('data-state')).toBe('running');
  });

  it('destroys a guest after confirmation and frees its RAM in the pool', async () => {
    const { page } = lab;
    const gauge = page.getByTestId('pool-gauge');
    expect(await gauge.getAttribute('data-reserved')).toBe('256');
    await vmCard(page, 'web2').getByTestId('vm-destroy').click();
    const confirm = page.getByTestId('confirm-destroy');
    await confirm.waitFor();
    expect(await confirm.textContent()).toMatch(/Destroy web2\?.*128 MiB of RAM go back to the pool/s);
    // Escape keeps it.
    await page.keyboard.press('Escape');
    await confirm.waitFor({ state: 'hidden' });
    expect(await vmCard(page, 'web2').count()).toBe(1);
    await vmCard(page, 'web2').getByTestId('vm-destroy').click();
    await confirm.getByTestId('confirm-yes').click();
    await vmCard(page, 'web2').waitFor({ state: 'detached' });
    await expect.poll(() => gauge.getAttribute('data-reserved')).toBe('128');
    expect(await gauge.getAttribute('data-free')).toBe('896');
    // That the worker ends is checked where Playwright reports it reliably: the
    // destroyed booting guest below (here its 'close' event was missed once in CI).
    expect(await page.getByTestId('event-log').textContent()).toMatch(/web2: running → destroyed/);
    // web1 keeps running and answering.
    await typeInto(page, 'web1', 'echo still-$((2+3))');
    await waitForTerminal(page, 'web1', /^still-5$/m, 30_000);
  });

  it('starts a guest by cloning a booted template, and says how long the start took', async () => {
    const { page } = lab;
    const dialog = await fillCreate(page, { count: 1, name: 'clone1', memoryMiB: 128, boot: 'clone' });
    await dialog.getByTestId('create-submit').click();
    await dialog.waitFor({ state: 'hidden' });
    await waitForStates(page, ['clone1'], 'running', BOOT_MS);
    await waitForTerminal(page, 'clone1', prompt('clone1'), 20_000);
    const meta = await vmCard(page, 'clone1').locator('.meta').textContent();
    console.info(`clone1: ${meta}`);
    expect(meta).toMatch(/clone from template in [\d.]+ s/);
    await typeInto(page, 'clone1', 'hostname');
    await waitForTerminal(page, 'clone1', /~# hostname\nclone1$/m, 30_000);
  }, BOOT_MS + 30_000);

  it('stops a guest (the console says so, the RAM goes back) and cancels a boot with destroy', async () => {
    const { page } = lab;
    const gauge = page.getByTestId('pool-gauge');
    const reserved = Number(await gauge.getAttribute('data-reserved'));
    const card = vmCard(page, 'clone1');
    await card.locator('button.name').click();
    await card.getByTestId('vm-stop').click();
    await expect.poll(() => card.getAttribute('data-state')).toBe('stopped');
    expect(await page.getByTestId('console-state').textContent()).toMatch(/Stopped: powered off, its 128 MiB are back in the pool/);
    await expect.poll(async () => Number(await gauge.getAttribute('data-reserved'))).toBe(reserved - 128);
    // The last output stays readable.
    expect(await terminalText(page, 'clone1')).toContain('clone1:~# hostname');

    await page.waitForTimeout(REFILL_DELAY_MS + 500); // any standby refill of the starts before has happened
    // The hypervisor's own worker counts: Playwright's worker 'close' event was missed now and then.
    const counts = () => page.evaluate(async () => (await window.__hvDashboard!.workers())!);
    const before = await counts();
    const startsSeen = lab.workersStarted.length;
    const dialog = await fillCreate(page, { count: 1, name: 'gone', memoryMiB: 100, boot: 'cold' });
    await dialog.getByTestId('create-submit').click();
    const gone = vmCard(page, 'gone');
    await expect.poll(() => gone.getAttribute('data-state')).toBe('booting');
    await gone.getByTestId('vm-destroy').click();
    await page.getByTestId('confirm-yes').click();
    await gone.waitFor({ state: 'detached' });
    // Its worker (a standby one) was terminated, and a replacement keeps the page's standby count.
    await expect.poll(async () => (await counts()).terminated - before.terminated, { timeout: 30_000 }).toBe(1);
    await expect.poll(async () => { const c = await counts(); return c.started - c.terminated; }, { timeout: 30_000 }).toBe(before.started - before.terminated);
    // The browser saw the replacement start.
    await expect.poll(() => lab.workersStarted.length, { timeout: 30_000 }).toBe(startsSeen + 1);
    await expect.poll(async () => Number(await gauge.getAttribute('data-reserved'))).toBe(reserved - 128);
  });
});
