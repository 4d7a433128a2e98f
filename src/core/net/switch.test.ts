import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock.ts';
import { macText, parseMac, pushTag, readMac, tagOf } from './ethernet.ts';
import { VirtualSwitch, type PortConfig, type SwitchResult } from './switch.ts';

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const C = '02:00:00:00:00:0c';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const MCAST = '01:00:5e:00:00:01';

/** An untagged frame (IPv4 ethertype) of `size` bytes, or tagged with `vlan`. */
function frame(dst: string, src: string, options: { vlan?: number; size?: number } = {}): Uint8Array {
  const f = new Uint8Array(options.size ?? 60);
  f.set(macBytes(dst), 0);
  f.set(macBytes(src), 6);
  f[12] = 0x08;
  f[13] = 0x00;
  return options.vlan === undefined ? f : pushTag(f, options.vlan);
}

function macBytes(text: string): number[] {
  return text.split(':').map((h) => parseInt(h, 16));
}

const access = (vlan: number): PortConfig => ({ vlan: { mode: 'access', vlan }, rateLimit: null });
const trunk = (allowed: number[] | 'all', native: number | null = null): PortConfig => ({ vlan: { mode: 'trunk', allowed, native }, rateLimit: null });

function ports(r: SwitchResult): string[] {
  return r.deliveries.map((d) => d.port).sort();
}

function switchWith(config: Record<string, PortConfig>, clock = new FakeClock(0)): VirtualSwitch {
  const sw = new VirtualSwitch(clock, { agingMs: 300_000 });
  for (const [id, c] of Object.entries(config)) sw.addPort(id, c);
  return sw;
}

describe('Ethernet helpers', () => {
  it('reads, prints and parses addresses; tags and untags', () => {
    const f = frame(B, A);
    expect(macText(readMac(f, 0))).toBe(B);
    expect(parseMac('02-00-00-00-00-0A')).toBe(readMac(f, 6));
    expect(parseMac('02:00:00:00:00')).toBeNull();
    const t = pushTag(f, 20);
    expect(t.length).toBe(f.length + 4);
    expect(tagOf(t)).toBe(20);
    expect(tagOf(f)).toBeNull();
  });
});

describe('VirtualSwitch: learning and flooding', () => {
  it('floods unknown unicast in the VLAN, then forwards to the learnt port only', () => {
    const sw = switchWith({ p1: access(10), p2: access(10), p3: access(10), p4: access(20) });
    expect(ports(sw.receive('p1', frame(B, A)))).toEqual(['p2', 'p3']);
    expect(ports(sw.receive('p2', frame(A, B)))).toEqual(['p1']);
    expect(ports(sw.receive('p1', frame(B, A)))).toEqual(['p2']);
    expect(sw.macTable().map((e) => [e.mac, e.vlan, e.port]).sort()).toEqual([
      [A, 10, 'p1'],
      [B, 10, 'p2'],
    ]);
  });

  it.each([
    ['broadcast', BCAST],
    ['multicast', MCAST],
  ])('floods %s to every other port of the VLAN', (_, dst) => {
    const sw = switchWith({ p1: access(10), p2: access(10), p3: access(20), t: trunk([10, 20]) });
    const r = sw.receive('p1', frame(dst, A));
    expect(ports(r)).toEqual(['p2', 't']);
    expect(tagOf(r.deliveries.find((d) => d.port === 't')!.frame)).toBe(10);
    expect(tagOf(r.deliveries.find((d) => d.port === 'p2')!.frame)).toBeNull();
  });

  it('forgets an address after the aging time, and floods again', () => {
    const clock = new FakeClock(0);
    const sw = switchWith({ p1: access(1), p2: access(1), p3: access(1) }, clock);
    sw.receive('p2', frame(A, B));
    clock.advance(299_999);
    expect(ports(sw.receive('p1', frame(B, A)))).toEqual(['p2']);
    expect(sw.macTable().find((e) => e.mac === B)?.ageMs).toBe(299_999);
    clock.advance(1);
    expect(ports(sw.receive('p1', frame(B, A)))).toEqual(['p2', 'p3']);
    expect(sw.expire()).toBe(1); // B; A was refreshed just now
    expect(sw.macTable().map((e) => e.mac)).toEqual([A]);
  });

  it('follows an address that moves to another port', () => {
    const sw = switchWith({ p1: access(1), p2: access(1), p3: access(1) });
    sw.receive('p2', frame(A, B));
    sw.receive('p3', frame(A, B));
    expect(ports(sw.receive('p1', frame(B, A)))).toEqual(['p3']);
  });

  it('keeps the table within its bound, dropping the idlest address', () => {
    const clock = new FakeClock(0);
    const sw = new VirtualSwitch(clock, { maxMacs: 2 });
    for (const p of ['p1', 'p2', 'p3', 'p4']) sw.addPort(p, access(1));
    sw.receive('p1', frame(BCAST, A));
    clock.advance(1);
    sw.receive('p2', frame(BCAST, B));
    clock.advance(1);
    sw.receive('p1', frame(BCAST, A)); // A is fresher than B now
    sw.receive('p3', frame(BCAST, C));
    expect(sw.macTable().map((e) => e.mac).sort()).toEqual([A, C]);
  });

  it('learns per VLAN: one address on two VLANs is two entries', () => {
    const sw = switchWith({ t1: trunk([10, 20]), t2: trunk([10, 20]) });
    sw.receive('t1', frame(BCAST, A, { vlan: 10 }));
    sw.receive('t2', frame(BCAST, A, { vlan: 20 }));
    expect(sw.macTable().map((e) => `${e.vlan}@${e.port}`).sort()).toEqual(['10@t1', '20@t2']);
  });
});

