// Migration section: a booted 128 MiB small-kernel guest (Node) snapshotted
// 10 times: take time (save + zstd) and file size; revert time (a running
// guest replaced by the snapshot's state, to its first command's answer).
// Then live migration between two hosts in one process, 10 times each for an
// idle guest and guests dirtying 2000 and 20000 pages/s (hv-dirty): downtime
// p50/p95/max, rounds, total time, bytes sent.
import { percentile } from '../src/core/metrics.ts';
import { nodeHypervisor } from '../src/host/node-hypervisor.ts';
import { channelTarget, serveMigrations, type MigrationChannel } from '../src/host/migration/channel.ts';
import { targetRow, type BenchRow } from './table.ts';

const S = 'migration';
const ROUNDS = 10;


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
    const spread = (a: number[], digits: number): string => `p50 ${percentile(a, 50).toFixed(digits)}, max ${a.at(-1)!.toFixed(digits)} over ${ROUNDS}`;
    return [
      targetRow(S, 'snapshot take p95 (save + zstd, 128 MiB small-kernel guest, Node)', percentile(takes, 95), 's', '<=', 0.3, spread(takes, 3)),
      targetRow(S, 'snapshot file size (128 MiB guest, zstd level 3)', percentile(sizes, 50), 'MiB', '<=', 5, `state ${(stateBytes / 2 ** 20).toFixed(1)} MiB before compression; ${spread(sizes, 2)}`),
      { section: S, metric: 'snapshot revert p95 (running guest replaced, to its first answer, Node)', value: percentile(reverts, 95), unit: 's', note: spread(reverts, 3) },
    ];
  } finally {
    await hv.dispose();
  }
}

/**
 * One guest's migrations back and forth between two hosts (Node), `n` times,
 * with a dirtying load or none; `channel`: over a BroadcastChannel (what two
 * tabs would use; it copies), not by direct calls.
 */
async function migrations(label: string, load: string | null, n: number, channel = false): Promise<BenchRow[]> {
  const hosts = [nodeHypervisor({ pcpus: 1, memoryMiB: 512 }, 1), nodeHypervisor({ pcpus: 1, memoryMiB: 512 }, 1)] as const;
  const name = `hv-bench-migration-${process.pid}`;
  // One channel name per host: a BroadcastChannel reaches every other listener of its name.
  const channels = channel ? hosts.map((_, i) => [new BroadcastChannel(`${name}-${i}`), new BroadcastChannel(`${name}-${i}`)] as const) : [];
  const stops = channels.map(([, serve], i) => serveMigrations(hosts[i]!, serve as unknown as MigrationChannel));
  const to = (i: number) => (channel ? channelTarget(channels[i]![0] as unknown as MigrationChannel) : hosts[i]!);
  try {
    let at = 0;
    let id = hosts[0].createVm({ name: 'mig', memoryMiB: 128, boot: 'clone' }).id;
    await hosts[0].start(id);
    if (load) await hosts[0].exec(id, `(${load} &)`);
    await new Promise((r) => setTimeout(r, 500));
    const downs: number[] = [];
    const totals: number[] = [];
    const rounds: number[] = [];
    const mib: number[] = [];
    for (let i = 0; i < n; i++) {
      const report = await hosts[at]!.migrateTo(id, to(1 - at));
      at = 1 - at;
      id = report.targetId;
      downs.push(report.downtimeMs);
      totals.push(report.totalMs / 1000);
      rounds.push(report.rounds.length - 1);
      mib.push(report.bytes / 2 ** 20);
    }
    const answer = await hosts[at]!.exec(id, 'echo ok');
    if (answer.output.trim() !== 'ok') throw new Error(`the guest answered ${JSON.stringify(answer.output)} after ${n} migrations`);
    for (const a of [downs, totals, rounds, mib]) a.sort((x, y) => x - y);
    const note = `p50 ${percentile(downs, 50).toFixed(0)} ms, max ${downs.at(-1)!.toFixed(0)}; rounds p50 ${percentile(rounds, 50)}; total p50 ${percentile(totals, 50).toFixed(2)} s; sent p50 ${percentile(mib, 50).toFixed(1)} MiB`;
    return [
      label.startsWith('2000 pages/s')
        ? targetRow(S, `migration downtime p95, guest dirtying ${label} (128 MiB, Node, one process)`, percentile(downs, 95), 'ms', '<=', channel ? 150 : 100, note)
        : { section: S, metric: `migration downtime p95, ${label} (128 MiB, Node, one process)`, value: percentile(downs, 95), unit: 'ms', note },
    ];
  } finally {
    for (const stop of stops) stop();
    for (const pair of channels) for (const c of pair) c.close();
    for (const hv of hosts) await hv.dispose();
  }
}

export async function benchMigration(): Promise<BenchRow[]> {
  return [
    ...(await benchSnapshot()),
    ...(await migrations('idle guest', null, 10)),
    ...(await migrations('2000 pages/s', 'hv-dirty 2000 32', 10)),
    ...(await migrations('20000 pages/s', 'hv-dirty 20000 64', 10)),
    ...(await migrations('2000 pages/s over a BroadcastChannel', 'hv-dirty 2000 32', 10, true)),
  ];
}
