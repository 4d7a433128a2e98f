// The e2e tests' page: the dashboard helpers of lab-page.ts, and a page in the
// Chromium that the global setup started, on the site it serves.
import { inject } from 'vitest';
import { chromium } from 'playwright-core';
import { openLabPageIn, type LabPage } from './lab-page.ts';

export * from './lab-page.ts';

/** Open the built site at 1280x720 in a fresh context of the shared Chromium. */
export async function openLabPage(): Promise<LabPage> {
  return openLabPageIn(await chromium.connect(inject('wsEndpoint')), inject('siteUrl'));
}
