// Guests on a network (issue: a virtual switch): NIC frames go from a guest's
// worker through the hypervisor's switch to the workers of the ports it
// chose. Two clones on one network ping each other; a third on another VLAN
// reaches neither and no frame of theirs arrives on its port; the switch
// learnt each guest's MAC (unique per clone) on its own VLAN; a destroyed
// guest's port and addresses are gone.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HvError } from '../../src/core/errors.ts';
import { transportChecksumOk } from '../../src/core/net/offload.ts';
import { readPcapng } from '../../src/core/net/pcapng.ts';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import { nodeHypervisor, sleep } from './hypervisor-helpers.ts';

describe('guests on the virtual switch (real guests)', () => {
  let hv: Hypervisor;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    hv = nodeHypervisor({ pcpus: 2, memoryMiB: 512 }, 2);
    hv.createNetwork({ name: 'lan', vlan: 10 });
    hv.createNetwork({ name: 'other', vlan: 20 });
    for (const [name, network] of [['na', 'lan'], ['nb', 'lan'], ['nc', 'other']] as const) {
      ids[name] = hv.createVm({ name, memoryMiB: 80, boot: 'clone', network }).id;
    }
    for (const name of ['na', 'nb', 'nc']) await hv.start(ids[name]!);
    for (const [i, name] of ['na', 'nb', 'nc'].entries()) {
      const r = await hv.exec(ids[name]!, `ip addr add 10.0.0.${i + 1}/24 dev eth0 && ip link set eth0 up`);
      expect(r.status, r.output).toBe(0);
    }
  }, 120_000);
  afterAll(async () => {
    await hv?.dispose();
  });

  it('gives every clone its own MAC', async () => {
    const macs = await Promise.all(['na', 'nb', 'nc'].map(async (n) => (await hv.exec(ids[n]!, 'cat /sys/class/net/eth0/address')).output.trim()));
    expect(new Set(macs).size).toBe(3);
    for (const m of macs) expect(m).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/);
  });

  it('lets two guests on one network ping each other; the capture shows it and parses back from pcapng', async () => {
    hv.startCapture('lan');
    hv.startCapture('other');
    const r = await hv.exec(ids['na']!, 'ping -c 3 -W 2 10.0.0.2', 20_000);
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/3 packets transmitted, 3 packets received/);
    const back = await hv.exec(ids['nb']!, 'ping -c 2 -W 2 10.0.0.1', 20_000);
    expect(back.status, back.output).toBe(0);
    hv.stopCapture('lan');
    const cap = hv.capture('lan', 1000)!;
    expect(cap.running).toBe(false);
    const lines = cap.list.map((f) => `${f.port} ${f.summary}`);
    expect(lines.filter((l) => /^na .*10\.0\.0\.1 > 10\.0\.0\.2: ICMP echo request/.test(l)).length).toBe(3);
    expect(lines.filter((l) => /^nb .*10\.0\.0\.2 > 10\.0\.0\.1: ICMP echo reply/.test(l)).length).toBe(3);
    const pcapng = hv.capturePcapng('lan');
    const file = readPcapng(pcapng);
    expect(file.packets.length).toBe(cap.frames);
    expect(file.interfaces.map((i) => i.name).sort()).toEqual(['na', 'nb']);
    expect(file.packets.every((p) => p.data.length >= 42)).toBe(true);
    // Wireshark's reader agrees, frame for frame (.ci/run installs Debian's tshark).
    const path = join(mkdtempSync(join(tmpdir(), 'hv-pcap-')), 'lan.pcapng');
    writeFileSync(path, pcapng);
    const tshark = spawnSync('tshark', ['-r', path, '-T', 'fields', '-e', 'frame.interface_name', '-e', 'icmp.type', '-e', 'ip.src', '-e', 'ip.dst'], { encoding: 'utf8' });
    expect(tshark.error, 'tshark is not installed: apt-get install tshark').toBeUndefined();
    expect(tshark.status, tshark.stderr).toBe(0);
    const rows = tshark.stdout.trim().split('\n');
    expect(rows.length).toBe(cap.frames);
    expect(rows.filter((r) => r === 'na\t8\t10.0.0.1\t10.0.0.2').length).toBe(3);
    expect(rows.filter((r) => r === 'nb\t0\t10.0.0.2\t10.0.0.1').length).toBe(3);
  });

  it('keeps a guest on another VLAN apart: it reaches neither, and none of their frames reach its port', async () => {
    const r = await hv.exec(ids['nc']!, 'ping -c 2 -W 1 10.0.0.1', 20_000);
    expect(r.status).not.toBe(0);
    expect(r.output).toMatch(/0 packets received/);
    const c = hv.nicCounters(ids['nc']!)!;
    expect(c.rxFrames).toBeGreaterThan(0); // its own ARP requests went into the switch
    expect(c.txFrames).toBe(0);
    const a = hv.nicCounters(ids['na']!)!;
    expect(a.txFrames).toBeGreaterThan(0);
    expect(a.guestDrops['guest-rx-full']).toBe(0);
    // The other network's capture has none of their frames.
    expect(hv.capture('other', 1000)!.list.every((f) => f.port === 'nc')).toBe(true);
    const table = hv.macTable();
    expect(new Set(table.filter((e) => e.port === ids['na'] || e.port === ids['nb']).map((e) => e.vlan))).toEqual(new Set([10]));
    expect(table.filter((e) => e.port === ids['nc']).map((e) => e.vlan)).toEqual([20]);
  });

  it('polices a NIC: the limit holds within 10 % while the guest offers more, and the rest is counted as dropped', async () => {
    const [a, b] = [ids['na']!, ids['nb']!];
    expect(hv.vm(a).nicLimit).toBeNull();
    /** kbit/s that left b's port (what passed the switch) over `ms`. */
    const passed = async (ms: number): Promise<number> => {
      const t1 = performance.now();
      const c1 = hv.nicCounters(b)!.txBytes;
      await sleep(ms);
      return ((hv.nicCounters(b)!.txBytes - c1) * 8) / (performance.now() - t1);
    };
    // Two pings of 8000 bytes (six frames each) every 0.5 ms: about 20 Mbit/s on a quiet machine, less on a busy one.
    await hv.exec(a, 'for i in 1 2; do (ping -q -i 0.0005 -s 8000 -c 100000 10.0.0.2 > /dev/null 2>&1 &); done');
    await sleep(1000);
    const offered = await passed(2000);
    // 10 Mbit/s, or half of what this machine lets the guest offer if that is less.
    const limit = Math.min(10_000, Math.round(offered / 2 / 100) * 100);
    hv.setNicLimit(a, { rateKbps: limit, burstKb: 1000 });
    expect(hv.vm(a).nicLimit).toEqual({ rateKbps: limit, burstKb: 1000 });
    await sleep(1500); // the burst is spent
    const kbps = await passed(4000);
    const sender = hv.nicCounters(a)!;
    await hv.exec(a, 'killall ping 2>/dev/null; true');
    hv.setNicLimit(a, null);
    console.info(`NIC limited to ${limit} kbit/s (offered ${offered.toFixed(0)}): ${kbps.toFixed(0)} kbit/s passed; ${sender.drops['rate-limit']} of ${sender.rxFrames} frames dropped by the policer`);
    expect(limit).toBeGreaterThanOrEqual(2000);
    expect(Math.abs(kbps - limit) / limit).toBeLessThan(0.1);
    expect(sender.drops['rate-limit']).toBeGreaterThan(0);
    expect(() => hv.setNicLimit(a, { rateKbps: 0, burstKb: 100 })).toThrow(/rate of 0 kbit\/s is not valid/);
    expect(() => hv.setNicLimit(a, { rateKbps: 1000, burstKb: 1 })).toThrow(/at least 12.2 kbit/);
  });

  it('writes one port\'s frames alone when asked, those it sent and those it got', () => {
    const list = hv.capture('lan', 100_000)!.list;
    for (const vm of ['na', 'nb']) {
      const mine = list.filter((f) => f.port === vm || f.to.includes(vm));
      expect(mine.length).toBeGreaterThan(0);
      expect(readPcapng(hv.capturePcapng('lan', vm)).packets.length).toBe(mine.length);
    }
    expect(() => hv.capturePcapng('lan', 'nobody')).toThrow(/has no frame of nobody/);
  });

  it('refuses what it cannot do with a clear error', () => {
    expect(() => hv.createVm({ name: 'nx', memoryMiB: 80, network: 'nowhere' })).toThrow(/there is no network named nowhere/);
    expect(() => hv.createNetwork({ name: 'dup', vlan: 10 })).toThrow(/VLAN 10 is network lan's already/);
    expect(() => hv.createNetwork({ name: 'bad', vlan: 4095 })).toThrow(/VLAN 4095 is not valid/);
    for (const mtu of [1279, 9001, 1500.5]) expect(() => hv.createNetwork({ name: 'bad', mtu })).toThrow(`network bad: an MTU of ${mtu} is not valid (use 1280-9000`);
    expect(() => hv.setNetwork(ids['na']!, 'other')).toThrow(/stop it first/);
    expect(() => hv.deleteNetwork('lan')).toThrow(/in use by na, nb/);
    try {
      hv.deleteNetwork('lan');
    } catch (err) {
      expect(HvError.from(err).code).toBe('illegal-state');
    }
  });

  it('frees a destroyed guest\'s port and addresses', async () => {
    await hv.destroy(ids['nb']!);
    expect(() => hv.nicCounters(ids['nb']!)).toThrow(/no VM with id/);
    const stopped = ids['nc']!;
    await hv.stop(stopped);
    expect(hv.nicCounters(stopped)).toBeNull(); // unplugged while it does not run
    expect(hv.macTable().some((e) => e.port === ids['nb'] || e.port === stopped)).toBe(false);
    const r = await hv.exec(ids['na']!, 'ping -c 1 -W 1 10.0.0.2', 20_000);
    expect(r.status).not.toBe(0);
  });
});

