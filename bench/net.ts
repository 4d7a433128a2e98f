// Net section: the virtual switch's decisions per second (src/core/net, pure):
// known unicast between learnt guests, and broadcasts flooded in a VLAN, on
// a switch of 16 access ports in two VLANs and a trunk. Then two real guests
// (P=2) on one network: ping round trips in Node and in Chromium (and, in
// Node, from a guest to the network's gateway, which the host answers); TCP
// throughput, 64 MiB timed in the receiving guest with hv-tcp (64 KiB writes
// and reads, every byte checked), in Node on MTU 1500 and on a jumbo network
// (MTU 9000) and in Chromium on MTU 1500, and through busybox nc (checked by
// md5 on both sides, Node); and
// 100 Mbit/s (then 1 Gbit/s, beyond what a guest takes) of UDP
// offered to a guest by the host: where every frame went (the guest's
// interface, or a drop with its reason).
import { performance } from 'node:perf_hooks';
import { percentile } from '../src/core/metrics.ts';
import { pushTag } from '../src/core/net/ethernet.ts';
import { VirtualSwitch } from '../src/core/net/switch.ts';
import type { Hypervisor } from '../src/host/hypervisor.ts';
import { nodeHypervisor } from '../src/host/node-hypervisor.ts';
import { launchChromium } from '../test/e2e/browser.ts';
import { RX_QUEUE_FRAMES } from '../workers/nic.ts';
import { openLabPageIn } from '../test/e2e/lab-page.ts';
import { serveStatic } from '../test/e2e/static-server.ts';
import { buildTestSite, TEST_SITE_DIR } from '../test/e2e/test-site.ts';
import { targetRow, type BenchRow } from './table.ts';

const S = 'net';
const PORTS = 16;

function frame(dst: number, src: number, size = 64): Uint8Array {
  const f = new Uint8Array(size);
  for (let i = 0; i < 6; i++) {
    f[i] = Math.floor(dst / 2 ** (8 * (5 - i))) % 256;
    f[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) % 256;
  }
  f[12] = 0x08;
  return f;
}

/** Decisions per second of `frames` sent round-robin from their ports, over about `ms`. */
function rate(sw: VirtualSwitch, frames: { port: string; frame: Uint8Array }[], ms: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 10_000; i++) {
      const f = frames[i % frames.length]!;
      sw.receive(f.port, f.frame);
    }
    n += 10_000;
    t = performance.now();
  }
  return n / ((t - t0) / 1000);
}

