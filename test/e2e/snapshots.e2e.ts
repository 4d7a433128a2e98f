// Snapshots in Chromium, from the guest's Snapshots panel: take one, change
// the guest from its console, revert (the change is gone), download the file
// (it is a snapshot file: magic, and our decoder reads it), delete, upload it
// again, and see an upload of a damaged copy refused with the reason. Then
// "Suspend all", a reload, "Resume them", and a revert to the snapshot kept
// in the browser's storage. And the snapshot lab's first step, from the
// panel under its console. Then a running guest moved from one tab to
// another from the dashboards' "Move guests between tabs" panels (live
// migration over a BroadcastChannel).
import { mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeSnapshotFile } from '../../src/core/snapshot/file.ts';
import { inject } from 'vitest';
import { checkUntilPassed, fillCreate, typeInto, waitForStates, waitForTerminal } from './lab-page.ts';
import { openLabPage, type LabPage } from './page.ts';

describe('snapshots in the browser', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('takes, reverts, downloads, deletes and uploads a snapshot from the panel', async () => {
    const { page } = lab;
    const dialog = await fillCreate(page, { count: 1, name: 's1', memoryMiB: 96, boot: 'clone' });
    await dialog.getByTestId('create-submit').click();
    await waitForStates(page, ['s1'], 'running', 120_000);
    await typeInto(page, 's1', 'echo before > /root/mark');
    const panel = page.getByTestId('snapshots');
    await panel.locator('summary').click();
    await panel.getByTestId('snapshot-name').fill('keep');
    await panel.getByTestId('snapshot-take').click();
    await panel.locator('tr[data-snapshot="keep"]').waitFor({ timeout: 30_000 });
    expect(await panel.textContent()).toMatch(/Took keep: \d+\.\d MiB in \d+ ms/);

    await typeInto(page, 's1', 'echo after > /root/mark; cat /root/mark');
    await waitForTerminal(page, 's1', /^after$/m, 10_000);
    await panel.getByRole('button', { name: 'Revert to keep' }).click();
    await expect.poll(() => panel.textContent(), { timeout: 30_000 }).toMatch(/Reverted s1 to keep/);
    await typeInto(page, 's1', 'cat /root/mark | tr a-z A-Z');
    await waitForTerminal(page, 's1', /^BEFORE$/m, 10_000);

    const [download] = await Promise.all([page.waitForEvent('download'), panel.getByRole('button', { name: 'Download keep' }).click()]);
    expect(download.suggestedFilename()).toBe('s1-keep.hvsnap');
    const dir = mkdtempSync(join(tmpdir(), 'hv-snap-'));
    const saved = join(dir, 'keep.hvsnap');
    await download.saveAs(saved);
    const bytes = new Uint8Array(await readFile(saved));
    expect(decodeSnapshotFile(bytes).header).toMatchObject({ name: 'keep', vm: 's1', memoryMiB: 96, codec: 'zstd' });

    await panel.getByRole('button', { name: 'Delete keep' }).click();
    await expect.poll(() => panel.locator('tr[data-snapshot="keep"]').count()).toBe(0);
    const bent = bytes.slice();
    bent[bent.length >> 1]! ^= 1;
    await writeFile(join(dir, 'bent.hvsnap'), bent);
    await panel.getByTestId('snapshot-upload').setInputFiles(join(dir, 'bent.hvsnap'));
    await expect.poll(() => panel.getByTestId('snapshot-error').textContent()).toMatch(/SHA-256 checksum does not match/);
    await panel.getByTestId('snapshot-upload').setInputFiles(saved);
    await panel.locator('tr[data-snapshot="keep"]').waitFor({ timeout: 10_000 });
    expect(lab.pageErrors).toEqual([]);
  });

  it('keeps guests and snapshots across a reload: "Suspend all", reload, resume, revert', async () => {
    const { page } = lab;
    const storage = page.getByTestId('storage');
    await expect.poll(() => storage.getByTestId('storage-used').textContent()).toMatch(/^\d+\.\d MiB used/);
    await typeInto(page, 's1', 'echo suspended-state > /root/mark2');
    await storage.getByTestId('suspend-all').click();
    await expect.poll(() => storage.getByTestId('storage-note').textContent(), { timeout: 30_000 }).toMatch(/Suspended s1/);
    await waitForStates(page, ['s1'], 'stopped', 10_000);

    await page.reload();
    await expect.poll(() => page.getByTestId('storage').getByTestId('storage-suspended').textContent(), { timeout: 30_000 }).toMatch(/Suspended: s1\./);
    await waitForStates(page, ['s1'], 'defined', 10_000);
    await page.getByTestId('storage').getByTestId('resume-all').click();
    await waitForStates(page, ['s1'], 'running', 30_000);
    await typeInto(page, 's1', 'cat /root/mark2 | tr a-z A-Z');
    await waitForTerminal(page, 's1', /^SUSPENDED-STATE$/m, 10_000);

    // The snapshot uploaded before the reload is still there; reverting to it goes back further.
    const panel = page.getByTestId('snapshots');
    await panel.locator('summary').click();
    await panel.getByRole('button', { name: 'Revert to keep' }).click();
    await expect.poll(() => panel.textContent(), { timeout: 30_000 }).toMatch(/Reverted s1 to keep/);
    await typeInto(page, 's1', 'cat /root/mark /root/mark2 2>&1 | tr a-z A-Z');
    await waitForTerminal(page, 's1', /^BEFORE$\n.*NO SUCH FILE/m, 10_000);
    expect(lab.pageErrors).toEqual([]);
  });

  it('runs the snapshot lab: the panel under the console takes the snapshot the first step checks', async () => {
    const { page } = lab;
    await page.goto(`${inject('siteUrl')}?lab=labs/snapshots.yaml`);
    await expect.poll(() => page.getByTestId('lab').getAttribute('data-phase'), { timeout: 60_000 }).toBe('ready');
    const panel = page.locator('[data-testid="console-slot"][data-guest="box"] [data-testid="snapshots"]');
    await panel.locator('summary').click();
    await panel.getByTestId('snapshot-name').fill('clean');
    await panel.getByTestId('snapshot-take').click();
    await panel.locator('tr[data-snapshot="clean"]').waitFor({ timeout: 30_000 });
    await checkUntilPassed(page, 30_000);
    expect(await page.getByTestId('lab-results').textContent()).toMatch(/box has a snapshot named clean/);
    expect(lab.pageErrors).toEqual([]);
  });
});

