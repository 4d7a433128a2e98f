import { describe, expect, it } from 'vitest';
import { CaptureRing } from './capture.ts';
import { summarize } from './decode.ts';
import { pushTag } from './ethernet.ts';
import { readPcapng, writePcapng } from './pcapng.ts';
import { utf8Decode, utf8Encode } from './utf8.ts';

const MAC_A = [0x02, 0, 0, 0, 0, 0x0a];
const MAC_B = [0x02, 0, 0, 0, 0, 0x0b];
const BCAST = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff];

function eth(dst: number[], src: number[], type: number, payload: number[]): Uint8Array {
  return new Uint8Array([...dst, ...src, type >> 8, type & 0xff, ...payload]);
}

function ipv4(proto: number, src: number[], dst: number[], body: number[]): number[] {
  const total = 20 + body.length;
  return [0x45, 0, total >> 8, total & 0xff, 0, 0, 0, 0, 64, proto, 0, 0, ...src, ...dst, ...body];
}

/** The packet with IP id 0x1234 and these flags and fragment offset (8-byte units). */
function fragment(packet: number[], flagsOffset: number): number[] {
  packet.splice(4, 4, 0x12, 0x34, flagsOffset >> 8, flagsOffset & 0xff);
  return packet;
}

const A = [10, 0, 0, 1];
const B = [10, 0, 0, 2];

describe('frame summaries (tcpdump -n -e style)', () => {
  it.each<[string, Uint8Array, string]>([
    ['an ARP request', eth(BCAST, MAC_A, 0x0806, [0, 1, 8, 0, 6, 4, 0, 1, ...MAC_A, ...A, 0, 0, 0, 0, 0, 0, ...B]), '02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, ARP, Request who-has 10.0.0.2 tell 10.0.0.1'],
    ['an ARP reply', eth(MAC_A, MAC_B, 0x0806, [0, 1, 8, 0, 6, 4, 0, 2, ...MAC_B, ...B, ...MAC_A, ...A]), '02:00:00:00:00:0b > 02:00:00:00:00:0a, ARP, Reply 10.0.0.2 is-at 02:00:00:00:00:0b'],
    ['an ICMP echo request', eth(MAC_B, MAC_A, 0x0800, ipv4(1, A, B, [8, 0, 0, 0, 0, 7, 0, 3, 1, 2, 3, 4])), '02:00:00:00:00:0a > 02:00:00:00:00:0b, IPv4, 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 3, length 12'],
    [
      'a TCP SYN-ACK',
      eth(MAC_B, MAC_A, 0x0800, ipv4(6, A, B, [0x13, 0x89, 0x9c, 0x40, 0, 0, 0, 100, 0, 0, 0, 201, 0x50, 0x12, 0xff, 0xff, 0, 0, 0, 0])),
      '02:00:00:00:00:0a > 02:00:00:00:00:0b, IPv4, 10.0.0.1.5001 > 10.0.0.2.40000: Flags [S.], seq 100, ack 201, win 65535, length 0',
    ],
    [
      'a DNS query',
      eth(MAC_B, MAC_A, 0x0800, ipv4(17, A, B, [0x9c, 0x40, 0, 53, 0, 29, 0, 0, 0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 3, 119, 101, 98, 0, 0, 1, 0, 1])),
      '02:00:00:00:00:0a > 02:00:00:00:00:0b, IPv4, 10.0.0.1.40000 > 10.0.0.2.53: DNS query 4660 A? web.',
    ],
    [
      "an IP packet's first fragment",
      eth(MAC_B, MAC_A, 0x0800, fragment(ipv4(1, A, B, [8, 0, 0, 0, 0, 7, 0, 1, 9, 9, 9, 9, 9, 9, 9, 9]), 0x2000)),
      '02:00:00:00:00:0a > 02:00:00:00:00:0b, IPv4, 10.0.0.1 > 10.0.0.2: ICMP echo request, id 7, seq 1, length 16 (IP fragment, id 4660, offset 0, length 16, more follow)',
    ],
    ["an IP packet's last fragment", eth(MAC_B, MAC_A, 0x0800, fragment(ipv4(1, A, B, [9, 9, 9, 9]), 185)), '02:00:00:00:00:0a > 02:00:00:00:00:0b, IPv4, 10.0.0.1 > 10.0.0.2: IP fragment, id 4660, offset 1480, length 4'],
    ['a frame cut inside its header', new Uint8Array(10), '[truncated Ethernet header, 10 bytes]'],
    ['an unknown ethertype', eth(MAC_B, MAC_A, 0x88b5, [1, 2]), '02:00:00:00:00:0a > 02:00:00:00:00:0b, ethertype 0x88b5, length 16'],
  ])('%s', (_, frame, line) => {
    expect(summarize(frame)).toBe(line);
  });

  it('names the VLAN of a tagged frame, and a DHCP message type', () => {
    const bootp = new Array<number>(240).fill(0);
    bootp[0] = 1;
    bootp.splice(4, 4, 0xde, 0xad, 0xbe, 0xef);
    bootp.splice(236, 4, 0x63, 0x82, 0x53, 0x63);
    const discover = [...bootp, 53, 1, 1, 255];
    const udp = [0, 68, 0, 67, 0, 8 + discover.length, 0, 0, ...discover];
    const frame = pushTag(eth(BCAST, MAC_A, 0x0800, ipv4(17, [0, 0, 0, 0], [255, 255, 255, 255], udp)), 20);
    expect(summarize(frame)).toBe('02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, vlan 20, IPv4, 0.0.0.0.68 > 255.255.255.255.67: DHCP Discover, xid 0xdeadbeef');
  });
});

