// Memory section (Node, small kernel): a 128 MiB guest's balloon inflated to
// leave it 64 MiB and deflated again (time until the balloon holds it, 5
// each); its saved state before and after free-page hinting, with 64 MiB
// written and freed in the guest; what page sharing could save across 4
// clones of one template.
import { percentile } from '../src/core/metrics.ts';
import type { Hypervisor } from '../src/host/hypervisor.ts';
import { nodeHypervisor } from '../src/host/node-hypervisor.ts';
import { sh } from '../test/integration/hypervisor-helpers.ts';
import type { BenchRow } from './table.ts';

const S = 'memory';
const ROUNDS = 5;
const MiB = 2 ** 20;

/** ms until `done()` holds, polling every 20 ms (30 s at most). */
async function until(done: () => Promise<boolean>): Promise<number> {
  const t0 = performance.now();
  while (!(await done())) {
    if (performance.now() - t0 > 30_000) throw new Error('the balloon did not reach its target within 30 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  return performance.now() - t0;
}

async function balloonTimes(hv: Hypervisor, id: string): Promise<BenchRow[]> {
  const inflate: number[] = [];
  const deflate: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    await hv.setBalloon(id, 64);
    inflate.push(await until(async () => (await hv.memoryInfo(id)).balloonMiB === 64));
    await hv.setBalloon(id, null);
    deflate.push(await until(async () => (await hv.memoryInfo(id)).balloonMiB === 0));
  }
  for (const a of [inflate, deflate]) a.sort((x, y) => x - y);
  const note = (a: number[]): string => `p50 of ${ROUNDS}; min ${a[0]!.toFixed(0)}, max ${a.at(-1)!.toFixed(0)} ms`;
  return [
    { section: S, metric: 'balloon inflate by 64 MiB (128 MiB guest, until it holds them)', value: percentile(inflate, 50), unit: 'ms', note: note(inflate) },
    { section: S, metric: 'balloon deflate by 64 MiB', value: percentile(deflate, 50), unit: 'ms', note: note(deflate) },
  ];
}

export async function benchMemory(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const hv = nodeHypervisor({ pcpus: 1, memoryMiB: 1024 }, 1);
  try {
    const id = hv.createVm({ name: 'membench', memoryMiB: 128, boot: 'clone' }).id;
    await hv.start(id);
    rows.push(...(await balloonTimes(hv, id)));
    // 64 MiB written (not zeros) by a process that then exits: the freed pages keep their bytes.
    await sh(hv, id, 'hv-dirty 40000 64 & sleep 2; kill $!; wait', 120_000);
    const before = await hv.takeSnapshot(id, 'before');
    const t0 = performance.now();
    const zeroed = await hv.hintFreePages(id);
    const hintMs = performance.now() - t0;
    const after = await hv.takeSnapshot(id, 'after');
    rows.push(
      { section: S, metric: 'free-page hinting (64 MiB written and freed in the guest)', value: hintMs, unit: 'ms', note: `${zeroed.toFixed(1)} MiB zeroed` },
      { section: S, metric: 'saved state before hinting (uncompressed)', value: before.stateBytes / MiB, unit: 'MiB', note: `file ${(before.bytes / MiB).toFixed(2)} MiB (zstd)` },
      { section: S, metric: 'saved state after hinting (uncompressed)', value: after.stateBytes / MiB, unit: 'MiB', note: `${(100 * (1 - after.stateBytes / before.stateBytes)).toFixed(0)} % smaller; file ${(after.bytes / MiB).toFixed(2)} MiB` },
    );
    await sh(hv, id, 'hv-dirty 60000 96 & sleep 3; kill $!; wait', 120_000);
    const c = await hv.compact(id);
    rows.push({
      section: S,
      metric: 'compaction: host memory given back (96 MiB touched and freed in a 128 MiB guest; process RSS)',
      value: c.hostBeforeMiB! - c.hostAfterMiB!,
      unit: 'MiB',
      note: `${c.hostBeforeMiB!.toFixed(0)} -> ${c.hostAfterMiB!.toFixed(0)} MiB; ${(c.ms / 1000).toFixed(2)} s; ${c.zeroedMiB.toFixed(0)} MiB hinted, state ${c.stateMiB.toFixed(1)} MiB`,
    });
    const clones = ['share1', 'share2', 'share3', 'share4'].map((name) => hv.createVm({ name, memoryMiB: 96, boot: 'clone' }).id);
    for (const c of clones) await hv.start(c);
    await hv.stop(id);
    const t1 = performance.now();
    const r = await hv.pageSharing();
    const scanMs = performance.now() - t1;
    const used = r.pages - r.zeroPages;
    rows.push(
      { section: S, metric: 'identical pages across 4 clones (96 MiB each): sharable', value: r.sharablePages / 256, unit: 'MiB', note: `${((100 * r.sharablePages) / used).toFixed(0)} % of the ${(used / 256).toFixed(0)} MiB not zero; ${(r.acrossGuestsPages / 256).toFixed(1)} MiB across guests; hashing ${scanMs.toFixed(0)} ms` },
      { section: S, metric: 'zero pages across the 4 clones', value: r.zeroPages / 256, unit: 'MiB', note: `of ${(r.pages / 256).toFixed(0)} MiB` },
    );
  } finally {
    await hv.dispose();
  }
  return rows;
}
