// virtio-net offloads, done by the host side of the NIC as a real NIC does in
// hardware (virtio 1.2, 5.1.6; Linux's TSO and LRO):
// - checksum offload (VIRTIO_NET_F_CSUM): the guest leaves a packet's
//   TCP/UDP checksum to the device, which completes it before the frame
//   leaves the NIC;
// - TCP segmentation offload (VIRTIO_NET_F_HOST_TSO4): the guest hands over
//   one TCP packet of up to 64 KiB, which the device cuts into MSS-sized
//   frames, each with its own headers and checksums;
// - on receive (VIRTIO_NET_F_GUEST_CSUM, _GUEST_TSO4): frames whose checksums
//   the device verified are marked so (the guest does not sum them again),
//   and a run of in-order segments of one TCP flow is merged into one large
//   packet (large receive offload), as Linux's GRO would merge them.
// What travels on the switch stays ordinary frames of at most the MTU, with
// valid checksums: captures, rate limits and other guests see no difference.
// The guest's emulated CPU is what makes a network slow here, so moving
// per-packet work and checksums out of it and into native code pays.

import { ETHERTYPE_IPV4, ETHERTYPE_VLAN } from './ethernet.ts';
import { onesSum, put16, put32, u16, u32 } from './ipv4.ts';

/** The header in front of every frame in a virtio-net queue (VIRTIO_F_VERSION_1: struct virtio_net_hdr_mrg_rxbuf), bytes. */
export const VNET_HDR_LEN = 12;
/** Header flags: the device completes the checksum (tx) / the device verified it (rx). */
export const VNET_F_NEEDS_CSUM = 1;
export const VNET_F_DATA_VALID = 2;
export const VNET_GSO_NONE = 0;
export const VNET_GSO_TCPV4 = 1;
export const VNET_GSO_ECN = 0x80;

/** virtio-net feature bits the offloads use. */
export const VIRTIO_NET_F_CSUM = 0;
export const VIRTIO_NET_F_GUEST_CSUM = 1;
export const VIRTIO_NET_F_GUEST_TSO4 = 7;
export const VIRTIO_NET_F_HOST_TSO4 = 11;
export const VIRTIO_NET_F_MRG_RXBUF = 15;

/** The largest IPv4 packet, and so the largest merged packet (bytes from the IP header on). */
const IP_MAX = 65_535;
const PROTO_TCP = 6;
const PROTO_UDP = 17;
// TCP flags.
const FIN = 0x01;
const SYN = 0x02;
const RST = 0x04;
const PSH = 0x08;
const ACK = 0x10;
const URG = 0x20;
const ECE = 0x40;
const CWR = 0x80;

/** A virtio_net_hdr (little-endian fields). */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

export const NO_OFFLOAD: VnetHeader = { flags: 0, gsoType: VNET_GSO_NONE, gsoSize: 0, csumStart: 0, csumOffset: 0 };
/** The header of a received frame whose checksum the NIC verified. */
const VERIFIED: VnetHeader = { ...NO_OFFLOAD, flags: VNET_F_DATA_VALID };

export function readVnetHeader(b: Uint8Array): VnetHeader {
  const le16 = (at: number): number => b[at]! | (b[at + 1]! << 8);
  return { flags: b[0]!, gsoType: b[1]!, gsoSize: le16(4), csumStart: le16(6), csumOffset: le16(8) };
}

/** The 12 header bytes for `h`, the packet spread over `buffers` receive buffers (hdr_len 0). */
export function writeVnetHeader(h: VnetHeader, buffers = 1): Uint8Array {
  const b = new Uint8Array(VNET_HDR_LEN);
  const le16 = (at: number, v: number): void => {
    b[at] = v & 255;
    b[at + 1] = (v >>> 8) & 255;
  };
  b[0] = h.flags;
  b[1] = h.gsoType;
  le16(4, h.gsoSize);
  le16(6, h.csumStart);
  le16(8, h.csumOffset);
  le16(10, buffers);
  return b;
}

