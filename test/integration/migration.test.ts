// Live migration between two hosts (issue: snapshots and migration), with real
// guests: a guest printing a sequence number every 10 ms moves while it runs,
// and its console has every number once, in order, with the downtime seen as
// the largest gap in its own output; over a 20 MB/s link a guest dirtying
// 2000 pages/s converges, and one dirtying faster than the link converges
// through auto-converge; a target whose worker dies mid-copy, or without
// room, leaves the guest running on the source; and the same move over a BroadcastChannel (as between two tabs).
import { afterEach, describe, expect, it } from 'vitest';
import type { Guest } from '../../src/host/guest.ts';
import type { Hypervisor, MigrationRound } from '../../src/host/hypervisor.ts';
import { liveGuestThreads } from '../../src/host/node-workers.ts';
import { channelTarget, serveMigrations, type MigrationChannel } from '../../src/host/migration/channel.ts';
import { nodeHypervisor } from './hypervisor-helpers.ts';
import { nodeGuestWorkers } from '../../src/host/node-workers.ts';

const hosts: Hypervisor[] = [];
function host(memoryMiB = 512): Hypervisor {
  const hv = nodeHypervisor({ pcpus: 1, memoryMiB }, 1);
  hosts.push(hv);
  return hv;
}

/** Console bytes of VM `name` on either host, with when each chunk came. */
function listen(hvs: Hypervisor[], name: string): { text: () => string; lines: { at: number; line: string }[] } {
  let text = '';
  let partial = '';
  const lines: { at: number; line: string }[] = [];
  for (const hv of hvs) {
    hv.onGuest((vmId: string, guest: Guest) => {
      if (hv.vm(vmId).name !== name) return;
      guest.onSerial((bytes) => {
        const s = new TextDecoder().decode(bytes);
        text += s;
        partial += s;
        const parts = partial.split('\n');
        partial = parts.pop()!;
        for (const l of parts) lines.push({ at: performance.now(), line: l.replace(/\r$/, '') });
      });
    });
  }
  return { text: () => text, lines };
}

