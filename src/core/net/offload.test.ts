import { describe, expect, it } from 'vitest';
import { checksum, onesSum, put16, put32, u16, u32 } from './ipv4.ts';
import {
  NO_OFFLOAD,
  offloadRx,
  offloadTx,
  readVnetHeader,
  segmentTcp,
  transportChecksumOk,
  VNET_F_DATA_VALID,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_TCPV4,
  writeVnetHeader,
} from './offload.ts';

const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const CWR = 0x80;

/** Bytes 0, 1, 2, ... (mod 251) from `start`: every offset tells where it came from. */
const pattern = (n: number, start = 0): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (start + i) % 251);

interface TcpOptions {
  seq?: number;
  flags?: number;
  srcPort?: number;
  /** Leave the TCP checksum as the pseudo-header's sum (what a guest hands its NIC with NEEDS_CSUM). */
  partial?: boolean;
  vlan?: number;
  id?: number;
}

/** An Ethernet + IPv4 + TCP (20-byte header + a 12-byte timestamp option) frame with valid checksums. */
function tcpFrame(payload: Uint8Array, o: TcpOptions = {}): Uint8Array {
  const tag = o.vlan === undefined ? 0 : 4;
  const ip = 14 + tag;
  const l4 = ip + 20;
  const thLen = 32;
  const f = new Uint8Array(l4 + thLen + payload.length);
  f.set([2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
  if (o.vlan !== undefined) {
    put16(f, 12, 0x8100);
    put16(f, 14, o.vlan);
  }
  put16(f, ip - 2, 0x0800);
  f[ip] = 0x45;
  put16(f, ip + 2, 20 + thLen + payload.length);
  put16(f, ip + 4, o.id ?? 100);
  put16(f, ip + 6, 0x4000); // DF
  f[ip + 8] = 64;
  f[ip + 9] = 6;
  put32(f, ip + 12, 0x0a000001);
  put32(f, ip + 16, 0x0a000002);
  put16(f, ip + 10, checksum(f, ip, ip + 20));
  put16(f, l4, o.srcPort ?? 40000);
  put16(f, l4 + 2, 5001);
  put32(f, l4 + 4, o.seq ?? 1000);
  put32(f, l4 + 8, 777);
  f[l4 + 12] = (thLen / 4) << 4;
  f[l4 + 13] = o.flags ?? ACK;
  put16(f, l4 + 14, 501);
  f.set([1, 1, 8, 10, 0, 0, 0, 42, 0, 0, 0, 7], l4 + 20); // NOP NOP timestamps
  f.set(payload, l4 + thLen);
  const pseudo = onesSum(f, ip + 12, ip + 20, 6 + thLen + payload.length);
  put16(f, l4 + 16, o.partial ? pseudo : ~onesSum(f, l4, f.length, pseudo) & 0xffff);
  return f;
}

const payloadOf = (f: Uint8Array): Uint8Array => f.subarray(14 + 20 + 32);
const tsoHeader = (mss: number) => ({ flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, gsoSize: mss, csumStart: 34, csumOffset: 16 });

describe('onesSum', () => {
  it.each([0, 1, 2, 3, 1499, 1500, 65_535, 200_001])('matches a plain 16-bit word sum of %i bytes, odd lengths included', (n) => {
    const b = pattern(n, 7).map((x) => (x * 97) & 255);
    let sum = 0;
    for (let i = 0; i < n; i += 2) sum += (b[i]! << 8) | (b[i + 1] ?? 0);
    expect(onesSum(b, 0, n)).toBe(sum % 0xffff || (sum ? 0xffff : 0));
    expect(checksum(b, 0, n)).toBe(~onesSum(b, 0, n) & 0xffff);
  });

  it('gives the RFC 1071 example sum', () => {
    expect(onesSum(Uint8Array.from([0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]), 0, 8)).toBe(0xddf2);
  });
});

describe('vnet header', () => {
  it('reads back what it wrote, little-endian, with the buffer count', () => {
    const h = { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, gsoSize: 1448, csumStart: 34, csumOffset: 16 };
    const bytes = writeVnetHeader(h, 3);
    expect(bytes.length).toBe(12);
    expect(readVnetHeader(bytes)).toEqual(h);
    expect([bytes[4], bytes[5], bytes[10], bytes[11]]).toEqual([1448 & 255, 1448 >> 8, 3, 0]);
  });
});

describe('TCP segmentation (TSO)', () => {
  const data = pattern(10_000);
  const big = tcpFrame(data, { seq: 0xffff_f000, flags: ACK | PSH | FIN | CWR, partial: true, id: 0xfffe });
  const segs = segmentTcp(big, 1448)!;

  it('cuts a 10 000-byte packet into MSS-sized segments that carry its bytes in order', () => {
    expect(segs.map((s) => payloadOf(s).length)).toEqual([1448, 1448, 1448, 1448, 1448, 1448, 1312]);
    expect(Buffer.concat(segs.map(payloadOf)).equals(Buffer.from(data))).toBe(true);
  });

  it('gives each segment its own length, id, sequence number and valid checksums (the sequence wraps)', () => {
    segs.forEach((s, i) => {
      expect(u16(s, 16)).toBe(s.length - 14);
      expect(u16(s, 18)).toBe((0xfffe + i) & 0xffff);
      expect(checksum(s, 14, 34)).toBe(0);
      expect(u32(s, 38)).toBe((0xffff_f000 + i * 1448) >>> 0);
      expect(transportChecksumOk(s)).toBe(true);
    });
  });

  it('keeps PSH and FIN for the last segment and CWR for the first', () => {
    expect(segs.map((s) => s[47])).toEqual([ACK | CWR, ACK, ACK, ACK, ACK, ACK, ACK | PSH | FIN]);
  });

  it('cuts a tagged frame after its 802.1Q tag', () => {
    const tagged = segmentTcp(tcpFrame(pattern(3000), { vlan: 20, partial: true }), 1448)!;
    expect(tagged.map((s) => s.length)).toEqual([18 + 52 + 1448, 18 + 52 + 1448, 18 + 52 + 104]);
    expect(tagged.every(transportChecksumOk)).toBe(true);
  });

  it('refuses what is not IPv4 TCP', () => {
    const arp = new Uint8Array(60);
    put16(arp, 12, 0x0806);
    expect(segmentTcp(arp, 1448)).toBeNull();
    expect(segmentTcp(big, 0)).toBeNull();
  });
});

describe('offloadTx', () => {
  it('sends a frame that asked for nothing as it is', () => {
    const f = tcpFrame(pattern(100));
    expect(offloadTx(f, NO_OFFLOAD)).toEqual([f]);
  });

  it('completes a checksum the guest left to the NIC, from the pseudo-header sum it put in the field', () => {
    const partial = tcpFrame(pattern(333), { partial: true });
    expect(transportChecksumOk(partial)).toBe(false);
    const [done] = offloadTx(partial, { ...NO_OFFLOAD, flags: VNET_F_NEEDS_CSUM, csumStart: 34, csumOffset: 16 })!;
    expect(done).toEqual(tcpFrame(pattern(333)));
    expect(partial).toEqual(tcpFrame(pattern(333), { partial: true })); // the guest's buffer is not written
  });

  it('segments a TSO packet', () => {
    expect(offloadTx(tcpFrame(pattern(4000), { partial: true }), tsoHeader(1000))!.map((s) => payloadOf(s).length)).toEqual([1000, 1000, 1000, 1000]);
  });

  it('refuses a GSO type it does not do and a checksum outside the frame', () => {
    const f = tcpFrame(pattern(100), { partial: true });
    expect(offloadTx(f, { ...tsoHeader(1000), gsoType: 3 })).toBeNull(); // UDP fragmentation offload
    expect(offloadTx(f, { ...NO_OFFLOAD, flags: VNET_F_NEEDS_CSUM, csumStart: f.length - 1, csumOffset: 16 })).toBeNull();
  });
});

describe('offloadRx', () => {
  const segments = (n: number, mss = 1448, seq = 5000) => segmentTcp(tcpFrame(pattern(n), { seq, partial: true }), mss)!;

  it('leaves headers empty when the guest took no receive offload', () => {
    expect(offloadRx(segments(3000), { csum: false, tso4: false }).map((p) => p.header)).toEqual([NO_OFFLOAD, NO_OFFLOAD, NO_OFFLOAD]);
  });

  it('marks frames whose checksum it verified, and not a damaged one or one that is not TCP/UDP', () => {
    const [good, bad] = segments(3000);
    bad![bad!.length - 1]! ^= 1;
    const arp = new Uint8Array(60);
    put16(arp, 12, 0x0806);
    expect(offloadRx([good!, bad!, arp], { csum: true, tso4: false }).map((p) => p.header.flags)).toEqual([VNET_F_DATA_VALID, 0, 0]);
  });

  it('merges in-order segments of a flow back into one packet with its MSS (LRO)', () => {
    const data = pattern(10_000);
    const [p, ...rest] = offloadRx(segmentTcp(tcpFrame(data, { seq: 5000, partial: true, flags: ACK | PSH }), 1448)!, { csum: true, tso4: true });
    expect(rest).toEqual([]);
    expect(p!.header).toEqual({ flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, gsoSize: 1448, csumStart: 34, csumOffset: 16 });
    expect(Buffer.from(payloadOf(p!.frame)).equals(Buffer.from(data))).toBe(true);
    expect(u16(p!.frame, 16)).toBe(p!.frame.length - 14);
    expect(checksum(p!.frame, 14, 34)).toBe(0);
    expect(u32(p!.frame, 38)).toBe(5000);
    expect(p!.frame[47]).toBe(ACK | PSH);
    // The field holds the pseudo-header's sum, as the guest's own stack leaves it for a NIC to complete.
    const [completed] = offloadTx(p!.frame, { ...NO_OFFLOAD, flags: VNET_F_NEEDS_CSUM, csumStart: 34, csumOffset: 16 })!;
    expect(transportChecksumOk(completed!)).toBe(true);
  });

  it('does not merge across a gap, another flow, a damaged segment, a PSH or a short segment', () => {
    const merged = (frames: Uint8Array[]) => offloadRx(frames, { csum: true, tso4: true }).map((p) => payloadOf(p.frame).length);
    const [a, b, c, d] = segments(4 * 1448);
    expect(merged([a!, c!, d!])).toEqual([1448, 2 * 1448]);
    const other = tcpFrame(pattern(1448), { seq: 5000 + 1448, srcPort: 40001 });
    expect(merged([a!, other, b!])).toEqual([1448, 1448, 1448]);
    const damaged = b!.slice();
    damaged[damaged.length - 1]! ^= 1;
    expect(merged([a!, damaged, c!])).toEqual([1448, 1448, 1448]);
    const pushed = tcpFrame(pattern(1448), { seq: 5000, flags: ACK | PSH });
    expect(merged([pushed, b!, c!])).toEqual([1448, 2 * 1448]);
    const short = tcpFrame(pattern(500), { seq: 5000 + 1448 });
    expect(merged([a!, short, tcpFrame(pattern(1448), { seq: 5000 + 1948 })])).toEqual([1948, 1448]);
  });

  it('does not merge beyond the largest IPv4 packet', () => {
    const frames = Array.from({ length: 100 }, (_, i) => tcpFrame(pattern(1448, i * 1448), { seq: 5000 + i * 1448 }));
    const sizes = offloadRx(frames, { csum: true, tso4: true }).map((p) => payloadOf(p.frame).length);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(100 * 1448);
    expect(Math.max(...sizes) + 20 + 32).toBeLessThanOrEqual(65_535);
    expect(sizes[0]).toBe(45 * 1448);
  });
});