describe('DHCP and DNS from the host (real guests)', () => {
  let hv: Hypervisor;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    hv = nodeHypervisor({ pcpus: 2, memoryMiB: 512 }, 2);
    const net = hv.createNetwork({ name: 'campus', vlan: 30 });
    expect(net).toMatchObject({ subnet: '10.0.30.0/24', gateway: '10.0.30.1', dhcp: true, dns: true });
    for (const name of ['web1', 'web2']) {
      ids[name] = hv.createVm({ name, memoryMiB: 80, boot: 'clone', network: 'campus' }).id;
      await hv.start(ids[name]!);
    }
  }, 120_000);
  afterAll(async () => {
    await hv?.dispose();
  });

  it('leases each guest an address from the pool, with the host as router and DNS server', async () => {
    for (const name of ['web1', 'web2']) {
      const r = await hv.exec(ids[name]!, 'udhcpc -i eth0 -n -q -t 5 -T 1 2>&1; ip -4 addr show eth0; ip route; cat /etc/resolv.conf', 30_000);
      expect(r.status, r.output).toBe(0);
      expect(r.output).toMatch(/inet 10\.0\.30\.1\d\d\/24/);
      expect(r.output).toMatch(/default via 10\.0\.30\.1/);
      expect(r.output).toMatch(/nameserver 10\.0\.30\.1/);
    }
    const leases = hv.leases('campus');
    expect(leases.map((l) => l.vm).sort()).toEqual(['web1', 'web2']);
    // Each VM says its address (the hypervisor heard the DHCP ACK).
    for (const l of leases) expect(hv.vms().find((v) => v.name === l.vm)?.ip).toBe(l.ip);
    expect(new Set(leases.map((l) => l.ip)).size).toBe(2);
    expect(hv.serviceCounters('campus')).toMatchObject({ offers: 2, acks: 2, poolExhausted: 0 });
  });

  it('answers a ping to the gateway, and resolves a guest by its name', async () => {
    expect((await hv.exec(ids['web1']!, 'ping -c 1 -W 2 10.0.30.1', 20_000)).status).toBe(0);
    const web2 = hv.leases('campus').find((l) => l.vm === 'web2')!.ip;
    const r = await hv.exec(ids['web1']!, 'nslookup web2 2>&1; ping -c 2 -W 2 web2', 30_000);
    expect(r.output).toContain(web2);
    expect(r.status, r.output).toBe(0);
    const miss = await hv.exec(ids['web1']!, 'nslookup nosuchguest 2>&1', 20_000);
    expect(miss.output).toMatch(/NXDOMAIN|can't find|can't resolve/i);
  });

  it('moves 16 MiB over TCP between two guests, the same bytes on both sides', async () => {
    const web2 = hv.vm(ids['web2']!).ip!;
    await hv.exec(ids['web2']!, '(nc -l -p 5003 | md5sum > /tmp/got) > /dev/null 2>&1 &');
    const sent = await hv.exec(ids['web1']!, `dd if=/dev/urandom of=/tmp/blob bs=65536 count=256 2>/dev/null; md5sum < /tmp/blob; nc ${web2} 5003 < /tmp/blob; rm /tmp/blob`, 120_000);
    expect(sent.status, sent.output).toBe(0);
    let got = '';
    for (let i = 0; i < 50 && !got; i++) {
      got = (await hv.exec(ids['web2']!, 'cat /tmp/got 2>/dev/null')).output.trim();
      if (!got) await sleep(200);
    }
    expect(got.split(/\s+/)[0]).toBe(sent.output.trim().split(/\s+/)[0]);
    expect(got).toMatch(/^[0-9a-f]{32}/);
  });

  it('hv-tcp moves 8 MiB between two guests and its receiver checks every byte; bad arguments exit 2', async () => {
    const { sent, got } = await hvTcp(hv, ids['web1']!, ids['web2']!, hv.vm(ids['web2']!).ip!, 5004);
    expect(sent).toMatch(/^HV-TCP sent bytes=8388608 ms=\d+ mbps=[\d.]+$/m);
    expect(got).toMatch(/^HV-TCP received bytes=8388608 ms=\d+ mbps=[\d.]+ pattern=ok$/m);
    for (const bad of ['hv-tcp', 'hv-tcp recv 0', 'hv-tcp send 10.0.0.300 5004 1', 'hv-tcp send 10.0.0.1 5004 0']) {
      expect((await hv.exec(ids['web1']!, bad)).status, bad).toBe(2);
    }
  });

  it('offloads TCP to the NIC: the sender hands over large packets, the switch carries MTU-sized frames with valid checksums, the receiver gets them merged', async () => {
    const [web1, web2] = [ids['web1']!, ids['web2']!];
    // The driver took checksums, TSO4 both ways and mergeable receive buffers (feature bits 0, 1, 7, 11, 15).
    const bits = (await hv.exec(web1, 'for d in /sys/bus/virtio/devices/*; do [ "$(cat $d/device)" = 0x0001 ] && cat $d/features; done')).output.trim();
    expect([0, 1, 7, 11, 15].map((b) => bits[b]), bits).toEqual(['1', '1', '1', '1', '1']);
    // /proc/net/dev: [received packets, sent packets] of eth0, as the guest counts them.
    const packets = async (id: string) => {
      const f = (await hv.exec(id, 'grep eth0: /proc/net/dev')).output.split(':')[1]!.trim().split(/\s+/).map(Number);
      return { rx: f[1]!, tx: f[9]! };
    };
    const [g1, g2, s1, s2] = [await packets(web1), await packets(web2), hv.nicCounters(web1)!, hv.nicCounters(web2)!];
    hv.startCapture('campus');
    const { got } = await hvTcp(hv, web1, web2, hv.vm(web2).ip!, 5005);
    hv.stopCapture('campus');
    expect(got).toMatch(/^HV-TCP received bytes=8388608 ms=\d+ mbps=[\d.]+ pattern=ok$/m);
    const [h1, h2, t1, t2] = [await packets(web1), await packets(web2), hv.nicCounters(web1)!, hv.nicCounters(web2)!];
    const sent = { guest: h1.tx - g1.tx, wire: t1.rxFrames - s1.rxFrames };
    const received = { guest: h2.rx - g2.rx, wire: t2.txFrames - s2.txFrames };
    console.info(`8 MiB over TCP: the sender sent ${sent.guest} packets, ${sent.wire} frames on the wire; the receiver got ${received.wire} frames as ${received.guest} packets`);
    expect(sent.wire).toBeGreaterThan(8 * 2 ** 20 / 1500);
    expect(sent.guest).toBeLessThan(sent.wire / 2);
    expect(received.guest).toBeLessThan(received.wire / 2);
    // Every packet and frame accounted for: a packet the guest sent went out as itself or as its TSO frames, and a
    // frame for the guest reached it as itself or inside a merged packet (or was dropped, and counted).
    const tso = { packets: t1.offload.tsoPackets - s1.offload.tsoPackets, frames: t1.offload.tsoFrames - s1.offload.tsoFrames };
    const lro = { packets: t2.offload.lroPackets - s2.offload.lroPackets, frames: t2.offload.lroFrames - s2.offload.lroFrames };
    const dropped = t2.guestDrops['guest-rx-full'] - s2.guestDrops['guest-rx-full'];
    expect(tso.packets).toBeGreaterThan(0);
    expect(sent.guest - tso.packets + tso.frames).toBe(sent.wire);
    expect(lro.packets).toBeGreaterThan(0);
    expect(received.wire - dropped - lro.frames + lro.packets).toBe(received.guest);
    const frames = readPcapng(hv.capturePcapng('campus', 'web1')).packets.map((p) => p.data);
    const tcp = frames.filter((f) => f.length > 34 && f[23] === 6);
    expect(tcp.length).toBeGreaterThan(1000);
    expect(Math.max(...tcp.map((f) => f.length))).toBe(1514);
    expect(tcp.filter((f) => !transportChecksumOk(f)).length).toBe(0);
  });

  it('counts every frame of a load beyond what a guest takes: its interface got it, or a drop says why', async () => {
    const id = ids['web2']!;
    const rx = async () => Number((await hv.exec(id, 'grep eth0: /proc/net/dev')).output.split(':')[1]!.trim().split(/\s+/)[1]);
    const [rx0, c0] = [await rx(), hv.nicCounters(id)!];
    // 300 Mbit/s is several times what a guest takes (the bench offers 1 Gbit/s); more floods the worker's
    // thread so that on a busy machine its watchdog ping can come late.
    const load = await hv.offerLoad(id, { mbps: 300, ms: 1000 });
    await sleep(1000); // the worker's queue drains
    const [rx1, c1] = [await rx(), hv.nicCounters(id)!];
    const queueFull = c1.guestDrops['guest-rx-full'] - c0.guestDrops['guest-rx-full'];
    console.info(`offered ${load.frames} frames at ${load.mbps.toFixed(0)} Mbit/s: the guest got ${rx1 - rx0}, ${queueFull} dropped (guest-rx-full)`);
    expect(load.frames).toBeGreaterThan(10_000);
    expect(c1.txFrames - c0.txFrames).toBeGreaterThanOrEqual(load.frames);
    expect(queueFull).toBeGreaterThan(0); // more than a guest takes
    expect(rx1 - rx0 + queueFull).toBe(c1.txFrames - c0.txFrames);
    await expect(hv.offerLoad(id, { mbps: 0, ms: 100 })).rejects.toThrow(/0 Mbit\/s is not valid/);
    await expect(hv.offerLoad(ids['web1']!, { mbps: 10, ms: 0 })).rejects.toThrow(/lasting 0 ms is not valid/);
  });

  it('frees a destroyed guest\'s lease: its name no longer resolves', async () => {
    await hv.stop(ids['web2']!);
    expect(hv.vm(ids['web2']!).ip).toBeNull();
    await hv.destroy(ids['web2']!);
    expect(hv.leases('campus').map((l) => l.vm)).toEqual(['web1']);
    const r = await hv.exec(ids['web1']!, 'nslookup web2 2>&1', 20_000);
    expect(r.output).toMatch(/NXDOMAIN|can't find|can't resolve/i);
  });
});

