// The guests' list view: eight guests fit at 1280 x 720 without scrolling,
// the columns sort, a row selects its guest, and a running guest's row shows
// its state and measurements.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLabPage, type LabPage } from './page.ts';

describe('the guests as a list', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('shows eight guests at 1280 x 720 without scrolling, sorts them, and selects one', async () => {
    const { page } = lab;
    await page.evaluate(async () => {
      const { hv } = (window as unknown as { __hvDashboard: { dash: { hv: { createVm(s: object): Promise<{ id: string }>; start(id: string): Promise<void> } } } }).__hvDashboard.dash;
      const ids: string[] = [];
      for (let i = 1; i <= 8; i++) ids.push((await hv.createVm({ name: `vm${i}`, memoryMiB: 80, boot: 'clone' })).id);
      void hv.start(ids[0]!);
    });
    await page.getByTestId('view-list').click();
    const rows = page.getByTestId('vm-row');
    await expect.poll(() => rows.count()).toBe(8);
    for (let i = 0; i < 8; i++) {
      const box = await rows.nth(i).boundingBox();
      expect(box, `row ${i + 1}`).not.toBeNull();
      expect(box!.y + box!.height, `row ${i + 1} is below the fold`).toBeLessThanOrEqual(720);
    }
    // Sort by name, descending: a second click on the header.
    await page.getByTestId('sort-name').click();
    await page.getByTestId('sort-name').click();
    expect(await page.locator('th[aria-sort="descending"]').count()).toBe(1);
    expect(await rows.first().getAttribute('data-vm')).toBe('vm8');
    // A row's name selects its guest.
    const row3 = page.locator('[data-testid="vm-row"][data-vm="vm3"]');
    await row3.locator('button.name').click();
    expect(await row3.locator('button.name').getAttribute('aria-pressed')).toBe('true');
    // The guest that was started runs, and its row shows MIPS.
    const row1 = page.locator('[data-testid="vm-row"][data-vm="vm1"]');
    await expect.poll(() => row1.getAttribute('data-state'), { timeout: 120_000 }).toBe('running');
    await expect.poll(async () => (await row1.locator('td').nth(4).textContent())?.trim(), { timeout: 10_000 }).toMatch(/^\d+$/);
    expect(lab.pageErrors).toEqual([]);
  });
});