/** Ping round trips from the first guest to `to` (after a warm-up), sorted, ms. */
async function pingRtts(exec: (cmd: string, timeoutMs: number) => Promise<{ output: string }>, to = '10.0.0.2'): Promise<number[]> {
  await exec(`ping -c 5 -i 0.2 ${to}`, 30_000); // ARP, warm code
  const ping = await exec(`ping -c 100 -i 0.1 ${to}`, 60_000);
  return [...ping.output.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((x, y) => x - y);
}

function rttRows(where: string, target: number, rtts: number[]): BenchRow[] {
  return [
    targetRow(S, `ping RTT p50 between two guests (${where}, P=2)`, percentile(rtts, 50), 'ms', '<=', target, `${rtts.length} of 100 answered; min ${rtts[0]} ms`),
    { section: S, metric: `ping RTT p99 between two guests (${where}, P=2)`, value: percentile(rtts, 99), unit: 'ms' },
  ];
}

/** The same two guests in Chromium, through the page's hypervisor (the test site): ping RTT and TCP throughput. */
async function browserRows(): Promise<BenchRow[]> {
  buildTestSite();
  const server = await serveStatic(TEST_SITE_DIR, '/lab/');
  const lab = await openLabPageIn(await launchChromium(), server.url);
  try {
    await lab.page.evaluate(async () => {
      const { hv } = (window.__hvDashboard! as unknown as { dash: { hv: PageHv } }).dash;
      await hv.setHost({ pcpus: 2 });
      await hv.createNetwork({ name: 'bench', vlan: 10 });
      for (const [i, name] of ['net1', 'net2'].entries()) {
        const { id } = await hv.createVm({ name, memoryMiB: 80, boot: 'clone', network: 'bench' });
        await hv.start(id);
        await hv.exec(id, `ip addr add 10.0.0.${i + 1}/24 dev eth0 && ip link set eth0 up`);
      }
    });
    const exec: Exec = (name, cmd, ms) =>
      lab.page.evaluate(
        async ([n, c, t]) => {
          const { dash } = window.__hvDashboard! as unknown as { dash: { vms: { id: string; name: string }[]; hv: PageHv } };
          return dash.hv.exec(dash.vms.find((v) => v.name === n)!.id, c, t);
        },
        [name, cmd, ms] as const,
      );
    const rtts = await pingRtts((cmd, ms) => exec('net1', cmd, ms));
    // V8 in Chromium takes longer than Node's to compile the hot code (see bench ui's warm-up): three warm-up transfers.
    const tcp = await hvTcpSeries(exec, 'net1', 'net2', '10.0.0.2', 3);
    return [...rttRows('Chromium', 2, rtts), ...tcpRows('Chromium', 'MTU 1500', 200, tcp.first, tcp.mbps, tcp.ok, '')];
  } finally {
    await lab.close();
    await server.close();
  }
}

/** What the bench calls on the page's hypervisor (a structural subset of HostApi). */
interface PageHv {
  setHost(c: object): Promise<unknown>;
  createNetwork(s: object): Promise<unknown>;
  createVm(s: object): Promise<{ id: string }>;
  start(id: string): Promise<void>;
  exec(id: string, cmd: string, timeoutMs?: number): Promise<{ output: string; status: number }>;
}

/** Two clones on one network (Node, P=2): ping RTT and TCP throughput between them. */
async function guestRows(): Promise<BenchRow[]> {
  const hv = nodeHypervisor({ pcpus: 2, memoryMiB: 512 }, 2);
  try {
    const [a, b] = await pairOn(hv, { name: 'bench', vlan: 10 }, 0, ['net1', 'net2']);
    const rtt = await pingRtts((cmd, ms) => hv.exec(a, cmd, ms));
    // The same pings to the network's gateway, which the hypervisor's thread
    // answers at once: one guest's part of a round trip, without a second guest's.
    const net = hv.networks().find((n) => n.name === 'bench')!;
    const prefix = net.subnet.split('/')[1]!;
    await hv.exec(a, `ip addr add ${net.gateway.replace(/\.\d+$/, '.50')}/${prefix} dev eth0`);
    const gw = await pingRtts((cmd, ms) => hv.exec(a, cmd, ms), net.gateway);
    const tcpRows = await hvTcpRows(hv, a, b, '10.0.0.2', 'MTU 1500', 200);
    // The same on a network of jumbo frames (its guests' NICs take MTU 9000 at boot).
    const jumbo = await pairOn(hv, { name: 'jumbo', vlan: 20, mtu: 9000 }, 1, ['jumbo1', 'jumbo2']);
    tcpRows.push(...(await hvTcpRows(hv, jumbo[0], jumbo[1], '10.0.1.2', 'MTU 9000', null)));
    for (const id of jumbo) await hv.destroy(id);
    // The same path through busybox nc (a few KiB per write, a poll each) and md5sum on both sides.
    await hv.exec(b, '(nc -l -p 5001 | md5sum > /tmp/got) > /dev/null 2>&1 &');
    const send = await hv.exec(
      a,
      'u() { read t _ < /proc/uptime; echo $t; }; t0=$(u); dd if=/dev/zero bs=65536 count=1024 2>/dev/null | nc 10.0.0.2 5001; t1=$(u); echo $t0 $t1 $(dd if=/dev/zero bs=65536 count=1024 2>/dev/null | md5sum)',
      300_000,
    );
    const [t0, t1, sentMd5] = send.output.trim().split(/\s+/);
    let got = '';
    for (let i = 0; i < 50 && !got; i++) {
      got = (await hv.exec(b, 'cat /tmp/got 2>/dev/null')).output.trim().split(/\s+/)[0] ?? '';
      if (!got) await new Promise((r) => setTimeout(r, 200));
    }
    const seconds = Number(t1) - Number(t0);
    const counters = hv.nicCounters(b)!;
    return [
      ...rttRows('Node', 1, rtt),
      {
        section: S,
        metric: "ping RTT p50 from a guest to its network's gateway (Node, P=2)",
        value: percentile(gw, 50),
        unit: 'ms',
        note: `${gw.length} of 100 answered; min ${gw[0]} ms; the hypervisor's thread answers at once: one guest's part of a round trip`,
      },
      ...(await loadRows(hv, b, 100, 3000)),
      ...(await loadRows(hv, b, 1000, 2000)),
      ...tcpRows,
      { section: S, metric: 'TCP throughput guest to guest, 64 MiB (busybox nc, Node, P=2)', value: (64 * 8 * 1.048576) / seconds, unit: 'Mbit/s', note: `${seconds.toFixed(2)} s in the guest; md5 ${sentMd5 === got ? 'equal on both sides' : `DIFFERS (${sentMd5} / ${got})`}; receiver's port: ${counters.txFrames} frames in all, ${counters.guestDrops['guest-rx-full']} dropped by its full receive queue` },
    ];
  } finally {
    await hv.dispose();
  }
}

/**
 * hv-tcp (64 KiB writes and reads, every byte checked) from a to b at `to`: a
 * first transfer while v86 still compiles the guests' network code, then
 * three timed; their median is the row (a target row when `target` is set).
 */
async function hvTcpRows(hv: Hypervisor, a: string, b: string, to: string, mtu: string, target: number | null): Promise<BenchRow[]> {
  const h0 = hv.now();
  const { first, mbps, ok } = await hvTcpSeries((id, cmd, ms) => hv.exec(id, cmd, ms), a, b, to);
  const [ws, wr] = [hv.history.summary(a, h0), hv.history.summary(b, h0)];
  const busy = `sender ${ws.sharePct.toFixed(0)} % of its pCPU at ${ws.mips.toFixed(0)} MIPS, receiver ${wr.sharePct.toFixed(0)} %`;
  return tcpRows('Node', mtu, target, first, mbps, ok, busy);
}

function tcpRows(where: string, mtu: string, target: number | null, first: number[], mbps: number[], ok: boolean, extra: string): BenchRow[] {
  const metric = `TCP throughput guest to guest, 64 MiB, ${mtu} (hv-tcp, ${where}, P=2), median of 3`;
  const warmUps = first.length === 1 ? 'one 64 MiB warm-up' : `${first.length} warm-up transfers of 64 MiB (${first.map((m) => m.toFixed(0)).join(' / ')} Mbit/s)`;
  const note = `after ${warmUps}; ${mbps.map((m) => m.toFixed(0)).join(' / ')} Mbit/s timed by the receiving guest, every byte checked (${ok ? 'all ok' : 'BAD PATTERN'})${extra ? `; ${extra}` : ''}`;
  return [
    target === null ? { section: S, metric, value: mbps[1]!, unit: 'Mbit/s', note } : targetRow(S, metric, mbps[1]!, 'Mbit/s', '>=', target, note),
    { section: S, metric: `TCP throughput guest to guest, first 64 MiB, ${mtu} (hv-tcp, ${where}, P=2)`, value: first[0]!, unit: 'Mbit/s', note: "the warm-up transfer: v86 compiles the guests' network code to wasm meanwhile" },
  ];
}

/** Runs a command in a guest (by id) and gives its output: the Node hypervisor's exec, or the page's. */
type Exec = (id: string, cmd: string, timeoutMs?: number) => Promise<{ output: string }>;

/** One hv-tcp transfer of 64 MiB from guest a to guest b (at `to`): the receiving guest's Mbit/s, and whether every byte was right. */
async function hvTcp(exec: Exec, a: string, b: string, to: string): Promise<{ mbps: number; ok: boolean }> {
  await exec(b, '(hv-tcp recv 5002 > /tmp/tcp 2>&1) > /dev/null 2>&1 &');
  let sent = '';
  for (let i = 0; i < 20 && (i === 0 || sent.includes('cannot connect')); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100)); // refused until the receiver listens
    sent = (await exec(a, `hv-tcp send ${to} 5002 64`, 120_000)).output;
  }
  for (let i = 0; i < 50; i++) {
    const line = (await exec(b, 'cat /tmp/tcp')).output;
    const m = /HV-TCP received bytes=(\d+) ms=\d+ mbps=([\d.]+) pattern=(\S+)/.exec(line);
    if (m) return { mbps: Number(m[2]), ok: m[1] === String(64 * 2 ** 20) && m[3] === 'ok' };
    if (line.includes('error')) throw new Error(`hv-tcp: ${line.trim()}`);
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`hv-tcp: the receiver printed no result (sender: ${sent.trim()})`);
}

