// Labs, end to end: the example course page (examples/course/) on another
// loopback origin (another port) embeds the first bundled lab in an iframe (no special headers),
// a scripted student completes its steps by typing into the consoles, setting
// the guests' weight, cap and reservation and pressing Check; the course page
// hears the step and completion messages; reload keeps the progress; a page
// that the lab does not trust gets nothing and commands nothing; a broken lab
// shows its located problems; lab Markdown cannot run script.
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { chromium, type Browser, type BrowserContext, type FrameLocator, type Page } from 'playwright-core';
import { checkUntilPassed } from './lab-page.ts';
import { serveStatic, type StaticServer } from './static-server.ts';

const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const fixtures = fileURLToPath(new URL('./fixtures/', import.meta.url));
/** Boot of the lab's template and clones in Chromium on a loaded 2-core machine. */
const READY_MS = 120_000;

interface CourseMessage {
  type: string;
  step?: string;
  passed?: boolean;
  score?: number;
}

/** The course page served at origin `host` (127.0.0.1 or localhost: the same files on two origins, and two sites). */
function courseUrl(server: StaticServer, host: string, query: Record<string, string>): string {
  const u = new URL(`course/index.html`, server.url.replace('127.0.0.1', host));
  for (const [k, v] of Object.entries(query)) u.searchParams.set(k, v);
  return u.href;
}

async function messages(page: Page): Promise<CourseMessage[]> {
  return page.evaluate(() => (window as unknown as { courseMessages: CourseMessage[] }).courseMessages);
}

async function typeInto(page: Page, lab: FrameLocator, guest: string, line: string): Promise<void> {
  await lab.locator(`[data-testid="guest-console"][data-guest="${guest}"] .xterm`).click();
  await page.keyboard.type(line);
  await page.keyboard.press('Enter');
}

async function setField(lab: FrameLocator, guest: string, field: string, value: string): Promise<void> {
  const input = lab.locator(`[data-testid="lab-guest"][data-vm="${guest}"] [data-testid="${field}"]`);
  await input.fill(value);
  await input.press('Enter');
}

