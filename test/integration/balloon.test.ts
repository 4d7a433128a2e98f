// The memory balloon with real guests (issue: memory overcommit): a 128 MiB
// guest's balloon inflates to leave it 64 MiB and its kernel's MemTotal
// follows within 2 s, then deflates back; pages freed in the guest and hinted
// are zeroed, and its saved state shrinks; three 128 MiB guests run in a
// 256 MiB pool with overcommit, the policy ballooning them, each answering;
// bad targets are refused; the page-sharing estimate finds clones' identical
// pages.
import { afterEach, describe, expect, it } from 'vitest';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import { nodeHypervisor } from '../../src/host/node-hypervisor.ts';
import { sh, sleep } from './hypervisor-helpers.ts';

const open: Hypervisor[] = [];
function host(memoryMiB = 512, overcommit = false, standbyWorkers = 1): Hypervisor {
  const hv = nodeHypervisor({ pcpus: 1, memoryMiB, overcommit }, standbyWorkers);
  open.push(hv);
  return hv;
}


const memTotalMiB = async (hv: Hypervisor, id: string): Promise<number> => Number(await sh(hv, id, "awk '/MemTotal/ {print $2}' /proc/meminfo")) / 1024;

/** Poll until `ok(value)` or `ms` pass; the last value. */
async function within<T>(ms: number, read: () => Promise<T>, ok: (v: T) => boolean): Promise<{ value: T; ms: number }> {
  const t0 = performance.now();
  for (;;) {
    const value = await read();
    if (ok(value) || performance.now() - t0 > ms) return { value, ms: performance.now() - t0 };
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('the memory balloon', () => {
  afterEach(async () => {
    for (const hv of open.splice(0)) await hv.dispose();
  });

  it('inflates a 128 MiB guest to 64 MiB, and its kernel sees it within 2 s; deflating gives it back', async () => {
    const hv = host();
    const id = hv.createVm({ name: 'bal1', memoryMiB: 128, boot: 'clone' }).id;
    await hv.start(id);
    const before = await memTotalMiB(hv, id);
    await hv.setBalloon(id, 64);
    // The whole 64 MiB (a read can land while the last MiB is still on its way).
    const inflated = await within(2000, () => memTotalMiB(hv, id), (t) => t <= before - 63.75);
    console.log(`balloon to 64 MiB: MemTotal ${before.toFixed(1)} -> ${inflated.value.toFixed(1)} MiB in ${inflated.ms.toFixed(0)} ms`);
    expect(inflated.value).toBeLessThanOrEqual(before - 63.75);
    const info = await hv.memoryInfo(id);
    expect(info).toMatchObject({ memoryMiB: 128, targetMiB: 64, keptMiB: 64, balloonMiB: 64 });
    expect(info.zeroedMiB).toBe(64); // every page given up was zeroed
    expect(info.touchedMiB).toBeGreaterThan(4); // its kernel and files
    expect(info.touchedMiB).toBeLessThan(64);
    expect(info.guest!.totalMiB).toBeCloseTo(inflated.value, 0);
    expect(hv.vm(id).balloonMiB).toBe(64);
    // The period records carry it (the worker reports its balloon every 250 ms).
    const recorded = await within(2000, async () => hv.history.last(1)[0]?.vms.find((r) => r.vmId === id)?.balloonMiB, (m) => m === 64);
    expect(recorded.value).toBe(64);
    // And, while the balloon holds memory, the guest's own report, once a second.
    const reported = await within(3000, async () => hv.history.last(1)[0]?.vms.find((r) => r.vmId === id)?.guestMemory, (m) => m !== undefined && Math.abs(m.totalMiB - inflated.value) < 1);
    expect(reported.value!.totalMiB).toBeCloseTo(inflated.value, 0);
    expect(reported.value!.freeMiB).toBeGreaterThan(0);
    await hv.setBalloon(id, null);
    const deflated = await within(2000, () => memTotalMiB(hv, id), (t) => t >= before - 1);
    expect(deflated.value).toBeGreaterThanOrEqual(before - 1);
    expect((await hv.memoryInfo(id)).balloonMiB).toBe(0);
    expect(await sh(hv, id, 'echo alive')).toBe('alive');
  });

  it('zeroes the pages a guest freed when it hints them, and its saved state shrinks by 40 % or more', async () => {
    const hv = host();
    const id = hv.createVm({ name: 'hint1', memoryMiB: 128, boot: 'clone' }).id;
    await hv.start(id);
    // 64 MiB written (not zeros) by a process that then exits: the freed pages keep their bytes.
    await sh(hv, id, 'hv-dirty 40000 64 & sleep 2; kill $!; wait');
    const before = await hv.takeSnapshot(id, 'before');
    const zeroedMiB = await hv.hintFreePages(id);
    const after = await hv.takeSnapshot(id, 'after');
    console.log(`free-page hinting zeroed ${zeroedMiB.toFixed(1)} MiB; state ${(before.stateBytes / 2 ** 20).toFixed(1)} -> ${(after.stateBytes / 2 ** 20).toFixed(1)} MiB`);
    expect(zeroedMiB).toBeGreaterThan(48);
    // A second request is answered too (Linux ignores one with the id it answered last).
    expect(await hv.hintFreePages(id)).toBeGreaterThan(48);
    expect(after.stateBytes).toBeLessThan(before.stateBytes * 0.6);
    expect(await sh(hv, id, 'echo alive')).toBe('alive');
  });

  it('runs three 128 MiB guests in a 256 MiB pool with overcommit: the policy balloons the idle ones, each answers', async () => {
    const hv = host(256, true);
    const notes: string[] = [];
    hv.on((e) => {
      if (e.type === 'vm-note' && e.message.startsWith('balloons')) notes.push(e.message);
    });
    const ids = ['oc1', 'oc2', 'oc3'].map((name) => hv.createVm({ name, memoryMiB: 128, boot: 'clone' }).id);
    for (const id of ids.slice(0, 2)) await hv.start(id);
    await sleep(5000); // a 5 s window of CPU use: both idle
    await hv.start(ids[2]!);
    // The idle guests give the RAM first; the one starting (busy) keeps all of its own.
    expect(hv.vms().map((v) => v.balloonMiB)).toEqual([64, 64, null]);
    expect(notes.at(-1)).toMatch(/guests reserve 384 MiB of a 256 MiB pool.*oc1 keeps 64 of 128 MiB; oc2 keeps 64 of 128 MiB/);
    for (const id of ids.slice(0, 2)) {
      const kept = await within(3000, async () => (await hv.memoryInfo(id)).keptMiB, (k) => k <= 64);
      expect(kept.value).toBe(64);
    }
    for (const id of ids) expect(await sh(hv, id, 'echo ok')).toBe('ok');
    // A fourth guest: too little left for the idle ones alone (each would keep under 48 MiB): all share equally.
    // One stops: the others get their RAM back.
    await hv.stop(ids[2]!);
    expect(hv.vms().map((v) => v.balloonMiB)).toEqual([null, null, null]);
    expect(notes.at(-1)).toMatch(/oc1 gets all 128 MiB back/);
  });

  it('compacts a guest that touched and freed 96 MiB: the host holds much less (a quarter of its RAM or more)', async () => {
    // No standby worker: a replacement spawned meanwhile would count against the reclaim.
    const hv = host(512, false, 0);
    const id = hv.createVm({ name: 'compact1', memoryMiB: 128, boot: 'clone' }).id;
    await hv.start(id);
    await sh(hv, id, 'echo kept > /root/mark; hv-dirty 60000 96 & sleep 3; kill $!; wait');
    const r = await hv.compact(id);
    console.log(`compaction: ${r.zeroedMiB.toFixed(1)} MiB zeroed, state ${r.stateMiB.toFixed(1)} MiB, host ${r.hostBeforeMiB!.toFixed(0)} -> ${r.hostAfterMiB!.toFixed(0)} MiB in ${r.ms.toFixed(0)} ms`);
    // Generous: process RSS also moves with the host's own allocations (44-73 MiB measured here;
    // the 50 MiB target is the memory bench's row).
    expect(r.hostBeforeMiB! - r.hostAfterMiB!).toBeGreaterThanOrEqual(32);
    // The same guest goes on: its files, its name.
    expect(await sh(hv, id, 'cat /root/mark; hostname')).toBe('kept\ncompact1');
    expect(hv.snapshots(id)).toEqual([]);
    // Hibernated: stopped, its RAM back in the pool, its state kept compressed; woken where it was.
    await hv.hibernate(id);
    expect([hv.vm(id).state, hv.memory.reservedMiB, hv.snapshots(id).map((s) => s.name)]).toEqual(['stopped', 0, ['suspended']]);
    await hv.wake(id);
    expect(await sh(hv, id, 'cat /root/mark')).toBe('kept');
    expect(hv.snapshots(id)).toEqual([]);
  });

  it('shows a guest that runs out of memory under its balloon, and it keeps answering', async () => {
    const hv = host();
    const id = hv.createVm({ name: 'oom1', memoryMiB: 96, boot: 'clone' }).id;
    const notes: string[] = [];
    hv.on((e) => {
      if (e.type === 'vm-note' && e.vmId === id) notes.push(e.message);
    });
    await hv.start(id);
    await hv.setBalloon(id, 48);
    await within(3000, async () => (await hv.memoryInfo(id)).keptMiB, (k) => k <= 48);
    // 64 MiB of anonymous memory in a guest left 48 MiB (Linux told to promise it anyway): the OOM killer ends it.
    const r = await hv.exec(id, 'echo 1 > /proc/sys/vm/overcommit_memory; hv-dirty 100000 64; echo exit=$?', 60_000);
    expect(r.output).toMatch(/exit=137/);
    await within(2000, async () => hv.vm(id).lastOom, (o) => o !== null);
    expect(hv.vm(id).lastOom).toMatchObject({ process: 'hv-dirty' });
    expect(notes.find((n) => n.includes('ran out of memory'))).toMatch(/oom1 ran out of memory \(its balloon leaves it 48 of its 96 MiB\): its kernel killed hv-dirty \(pid \d+\)/);
    expect(await sh(hv, id, 'echo alive')).toBe('alive');
    expect(hv.vm(id).state).toBe('running');
  });

  it('refuses a target above the guest\'s RAM or below what its kernel needs', async () => {
    const hv = host();
    const id = hv.createVm({ name: 'bal2', memoryMiB: 96 }).id;
    await expect(hv.setBalloon(id, 128)).rejects.toThrow(/bal2: a balloon target of 128 MiB is above its RAM \(96 MiB\)/);
    await expect(hv.setBalloon(id, 16)).rejects.toThrow(/below the 48 MiB its kernel and in-memory root file system need/);
    await expect(hv.setBalloon(id, 60.5)).rejects.toThrow(/not a whole number of MiB/);
    expect(hv.vm(id).balloonMiB).toBeNull();
  });

  it('estimates what page sharing would save across clones of one template', async () => {
    const hv = host();
    const ids = ['ps1', 'ps2'].map((name) => hv.createVm({ name, memoryMiB: 96, boot: 'clone' }).id);
    for (const id of ids) await hv.start(id);
    const r = await hv.pageSharing();
    console.log(`page sharing over 2 clones: ${r.pages} pages, ${r.zeroPages} zero, ${r.sharablePages} sharable (${r.acrossGuestsPages} across guests)`);
    expect(r.pages).toBe(2 * 96 * 256);
    // Clones of one template hold the same kernel and initramfs: thousands of identical pages.
    expect(r.acrossGuestsPages).toBeGreaterThan(1000);
    expect(r.guests.map((g) => g.id)).toEqual(['ps1', 'ps2']);
  });
});
