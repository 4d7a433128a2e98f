// Helpers for the dashboard in a real browser: a page with its errors
// collected, the create dialog, the VM cards, and reading / typing into a
// guest's xterm.js console. No vitest here: bench/ui.ts uses it too.
import type { Browser, BrowserContext, FrameLocator, Locator, Page } from 'playwright-core';
import { REFILL_DELAY_MS } from '../../src/host/standby-workers.ts';

/**
 * What tests and bench/ui.ts read through the page's test hook
 * (window.__hvDashboard, set in src/main.ts): a structural subset, so that
 * Node-side code does not import the Svelte model.
 */
export interface DashboardHook {
  dash: {
    vms: { id: string; name: string; state: string }[];
    live: { vms: Record<string, { share: (number | null)[] } | undefined> };
    hv: { exec(id: string, command: string, timeoutMs?: number): Promise<{ output: string; status: number }> };
  };
  chartStats: { frames: number; draws: number };
  /** Guest workers the hypervisor's worker started and terminated (its own count: Playwright's worker 'close' event was missed now and then). */
  workers: () => Promise<{ started: number; terminated: number } | null>;
}

declare global {
  interface Window {
    __hvDashboard?: DashboardHook;
  }
}

export interface LabPage {
  page: Page;
  /** Uncaught exceptions in the page: any of them fails the test. */
  pageErrors: string[];
  /** console.error messages and failed HTTP requests of the page (reported, not fatal). */
  consoleErrors: string[];
  /** URLs of guest workers started so far (the page's own counts, on its test hook, tell which ended). */
  workersStarted: string[];
  close(): Promise<void>;
}

/**
 * True when no guest worker was started or taken since `started` workers had
 * been: a taken standby worker is replaced a second later, so wait past that.
 */
export async function noWorkerTaken(lab: LabPage, started: number): Promise<boolean> {
  await lab.page.waitForTimeout(REFILL_DELAY_MS + 500);
  return lab.workersStarted.length === started;
}

/** Open the site at `url` at 1280x720 in a fresh context of `browser`; close() also closes the browser. */
export async function openLabPageIn(browser: Browser, url: string): Promise<LabPage> {
  const context: BrowserContext = await browser.newContext({
    viewport: { width: 1280, height: 720 },
    // Copy/paste tests read and write the clipboard.
    permissions: ['clipboard-read', 'clipboard-write'],
  });
  const page = await context.newPage();
  const lab: LabPage = {
    page,
    pageErrors: [],
    consoleErrors: [],
    workersStarted: [],
    async close() {
      await context.close();
      await browser.close(); // for a connected browser this only disconnects
    },
  };
  page.on('pageerror', (err) => lab.pageErrors.push(err.stack ?? err.message));
  page.on('console', (msg) => {
    if (msg.type() === 'error') lab.consoleErrors.push(msg.text());
  });
  page.on('response', (response) => {
    if (response.status() >= 400) lab.consoleErrors.push(`HTTP ${response.status()} ${response.url()}`);
  });
  page.on('worker', (worker) => {
    if (!worker.url().includes('guest.worker')) return; // v86 also starts a blob: helper
    lab.workersStarted.push(worker.url());
  });
  await page.goto(url);
  return lab;
}

/** The card of the VM with this name. */
export function vmCard(page: Page, name: string): Locator {
  return page.locator(`[data-testid="vm-card"][data-vm="${name}"]`);
}

/** The console (xterm.js) of the VM with this name; only the selected VM's is visible. */
export function guestConsole(page: Page, name: string): Locator {
  return page.locator(`[data-testid="guest-console"][data-guest="${name}"]`);
}

/** The text on screen in a guest's terminal, one line per rendered row, trailing blanks trimmed. */
export function terminalText(page: Page, name: string): Promise<string> {
  return guestConsole(page, name)
    .locator('.xterm-rows')
    .evaluate((rows) =>
      Array.from(rows.children, (row) => (row.textContent ?? '').replace(/\u00a0/g, ' ').trimEnd())
        .join('\n')
        .trimEnd(),
    );
}

/** Wait until the guest's terminal shows text matching re; returns the match. */
export async function waitForTerminal(page: Page, name: string, re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await terminalText(page, name);
    const m = re.exec(text);
    if (m) return m;
    if (Date.now() > deadline) throw new Error(`terminal of ${name} did not show ${re} within ${timeoutMs} ms; it shows:\n${text}`);
    await page.waitForTimeout(200);
  }
}

/** Show a VM's console and charts, click into its terminal and type a line. */
export async function typeInto(page: Page, name: string, line: string): Promise<void> {
  await vmCard(page, name).locator('button.name').click();
  await guestConsole(page, name).locator('.xterm').click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

export interface CreateOptions {
  count?: number;
  name?: string;
  memoryMiB?: number;
  image?: string;
  boot?: 'cold' | 'clone';
}

/** Fill the create dialog (leaving it open, so a test can read its errors). */
export async function fillCreate(page: Page, o: CreateOptions): Promise<Locator> {
  await page.getByTestId('open-create').click();
  const dialog = page.getByTestId('create-dialog');
  await dialog.waitFor();
  if (o.count !== undefined) await dialog.getByTestId('create-count').fill(String(o.count));
  if (o.name !== undefined) await dialog.getByTestId('create-name').fill(o.name);
  if (o.image !== undefined) await dialog.getByTestId('create-image').selectOption(o.image);
  if (o.boot !== undefined) await dialog.getByTestId('create-boot').selectOption(o.boot);
  if (o.memoryMiB !== undefined) await dialog.getByTestId('create-memory').fill(String(o.memoryMiB));
  return dialog;
}

/** Wait until every named VM is in `state`; fails early when one crashed. */
export async function waitForStates(page: Page, names: string[], state: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await Promise.all(names.map((n) => vmCard(page, n).getAttribute('data-state')));
    if (states.every((s) => s === state)) return;
    const crashed = names.filter((_, i) => states[i] === 'crashed');
    if (crashed.length) throw new Error(`${crashed.join(', ')} crashed: ${await vmCard(page, crashed[0]!).locator('.error').first().textContent()}`);
    if (Date.now() > deadline) throw new Error(`VMs ${names.join(', ')} are ${states.join(', ')} after ${timeoutMs} ms, not all ${state}`);
    await page.waitForTimeout(500);
  }
}

/** A VM's live CPU share (% of one pCPU over the last 5 s) as its card shows it. */
export async function shareOf(page: Page, name: string): Promise<number> {
  return Number(await vmCard(page, name).getAttribute('data-share'));
}

/** Press a lab's Check until its step passes (measurements need their window); fails naming the results. */
export async function checkUntilPassed(lab: Page | FrameLocator, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await lab.getByTestId('lab-check').click();
    await lab.getByTestId('lab-check').filter({ hasText: /^Check$/ }).waitFor({ timeout: 20_000 });
    if ((await lab.getByTestId('lab-verdict').getAttribute('data-passed')) === 'true') return;
    if (Date.now() > deadline) throw new Error(`the step did not pass: ${await lab.getByTestId('lab-results').textContent()}`);
    await new Promise((r) => setTimeout(r, 2000));
  }
}