describe('trunk ports and mirror ports (real guests)', () => {
  let hv: Hypervisor;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    hv = nodeHypervisor({ pcpus: 2, memoryMiB: 512 }, 2);
    hv.createNetwork({ name: 'lan', vlan: 10 });
    hv.createNetwork({ name: 'dmz', vlan: 20 });
    // router sits on lan untagged and carries dmz tagged; web is on dmz; ids gets copies.
    ids['router'] = hv.createVm({ name: 'router', memoryMiB: 80, boot: 'clone', network: 'lan', trunk: ['dmz'] }).id;
    ids['web'] = hv.createVm({ name: 'web', memoryMiB: 80, boot: 'clone', network: 'dmz' }).id;
    ids['ids'] = hv.createVm({ name: 'ids', memoryMiB: 80, boot: 'clone', network: 'lan' }).id;
    for (const name of ['router', 'web', 'ids']) await hv.start(ids[name]!);
  }, 120_000);
  afterAll(async () => {
    await hv?.dispose();
  });

  it('lets a guest on a trunk port reach the tagged network through a VLAN interface, with a lease on each network', async () => {
    expect(hv.vm(ids['router']!).trunk).toEqual(['dmz']);
    const r = await hv.exec(
      ids['router']!,
      'ip link set eth0 up && ip link add link eth0 name eth0.20 type vlan id 20 && ip link set eth0.20 up && udhcpc -i eth0 -n -q -t 5 -T 1 >/dev/null 2>&1 && udhcpc -i eth0.20 -n -q -t 5 -T 1 >/dev/null 2>&1; ip -4 addr',
      30_000,
    );
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/inet 10\.0\.10\.\d+\/24 .*eth0\n/);
    expect(r.output).toMatch(/inet 10\.0\.20\.\d+\/24 .*eth0\.20/);
    expect((await hv.exec(ids['web']!, 'udhcpc -i eth0 -n -q -t 5 -T 1 >/dev/null 2>&1', 30_000)).status).toBe(0);
    const webIp = hv.vm(ids['web']!).ip!;
    expect(webIp).toMatch(/^10\.0\.20\./);
    const ping = await hv.exec(ids['router']!, `ping -c 2 -W 2 ${webIp}`, 20_000);
    expect(ping.status, ping.output).toBe(0);
    // The view shows the router's port with an address on each network; its card shows its own network's.
    const port = hv.networkView(0).ports.find((p) => p.vm === 'router')!;
    expect(port.ip).toMatch(/^10\.0\.10\./);
    expect(port.trunk).toEqual([{ network: 'dmz', vlan: 20, ip: expect.stringMatching(/^10\.0\.20\./) }]);
    expect(hv.vm(ids['router']!).ip).toBe(port.ip);
    // Frames the trunk port sent on VLAN 20 were tagged; the switch took them (no tag drops).
    expect(hv.nicCounters(ids['router']!)!.drops['vlan-not-allowed']).toBe(0);
    // web, on an access port of VLAN 20, does not see lan.
    expect((await hv.exec(ids['web']!, `ping -c 1 -W 1 ${port.ip}`, 20_000)).status).not.toBe(0);
    // TCP both ways over the tagged VLAN: the router's NIC segments and merges tagged frames as well.
    const routerDmz = port.trunk[0]!.ip!;
    for (const [i, [from, to, ip]] of ([[ids['web']!, ids['router']!, routerDmz], [ids['router']!, ids['web']!, webIp]] as const).entries()) {
      const { got } = await hvTcp(hv, from, to, ip, 5010 + i);
      expect(got).toMatch(/^HV-TCP received bytes=8388608 ms=\d+ mbps=[\d.]+ pattern=ok$/m);
    }
    const offload = hv.nicCounters(ids['router']!)!.offload;
    expect(offload.tsoPackets).toBeGreaterThan(0);
    expect(offload.lroPackets).toBeGreaterThan(0);
  });

  it('copies a guest\'s frames to another guest\'s port: hv-sniff there shows them', async () => {
    hv.addMirror({ name: 'span', from: { vm: 'web' }, to: 'ids' });
    expect(hv.mirrors()).toEqual([{ name: 'span', source: 'web (both)', to: 'ids', active: true }]);
    await hv.exec(ids['ids']!, 'ip link set eth0 up; (hv-sniff -c 200 > /tmp/sniff 2>&1 &)');
    await sleep(300);
    const webIp = hv.vm(ids['web']!).ip!;
    expect((await hv.exec(ids['router']!, `ping -c 3 -W 2 ${webIp}`, 20_000)).status).toBe(0);
    await sleep(300);
    const seen = (await hv.exec(ids['ids']!, 'killall hv-sniff; cat /tmp/sniff')).output;
    const routerIp = hv.networkView(0).ports.find((p) => p.vm === 'router')!.trunk[0]!.ip!;
    const requests = seen.split('\n').filter((l) => l.startsWith('in ') && l.includes(`IPv4 ${routerIp} > ${webIp}: ICMP echo request`));
    const replies = seen.split('\n').filter((l) => l.startsWith('in ') && l.includes(`IPv4 ${webIp} > ${routerIp}: ICMP echo reply`));
    expect(requests.length, seen).toBe(3);
    expect(replies.length, seen).toBe(3);
    // Stopped, ids's port is gone and the mirror waits; started again, it copies again.
    await hv.stop(ids['ids']!);
    expect(hv.mirrors()[0]!.active).toBe(false);
    await hv.start(ids['ids']!);
    expect(hv.mirrors()[0]!.active).toBe(true);
    hv.removeMirror('span');
    expect(hv.mirrors()).toEqual([]);
  });

  it('refuses a trunk or a mirror that cannot work, with a clear error', () => {
    expect(() => hv.createVm({ name: 'bad1', memoryMiB: 80, network: 'lan', trunk: ['lan'] })).toThrow(/network lan is the port's own \(untagged\) network/);
    expect(() => hv.createVm({ name: 'bad2', memoryMiB: 80, network: 'lan', trunk: ['nowhere'] })).toThrow(/there is no network named nowhere/);
    expect(() => hv.createVm({ name: 'bad3', memoryMiB: 80, trunk: ['dmz'] })).toThrow(/on no network: a trunk needs its own network first/);
    expect(() => hv.createVm({ name: 'bad4', memoryMiB: 80, network: 'lan', trunk: ['dmz', 'dmz'] })).toThrow(/listed twice/);
    expect(() => hv.deleteNetwork('dmz')).toThrow(/in use by router, web/);
    expect(() => hv.addMirror({ name: 'loop', from: { vm: 'web' }, to: 'web' })).toThrow(/copy web's port to itself/);
    expect(() => hv.addMirror({ name: 'm', from: { vm: 'nobody' }, to: 'ids' })).toThrow(/nobody/);
    expect(() => hv.addMirror({ name: 'm', from: { network: 'nowhere' }, to: 'ids' })).toThrow(/there is no network named nowhere/);
    hv.addMirror({ name: 'all-dmz', from: { network: 'dmz' }, to: 'ids' });
    expect(() => hv.addMirror({ name: 'all-dmz', from: { network: 'dmz' }, to: 'router' })).toThrow(/a mirror named all-dmz already exists/);
    expect(() => hv.removeMirror('none')).toThrow(/there is no mirror named none/);
    expect(hv.vms().map((v) => v.name).sort()).toEqual(['ids', 'router', 'web']);
  });

  it('drops a mirror with the guest it copies to', async () => {
    await hv.destroy(ids['ids']!);
    expect(hv.mirrors()).toEqual([]);
  });
});

