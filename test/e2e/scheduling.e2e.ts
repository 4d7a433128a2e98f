// Issue: guests keep their shares whatever the page does. With the page's
// timers throttled as in a background tab (1 Hz), weights 1:3 still hold;
// a guest flooding its console does not take CPU from its neighbour, and the
// page stays responsive meanwhile. Shares come from the hypervisor's own
// accounting (the same records the dashboard draws).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { longTasksSoFar, watchLongTasks } from './long-tasks.ts';
import { openLabPage, vmCard, type LabPage } from './page.ts';

/** The hypervisor as the page's test hook exposes it (a structural subset). */
interface PageHv {
  setHost(change: object): Promise<unknown>;
  createVm(spec: object): Promise<{ id: string }>;
  now(): number;
  start(id: string): Promise<void>;
  exec(id: string, cmd: string): Promise<{ status: number }>;
  setResources(id: string, change: object): Promise<unknown>;
  history: { summary(id: string, from: number, to: number): { sharePct: number } };
}
type Hooked = { __hvDashboard: { dash: { hv: PageHv } } };

/** Each named VM's share of a pCPU (%) over the next ms, from the hypervisor's records. */
function shares(lab: LabPage, names: string[], ms: number): Promise<number[]> {
  return lab.page.evaluate(
    async ([vmNames, windowMs]) => {
      const { dash } = (window as unknown as Hooked & { __hvDashboard: { dash: { vms: { id: string; name: string }[] } } }).__hvDashboard;
      const ids = vmNames.map((n) => dash.vms.find((v) => v.name === n)!.id);
      const from = dash.hv.now();
      await new Promise((r) => setTimeout(r, windowMs));
      const to = dash.hv.now();
      return ids.map((id) => dash.hv.history.summary(id, from, to).sharePct);
    },
    [names, ms] as const,
  );
}

function exec(lab: LabPage, name: string, command: string): Promise<number> {
  return lab.page.evaluate(
    async ([vmName, cmd]) => {
      const { dash } = (window as unknown as Hooked & { __hvDashboard: { dash: { vms: { id: string; name: string }[] } } }).__hvDashboard;
      return (await dash.hv.exec(dash.vms.find((v) => v.name === vmName)!.id, cmd)).status;
    },
    [name, command] as const,
  );
}

describe('scheduling whatever the page does', () => {
  let lab: LabPage;

  beforeAll(async () => {
    lab = await openLabPage();
    await lab.page.evaluate(async () => {
      const { hv } = (window as unknown as Hooked).__hvDashboard.dash;
      await hv.setHost({ pcpus: 1 });
      const a = (await hv.createVm({ name: 'sa', memoryMiB: 96, weight: 1000, boot: 'clone' })).id;
      const b = (await hv.createVm({ name: 'sb', memoryMiB: 96, weight: 3000, boot: 'clone' })).id;
      await hv.start(a);
      await hv.start(b);
    });
    for (const name of ['sa', 'sb']) expect(await exec(lab, name, 'hv-burn > /dev/null &')).toBe(0);
    await lab.page.waitForTimeout(3000);
  });
  afterAll(async () => {
    await lab?.close();
  });

  it('keeps weights 1:3 within 5 points over 20 s with the page throttled as a background tab', async () => {
    const before = await shares(lab, ['sa', 'sb'], 5000);
    // Chromium runs a background tab's timers at most once a second, aligned to whole seconds
    // (headless Chromium never hides a page, so the policy is applied to the page's timers here).
    await lab.page.evaluate(() => {
      const w = window as unknown as { __realTimers?: unknown; setTimeout: typeof setTimeout; setInterval: typeof setInterval };
      const realTimeout = window.setTimeout.bind(window);
      const realInterval = window.setInterval.bind(window);
      w.__realTimers = { realTimeout, realInterval };
      w.setTimeout = ((fn: () => void, ms = 0) => {
        const due = performance.now() + ms;
        return realTimeout(fn, Math.ceil(due / 1000) * 1000 - performance.now());
      }) as typeof setTimeout;
      w.setInterval = ((fn: () => void, ms = 0) => realInterval(fn, Math.max(1000, ms))) as typeof setInterval;
    });
    const throttled = await shares(lab, ['sa', 'sb'], 20_000);
    await lab.page.evaluate(() => {
      const w = window as unknown as { __realTimers: { realTimeout: typeof setTimeout; realInterval: typeof setInterval }; setTimeout: typeof setTimeout; setInterval: typeof setInterval };
      w.setTimeout = w.__realTimers.realTimeout;
      w.setInterval = w.__realTimers.realInterval;
    });
    console.info(`weights 1:3 on one pCPU: ${before.map((s) => s.toFixed(1)).join(' / ')} % in front; ${throttled.map((s) => s.toFixed(1)).join(' / ')} % over 20 s throttled`);
    // The pCPU time the two got is split 1:3 (25 / 75 % of it, within 5 points) ...
    const total = throttled[0]! + throttled[1]!;
    expect(Math.abs((100 * throttled[0]!) / total - 25)).toBeLessThan(5);
    expect(Math.abs((100 * throttled[1]!) / total - 75)).toBeLessThan(5);
    // ... and a throttled page still keeps the pCPU about as busy as a page in front.
    expect(total).toBeGreaterThan(0.75 * (before[0]! + before[1]!));
  });

  it('a guest flooding its console leaves its neighbour its share, and the page has no long task over 100 ms', async () => {
    await lab.page.evaluate(async () => {
      const { dash } = (window as unknown as Hooked & { __hvDashboard: { dash: { vms: { id: string; name: string }[] } } }).__hvDashboard;
      for (const v of dash.vms) await dash.hv.setResources(v.id, { weight: 1000 });
    });
    // The flooding guest's console is the one on screen.
    await vmCard(lab.page, 'sb').locator('button.name').click();
    await lab.page.waitForTimeout(2000);
    const burning = await shares(lab, ['sa', 'sb'], 10_000);
    expect(await exec(lab, 'sb', 'kill $(pidof hv-burn); yes > /dev/console &')).toBe(0);
    await lab.page.waitForTimeout(1000);
    await watchLongTasks(lab.page);
    const flooding = await shares(lab, ['sa', 'sb'], 10_000);
    const longTasks = await longTasksSoFar(lab.page);
    const longest = longTasks.reduce((a, b) => Math.max(a, b), 0);
    console.info(
      `neighbour sa: ${burning[0]!.toFixed(1)} % beside a burner (${burning[1]!.toFixed(1)} %), ${flooding[0]!.toFixed(1)} % beside \`yes\` (${flooding[1]!.toFixed(1)} %); ${longTasks.length} long task(s), longest ${longest.toFixed(0)} ms`,
    );
    // The flood takes nothing from the neighbour in the scheduler's split (within 5 points of
    // half of what the two used) ...
    expect(Math.abs((100 * flooding[0]!) / (flooding[0]! + flooding[1]!) - 50)).toBeLessThan(5);
    // ... and little in all: the console costs this 2-core host CPU time, which both lose alike
    // (1-5 points measured; the target of 5 is in README's "Known limits").
    expect(burning[0]! - flooding[0]!).toBeLessThan(10);
    expect(longest).toBeLessThan(100);
    expect(lab.pageErrors).toEqual([]);
  });
});