/**
 * hv-tcp transfers while v86 and V8 still compile the network code (`warmUps`
 * of them, Mbit/s in order), then three timed, sorted by Mbit/s.
 */
async function hvTcpSeries(exec: Exec, a: string, b: string, to: string, warmUps = 1): Promise<{ first: number[]; mbps: number[]; ok: boolean }> {
  const first: { mbps: number; ok: boolean }[] = [];
  for (let i = 0; i < warmUps; i++) first.push(await hvTcp(exec, a, b, to));
  const warm = [await hvTcp(exec, a, b, to), await hvTcp(exec, a, b, to), await hvTcp(exec, a, b, to)];
  return { first: first.map((t) => t.mbps), mbps: warm.map((t) => t.mbps).sort((x, y) => x - y), ok: [...first, ...warm].every((t) => t.ok) };
}

/** A new network and two clones on it at 10.0.`net`.1 and .2. */
async function pairOn(hv: Hypervisor, network: { name: string; vlan: number; mtu?: number }, net: number, names: [string, string]): Promise<[string, string]> {
  hv.createNetwork(network);
  const ids: string[] = [];
  for (const [i, name] of names.entries()) {
    const id = hv.createVm({ name, memoryMiB: 80, boot: 'clone', network: network.name }).id;
    await hv.start(id);
    await hv.exec(id, `ip addr add 10.0.${net}.${i + 1}/24 dev eth0 && ip link set eth0 up`);
    ids.push(id);
  }
  return ids as [string, string];
}

