// pcapng, the capture file format Wireshark and tshark open (the IETF draft
// "PCAP Next Generation (pcapng) Capture File Format"), written and read
// from the spec. One Section Header Block, one Interface Description Block
// per capture point (Ethernet, microsecond timestamps: the default
// resolution), one Enhanced Packet Block per frame. Little-endian.

import { concatBytes } from '../bytes.ts';
import { utf8Decode, utf8Encode } from './utf8.ts';

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const LINKTYPE_ETHERNET = 1;
const OPT_END = 0;
const OPT_COMMENT = 1;
const IF_NAME = 2;
const SHB_USERAPPL = 4;

export interface PcapInterface {
  name: string;
}

export interface PcapPacket {
  /** Index into the interfaces. */
  iface: number;
  /** Microseconds since the Unix epoch. */
  timeUs: number;
  data: Uint8Array;
  /** The frame's length on the wire (data may be cut to the snap length). */
  origLen?: number;
  comment?: string;
}


const pad4 = (n: number): number => (n + 3) & ~3;

/** Options: code, length, value padded to 4, then opt_endofopt; none: nothing at all. */
function options(list: [number, Uint8Array][]): Uint8Array {
  if (list.length === 0) return new Uint8Array(0);
  const size = list.reduce((n, [, v]) => n + 4 + pad4(v.length), 0) + 4;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let at = 0;
  for (const [code, value] of list) {
    view.setUint16(at, code, true);
    view.setUint16(at + 2, value.length, true);
    out.set(value, at + 4);
    at += 4 + pad4(value.length);
  }
  view.setUint16(at, OPT_END, true);
  view.setUint16(at + 2, 0, true);
  return out;
}

/** A block: type, total length, body, total length again. */
function block(type: number, body: Uint8Array): Uint8Array {
  const total = 12 + body.length;
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, total, true);
  out.set(body, 8);
  view.setUint32(total - 4, total, true);
  return out;
}

/** A whole pcapng file. */
export function writePcapng(interfaces: PcapInterface[], packets: PcapPacket[], application = 'hypervisor playground'): Uint8Array {
  const parts: Uint8Array[] = [];
  const shbOpts = options([[SHB_USERAPPL, utf8Encode(application)]]);
  const shb = new Uint8Array(16 + shbOpts.length);
  const sv = new DataView(shb.buffer);
  sv.setUint32(0, BYTE_ORDER_MAGIC, true);
  sv.setUint16(4, 1, true); // major version
  sv.setUint16(6, 0, true); // minor version
  sv.setInt32(8, -1, true); // section length unknown (-1, 64 bits)
  sv.setInt32(12, -1, true);
  shb.set(shbOpts, 16);
  parts.push(block(SHB, shb));
  for (const iface of interfaces) {
    const opts = options([[IF_NAME, utf8Encode(iface.name)]]);
    const idb = new Uint8Array(8 + opts.length);
    const iv = new DataView(idb.buffer);
    iv.setUint16(0, LINKTYPE_ETHERNET, true);
    iv.setUint32(4, 0, true); // snaplen: no limit
    idb.set(opts, 8);
    parts.push(block(IDB, idb));
  }
  for (const p of packets) {
    if (p.iface < 0 || p.iface >= interfaces.length) throw new RangeError(`pcapng: packet names interface ${p.iface}, there are ${interfaces.length}`);
    const opts = options(p.comment ? [[OPT_COMMENT, utf8Encode(p.comment)]] : []);
    const epb = new Uint8Array(20 + pad4(p.data.length) + opts.length);
    const ev = new DataView(epb.buffer);
    const ts = Math.round(p.timeUs);
    ev.setUint32(0, p.iface, true);
    ev.setUint32(4, Math.floor(ts / 2 ** 32), true);
    ev.setUint32(8, ts % 2 ** 32, true);
    ev.setUint32(12, p.data.length, true);
    ev.setUint32(16, p.origLen ?? p.data.length, true);
    epb.set(p.data, 20);
    epb.set(opts, 20 + pad4(p.data.length));
    parts.push(block(EPB, epb));
  }
  return concatBytes(parts);
}

export interface PcapFile {
  application: string | null;
  interfaces: (PcapInterface & { linkType: number })[];
  packets: PcapPacket[];
}

/** Read a pcapng file as writePcapng writes it (one little-endian section); throws naming what is wrong. */
export function readPcapng(bytes: Uint8Array): PcapFile {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const file: PcapFile = { application: null, interfaces: [], packets: [] };
  let at = 0;
  let first = true;
  while (at < bytes.length) {
    if (at + 12 > bytes.length) throw new Error(`pcapng: a block at byte ${at} is cut short`);
    const type = view.getUint32(at, true);
    const total = view.getUint32(at + 4, true);
    if (first && type !== SHB) throw new Error('pcapng: the file does not begin with a section header');
    if (total < 12 || total % 4 !== 0 || at + total > bytes.length) throw new Error(`pcapng: block at byte ${at} has a bad length ${total}`);
    if (view.getUint32(at + total - 4, true) !== total) throw new Error(`pcapng: block at byte ${at}: its two lengths differ`);
    const body = bytes.subarray(at + 8, at + total - 4);
    const bv = new DataView(body.buffer, body.byteOffset, body.byteLength);
    first = false;
    if (type === SHB) {
      if (bv.getUint32(0, true) !== BYTE_ORDER_MAGIC) throw new Error('pcapng: not a little-endian section (byte-order magic)');
      if (bv.getUint16(4, true) !== 1) throw new Error(`pcapng: major version ${bv.getUint16(4, true)}, expected 1`);
      file.application = readOptions(body.subarray(16)).get(SHB_USERAPPL) ?? null;
    } else if (type === IDB) {
      file.interfaces.push({ linkType: bv.getUint16(0, true), name: readOptions(body.subarray(8)).get(IF_NAME) ?? '' });
    } else if (type === EPB) {
      const iface = bv.getUint32(0, true);
      if (iface >= file.interfaces.length) throw new Error(`pcapng: packet at byte ${at} names interface ${iface}, which is not described`);
      const timeUs = bv.getUint32(4, true) * 2 ** 32 + bv.getUint32(8, true);
      const capLen = bv.getUint32(12, true);
      if (20 + capLen > body.length) throw new Error(`pcapng: packet at byte ${at} claims ${capLen} bytes, its block holds fewer`);
      const comment = readOptions(body.subarray(20 + pad4(capLen))).get(OPT_COMMENT);
      file.packets.push({ iface, timeUs, data: body.slice(20, 20 + capLen), origLen: bv.getUint32(16, true), ...(comment ? { comment } : {}) });
    }
    at += total;
  }
  return file;
}

function readOptions(bytes: Uint8Array): Map<number, string> {
  const out = new Map<number, string>();
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  while (at + 4 <= bytes.length) {
    const code = view.getUint16(at, true);
    const len = view.getUint16(at + 2, true);
    if (code === OPT_END) break;
    out.set(code, utf8Decode(bytes.subarray(at + 4, at + 4 + len)));
    at += 4 + pad4(len);
  }
  return out;
}
