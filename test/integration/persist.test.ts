// What survives a reload (issue: snapshots, persistence), with real guests and
// IndexedDB (fake-indexeddb in Node; the browser's own in e2e): a second
// hypervisor on the same storage gets the networks, VM definitions and
// snapshots back; "Suspend all" saves and stops the running guests and the
// next one resumes them where they were. A full storage is a fault naming
// what was not saved; the hypervisor goes on. A template booted here is kept
// for the next load.
import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import { nodeHypervisor } from '../../src/host/node-hypervisor.ts';
import { indexedDbStore, type Persistence } from '../../src/host/persist/store.ts';

const open: Hypervisor[] = [];
function host(persistence: Persistence): Hypervisor {
  const hv = nodeHypervisor({ pcpus: 1, memoryMiB: 512 }, 1, undefined, { persistence });
  open.push(hv);
  return hv;
}

describe('what survives a reload', () => {
  afterEach(async () => {
    for (const hv of open.splice(0)) await hv.dispose();
  });

  it('keeps a template booted here: the next load clones from it without a boot; a damaged one is forgotten and booted again', async () => {
    const store = indexedDbStore('persist-templates');
    const first = host(store);
    await first.restoreSaved();
    const a = first.createVm({ name: 'tpl1', memoryMiB: 112, boot: 'clone' }).id;
    await first.start(a);
    expect(first.templates.builds).toBe(1);
    // Kept compressed once it is saved (the first clone does not wait for that).
    const slot = `${first.templates.list()[0]!.key.imageId}/112/virtio`;
    let kept = null;
    for (let i = 0; i < 50 && !kept; i++) {
      kept = await store.getTemplate(slot);
      if (!kept) await new Promise((r) => setTimeout(r, 100));
    }
    expect(kept!.state.byteLength).toBeLessThan(first.templates.list()[0]!.saved.state.byteLength / 2);
    await first.dispose();

    const second = host(store);
    await second.restoreSaved();
    const b = second.createVm({ name: 'tpl2', memoryMiB: 112, boot: 'clone' }).id;
    await second.start(b);
    expect([second.templates.builds, second.templates.loads]).toEqual([0, 1]);
    expect((await second.exec(b, 'hostname')).output.trim()).toBe('tpl2');
    await second.dispose();

    // A kept state that v86 cannot restore: the clone boots cold, says why, and storage forgets it.
    await store.putTemplate({ ...kept!, state: Uint8Array.from([0x28, 0xb5, 0x2f, 0xfd, 1, 2, 3, 4]) });
    const third = host(store);
    await third.restoreSaved();
    const notes: string[] = [];
    third.on((e) => {
      if (e.type === 'vm-note') notes.push(e.message);
    });
    const c = third.createVm({ name: 'tpl3', memoryMiB: 112, boot: 'clone' }).id;
    await third.start(c);
    expect((await third.exec(c, 'hostname')).output.trim()).toBe('tpl3');
    expect(notes.join('\n')).toMatch(/cloning tpl3 from its template failed .*; booting it cold instead/);
    await expect.poll(async () => (await store.getTemplate(slot))?.state.byteLength ?? 0, { timeout: 10_000 }).not.toBe(8);
  });

  it('brings back networks, VMs and snapshots, and resumes suspended guests where they were', async () => {
    const first = host(indexedDbStore('persist-1'));
    expect(await first.restoreSaved()).toEqual({ vms: 0, snapshots: 0, suspended: [] });
    first.createNetwork({ name: 'lan', vlan: 10 });
    first.createNetwork({ name: 'big', vlan: 20, mtu: 9000 });
    const a = first.createVm({ name: 'keep1', memoryMiB: 96, boot: 'clone', network: 'lan', weight: 300 }).id;
    first.createVm({ name: 'keep2', memoryMiB: 96, boot: 'clone' });
    await first.start(a);
    await first.exec(a, 'echo kept > /root/mark');
    await first.takeSnapshot(a, 'named');
    expect(await first.suspendAll()).toEqual(['keep1']);
    expect(first.vm(a).state).toBe('stopped');
    const info = await first.storageInfo();
    expect(info).toMatchObject({ persistent: true, error: null });
    expect(info.usedBytes).toBeGreaterThan(2 * 2 ** 20); // two snapshot files
    await first.dispose();

    const second = host(indexedDbStore('persist-1'));
    expect(await second.restoreSaved()).toEqual({ vms: 2, snapshots: 2, suspended: ['keep1'] });
    expect(second.networks().map((n) => [n.name, n.vlan, n.mtu]).sort()).toEqual([
      ['big', 20, 9000],
      ['lan', 10, 1500],
    ]);
    const vms = second.vms();
    expect(vms.map((v) => [v.name, v.state, v.memoryMiB, v.network, v.resources.weight])).toEqual([
      ['keep1', 'defined', 96, 'lan', 300],
      ['keep2', 'defined', 96, null, 1000],
    ]);
    expect(second.snapshots().map((s) => s.name).sort()).toEqual(['named', 'suspended']);
    expect(await second.resumeSuspended()).toEqual(['keep1']);
    const b = vms[0]!.id;
    expect(second.vm(b).state).toBe('running');
    expect((await second.exec(b, 'cat /root/mark')).output.trim()).toBe('kept');
    expect(second.snapshots().map((s) => s.name)).toEqual(['named']);
    // Destroyed here, gone from storage too.
    await second.destroy(b);
    await second.storageInfo(); // the writes have landed
    const third = host(indexedDbStore('persist-1'));
    expect(await third.restoreSaved()).toEqual({ vms: 1, snapshots: 0, suspended: [] });
  });

  it('says what it could not save when storage is full, and goes on', async () => {
    const full = indexedDbStore('persist-2');
    const quota = Object.assign(new Error('the quota has been exceeded'), { name: 'QuotaExceededError' });
    const store: Persistence = { ...full, putSnapshot: () => Promise.reject(quota) };
    const hv = host(store);
    await hv.restoreSaved();
    const faults: string[] = [];
    hv.on((e) => {
      if (e.type === 'fault') faults.push(e.message);
    });
    const id = hv.createVm({ name: 'full1', memoryMiB: 96, boot: 'clone' }).id;
    await hv.start(id);
    const snap = await hv.takeSnapshot(id, 'big');
    const info = await hv.storageInfo();
    expect(info.error).toMatch(/storage for this site is full/);
    expect(faults.join('\n')).toMatch(/could not save snapshot big of full1: the browser's storage for this site is full/);
    // Kept in this session all the same, and the guest runs on.
    expect(hv.snapshots(id).map((s) => s.id)).toEqual([snap.id]);
    expect((await hv.exec(id, 'echo fine')).output.trim()).toBe('fine');
  });
});
