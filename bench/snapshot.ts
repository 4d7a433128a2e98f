// Migration section (snapshots so far): a booted 128 MiB small-kernel guest
// (Node) snapshotted 10 times: take time (save + zstd) and file size; revert
// time (a running guest replaced by the snapshot's state, to its first
// command's answer). Live migration has no rows yet: it is not built.
import { nodeHypervisor } from '../src/host/node-hypervisor.ts';
import { targetRow, type BenchRow } from './table.ts';

const S = 'migration';
const ROUNDS = 10;

const pct = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

export async function benchSnapshot(): Promise<BenchRow[]> {
  const hv = nodeHypervisor({ pcpus: 1, memoryMiB: 512 }, 1);
  try {
    const id = hv.createVm({ name: 'snapbench', memoryMiB: 128, boot: 'clone' }).id;
    await hv.start(id);
    await hv.exec(id, 'true'); // the shell answers
    const takes: number[] = [];
    const sizes: number[] = [];
    const reverts: number[] = [];
    let stateBytes = 0;
    for (let i = 0; i < ROUNDS; i++) {
      const snap = await hv.takeSnapshot(id, `s${i}`);
      takes.push(snap.takeMs! / 1000);
      sizes.push(snap.bytes / 2 ** 20);
      stateBytes = snap.stateBytes;
      const t0 = performance.now();
      await hv.revertSnapshot(snap.id);
      const r = await hv.exec(id, 'echo ok');
      if (r.output.trim() !== 'ok') throw new Error(`the reverted guest answered ${JSON.stringify(r.output)}`);
      reverts.push((performance.now() - t0) / 1000);
      hv.deleteSnapshot(snap.id);
    }
    for (const a of [takes, sizes, reverts]) a.sort((x, y) => x - y);
    const spread = (a: number[], digits: number): string => `p50 ${pct(a, 50).toFixed(digits)}, max ${a.at(-1)!.toFixed(digits)} over ${ROUNDS}`;
    return [
      targetRow(S, 'snapshot take p95 (save + zstd, 128 MiB small-kernel guest, Node)', pct(takes, 95), 's', '<=', 0.3, spread(takes, 3)),
      targetRow(S, 'snapshot file size (128 MiB guest, zstd level 3)', pct(sizes, 50), 'MiB', '<=', 5, `state ${(stateBytes / 2 ** 20).toFixed(1)} MiB before compression; ${spread(sizes, 2)}`),
      { section: S, metric: 'snapshot revert p95 (running guest replaced, to its first answer, Node)', value: pct(reverts, 95), unit: 's', note: spread(reverts, 3) },
    ];
  } finally {
    await hv.dispose();
  }
}
