// Clone section (Node): start guests by restoring a booted template, to a
// shell answer, one at a time and four at once.
import { nodeHypervisor } from '../test/integration/hypervisor-helpers.ts';
import { targetRow, type BenchRow } from './table.ts';
import { cloneRows, type CloneSample } from './clone-series.ts';
import { Guest } from '../src/host/guest.ts';
import { nodeGuestWorkers } from '../src/host/node-workers.ts';
import { nodeImage, nodeWasmUrl } from '../src/host/node-images.ts';

const S = 'clone/node';
/** Clones timed one at a time. */
const CLONES = 20;
/** As many standby workers as the four-clone run needs (the dashboard keeps 2). */
const STANDBY = 4;

export async function benchClone(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const hv = nodeHypervisor({ pcpus: 2, memoryMiB: 2048 }, STANDBY);
  try {
    // The template is built on first use; its cold boot is reported separately.
    const first = hv.createVm({ name: 'first', memoryMiB: 128, image: 'hv', boot: 'clone' }).id;
    const t0 = performance.now();
    await hv.start(first);
    await hv.exec(first, 'true');
    const template = hv.templates.list()[0]!;
    rows.push({ section: S, metric: 'template: cold boot + save (first clone)', value: (performance.now() - t0) / 1000, unit: 's', note: `template boot ${(template.bootMs / 1000).toFixed(2)} s` });
    await hv.destroy(first);

    // One at a time, as a student clicks: each start finds the standby workers loaded.
    const singles: CloneSample[] = [];
    for (let i = 0; i < CLONES; i++) {
      await hv.standbyReady();
      const id = hv.createVm({ name: `one${i}`, memoryMiB: 128, image: 'hv', boot: 'clone' }).id;
      const s0 = performance.now();
      await hv.start(id);
      await hv.exec(id, 'true');
      singles.push({ seconds: (performance.now() - s0) / 1000, phases: hv.vm(id).bootPhases });
      await hv.destroy(id);
    }
    rows.push(...cloneRows(S, 'Node', singles, 0.25, 'standby worker loaded; 128 MiB'));

    await hv.standbyReady();
    const ids = [1, 2, 3, 4].map((i) => hv.createVm({ name: `four${i}`, memoryMiB: 128, image: 'hv', boot: 'clone' }).id);
    const f0 = performance.now();
    await Promise.all(ids.map(async (id) => {
      await hv.start(id);
      await hv.exec(id, 'true');
    }));
    rows.push(targetRow(S, 'four clones to four shell answers', (performance.now() - f0) / 1000, 's', '<=', 2, `P=2, ${STANDBY} standby workers`));
    await Promise.all(ids.map((id) => hv.destroy(id)));

    // Without standby workers: each clone starts its own worker (thread, module, wasm compile).
    const saved = hv.templates.list()[0]!.saved;
    const c0 = performance.now();
    const fresh = await Guest.create(nodeGuestWorkers, {
      name: 'fresh',
      memoryMiB: 128,
      image: nodeImage('hv'),
      wasm: { url: nodeWasmUrl },
      nic: 'virtio',
      state: { state: saved.state.slice(0), clockMs: saved.clockMs },
      identity: { seed: 'f00d' },
    });
    await fresh.exec('true');
    await fresh.destroy();
    rows.push({ section: S, metric: 'clone to shell answer, fresh worker', value: (performance.now() - c0) / 1000, unit: 's', note: 'no standby worker' });
  } finally {
    await hv.dispose();
  }
  return rows;
}
