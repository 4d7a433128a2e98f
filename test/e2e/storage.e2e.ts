// Volumes in Chromium, from the Storage tab: create a volume, attach it to a
// stopped guest, make a file system and write a file from the guest's
// console; the file survives a page reload (the volume's blocks in the
// browser's IndexedDB). A file that is not a disk image is refused on upload.
import { mkdtempSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fillCreate, typeInto, vmCard, waitForStates, waitForTerminal } from './lab-page.ts';
import { openLabPage, type LabPage } from './page.ts';

describe('volumes in the browser', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('keeps a file written in a guest across a page reload', async () => {
    const { page } = lab;
    const dialog = await fillCreate(page, { count: 1, name: 'st1', memoryMiB: 96, boot: 'cold' });
    await dialog.getByTestId('create-submit').click();
    await waitForStates(page, ['st1'], 'running', 120_000);
    await vmCard(page, 'st1').getByTestId('vm-stop').click();
    await waitForStates(page, ['st1'], 'stopped', 30_000);

    await page.getByTestId('tab-storage').click();
    const view = page.getByTestId('storage-view');
    await view.getByTestId('vol-name').fill('data');
    await view.getByTestId('vol-size').fill('16');
    await view.getByTestId('vol-create').click();
    const row = view.locator('tr[data-volume="data"]');
    await row.waitFor({ timeout: 10_000 });
    await row.getByTestId('vol-attach-vm').selectOption({ label: 'st1' });
    await row.getByTestId('vol-attach').click();
    await expect.poll(() => row.getByTestId('vol-attached').textContent()).toMatch(/st1 \(hda\)/);

    // A file that is not a disk image is refused with the reason; nothing else changes.
    const dir = mkdtempSync(join(tmpdir(), 'hv-img-'));
    await writeFile(join(dir, 'notes.img'), new Uint8Array(4096).fill(0x41));
    await view.getByTestId('img-file').setInputFiles(join(dir, 'notes.img'));
    await view.getByTestId('img-upload').click();
    await expect.poll(() => view.getByTestId('vol-error').textContent()).toMatch(/notes is not a disk image/);

    await page.getByTestId('tab-dashboard').click();
    await vmCard(page, 'st1').getByTestId('vm-start').click();
    await waitForStates(page, ['st1'], 'running', 120_000);
    await typeInto(page, 'st1', 'mkfs.ext2 -q /dev/sda && mount /dev/sda /mnt && echo kept-on-disk > /mnt/note && sync && echo WROTE-$((6*7))');
    await waitForTerminal(page, 'st1', /^WROTE-42$/m, 30_000);
    // The guest's write-back reaches the volume within 200 ms, and the volume's store after that.
    await page.getByTestId('tab-storage').click();
    await expect.poll(() => row.getByTestId('vol-used').textContent(), { timeout: 10_000 }).toMatch(/^[1-9]\d* blocks/);
    await page.waitForTimeout(1000);

    await page.reload();
    await vmCard(page, 'st1').waitFor({ timeout: 30_000 });
    await vmCard(page, 'st1').getByTestId('vm-start').click();
    await waitForStates(page, ['st1'], 'running', 120_000);
    await typeInto(page, 'st1', 'mount /dev/sda /mnt && cat /mnt/note | tr a-z A-Z');
    await waitForTerminal(page, 'st1', /^KEPT-ON-DISK$/m, 30_000);
    await page.getByTestId('tab-storage').click();
    await expect.poll(() => page.getByTestId('storage-view').locator('tr[data-volume="data"]').getByTestId('vol-attached').textContent()).toMatch(/st1 \(hda\)/);
    expect(lab.pageErrors).toEqual([]);
  });
});