describe('pcapng', () => {
  it('reads back what it wrote: interfaces, µs timestamps, data of odd lengths, comments', () => {
    const packets = [
      { iface: 0, timeUs: 1_765_000_000_123_456, data: new Uint8Array([1, 2, 3]) },
      { iface: 1, timeUs: 1_765_000_000_123_999, data: new Uint8Array(61).fill(7), comment: 'rx vlan 10' },
    ];
    const file = readPcapng(writePcapng([{ name: 'na' }, { name: 'nb' }], packets));
    expect(file.application).toBe('hypervisor playground');
    expect(file.interfaces).toEqual([
      { linkType: 1, name: 'na' },
      { linkType: 1, name: 'nb' },
    ]);
    expect(file.packets).toEqual([
      { ...packets[0], origLen: 3 },
      { ...packets[1], origLen: 61 },
    ]);
  });

  it.each<[string, (b: Uint8Array) => Uint8Array, RegExp]>([
    ['does not begin with a section header', (b) => b.subarray(28), /does not begin with a section header/],
    ['is cut inside a block', (b) => b.subarray(0, b.length - 6), /bad length|cut short/],
    ['has a block whose two lengths differ', (b) => { const c = b.slice(); c[c.length - 4] = 0xff; return c; }, /two lengths differ/],
    ['is big-endian or not pcapng', (b) => { const c = b.slice(); c[8] = 0; return c; }, /byte-order magic/],
  ])('refuses a file that %s', (_, spoil, error) => {
    const good = writePcapng([{ name: 'p' }], [{ iface: 0, timeUs: 1, data: new Uint8Array([9, 9]) }]);
    expect(() => readPcapng(spoil(good))).toThrow(error);
  });
});

describe('CaptureRing', () => {
  it('keeps the newest frames within its bounds and counts the ones it let go', () => {
    const ring = new CaptureRing(0, 1_765_000_000_000, { maxFrames: 3 });
    for (let i = 0; i < 5; i++) ring.add({ at: i, port: i % 2 ? 'vm2' : 'vm1', direction: 'rx', vlan: 10, frame: eth(BCAST, MAC_A, 0x88b5, [i]) });
    expect(ring.size).toBe(3);
    expect(ring.dropped).toBe(2);
    const file = readPcapng(ring.pcapng((p) => `port ${p}`));
    expect(file.interfaces.map((i) => i.name)).toEqual(['port vm1', 'port vm2']);
    expect(file.packets.map((p) => [p.iface, p.timeUs, p.data[14], p.comment])).toEqual([
      [0, 1_765_000_000_002_000, 2, 'rx vlan 10'],
      [1, 1_765_000_000_003_000, 3, 'rx vlan 10'],
      [0, 1_765_000_000_004_000, 4, 'rx vlan 10'],
    ]);
    expect(ring.list(1)).toEqual([{ at: 4, port: 'vm1', to: [], direction: 'rx', length: 15, summary: '02:00:00:00:00:0a > ff:ff:ff:ff:ff:ff, ethertype 0x88b5, length 15' }]);
  });

  it('narrows a pcapng to the frames that entered or left by one port', () => {
    const ring = new CaptureRing(0, 0);
    const f = eth(BCAST, MAC_A, 0x88b5, [1]);
    ring.add({ at: 0, port: 'p1', direction: 'rx', vlan: 1, frame: f, to: ['p2'] });
    ring.add({ at: 1, port: 'p2', direction: 'rx', vlan: 1, frame: f, to: ['p3'] });
    ring.add({ at: 2, port: 'p3', direction: 'rx', vlan: 1, frame: f, to: ['p1'] });
    const name = (p: string) => `vm-${p}`;
    expect(readPcapng(ring.pcapng(name, 'vm-p1')).packets.map((p) => p.timeUs)).toEqual([0, 2000]);
    expect(readPcapng(ring.pcapng(name, 'vm-p2')).interfaces.map((i) => i.name)).toEqual(['vm-p1', 'vm-p2']);
    expect(readPcapng(ring.pcapng(name)).packets).toHaveLength(3);
  });

  it('keeps a copy: the switch may hand the same bytes on', () => {
    const ring = new CaptureRing(0, 0);
    const f = eth(BCAST, MAC_A, 0x88b5, [1]);
    ring.add({ at: 0, port: 'p', direction: 'rx', vlan: 1, frame: f });
    f[14] = 99;
    expect(readPcapng(ring.pcapng()).packets[0]!.data[14]).toBe(1);
  });
});

describe('utf8', () => {
  it.each(['eth0', 'vm-ü', '端口', '🖧 port'])('round-trips %s as TextEncoder does', (text) => {
    expect(utf8Encode(text)).toEqual(new TextEncoder().encode(text));
    expect(utf8Decode(utf8Encode(text))).toBe(text);
  });

  it('turns a byte that starts no valid sequence into U+FFFD and keeps what follows', () => {
    expect(utf8Decode(new Uint8Array([0xff, 0x41]))).toBe('\ufffdA');
    expect(utf8Decode(new Uint8Array([0xc3, 0x41]))).toBe('\ufffdA');
    expect(utf8Decode(new Uint8Array([0x41, 0xe2, 0x82]))).toMatch(/^A\ufffd+$/);
  });
});
