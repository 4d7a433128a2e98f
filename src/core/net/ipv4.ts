// IPv4 addresses and packets as the host's network services need them:
// addresses as unsigned 32-bit numbers, subnets, the Internet checksum, and
// Ethernet + IPv4 (+ UDP) frames built and taken apart.
import { ETHERTYPE_IPV4, readMac, type Mac } from './ethernet.ts';

export type Ip = number;

export function ipText(ip: Ip): string {
  return `${ip >>> 24}.${(ip >>> 16) & 255}.${(ip >>> 8) & 255}.${ip & 255}`;
}

/** "10.0.10.7" to an Ip; null when it is not one. */
export function parseIp(text: string): Ip | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text.trim());
  if (!m) return null;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return null;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
}

export interface Subnet {
  network: Ip;
  prefix: number;
}

/** "10.0.10.0/24" to a Subnet (prefix 8-30, no host bits set); throws naming the problem. */
export function parseSubnet(text: string): Subnet {
  const m = /^([\d.]+)\/(\d{1,2})$/.exec(text.trim());
  const ip = m ? parseIp(m[1]!) : null;
  const prefix = m ? Number(m[2]) : NaN;
  if (ip === null || !(prefix >= 8 && prefix <= 30)) throw new RangeError(`subnet "${text}" is not valid: write it as 10.0.10.0/24 (a prefix of 8 to 30 bits)`);
  if ((ip & ~maskOf(prefix)) >>> 0 !== 0) throw new RangeError(`subnet "${text}" has host bits set: did you mean ${ipText((ip & maskOf(prefix)) >>> 0)}/${prefix}?`);
  return { network: ip, prefix };
}

export function maskOf(prefix: number): number {
  return prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
}

export function inSubnet(ip: Ip, s: Subnet): boolean {
  return (ip & maskOf(s.prefix)) >>> 0 === s.network;
}

export const u16 = (b: Uint8Array, at: number): number => (b[at]! << 8) | b[at + 1]!;
export const u32 = (b: Uint8Array, at: number): number => ((b[at]! << 24) | (b[at + 1]! << 16) | (b[at + 2]! << 8) | b[at + 3]!) >>> 0;

export function put16(b: Uint8Array, at: number, v: number): void {
  b[at] = (v >>> 8) & 255;
  b[at + 1] = v & 255;
}

export function put32(b: Uint8Array, at: number, v: number): void {
  b[at] = v >>> 24;
  b[at + 1] = (v >>> 16) & 255;
  b[at + 2] = (v >>> 8) & 255;
  b[at + 3] = v & 255;
}

export function putMac(b: Uint8Array, at: number, mac: Mac): void {
  for (let i = 5; i >= 0; i--) {
    b[at + i] = mac % 256;
    mac = Math.floor(mac / 256);
  }
}

/** The one's-complement sum (RFC 1071) of bytes [from, to), added to `initial`, folded to 16 bits (not inverted). */
export function onesSum(b: Uint8Array, from: number, to: number, initial = 0): number {
  let sum = initial;
  const even = to - ((to - from) & 1);
  let i = from;
  // Folded every 32 K words, so the sum stays an exact small integer.
  while (i < even) {
    const stop = Math.min(even, i + 65_536);
    for (; i < stop; i += 2) sum += (b[i]! << 8) | b[i + 1]!;
    sum = (sum & 0xffff) + Math.floor(sum / 65_536);
  }
  if (even < to) sum += b[even]! << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum;
}

/** The Internet checksum (RFC 1071) of bytes [from, to). */
export function checksum(b: Uint8Array, from: number, to: number): number {
  return ~onesSum(b, from, to) & 0xffff;
}

/** An untagged IPv4 frame as the services read it. */
export interface Ipv4Frame {
  srcMac: Mac;
  dstMac: Mac;
  src: Ip;
  dst: Ip;
  proto: number;
  /** The IPv4 payload (cut to the packet's total length). */
  body: Uint8Array;
}

/** Take an untagged Ethernet frame apart as IPv4; null when it is not (or is cut, or its header checksum is wrong). */
export function readIpv4(frame: Uint8Array): Ipv4Frame | null {
  if (frame.length < 34 || u16(frame, 12) !== ETHERTYPE_IPV4 || frame[14]! >> 4 !== 4) return null;
  const ihl = (frame[14]! & 15) * 4;
  const total = u16(frame, 16);
  if (ihl < 20 || total < ihl || 14 + total > frame.length) return null;
  if (checksum(frame, 14, 14 + ihl) !== 0) return null;
  if ((u16(frame, 20) & 0x3fff) !== 0) return null; // a fragment: the services answer whole packets only
  return { srcMac: readMac(frame, 6), dstMac: readMac(frame, 0), src: u32(frame, 26), dst: u32(frame, 30), proto: frame[23]!, body: frame.subarray(14 + ihl, 14 + total) };
}

/** An Ethernet + IPv4 frame (TTL 64, no options) around `body`. */
export function ipv4Frame(srcMac: Mac, dstMac: Mac, src: Ip, dst: Ip, proto: number, body: Uint8Array): Uint8Array {
  const f = new Uint8Array(34 + body.length);
  putMac(f, 0, dstMac);
  putMac(f, 6, srcMac);
  put16(f, 12, ETHERTYPE_IPV4);
  f[14] = 0x45;
  put16(f, 16, 20 + body.length);
  f[22] = 64;
  f[23] = proto;
  put32(f, 26, src);
  put32(f, 30, dst);
  put16(f, 24, checksum(f, 14, 34));
  f.set(body, 34);
  return f;
}

/** A UDP datagram (checksum 0: none, which IPv4 allows). */
export function udpBody(srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const u = new Uint8Array(8 + payload.length);
  put16(u, 0, srcPort);
  put16(u, 2, dstPort);
  put16(u, 4, u.length);
  u.set(payload, 8);
  return u;
}
