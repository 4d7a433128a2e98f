// Hosts side by side in one page (the Cluster tab): add a host, start a guest
// on the first, move it live to the second and back; each move's rounds show
// as they come, then its downtime; the guest answers on the host it reached.
// The "move a running VM" lab: the student moves its guest from the full
// dashboard's Cluster tab, and the step's migration check passes.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { checkUntilPassed, openLabPage, type LabPage } from './page.ts';

describe('a cluster of hosts in one page', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('moves a running guest to another host of the page and back, showing its rounds and downtime', async () => {
    const { page } = lab;
    await page.getByTestId('tab-cluster').click();
    const view = page.getByTestId('cluster');
    await view.getByTestId('cluster-add').click();
    const host = (name: string) => view.locator(`[data-testid="cluster-host"][data-host="${name}"]`);
    await host('host2').waitFor({ timeout: 30_000 });
    expect(await host('host2').textContent()).toMatch(/1 pCPU; memory 0 of 1024 MiB reserved/);

    await host('host1').getByTestId('cluster-new-name').fill('mv1');
    await host('host1').getByTestId('cluster-new').click();
    const row = (h: string) => host(h).locator('tr[data-vm="mv1"]');
    await expect.poll(() => row('host1').getByTestId('cluster-state').textContent(), { timeout: 60_000 }).toBe('running');
    // It writes a file on host1, which it must still have on host2.
    await expect.poll(() => page.evaluate(async () => {
      const d = window.__hvDashboard!.dash;
      const vm = d.vms.find((v) => v.name === 'mv1');
      return vm ? (await d.hv.exec(vm.id, 'echo moved-with-me > /root/note && echo ok')).output.trim() : '';
    }), { timeout: 30_000 }).toBe('ok');

    await row('host1').locator('[data-testid="cluster-move"][data-to="host2"]').click();
    const done = view.getByTestId('cluster-move-done');
    await expect.poll(() => done.textContent(), { timeout: 60_000 }).toMatch(/Moved: \d+ pre-copy rounds?, [\d.]+ MiB in \d+ ms; downtime \d+ ms/);
    const downtime = Number(/downtime (\d+) ms/.exec((await done.textContent())!)![1]);
    console.log(`cluster move host1 -> host2: ${(await done.textContent())!.trim()}`);
    expect(downtime).toBeLessThan(2000); // generous: the bench measures it (p95 37-50 ms in Node)
    expect(await view.getByTestId('cluster-rounds').locator('tbody tr').count()).toBeGreaterThanOrEqual(2);
    await view.getByTestId('cluster-rounds-chart').waitFor();
    await expect.poll(() => row('host2').getByTestId('cluster-state').textContent(), { timeout: 10_000 }).toBe('running');
    await expect.poll(() => row('host1').count()).toBe(0);
    // host1 (the dashboard's) no longer has it.
    expect(await page.evaluate(() => window.__hvDashboard!.dash.vms.some((v) => v.name === 'mv1'))).toBe(false);

    // And back: the dashboard has it again, with the file it wrote before the first move.
    await row('host2').locator('[data-testid="cluster-move"][data-to="host1"]').click();
    await expect.poll(() => view.getByTestId('cluster-move-view').textContent(), { timeout: 60_000 }).toMatch(/from host2 to host1[\s\S]*Moved:/);
    await expect.poll(() => row('host1').getByTestId('cluster-state').textContent(), { timeout: 10_000 }).toBe('running');
    const note = await page.evaluate(async () => {
      const d = window.__hvDashboard!.dash;
      const vm = d.vms.find((v) => v.name === 'mv1')!;
      return (await d.hv.exec(vm.id, 'cat /root/note')).output.trim();
    });
    expect(note).toBe('moved-with-me');
    expect(lab.pageErrors).toEqual([]);
  });

  it('runs the "move a running VM" lab: the guest moved from the Cluster tab passes the downtime check', async () => {
    const { page } = lab;
    await page.goto(`${inject('siteUrl')}?lab=labs/migration.yaml`);
    await expect.poll(() => page.getByTestId('lab').getAttribute('data-phase'), { timeout: 60_000 }).toBe('ready');
    await page.getByTestId('lab-solution').click();
    await page.getByTestId('lab-solve').click();
    await checkUntilPassed(page);
    await page.getByTestId('lab-next').click();
    // The student's way: the full dashboard's Cluster tab, web's row on host1, "host2".
    await page.getByTestId('lab-full').click();
    await page.getByTestId('tab-cluster').click();
    const view = page.getByTestId('cluster');
    await view.locator('[data-host="host1"] tr[data-vm="web"] [data-testid="cluster-move"][data-to="host2"]').click();
    await expect.poll(() => view.getByTestId('cluster-move-done').textContent(), { timeout: 60_000 }).toMatch(/downtime \d+ ms/);
    await page.getByTestId('lab-full').click();
    await checkUntilPassed(page);
    expect(await page.getByTestId('lab-results').textContent()).toMatch(/web runs on host2[\s\S]*web still has its visit/);
    // The last step's solution moves it back through the lab's own session.
    await page.getByTestId('lab-next').click();
    // The solution stays open from the first step.
    if ((await page.getByTestId('lab-solution').getAttribute('aria-expanded')) !== 'true') await page.getByTestId('lab-solution').click();
    await page.getByTestId('lab-solve').click();
    await checkUntilPassed(page);
    expect(await page.getByTestId('lab-results').textContent()).toMatch(/web is back on host1, stopped under 300 ms/);
    expect(lab.pageErrors).toEqual([]);
  });
});