describe('a jumbo-frame network (real guests)', () => {
  let hv: Hypervisor;
  const ids: Record<string, string> = {};

  beforeAll(async () => {
    hv = nodeHypervisor({ pcpus: 2, memoryMiB: 512 }, 0);
    hv.createNetwork({ name: 'jumbo', vlan: 30, mtu: 9000 });
    hv.createNetwork({ name: 'plain', vlan: 40 });
    for (const [name, network] of [['j1', 'jumbo'], ['j2', 'jumbo'], ['p1', 'plain']] as const) {
      ids[name] = hv.createVm({ name, memoryMiB: 80, boot: 'clone', network }).id;
      await hv.start(ids[name]!);
    }
  }, 180_000);
  afterAll(async () => {
    await hv?.dispose();
  });

  it("gives its guests' NICs its MTU at boot and carries 9000-byte packets unfragmented", async () => {
    expect(hv.networkView(0).networks.find((n) => n.name === 'jumbo')!.mtu).toBe(9000);
    expect((await hv.exec(ids['j1']!, 'cat /sys/class/net/eth0/mtu')).output.trim()).toBe('9000');
    expect((await hv.exec(ids['p1']!, 'cat /sys/class/net/eth0/mtu')).output.trim()).toBe('1500');
    for (const [i, id] of [ids['j1']!, ids['j2']!].entries()) await hv.exec(id, `ip addr add 10.30.0.${i + 1}/24 dev eth0 && ip link set eth0 up`);
    // 8972 bytes of ICMP payload + 28 of headers = one 9000-byte packet; busybox ping sets no DF, so the frames' count says it went whole.
    const before = hv.nicCounters(ids['j2']!)!.txFrames;
    const ping = await hv.exec(ids['j1']!, 'ping -c 3 -s 8972 -W 2 10.30.0.2', 30_000);
    expect(ping.status, ping.output).toBe(0);
    expect(ping.output).toContain('8980 bytes from 10.30.0.2');
    const frames = hv.nicCounters(ids['j2']!)!.txFrames - before;
    expect(frames).toBeGreaterThanOrEqual(3);
    expect(frames).toBeLessThan(6); // whole frames (and an ARP), not 7 fragments per packet
    expect(hv.nicCounters(ids['j1']!)!.drops.oversized).toBe(0);
  });

  it('moves hv-tcp data between its guests, every byte checked', async () => {
    const { got } = await hvTcp(hv, ids['j1']!, ids['j2']!, '10.30.0.2', 5005);
    expect(got).toMatch(/^HV-TCP received bytes=8388608 ms=\d+ mbps=[\d.]+ pattern=ok$/m);
    // Full-size segments: about 9000 bytes each, not 1500.
    const rx = hv.nicCounters(ids['j2']!)!;
    expect(rx.txBytes / rx.txFrames).toBeGreaterThan(3000);
  });

  it('refuses a snapshot of a jumbo guest for a VM on a 1500-byte network, saying why', async () => {
    const snap = await hv.takeSnapshot(ids['j1']!, 'big');
    const file = hv.exportSnapshot(snap.id);
    expect(() => hv.importSnapshot(file, 'p1')).toThrow(/its NIC has an MTU of 9000, the VM's network 1500/);
  });
});

/** hv-tcp sends 8 MiB from guest `from` to guest `to` (listening at `ip`:`port`): what each side printed. */
async function hvTcp(hv: Hypervisor, from: string, to: string, ip: string, port: number): Promise<{ sent: string; got: string }> {
  await hv.exec(to, `(hv-tcp recv ${port} > /tmp/tcp 2>&1) > /dev/null 2>&1 &`);
  let sent = '';
  for (let i = 0; i < 20 && (i === 0 || sent.includes('cannot connect')); i++) {
    if (i > 0) await sleep(100); // refused until the receiver listens
    sent = (await hv.exec(from, `hv-tcp send ${ip} ${port} 8`, 120_000)).output;
  }
  let got = '';
  for (let i = 0; i < 50 && !got.includes('HV-TCP'); i++) {
    got = (await hv.exec(to, 'cat /tmp/tcp')).output;
    if (!got.includes('HV-TCP')) await sleep(200);
  }
  return { sent, got };
}
