// The site under its own Content-Security-Policy (src/csp.ts) sent as a
// header, as a host that sets headers would: the dashboard boots a guest (the
// guest and CPU workers, v86's blob: helper, v86.wasm and the wasm its JIT
// writes), the guest answers, and a lab page loads and starts its clones from
// the prebuilt templates. No violation may be reported, by the page or by
// any of its workers; the policy is shown to be in force (an inline script is refused).
import { TEST_SITE_DIR } from './test-site.ts';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { cspHeaderPolicy } from '../../src/csp.ts';
import { serveStatic, type StaticServer } from './static-server.ts';

/** Violations seen through the page's securitypolicyviolation events and the console of the page and its workers. */
function watchViolations(page: Page): string[] {
  const seen: string[] = [];
  const fromConsole = (text: string) => {
    if (/Content Security Policy/i.test(text)) seen.push(text);
  };
  page.on('console', (m) => fromConsole(m.text()));
  page.on('worker', (w) => w.on('console', (m) => fromConsole(m.text())));
  page.on('pageerror', (e) => fromConsole(e.message));
  return seen;
}

async function eventViolations(page: Page): Promise<string[]> {
  return page.evaluate(() => (window as unknown as { cspViolations: string[] }).cspViolations);
}

describe('the site under its Content-Security-Policy (header form)', () => {
  let server: StaticServer;
  let browser: Browser;
  let context: BrowserContext;

  beforeAll(async () => {
    server = await serveStatic(TEST_SITE_DIR, '/csp/', { 'content-security-policy': cspHeaderPolicy() });
    browser = await chromium.connect(inject('wsEndpoint'));
    context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    await context.addInitScript(() => {
      const list: string[] = [];
      (window as unknown as { cspViolations: string[] }).cspViolations = list;
      document.addEventListener('securitypolicyviolation', (e) => list.push(`${e.violatedDirective} blocked ${e.blockedURI || '(inline)'} in ${e.sourceFile}:${e.lineNumber}`));
    });
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await server?.close();
  });

  it('boots a guest on the dashboard, and the guest answers, with no violation', async () => {
    const page = await context.newPage();
    const seen = watchViolations(page);
    const response = await page.goto(server.url);
    expect(response?.headers()['content-security-policy']).toContain("frame-ancestors 'self'");
    const answer = await page.evaluate(async () => {
      const { hv } = (window as unknown as { __hvDashboard: { dash: { hv: { createVm(s: object): Promise<{ id: string }>; start(id: string): Promise<void>; exec(id: string, c: string): Promise<{ output: string }> } } } }).__hvDashboard.dash;
      const { id } = await hv.createVm({ name: 'csp1', memoryMiB: 96, boot: 'clone' });
      await hv.start(id);
      // A loop long enough for v86's JIT to compile guest code to wasm.
      return (await hv.exec(id, 'i=0; while [ $i -lt 20000 ]; do i=$((i+1)); done; echo answer-$i')).output.trim();
    });
    expect(answer).toBe('answer-20000');
    expect(seen).toEqual([]);
    expect(await eventViolations(page)).toEqual([]);
    // The policy is in force: an inline script is refused, and reported.
    const ran = await page.evaluate(async () => {
      const script = document.createElement('script');
      script.textContent = '(window as any).inlineRan = true'.replace(' as any', '');
      document.head.append(script);
      await new Promise((r) => setTimeout(r, 100));
      return (window as unknown as { inlineRan?: boolean }).inlineRan === true;
    });
    expect(ran).toBe(false);
    // One report per policy in force: the header's and the page's <meta> tag's.
    const reports = await eventViolations(page);
    expect(reports.length).toBeGreaterThanOrEqual(1);
    for (const r of reports) expect(r).toMatch(/^script-src-elem blocked inline/);
    await page.close();
  });

  it('loads a lab and starts its guests, with no violation', async () => {
    const page = await context.newPage();
    const seen = watchViolations(page);
    await page.goto(`${server.url}?lab=labs/cpu-slicing.yaml`);
    const lab = page.locator('[data-testid="lab"]');
    await page.locator('[data-testid="lab"]:is([data-phase="ready"], [data-phase="error"])').waitFor({ timeout: 120_000 });
    expect(await lab.getAttribute('data-phase'), await lab.innerText()).toBe('ready');
    expect(seen).toEqual([]);
    expect(await eventViolations(page)).toEqual([]);
    await page.close();
  });
});