describe('VirtualSwitch: VLANs', () => {
  it('never lets VLAN 20 see VLAN 10, even for a learnt address', () => {
    const sw = switchWith({ a: access(10), b: access(10), c: access(20) });
    sw.receive('c', frame(BCAST, C));
    expect(ports(sw.receive('a', frame(C, A)))).toEqual(['b']); // C is unknown in VLAN 10: flooded there only
    expect(ports(sw.receive('a', frame(BCAST, A)))).toEqual(['b']);
    expect(ports(sw.receive('c', frame(BCAST, C)))).toEqual([]);
  });

  it.each<[string, PortConfig, { vlan?: number }, string | null, number | null]>([
    // port config, frame tag, expected drop reason, VLAN it is forwarded in
    ['access takes untagged', access(10), {}, null, 10],
    ['access takes a priority tag', access(10), { vlan: 0 }, null, 10],
    ['access drops a VLAN tag', access(10), { vlan: 10 }, 'tagged-on-access', null],
    ['trunk takes an allowed tag', trunk([10, 20]), { vlan: 20 }, null, 20],
    ['trunk drops a tag it does not allow', trunk([10]), { vlan: 30 }, 'vlan-not-allowed', null],
    ['trunk "all" takes any tag', trunk('all'), { vlan: 4094 }, null, 4094],
    ['trunk puts untagged frames in its native VLAN', trunk([20], 10), {}, null, 10],
    ['trunk without native VLAN drops untagged frames', trunk([20]), {}, 'untagged-on-trunk', null],
  ])('ingress: %s', (_, config, tag, dropped, vlan) => {
    const sw = switchWith({ in: config, all: trunk('all') });
    const r = sw.receive('in', frame(BCAST, A, tag));
    expect(r.dropped).toBe(dropped);
    if (vlan === null) {
      expect(r.deliveries).toEqual([]);
      expect(sw.counters('in').drops[dropped as 'tagged-on-access']).toBe(1);
    } else {
      expect(tagOf(r.deliveries[0]!.frame)).toBe(vlan);
    }
  });

  it('egress: untagged on access ports and a trunk\'s native VLAN, tagged on other trunks; payload intact', () => {
    const sw = switchWith({ src: trunk([10], 10), acc: access(10), nat: trunk([10, 20], 10), tag: trunk([10]) });
    const sent = frame(BCAST, A, { size: 100 });
    sent[99] = 0x5a;
    const r = sw.receive('src', sent);
    const by = Object.fromEntries(r.deliveries.map((d) => [d.port, d.frame]));
    expect(tagOf(by['acc']!)).toBeNull();
    expect(tagOf(by['nat']!)).toBeNull();
    expect(tagOf(by['tag']!)).toBe(10);
    expect(by['tag']!.length).toBe(104);
    expect(by['tag']![103]).toBe(0x5a);
    expect(by['acc']).toEqual(sent);
  });

  it('forgets what a port learnt on a VLAN it no longer carries', () => {
    const sw = switchWith({ a: access(10), b: access(10) });
    sw.receive('b', frame(BCAST, B));
    sw.setPort('b', access(20));
    expect(sw.macTable()).toEqual([]);
    expect(ports(sw.receive('a', frame(B, A)))).toEqual([]);
  });
});