/** eth0's received frames and the kernel's receive drops, from the guest's /proc/net/dev. */
async function guestRx(hv: Hypervisor, id: string): Promise<{ packets: number; dropped: number }> {
  const line = (await hv.exec(id, 'grep eth0: /proc/net/dev')).output;
  const f = line.split(':')[1]?.trim().split(/\s+/).map(Number) ?? [];
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) throw new Error(`cannot read eth0's counters from /proc/net/dev: ${line}`);
  return { packets: f[1]!, dropped: f[3]! };
}

/**
 * The host offers `mbps` of 1514-byte UDP frames to guest `id` for `ms`
 * (Hypervisor.offerLoad): what reached the guest's interface, what was
 * dropped and why, and what is not accounted for (the target: nothing).
 */
async function loadRows(hv: Hypervisor, id: string, mbps: number, ms: number): Promise<BenchRow[]> {
  const lease = await hv.exec(id, 'udhcpc -i eth0 -n -q -t 5 -T 1 >/dev/null 2>&1', 30_000);
  if (lease.status !== 0) throw new Error(`the guest took no DHCP lease: ${lease.output}`);
  const [rx0, c0] = [await guestRx(hv, id), hv.nicCounters(id)!];
  const load = await hv.offerLoad(id, { mbps, ms });
  await new Promise((r) => setTimeout(r, 1000)); // the worker's queue drains
  const [rx1, c1] = [await guestRx(hv, id), hv.nicCounters(id)!];
  const toPort = c1.txFrames - c0.txFrames;
  const got = rx1.packets - rx0.packets;
  const queueFull = c1.guestDrops['guest-rx-full'] - c0.guestDrops['guest-rx-full'];
  const kernel = rx1.dropped - rx0.dropped;
  const switchDrops = Object.values(c1.drops).reduce((a, b) => a + b, 0) - Object.values(c0.drops).reduce((a, b) => a + b, 0);
  // Frames the switch sent to the port (the load and any other) end in the guest's counters or as a counted drop.
  const unaccounted = toPort - got - queueFull;
  const dropped = queueFull + kernel;
  return [
    {
      section: S,
      metric: `frames dropped at ${mbps} Mbit/s offered load (UDP from the host, Node)`,
      value: (100 * dropped) / Math.max(1, load.frames),
      unit: '%',
      note: `offered ${load.frames} frames (${load.mbps.toFixed(1)} Mbit/s over ${(load.ms / 1000).toFixed(1)} s); reached the guest ${got} (${((got * 1514 * 8) / load.ms / 1000).toFixed(1)} Mbit/s); dropped: ${queueFull} guest-rx-full (its worker's queue of ${RX_QUEUE_FRAMES}), ${kernel} by the guest kernel, ${switchDrops} at the switch`,
    },
    targetRow(S, `frames lost without a counted reason at ${mbps} Mbit/s offered load`, unaccounted, 'frames', '<=', 0, `the switch sent ${toPort} to the port; the guest counted ${got}; its worker dropped ${queueFull} (counted)`),
  ];
}

