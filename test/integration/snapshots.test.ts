// Snapshots (issue: snapshots and migration), with real guests: a snapshot of
// a running guest, reverted to after the guest changed, puts back what the
// guest had then (a file written before it is there, one written after is
// not) with the same MAC; a stopped VM starts from one; the file survives a
// download/upload round trip, and a flipped byte, a cut file or a snapshot
// of another RAM size is refused before anything runs.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { liveGuestThreads } from '../../src/host/node-workers.ts';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import { nodeHypervisor } from './hypervisor-helpers.ts';

describe('snapshots of real guests', () => {
  let hv: Hypervisor;
  let id: string;
  let other: string;

  beforeAll(async () => {
    hv = nodeHypervisor({ pcpus: 1, memoryMiB: 512 }, 1);
    id = hv.createVm({ name: 'snap1', memoryMiB: 128, boot: 'clone' }).id;
    other = hv.createVm({ name: 'snap2', memoryMiB: 96, boot: 'clone' }).id;
    await hv.start(id);
  }, 120_000);
  afterAll(async () => {
    await hv?.dispose();
    expect(liveGuestThreads()).toBe(0);
  });

  it('takes a snapshot and reverts to it: the guest has what it had then, with its MAC', async () => {
    expect((await hv.exec(id, 'echo before > /root/mark; cat /sys/class/net/eth0/address')).status).toBe(0);
    const mac = (await hv.exec(id, 'cat /sys/class/net/eth0/address')).output.trim();
    const snap = await hv.takeSnapshot(id, 'first');
    console.info(`snapshot of a 128 MiB guest: ${(snap.bytes / 2 ** 20).toFixed(2)} MiB (state ${(snap.stateBytes / 2 ** 20).toFixed(1)} MiB) in ${snap.takeMs!.toFixed(0)} ms`);
    expect(snap).toMatchObject({ name: 'first', vm: 'snap1', memoryMiB: 128, image: 'hv' });
    // Generous bounds here; the bench measures (take 0.3 s, 5 MiB are the targets).
    expect(snap.bytes).toBeLessThan(8 * 2 ** 20);
    expect(snap.bytes).toBeLessThan(snap.stateBytes / 2);
    expect(hv.snapshots(id).map((s) => s.name)).toEqual(['first']);

    await hv.exec(id, 'echo after > /root/mark; echo new > /root/later');
    await hv.revertSnapshot(snap.id);
    expect(hv.vm(id).state).toBe('running');
    expect(hv.vm(id).bootedBy).toBe('snapshot');
    const r = await hv.exec(id, 'cat /root/mark; ls /root/later 2>&1; cat /sys/class/net/eth0/address');
    expect(r.output).toMatch(/^before\n/);
    expect(r.output).toMatch(/No such file/);
    expect(r.output.trim().split('\n').at(-1)).toBe(mac);
    // The pool holds its RAM once (the host's own reservations aside), and one guest thread runs.
    expect(hv.memory.reservedMiB - hv.memory.hostMiB).toBe(128);
    expect(liveGuestThreads()).toBe(1);
  });

  it('starts a stopped VM from a snapshot', async () => {
    const snap = hv.snapshots(id)[0]!;
    await hv.stop(id);
    await hv.revertSnapshot(snap.id);
    expect(hv.vm(id).state).toBe('running');
    expect((await hv.exec(id, 'cat /root/mark')).output.trim()).toBe('before');
  });

  it('round-trips a download and upload; refuses a flipped byte, a cut file and another VM size before anything runs', async () => {
    const snap = hv.snapshots(id)[0]!;
    const file = hv.exportSnapshot(snap.id);
    expect(file.length).toBe(snap.bytes);
    hv.deleteSnapshot(snap.id);
    expect(hv.snapshots(id)).toEqual([]);
    const back = hv.importSnapshot(file);
    expect(back).toMatchObject({ name: 'first', vm: 'snap1', bytes: file.length, takeMs: null });

    const flipped = file.slice();
    flipped[Math.floor(file.length / 2)]! ^= 1;
    expect(() => hv.importSnapshot(flipped, 'snap1')).toThrow(/SHA-256 checksum does not match/);
    expect(() => hv.importSnapshot(file.subarray(0, file.length - 1000), 'snap1')).toThrow(/cut short/);
    expect(() => hv.importSnapshot(new TextEncoder().encode('hello'), 'snap1')).toThrow(/does not begin with HVSNAP/);
    expect(() => hv.importSnapshot(file, 'snap2')).toThrow(/cannot restore into snap2: it was taken of a 128 MiB guest, not 96 MiB/);
    expect(() => hv.importSnapshot(file)).toThrow(/snap1 has a snapshot named first already/);
    expect(() => hv.importSnapshot(file, 'nobody')).toThrow(/there is no VM named nobody/);
    expect(hv.vm(other).state).toBe('defined');
    expect(hv.vm(id).state).toBe('running');

    await hv.exec(id, 'echo changed > /root/mark');
    await hv.revertSnapshot(back.id);
    expect((await hv.exec(id, 'cat /root/mark')).output.trim()).toBe('before');
  });

  it('refuses a snapshot of a VM that does not run, and goes with its VM', async () => {
    await expect(hv.takeSnapshot(other, 'x')).rejects.toThrow(/cannot take a snapshot of snap2: it is defined/);
    await expect(hv.takeSnapshot(id, 'bad name!')).rejects.toThrow(/snapshot name "bad name!" is not valid/);
    await hv.destroy(id);
    expect(hv.snapshots()).toEqual([]);
  });
});
