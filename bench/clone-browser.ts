// Clone section, Chromium half: the test site in Debian's Chromium, clones
// started one at a time through the page's hypervisor, as bench/clone.ts
// does in Node (the same rows, so the two compare).
import { launchChromium } from '../test/e2e/browser.ts';
import { openLabPageIn, type LabPage } from '../test/e2e/lab-page.ts';
import { serveStatic } from '../test/e2e/static-server.ts';
import { buildTestSite, TEST_SITE_DIR } from '../test/e2e/test-site.ts';
import { cloneRows, type CloneSample } from './clone-series.ts';
import type { BenchRow } from './table.ts';

const S = 'clone/chromium';
/** Clones timed one at a time. */
const CLONES = 20;

/** Clones started PACED_MS apart and kept running (as a user clicking through the create dialog). */
const PACED = 8;
const PACED_MS = 1500;

/** One start to a shell answer, in the page (no named functions inside: tsx would wrap them in a helper the page lacks). */
function startToShell(lab: LabPage, name: string, keep = false): Promise<CloneSample> {
  return lab.page.evaluate(async ([vmName, keepIt]) => {
    const { hv } = (
      window.__hvDashboard! as unknown as {
        dash: {
          hv: {
            createVm(spec: object): Promise<{ id: string }>;
            vm(id: string): { bootPhases: CloneSample['phases'] };
            start(id: string): Promise<void>;
            exec(id: string, cmd: string): Promise<unknown>;
            destroy(id: string): Promise<void>;
            standbyReady(): Promise<void>;
          };
        };
      }
    ).dash;
    if (!keepIt) await hv.standbyReady();
    const { id } = await hv.createVm({ name: vmName, memoryMiB: 128, boot: 'clone' });
    const t0 = performance.now();
    await hv.start(id);
    await hv.exec(id, 'true');
    const seconds = (performance.now() - t0) / 1000;
    const { bootPhases } = hv.vm(id);
    if (!keepIt) await hv.destroy(id);
    return { seconds, phases: bootPhases };
  }, [name, keep] as const);
}

export async function benchCloneBrowser(): Promise<BenchRow[]> {
  buildTestSite();
  const server = await serveStatic(TEST_SITE_DIR, '/lab/');
  const lab = await openLabPageIn(await launchChromium(), server.url);
  try {
    // The first start builds the template; the page's standby workers are loaded before each start.
    const template = await startToShell(lab, 'tpl');
    const singles: CloneSample[] = [];
    for (let i = 1; i <= CLONES; i++) singles.push(await startToShell(lab, `c${i}`));
    // Started 1.5 s apart without waiting for a standby worker, and kept running.
    const paced: Promise<CloneSample>[] = [];
    for (let i = 1; i <= PACED; i++) {
      paced.push(startToShell(lab, `p${i}`, true));
      await new Promise((r) => setTimeout(r, PACED_MS));
    }
    const pacedSamples = await Promise.all(paced);
    return [
      { section: S, metric: 'template: cold boot + save (first clone)', value: template.seconds, unit: 's' },
      ...cloneRows(S, 'Chromium', singles, 0.3, 'standby worker loaded; 128 MiB'),
      ...cloneRows(S, `Chromium, ${PACED_MS / 1000} s apart, kept running`, pacedSamples, 0.3, 'no wait for a standby worker; the earlier clones idle'),
    ];
  } finally {
    await lab.close();
    await server.close();
  }
}
