// Helpers for e2e tests: a page in the shared Chromium with its errors
// collected, and reading / typing into a guest's xterm.js console.
import { inject } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';

export interface LabPage {
  page: Page;
  /** Uncaught exceptions in the page: any of them fails the test. */
  pageErrors: string[];
  /** console.error messages and failed HTTP requests of the page (reported, not fatal). */
  consoleErrors: string[];
  /** URLs of guest workers started so far, and of those that ended. */
  workersStarted: string[];
  workersClosed: string[];
  close(): Promise<void>;
}

/** Open the built site at 1280x720 in a fresh browser context. */
export async function openLabPage(): Promise<LabPage> {
  const browser: Browser = await chromium.connect(inject('wsEndpoint'));
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
    workersClosed: [],
    async close() {
      await context.close();
      await browser.close(); // disconnects; the server belongs to the global setup
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
    worker.on('close', () => lab.workersClosed.push(worker.url()));
  });
  await page.goto(inject('siteUrl'));
  return lab;
}

/** The panel of the guest with this name. */
export function guestPanel(page: Page, name: string): Locator {
  return page.locator(`[data-testid="guest-panel"][data-guest="${name}"]`);
}

/** The text on screen in a guest's terminal, one line per rendered row, trailing blanks trimmed. */
export function terminalText(page: Page, name: string): Promise<string> {
  return guestPanel(page, name)
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