/** Where an IPv4 packet sits in an Ethernet frame (after any 802.1Q tags); null when the frame is not IPv4. */
export function ipv4Offset(frame: Uint8Array): number | null {
  let at = 12;
  while (at + 2 <= frame.length && u16(frame, at) === ETHERTYPE_VLAN) at += 4;
  if (at + 2 > frame.length || u16(frame, at) !== ETHERTYPE_IPV4) return null;
  return at + 2;
}

/** The parts of an IPv4 TCP or UDP frame the offloads work on (offsets in the frame). */
interface Transport {
  ip: number;
  ihl: number;
  /** The transport header's offset. */
  l4: number;
  proto: number;
  /** Bytes from l4 to the IP packet's end. */
  l4Len: number;
}

function transport(frame: Uint8Array): Transport | null {
  const ip = ipv4Offset(frame);
  if (ip === null || ip + 20 > frame.length || frame[ip]! >> 4 !== 4) return null;
  const ihl = (frame[ip]! & 15) * 4;
  const total = u16(frame, ip + 2);
  if (ihl < 20 || total < ihl || ip + total > frame.length) return null;
  if ((u16(frame, ip + 6) & 0x3fff) !== 0) return null; // a fragment: no whole transport packet here
  const proto = frame[ip + 9]!;
  if (proto !== PROTO_TCP && proto !== PROTO_UDP) return null;
  return { ip, ihl, l4: ip + ihl, proto, l4Len: total - ihl };
}

/** The pseudo-header's sum (source, destination, protocol, length). */
function pseudoSum(frame: Uint8Array, t: Transport, l4Len: number): number {
  return onesSum(frame, t.ip + 12, t.ip + 20, t.proto + l4Len);
}

/** Recompute the IPv4 header checksum in place. */
function fixIpChecksum(frame: Uint8Array, ip: number, ihl: number): void {
  put16(frame, ip + 10, 0);
  put16(frame, ip + 10, ~onesSum(frame, ip, ip + ihl) & 0xffff);
}

/** Compute a TCP segment's checksum in place from scratch. */
function fixTcpChecksum(frame: Uint8Array, t: Transport): void {
  put16(frame, t.l4 + 16, 0);
  put16(frame, t.l4 + 16, ~onesSum(frame, t.l4, t.l4 + t.l4Len, pseudoSum(frame, t, t.l4Len)) & 0xffff);
}

/**
 * The frames a guest's packet becomes on the wire, given its virtio header:
 * the packet itself when it asked for nothing; with its checksum completed
 * (a copy); or cut into MSS-sized TCP segments. A request the device does not
 * understand (a GSO type other than TCPv4, a checksum outside the frame)
 * yields no frame: `null` (the caller counts it).
 */
export function offloadTx(frame: Uint8Array, h: VnetHeader): Uint8Array[] | null {
  const gso = h.gsoType & ~VNET_GSO_ECN;
  if (gso === VNET_GSO_TCPV4) return segmentTcp(frame, h.gsoSize);
  if (gso !== VNET_GSO_NONE) return null;
  if ((h.flags & VNET_F_NEEDS_CSUM) === 0) return [frame];
  const at = h.csumStart + h.csumOffset;
  if (h.csumStart > frame.length || at + 2 > frame.length) return null;
  // The guest left the pseudo-header's sum in the field; the sum from csumStart on covers it.
  const out = frame.slice();
  let sum = ~onesSum(out, h.csumStart, out.length) & 0xffff;
  const t = transport(out);
  if (sum === 0 && t?.proto === PROTO_UDP && t.l4 === h.csumStart) sum = 0xffff; // 0 means "no checksum" in UDP
  put16(out, at, sum);
  return [out];
}