describe('an embedded lab', () => {
  let browser: Browser;
  let context: BrowserContext;
  let course: StaticServer;
  let files: StaticServer;
  let page: Page;
  const pageErrors: string[] = [];
  const site = inject('siteUrl');

  beforeAll(async () => {
    course = await serveStatic(examples, '/ex/');
    files = await serveStatic(fixtures, '/fixtures/', { 'access-control-allow-origin': '*' });
    browser = await chromium.connect(inject('wsEndpoint'));
    context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
    page = await context.newPage();
    page.on('pageerror', (e) => pageErrors.push(e.message));
  });
  afterAll(async () => {
    await context?.close();
    await browser?.close();
    await course?.close();
    await files?.close();
  });

  it('loads in the course page of another origin and is completed by a scripted student', async () => {
    await page.goto(courseUrl(course, '127.0.0.1', { site }));
    const lab = page.frameLocator('#lab');
    await lab.locator('[data-testid="lab"][data-phase="ready"]').waitFor({ timeout: READY_MS });
    const frame = page.frame({ url: /\/lab\/index\.html/ })!;
    expect(await frame.evaluate(() => crossOriginIsolated)).toBe(false);
    expect(await frame.evaluate(() => [innerWidth, innerHeight])).toEqual([900, 600]);
    await expect.poll(() => messages(page)).toEqual([expect.objectContaining({ type: 'lab-loaded', progress: expect.objectContaining({ passed: 0, total: 4 }) })]);

    // A wrong answer (nothing done yet) fails, with the value found.
    await lab.getByTestId('lab-check').click();
    await expect.poll(() => lab.getByTestId('lab-verdict').getAttribute('data-passed'), { timeout: 20_000 }).toBe('false');
    expect(await lab.getByTestId('lab-found').first().textContent()).toMatch(/exit status 1/);
    await expect.poll(async () => (await messages(page)).at(-1)).toEqual(expect.objectContaining({ type: 'step-checked', step: 'burn', passed: false }));

    // Step 1: a burner in each guest, typed into their consoles.
    await typeInto(page, lab, 'a', 'hv-burn > /dev/null &');
    await typeInto(page, lab, 'b', 'hv-burn > /dev/null &');
    await new Promise((r) => setTimeout(r, 6000));
    await checkUntilPassed(lab);
    await lab.getByTestId('lab-next').click();
    // Step 2: weights. Step 3: a cap. Step 4: a reservation instead of the cap.
    await setField(lab, 'a', 'vm-weight', '3000');
    await new Promise((r) => setTimeout(r, 6000));
    await checkUntilPassed(lab);
    await lab.getByTestId('lab-next').click();
    await setField(lab, 'b', 'vm-cap', '10');
    await new Promise((r) => setTimeout(r, 6000));
    await checkUntilPassed(lab);
    await lab.getByTestId('lab-next').click();
    await setField(lab, 'b', 'vm-cap', '');
    await setField(lab, 'b', 'vm-reservation', '50');
    await new Promise((r) => setTimeout(r, 6000));
    await checkUntilPassed(lab);

    const got = await messages(page);
    const passedSteps = got.filter((m) => m.type === 'step-checked' && m.passed).map((m) => m.step);
    expect(passedSteps).toEqual(['burn', 'weights', 'cap', 'reservation']);
    expect(got.filter((m) => m.type === 'lab-completed')).toEqual([expect.objectContaining({ score: 100 })]);
    expect(await page.getByTestId('course-score').textContent()).toBe('100 %');
    expect(await lab.getByTestId('lab').getAttribute('data-score')).toBe('100');
    expect(pageErrors).toEqual([]);
  });

  it('keeps the progress across a reload', async () => {
    await page.reload();
    const lab = page.frameLocator('#lab');
    await lab.locator('[data-testid="lab"][data-score="100"]').waitFor({ timeout: READY_MS });
    for (const id of ['burn', 'weights', 'cap', 'reservation']) expect(await lab.getByTestId(`lab-step-${id}`).getAttribute('data-passed')).toBe('true');
    await expect.poll(() => messages(page), { timeout: READY_MS }).toEqual([expect.objectContaining({ type: 'lab-loaded', progress: expect.objectContaining({ passed: 4, score: 100 }) })]);
    // The course page moves the lab to step 1 (a command it is allowed to send).
    await page.locator('#first').click();
    await expect.poll(() => lab.getByTestId('lab-step').getAttribute('data-step')).toBe('burn');
  });

  it('ignores a page it does not trust, and sends it nothing', async () => {
    // The same course page on localhost, but the lab is told to trust only the 127.0.0.1 one.
    const other = await context.newPage();
    const trusted = new URL(course.url).origin;
    await other.goto(courseUrl(course, 'localhost', { site, allow: trusted }));
    const lab = other.frameLocator('#lab');
    await lab.locator('[data-testid="lab"][data-phase="ready"]').waitFor({ timeout: READY_MS });
    const before = await lab.getByTestId('lab-step').getAttribute('data-step');
    await other.evaluate(() => (window as unknown as { sendToLab: (m: unknown) => void }).sendToLab({ type: 'goto-step', step: 1 }));
    await lab.getByTestId('lab-check').click();
    await other.waitForTimeout(3000);
    expect(await lab.getByTestId('lab-step').getAttribute('data-step')).toBe(before);
    expect(await messages(other)).toEqual([]);
    await other.close();
  });

  it('shows every problem of a broken lab with its line, and starts nothing', async () => {
    const p = await context.newPage();
    await p.goto(`${site}?lab=${encodeURIComponent(`${files.url}broken.yaml`)}`);
    const problems = p.getByTestId('lab-problems');
    await problems.waitFor();
    const items = await problems.locator('li').allTextContents();
    expect(items).toEqual([expect.stringMatching(/^line 5, column 16, guests\[0\]\.memoryMiB: 16 MiB is below/), expect.stringMatching(/^line 11, column \d+, steps\[0\]\.checks\[0\]\.guest: there is no guest "nobody"/)]);
    expect(await p.evaluate(() => (window as unknown as { __hvDashboard: { dash: { vms: unknown[] } } }).__hvDashboard.dash.vms.length)).toBe(0);
    // A URL that does not answer is an error that names it.
    await p.goto(`${site}?lab=labs/missing.yaml`);
    await expect.poll(() => p.getByTestId('lab-error').textContent()).toMatch(/could not load the lab file .*missing\.yaml: HTTP 404/);
    await p.close();
  });

  it('renders lab Markdown without its HTML or script', async () => {
    const p = await context.newPage();
    const errors: string[] = [];
    p.on('pageerror', (e) => errors.push(e.message));
    await p.goto(`${site}?lab=${encodeURIComponent(`${files.url}tiny.yaml`)}`);
    const step = p.getByTestId('lab-step');
    await step.waitFor();
    expect(await step.locator('code').first().textContent()).toBe('touch /root/done');
    expect(await step.locator('script, img[onerror], a[href^="javascript"]').count()).toBe(0);
    await p.waitForTimeout(500);
    expect(await p.evaluate(() => (window as unknown as { __xss?: number }).__xss)).toBeUndefined();
    expect(errors).toEqual([]);
    await p.close();
  });
});