describe('live migration between two tabs', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('moves a running guest from one tab to another from the dashboards; the other tab runs it with its file', async () => {
    type PageHv = { exec(id: string, c: string): Promise<{ output: string }>; vms(): { id: string; name: string; state: string }[] };
    const { page } = lab;
    const other = await page.context().newPage();
    const errors: string[] = [];
    other.on('pageerror', (e) => errors.push(e.message));
    await other.goto(page.url());
    // The other tab takes guests on the channel "lab".
    await other.getByTestId('migration').getByTestId('migration-accept').click();
    await expect.poll(() => other.getByTestId('migration-note').textContent()).toMatch(/This tab takes guests moved to "lab"/);

    const dialog = await fillCreate(page, { count: 1, name: 'tabmove', memoryMiB: 96, boot: 'clone' });
    await dialog.getByTestId('create-submit').click();
    await waitForStates(page, ['tabmove'], 'running', 120_000);
    await typeInto(page, 'tabmove', 'echo crossed-tabs > /root/f');
    await page.getByTestId('migration').getByTestId('migration-move').click();
    await expect.poll(() => page.getByTestId('migration').getByTestId('migration-note').textContent(), { timeout: 30_000 }).toMatch(/tabmove moved: \d+ rounds?, [\d.]+ MiB, downtime \d+ ms/);
    console.info(`between two tabs: ${await page.getByTestId('migration').getByTestId('migration-note').textContent()}`);
    // Gone here; the other tab shows it running, with the rounds in its log here, and it answers there.
    await expect.poll(() => page.locator('[data-testid="vm-card"][data-vm="tabmove"]').count()).toBe(0);
    await waitForStates(other, ['tabmove'], 'running', 30_000);
    const answer = await other.evaluate(async () => {
      const { hv } = window.__hvDashboard!.dash as unknown as { hv: PageHv };
      const vm = hv.vms().find((v) => v.name === 'tabmove')!;
      return (await hv.exec(vm.id, 'cat /root/f')).output.trim();
    });
    expect(answer).toBe('crossed-tabs');
    expect(errors).toEqual([]);
    expect(lab.pageErrors).toEqual([]);
  });
});