describe('VirtualSwitch: mirrors, limits, bad frames, counters', () => {
  it('copies a port\'s received and sent frames to a capture, and a VLAN\'s to a port', () => {
    const sw = switchWith({ a: access(10), b: access(10), spy: access(99) });
    sw.addMirror({ id: 'cap', source: { port: 'b', direction: 'both' }, output: { capture: 'c1' } });
    sw.addMirror({ id: 'span', source: { vlan: 10 }, output: { port: 'spy' } });
    const r = sw.receive('a', frame(BCAST, A));
    expect(ports(r)).toEqual(['b', 'spy']);
    expect(r.captured.map((m) => [m.mirror, m.at, m.direction])).toEqual([['cap', 'b', 'tx']]);
    const back = sw.receive('b', frame(A, B));
    expect(back.captured.map((m) => [m.at, m.direction])).toEqual([['b', 'rx']]);
    expect(ports(back)).toEqual(['a', 'spy']);
    expect(() => sw.addMirror({ id: 'self', source: { port: 'spy', direction: 'rx' }, output: { port: 'spy' } })).toThrow(/to itself/);
    sw.removePort('b');
    expect(sw.receive('a', frame(BCAST, A)).captured).toEqual([]);
  });

  it('polices ingress with a token bucket: the burst passes, then the rate', () => {
    const clock = new FakeClock(0);
    // 1000 kbit/s = 125 bytes per ms; a burst of 8 kbit = 1000 bytes.
    const sw = switchWith({ a: { vlan: { mode: 'access', vlan: 1 }, rateLimit: { rateKbps: 1000, burstKb: 8 } }, b: access(1) }, clock);
    const passed = (n: number): number => Array.from({ length: n }, () => sw.receive('a', frame(BCAST, A, { size: 250 }))).filter((r) => r.dropped === null).length;
    expect(passed(10)).toBe(4);
    clock.advance(10); // 1250 bytes of tokens, capped at the 1000-byte bucket
    expect(passed(10)).toBe(4);
    clock.advance(2); // 250 bytes
    expect(passed(2)).toBe(1);
    expect(sw.counters('a').drops['rate-limit']).toBe(13);
    expect(sw.counters('b').txFrames).toBe(9);
  });

  it.each([
    ['shorter than a header', new Uint8Array(13), 'malformed'],
    ['a tag and no room for it', frame(BCAST, A, { vlan: 5 }).subarray(0, 16), 'malformed'],
    ['larger than 1514 bytes untagged', frame(BCAST, A, { size: 1515 }), 'oversized'],
    ['from a group address', frame(BCAST, MCAST), 'bad-source'],
  ])('counts and drops a frame %s, without throwing', (_, f, reason) => {
    const sw = switchWith({ a: trunk('all', 1), b: access(1) });
    const r = sw.receive('a', f);
    expect(r).toEqual({ deliveries: [], captured: [], dropped: reason });
    expect(sw.counters('a').drops[reason as 'malformed']).toBe(1);
    expect(sw.counters('a').rxFrames).toBe(1);
    expect(sw.macTable()).toEqual([]);
  });

  it('passes a full-size tagged frame (1518 bytes)', () => {
    const sw = switchWith({ a: trunk('all'), b: trunk('all') });
    expect(sw.receive('a', frame(BCAST, A, { size: 1514, vlan: 7 })).dropped).toBeNull();
  });

  it("takes frames up to its port's MTU: jumbo frames on a 9000-byte port, not on a 1500-byte one", () => {
    const sw = switchWith({ a: { ...access(1), mtu: 9000 }, b: { ...access(1), mtu: 9000 }, c: access(1), t: { ...trunk('all'), mtu: 9000 } });
    expect(sw.receive('a', frame(BCAST, A, { size: 9014 })).dropped).toBeNull();
    expect(sw.receive('a', frame(BCAST, A, { size: 9015 })).dropped).toBe('oversized');
    expect(sw.receive('t', frame(BCAST, B, { size: 9014, vlan: 1 })).dropped).toBeNull(); // 9018 with its tag
    expect(sw.receive('c', frame(BCAST, C, { size: 1515 })).dropped).toBe('oversized');
    expect(sw.counters('a').drops.oversized).toBe(1);
    for (const mtu of [1279, 9001, 1500.5]) expect(() => sw.addPort(`x${mtu}`, { ...access(1), mtu })).toThrow(`MTU ${mtu} is not valid (use 1280-9000)`);
  });

  it('counts frames and bytes each way, and a frame for its own port', () => {
    const sw = switchWith({ a: access(1), b: access(1) });
    sw.receive('a', frame(BCAST, A, { size: 100 }));
    sw.receive('b', frame(BCAST, B, { size: 60 }));
    expect(sw.receive('b', frame(B, A)).dropped).toBe('same-port');
    expect(sw.counters('a')).toMatchObject({ rxFrames: 1, rxBytes: 100, txFrames: 1, txBytes: 60 });
    expect(sw.counters('b')).toMatchObject({ rxFrames: 2, rxBytes: 120, txFrames: 1, txBytes: 100 });
    expect(sw.counters('b').drops['same-port']).toBe(1);
  });

  it('frees a removed port\'s addresses; a frame from it is refused', () => {
    const sw = switchWith({ a: access(1), b: access(1) });
    sw.receive('b', frame(BCAST, B));
    sw.removePort('b');
    expect(sw.macTable()).toEqual([]);
    expect(sw.receive('b', frame(BCAST, B)).dropped).toBe('no-port');
  });

  it.each<[string, () => void]>([
    ['VLAN 0 on an access port', () => switchWith({ a: access(0) })],
    ['VLAN 4095', () => switchWith({ a: trunk([4095]) })],
    ['a rate of 0', () => switchWith({ a: { vlan: { mode: 'access', vlan: 1 }, rateLimit: { rateKbps: 0, burstKb: 8 } } })],
    ['the same port twice', () => switchWith({ a: access(1) }).addPort('a', access(1))],
  ])('refuses %s with a clear error', (_, make) => {
    expect(make).toThrow(RangeError);
  });
});