describe('live migration between two hosts (real guests)', () => {
  afterEach(async () => {
    for (const hv of hosts.splice(0)) await hv.dispose();
    expect(liveGuestThreads()).toBe(0);
  });

  it('moves a running guest: every sequence number once and in order, its files, MAC and snapshots with it', async () => {
    const [a, b] = [host(), host()];
    const out = listen([a, b], 'mover');
    const id = a.createVm({ name: 'mover', memoryMiB: 128, boot: 'clone' }).id;
    await a.start(id);
    const mac = (await a.exec(id, 'echo moved-file > /root/f; cat /sys/class/net/eth0/address')).output.trim();
    await a.takeSnapshot(id, 'before-move');
    await a.exec(id, '(i=0; while [ $i -lt 100000 ]; do echo SEQ $i; i=$((i+1)); usleep 10000; done > /dev/ttyS0 2>&1 &)');
    await new Promise((r) => setTimeout(r, 1500));
    const rounds: MigrationRound[] = [];
    const report = await a.migrateTo(id, b, { onRound: (r) => rounds.push(r) });
    await new Promise((r) => setTimeout(r, 1500));
    expect(a.vms()).toEqual([]);
    const moved = b.vms().find((v) => v.name === 'mover')!;
    expect(moved.state).toBe('running');
    expect(moved.bootedBy).toBe('migration');
    // The numbers printed until now (a command typed into the console below would mix with them).
    const printed = [...out.lines];
    const r = await b.exec(moved.id, 'cat /root/f; cat /sys/class/net/eth0/address');
    expect(r.output).toContain('moved-file');
    expect(r.output).toContain(mac);
    expect(b.snapshots(moved.id).map((s) => s.name)).toEqual(['before-move']);

    const seq = printed.map((l) => ({ at: l.at, n: /^SEQ (\d+)$/.exec(l.line)?.[1] })).filter((x) => x.n !== undefined).map((x) => ({ at: x.at, n: Number(x.n) }));
    expect(seq.length).toBeGreaterThan(100);
    const numbers = seq.map((x) => x.n);
    const missing = numbers.slice(1).filter((n, i) => n !== numbers[i]! + 1);
    expect(missing, `numbers not following the one before: ${missing.slice(0, 5).join(', ')}`).toEqual([]);
    expect(numbers[0]).toBeLessThan(100);
    // The downtime as the guest's own output shows it: the largest gap between two numbers.
    const gaps = seq.slice(1).map((x, i) => x.at - seq[i]!.at);
    const gap = Math.max(...gaps);
    console.info(
      `migration: ${report.rounds.length - 1} rounds, ${(report.bytes / 2 ** 20).toFixed(1)} MiB, total ${report.totalMs.toFixed(0)} ms, downtime ${report.downtimeMs.toFixed(0)} ms (final ${report.finalPages} pages, hash ${report.finalHashMs.toFixed(0)} ms); largest gap in the guest's output ${gap.toFixed(0)} ms`,
    );
    expect(report.converged).toBe(true);
    expect(rounds.length).toBe(report.rounds.length);
    expect(report.downtimeMs).toBeLessThan(2000); // generous: the bench measures
    expect(gap).toBeGreaterThanOrEqual(report.downtimeMs * 0.5);
  });

  it('converges with a guest dirtying 2000 pages/s, and through auto-converge with one dirtying faster than the copy', async () => {
    const [a, b] = [host(), host()];
    const ids = ['calm', 'wild'].map((name) => a.createVm({ name, memoryMiB: 128, boot: 'clone' }).id);
    for (const id of ids) await a.start(id);
    await a.exec(ids[0]!, '(hv-dirty 2000 16 &)');
    await a.exec(ids[1]!, '(hv-dirty 1000000 16 &)'); // as fast as its CPU lets it, round 16 MiB
    await new Promise((r) => setTimeout(r, 500));
    // Over a 20 MB/s link (about 5000 pages/s), with 50 ms for the pages left.
    const link = { maxBandwidthMBps: 20, downtimeMs: 50 };
    const calm = await a.migrateTo(ids[0]!, b, link);
    console.info(`2000 pages/s: ${calm.rounds.length - 1} rounds, dirty ${calm.rounds.slice(1).map((r) => r.pages).join(' ')} pages, downtime ${calm.downtimeMs.toFixed(0)} ms`);
    expect(calm.converged).toBe(true);
    expect(calm.autoConverged).toBe(false);
    // Faster than the link: the cap comes down until what is left fits.
    const wild = await a.migrateTo(ids[1]!, b, link);
    console.info(`fast dirtier: ${wild.rounds.length - 1} rounds, dirty ${wild.rounds.slice(1).map((r) => `${r.pages}@${r.capPct ?? 100}%`).join(' ')}, downtime ${wild.downtimeMs.toFixed(0)} ms`);
    expect(wild.autoConverged).toBe(true);
    expect(wild.converged).toBe(true);
    expect(wild.rounds.some((r) => r.capPct !== null && r.capPct < 100)).toBe(true);
    // On the target the cap is the guest's own again (none).
    expect(b.vms().find((v) => v.name === 'wild')!.resources.capPct).toBeNull();
    for (const v of b.vms()) expect((await b.exec(v.id, 'echo here')).output.trim()).toBe('here');
  });

  it('leaves the guest running on the source when the target\'s worker dies in the middle of the copy', async () => {
    const threads: { terminate(): Promise<unknown> }[] = [];
    const a = host();
    const b = nodeHypervisor({ pcpus: 1, memoryMiB: 512 }, 0, undefined, {
      workers: () => {
        const w = nodeGuestWorkers();
        threads.push(w.thread);
        return w;
      },
    });
    hosts.push(b);
    const id = a.createVm({ name: 'orphan', memoryMiB: 128, boot: 'clone' }).id;
    await a.start(id);
    await a.exec(id, 'echo before > /root/mark');
    let killed = false;
    const moved = a.migrateTo(id, b, {
      // Round 0 has built the target's worker from the first state: it goes before the pages follow.
      onRound: (r) => {
        if (r.round === 0 && !killed) {
          killed = true;
          void threads.at(-1)!.terminate();
        }
      },
    });
    await expect(moved).rejects.toThrow(/orphan did not move \(.*\); it runs on here/);
    expect(killed).toBe(true);
    expect(a.vm(id).state).toBe('running');
    expect((await a.exec(id, 'cat /root/mark')).output.trim()).toBe('before');
    expect(b.vms()).toEqual([]);
  });

  it('leaves the guest running on the source when the target has no room for it', async () => {
    const [a, small] = [host(), host(64)];
    const id = a.createVm({ name: 'stay', memoryMiB: 128, boot: 'clone' }).id;
    await a.start(id);
    await expect(a.migrateTo(id, small)).rejects.toThrow(/stay did not move \(.*\); it runs on here/);
    expect(a.vm(id).state).toBe('running');
    expect(small.vms()).toEqual([]);
    expect((await a.exec(id, 'echo still')).output.trim()).toBe('still');
    await expect(a.migrateTo(id, a)).rejects.toThrow(/on this host already/);
  });

  it("refuses a target whose network of the guest's name has another MTU: the guest runs on here", async () => {
    const [a, b] = [host(), host()];
    a.createNetwork({ name: 'lan', vlan: 10, mtu: 9000 });
    b.createNetwork({ name: 'lan', vlan: 10 });
    const id = a.createVm({ name: 'jumbo', memoryMiB: 80, boot: 'clone', network: 'lan' }).id;
    await a.start(id);
    await expect(a.migrateTo(id, b)).rejects.toThrow(/network lan has an MTU of 1500, jumbo's NIC 9000/);
    expect(a.vm(id).state).toBe('running');
    expect(b.vms()).toEqual([]);
  });
});

describe('live migration over a channel (real guests)', () => {
  afterEach(async () => {
    for (const hv of hosts.splice(0)) await hv.dispose();
    expect(liveGuestThreads()).toBe(0);
  });

  it('moves a guest between two hosts over a BroadcastChannel, as between two tabs, and reports a refusal from the far side', async () => {
    const [a, b] = [host(), host()];
    const name = `hv-migration-test-${process.pid}`;
    const [src, dst] = [new BroadcastChannel(name), new BroadcastChannel(name)];
    const stop = serveMigrations(b, dst as unknown as MigrationChannel);
    try {
      const id = a.createVm({ name: 'far', memoryMiB: 128, boot: 'clone' }).id;
      await a.start(id);
      await a.exec(id, 'echo over-the-channel > /root/f');
      await a.takeSnapshot(id, 'kept');
      const report = await a.migrateTo(id, channelTarget(src as unknown as MigrationChannel));
      console.info(`over a BroadcastChannel: ${(report.bytes / 2 ** 20).toFixed(1)} MiB, downtime ${report.downtimeMs.toFixed(0)} ms, total ${report.totalMs.toFixed(0)} ms`);
      expect(a.vms()).toEqual([]);
      const moved = b.vm(report.targetId);
      expect(moved.state).toBe('running');
      expect((await b.exec(moved.id, 'cat /root/f')).output.trim()).toBe('over-the-channel');
      expect(b.snapshots(moved.id).map((s) => s.name)).toEqual(['kept']);
      // The far side has a VM of that name now: a second one is refused there, and stays here.
      const again = a.createVm({ name: 'far', memoryMiB: 128, boot: 'clone' }).id;
      await a.start(again);
      await expect(a.migrateTo(again, channelTarget(src as unknown as MigrationChannel))).rejects.toThrow(/far did not move \(the target host has a VM named far already\); it runs on here/);
      expect(a.vm(again).state).toBe('running');
      expect(b.vms().length).toBe(1);
      // With two hosts listening on one channel, the guest moves to one of them and the other makes nothing.
      const c = host();
      const third = new BroadcastChannel(name);
      const stopC = serveMigrations(c, third as unknown as MigrationChannel);
      try {
        const solo = a.createVm({ name: 'solo', memoryMiB: 96, boot: 'clone' }).id;
        await a.start(solo);
        await a.migrateTo(solo, channelTarget(src as unknown as MigrationChannel));
        const landed = [b, c].map((h) => h.vms().filter((v) => v.name === 'solo'));
        expect(landed.map((l) => l.length).sort()).toEqual([0, 1]);
        expect(landed.flat()[0]!.state).toBe('running');
      } finally {
        stopC();
        third.close();
      }
    } finally {
      stop();
      src.close();
      dst.close();
    }
  });

  it('says within seconds when no host takes migrations on the channel, and the guest runs on', async () => {
    const a = host();
    const lonely = new BroadcastChannel(`hv-migration-nobody-${process.pid}`);
    try {
      const id = a.createVm({ name: 'alone', memoryMiB: 96, boot: 'clone' }).id;
      await a.start(id);
      const t0 = performance.now();
      await expect(a.migrateTo(id, channelTarget(lonely as unknown as MigrationChannel))).rejects.toThrow(/no host takes migrations on this channel/);
      expect(performance.now() - t0).toBeLessThan(15_000);
      expect(a.vm(id).state).toBe('running');
      expect((await a.exec(id, 'echo on')).output.trim()).toBe('on');
    } finally {
      lonely.close();
    }
  });
});