/** Cut one IPv4 TCP packet into segments of at most `mss` payload bytes (TSO). */
export function segmentTcp(frame: Uint8Array, mss: number): Uint8Array[] | null {
  const t = transport(frame);
  if (t === null || t.proto !== PROTO_TCP || mss <= 0) return null;
  const thLen = (frame[t.l4 + 12]! >> 4) * 4;
  if (thLen < 20 || thLen > t.l4Len) return null;
  const headers = t.l4 + thLen;
  const payload = t.l4Len - thLen;
  const end = t.l4 + t.l4Len;
  const seq0 = u32(frame, t.l4 + 4);
  const id0 = u16(frame, t.ip + 4);
  const flags = frame[t.l4 + 13]!;
  const count = Math.max(1, Math.ceil(payload / mss));
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const from = headers + i * mss;
    const len = Math.min(mss, end - from);
    const seg = new Uint8Array(headers + len);
    seg.set(frame.subarray(0, headers));
    seg.set(frame.subarray(from, from + len), headers);
    put16(seg, t.ip + 2, t.ihl + thLen + len);
    put16(seg, t.ip + 4, (id0 + i) & 0xffff);
    fixIpChecksum(seg, t.ip, t.ihl);
    put32(seg, t.l4 + 4, (seq0 + i * mss) >>> 0);
    // FIN and PSH belong to the last segment, CWR to the first.
    let f = flags;
    if (i < count - 1) f &= ~(FIN | PSH);
    if (i > 0) f &= ~CWR;
    seg[t.l4 + 13] = f;
    fixTcpChecksum(seg, { ...t, l4Len: thLen + len });
    out.push(seg);
  }
  return out;
}

/** True when an IPv4 TCP or UDP frame's transport checksum is right (a UDP checksum of 0 is "none", and right). */
export function transportChecksumOk(frame: Uint8Array): boolean {
  const t = transport(frame);
  if (t === null) return false;
  if (t.proto === PROTO_UDP && t.l4Len >= 8 && u16(frame, t.l4 + 6) === 0) return true;
  return onesSum(frame, t.l4, t.l4 + t.l4Len, pseudoSum(frame, t, t.l4Len)) === 0xffff;
}

/** A packet for the guest's receive queue: its frame and virtio header. */
export interface RxPacket {
  frame: Uint8Array;
  header: VnetHeader;
}

/** What the guest's driver accepted of the receive offloads. */
export interface RxOffloads {
  csum: boolean;
  tso4: boolean;
}

/** A TCP segment that may be merged with its neighbours, as read once. */
interface Segment {
  frame: Uint8Array;
  t: Transport;
  thLen: number;
  seq: number;
  payload: number;
}

/**
 * Frames for the guest, with the headers the device gives them: checksums
 * verified (DATA_VALID) when the guest accepts that, and, when it accepts
 * TSO4 packets, each run of mergeable TCP segments of one flow as one packet.
 */
export function offloadRx(frames: readonly Uint8Array[], offloads: RxOffloads): RxPacket[] {
  const out: RxPacket[] = [];
  for (let at = 0; at < frames.length; ) {
    const { packet, count } = nextRxPacket(frames, at, offloads);
    out.push(packet);
    at += count;
  }
  return out;
}

/** The packet that frames[from] starts (offloadRx's step), and how many frames it takes (at least 1). */
export function nextRxPacket(frames: readonly Uint8Array[], from: number, offloads: RxOffloads): { packet: RxPacket; count: number } {
  const frame = frames[from]!;
  if (!offloads.csum) return { packet: { frame, header: NO_OFFLOAD }, count: 1 };
  const valid = transportChecksumOk(frame);
  const first = offloads.tso4 && valid ? mergeable(frame) : null;
  if (first === null) return { packet: { frame, header: valid ? VERIFIED : NO_OFFLOAD }, count: 1 };
  const run = [first];
  // A segment shorter than the first ends its run (the sender had no more data).
  for (let i = from + 1; i < frames.length && run[run.length - 1]!.payload === first.payload; i++) {
    const next = frames[i]!;
    const seg = mergeable(next);
    if (seg === null || !continues(run, seg) || !transportChecksumOk(next)) break;
    run.push(seg);
  }
  return { packet: mergeSegments(run), count: run.length };
}

