// Debian's Chromium for the e2e tests and bench/ui.ts (`npx playwright
// install` cannot download browsers here), with the flags DESIGN.md lists.
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserServer } from 'playwright-core';

/** Debian's Chromium, or HV_CHROMIUM. */
export const CHROMIUM = process.env['HV_CHROMIUM'] ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'];

function checkChromium(): void {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium, or set HV_CHROMIUM`);
}

/** A browser server that several test files connect to. */
export function launchChromiumServer(): Promise<BrowserServer> {
  checkChromium();
  return chromium.launchServer({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

/** A browser for one script (the bench). */
export function launchChromium(): Promise<Browser> {
  checkChromium();
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}
