// Storage section (Node, the small kernel): cold boot to the ready line with
// and without a volume (5 each); inside a guest, 4 KiB random reads and
// writes with O_DIRECT (hv-io: latency p50/p99) and 1 MiB sequential reads and
// writes (MB/s) on a 64 MiB volume; the flush of 8 MiB of written blocks from
// the guest's worker into the volume and its IndexedDB store (fake-indexeddb
// in Node); what a clone of a volume and a VM snapshot cost with and without
// written blocks.
import 'fake-indexeddb/auto';
import { percentile } from '../src/core/metrics.ts';
import type { Hypervisor } from '../src/host/hypervisor.ts';
import { nodeHypervisor } from '../src/host/node-hypervisor.ts';
import { indexedDbStore } from '../src/host/persist/store.ts';
import { parseHvIo, type HvIoResult } from '../src/host/experiments/guest-tools.ts';
import { sh } from '../test/integration/hypervisor-helpers.ts';
import { targetRow, type BenchRow } from './table.ts';

const S = 'storage';
const BOOTS = 5;
const MiB = 2 ** 20;

/** hv-io's result in a guest. */
async function hvIo(hv: Hypervisor, id: string, args: string): Promise<HvIoResult> {
  return parseHvIo(await sh(hv, id, `hv-io ${args}`, 120_000));
}

export async function coldBoots(withVolume: boolean): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < BOOTS; i++) {
    const hv = nodeHypervisor({ pcpus: 1, memoryMiB: 512 }, 1);
    try {
      if (withVolume) hv.createVolume({ name: 'boot', size: 64 });
      const id = hv.createVm({ name: `cold${i}`, memoryMiB: 128, boot: 'cold', ...(withVolume ? { volumes: { hda: 'boot' } } : {}) }).id;
      await hv.standbyReady();
      await hv.start(id);
      times.push(hv.vm(id).bootMs! / 1000);
    } finally {
      await hv.dispose();
    }
  }
  return times.sort((a, b) => a - b);
}

export async function benchStorage(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  const plain = await coldBoots(false);
  const disk = await coldBoots(true);
  const spread = (a: number[]): string => `p50 of ${a.length}; min ${a[0]!.toFixed(2)}, max ${a.at(-1)!.toFixed(2)}`;
  rows.push(
    targetRow(S, 'cold boot to ready line, kernel with block layer, no volume (Node)', percentile(plain, 50), 's', '<=', 1.5, spread(plain)),
    targetRow(S, 'cold boot to ready line, 64 MiB volume attached (Node)', percentile(disk, 50), 's', '<=', 1.5, spread(disk)),
  );

  const hv = nodeHypervisor({ pcpus: 1, memoryMiB: 512 }, 1, undefined, { persistence: indexedDbStore(`bench-storage-${process.pid}`) });
  try {
    hv.createVolume({ name: 'bench', size: 64 });
    const id = hv.createVm({ name: 'iobench', memoryMiB: 128, volumes: { hda: 'bench' } }).id;
    await hv.start(id);
    const rr = await hvIo(hv, id, 'randread /dev/sda 1000');
    const rw = await hvIo(hv, id, 'randwrite /dev/sda 1000');
    const sr = await hvIo(hv, id, 'seqread /dev/sda 48 1024');
    const sw = await hvIo(hv, id, 'seqwrite /dev/sda 48 1024');
    rows.push(
      { section: S, metric: '4 KiB random read latency p50 (O_DIRECT, in the guest)', value: rr.p50_us / 1000, unit: 'ms', note: `p99 ${(rr.p99_us / 1000).toFixed(2)} ms; ${rr.iops.toFixed(0)} requests/s over 1000` },
      { section: S, metric: '4 KiB random read latency p99', value: rr.p99_us / 1000, unit: 'ms' },
      { section: S, metric: '4 KiB random write latency p50 (O_DIRECT, in the guest)', value: rw.p50_us / 1000, unit: 'ms', note: `p99 ${(rw.p99_us / 1000).toFixed(2)} ms; ${rw.iops.toFixed(0)} requests/s over 1000` },
      { section: S, metric: '4 KiB random write latency p99', value: rw.p99_us / 1000, unit: 'ms' },
      { section: S, metric: 'sequential read, 1 MiB requests (in the guest)', value: sr.mbps, unit: 'MB/s', note: '48 MiB' },
      { section: S, metric: 'sequential write, 1 MiB requests (in the guest)', value: sw.mbps, unit: 'MB/s', note: '48 MiB' },
    );

    // Flush: 8 MiB written at once, then every block the worker still holds brought in and persisted.
    await hv.flushVolumes();
    await hvIo(hv, id, 'seqwrite /dev/sda 8 1024');
    const t0 = performance.now();
    await hv.flushVolumes();
    const flushMs = performance.now() - t0;
    rows.push({ section: S, metric: 'overlay flush right after an 8 MiB write (what the worker still held, to the volume and IndexedDB, fake-indexeddb)', value: flushMs, unit: 'ms', note: `${hv.volumes()[0]!.usedBlocks} blocks written in all` });

    // Clones and snapshots carry blocks, not disks.
    await hv.stop(id);
    hv.createVolume({ name: 'fresh', size: 64 });
    const freshClone = hv.cloneVolume('fresh', 'fresh-clone');
    const usedClone = hv.cloneVolume('bench', 'bench-clone');
    rows.push(
      { section: S, metric: 'clone of a 64 MiB volume, nothing written', value: freshClone.usedBytes / MiB, unit: 'MiB', note: `${freshClone.usedBlocks} blocks` },
      { section: S, metric: 'clone of a 64 MiB volume after the writes above', value: usedClone.usedBytes / MiB, unit: 'MiB', note: `${usedClone.usedBlocks} blocks of 4 KiB` },
    );
    await hv.start(id);
    const withDisk = await hv.takeSnapshot(id, 'with-volume');
    const plainId = hv.createVm({ name: 'nodisk', memoryMiB: 128, boot: 'cold' }).id;
    await hv.start(plainId);
    const withoutDisk = await hv.takeSnapshot(plainId, 'no-volume');
    rows.push(
      { section: S, metric: 'VM snapshot file, 128 MiB guest with a 64 MiB volume', value: withDisk.bytes / MiB, unit: 'MiB', note: `the volume's ${hv.volumes().find((v) => v.name === 'bench')!.usedBlocks} blocks kept beside it as a volume snapshot` },
      { section: S, metric: 'VM snapshot file, 128 MiB guest without a volume', value: withoutDisk.bytes / MiB, unit: 'MiB' },
    );
  } finally {
    await hv.dispose();
  }
  return rows;
}