export async function benchNet(): Promise<BenchRow[]> {
  const sw = new VirtualSwitch({ now: () => performance.now() });
  const macs: number[] = [];
  for (let i = 0; i < PORTS; i++) {
    sw.addPort(`p${i}`, { vlan: { mode: 'access', vlan: i % 2 ? 20 : 10 }, rateLimit: null });
    macs.push(0x02_00_00_00_00_00 + i + 1);
  }
  sw.addPort('trunk', { vlan: { mode: 'trunk', allowed: [10, 20], native: null }, rateLimit: null });
  // Every guest speaks once: all addresses learnt.
  for (let i = 0; i < PORTS; i++) sw.receive(`p${i}`, frame(0xffff_ffff_ffff, macs[i]!));
  const unicast = Array.from({ length: PORTS }, (_, i) => ({ port: `p${i}`, frame: frame(macs[(i + 2) % PORTS]!, macs[i]!) }));
  const broadcast = Array.from({ length: PORTS }, (_, i) => ({ port: `p${i}`, frame: frame(0xffff_ffff_ffff, macs[i]!) }));
  const tagged = Array.from({ length: PORTS }, (_, i) => ({ port: 'trunk', frame: pushTag(frame(macs[i]!, 0x02_00_00_00_01_00), i % 2 ? 20 : 10) }));
  rate(sw, unicast, 300); // warm-up: V8 compiles the hot path
  const u = rate(sw, unicast, 1000);
  const b = rate(sw, broadcast, 1000);
  const t = rate(sw, tagged, 1000);
  return [
    ...(await guestRows()),
    ...(await browserRows()),
    targetRow(S, 'switch decisions per second, known unicast (access to access)', u, '/s', '>=', 1e6, `${PORTS} access ports in VLANs 10 and 20, a trunk; 64-byte frames`),
    { section: S, metric: 'switch decisions per second, broadcast flooded in a VLAN', value: b, unit: '/s', note: `each one ${PORTS / 2} copies (7 access ports and the trunk, tagged)` },
    { section: S, metric: 'switch decisions per second, tagged from the trunk to an access port', value: t, unit: '/s', note: 'the tag is taken off' },
  ];
}