// A TCP segment carrying data with nothing but ACK (and PSH) set, in an
// IPv4 packet without options; null for anything else.
function mergeable(frame: Uint8Array): Segment | null {
  const t = transport(frame);
  if (t === null || t.proto !== PROTO_TCP || t.ihl !== 20) return null;
  const thLen = (frame[t.l4 + 12]! >> 4) * 4;
  const payload = t.l4Len - thLen;
  const flags = frame[t.l4 + 13]!;
  if (thLen < 20 || payload <= 0 || (flags & (FIN | SYN | RST | URG | ECE | CWR)) !== 0 || (flags & ACK) === 0) return null;
  return { frame, t, thLen, seq: u32(frame, t.l4 + 4), payload };
}

// `seg` follows the run: the next bytes of the same flow, the same headers
// but for length, id, sequence and checksums (as Linux's GRO requires: same
// ACK, window and options), PSH only on the last, and the packet not too big.
function continues(run: Segment[], seg: Segment): boolean {
  const first = run[0]!;
  const last = run[run.length - 1]!;
  if (seg.t.ip !== first.t.ip || seg.thLen !== first.thLen || seg.payload > first.payload) return false;
  if ((last.frame[last.t.l4 + 13]! & PSH) !== 0) return false;
  if (seg.seq !== ((last.seq + last.payload) >>> 0)) return false;
  const merged = run.reduce((n, s) => n + s.payload, 0) + seg.payload;
  if (20 + first.thLen + merged > IP_MAX) return false;
  const a = first.frame;
  const b = seg.frame;
  const ip = first.t.ip;
  // Ethernet header and tags; IP version/TOS, flags, TTL, protocol, addresses; TCP ports, ACK, offset, window, urgent pointer and options.
  if (!same(a, b, 0, ip + 2) || !same(a, b, ip + 6, ip + 10) || !same(a, b, ip + 12, ip + 20)) return false;
  const l4 = first.t.l4;
  return same(a, b, l4, l4 + 4) && same(a, b, l4 + 8, l4 + 13) && same(a, b, l4 + 14, l4 + 16) && same(a, b, l4 + 18, l4 + first.thLen);
}

function same(a: Uint8Array, b: Uint8Array, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (a[i] !== b[i]) return false;
  return true;
}

// One packet from a run of segments: the first's headers, all payloads, and
// a TSO4 header with MSS = the first's payload. The checksum is left to the
// guest's stack as for a packet it made itself (NEEDS_CSUM, the field holding
// the pseudo-header's sum): its TCP takes such a packet as verified, and
// would complete the sums if it forwarded the packet.
function mergeSegments(run: Segment[]): RxPacket {
  const first = run[0]!;
  if (run.length === 1) return { frame: first.frame, header: VERIFIED };
  const { t, thLen } = first;
  const headers = t.l4 + thLen;
  const payload = run.reduce((n, s) => n + s.payload, 0);
  const frame = new Uint8Array(headers + payload);
  frame.set(first.frame.subarray(0, headers));
  let at = headers;
  for (const s of run) {
    frame.set(s.frame.subarray(s.t.l4 + thLen, s.t.l4 + thLen + s.payload), at);
    at += s.payload;
  }
  put16(frame, t.ip + 2, t.ihl + thLen + payload);
  fixIpChecksum(frame, t.ip, t.ihl);
  const last = run[run.length - 1]!;
  frame[t.l4 + 13] = first.frame[t.l4 + 13]! | (last.frame[last.t.l4 + 13]! & PSH);
  const merged: Transport = { ...t, l4Len: thLen + payload };
  put16(frame, t.l4 + 16, pseudoSum(frame, merged, merged.l4Len));
  return {
    frame,
    header: { flags: VNET_F_NEEDS_CSUM, gsoType: VNET_GSO_TCPV4, gsoSize: first.payload, csumStart: t.l4, csumOffset: 16 },
  };
}
