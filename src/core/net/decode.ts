// One line per frame, as `tcpdump -n -e` prints it: Ethernet addresses,
// 802.1Q tag, ARP, IPv4 with ICMP, UDP (DHCP, DNS) and TCP (flags, seq, ack,
// window). A frame too short for what its headers claim says so; nothing here
// throws on a bad frame.
import { ETHERTYPE_IPV4, ETHERTYPE_VLAN, macText, readMac } from './ethernet.ts';
import { ipText, u16, u32 } from './ipv4.ts';
import { DHCP_MAGIC, dhcpOptions, dnsQuestion } from './dhcp-dns.ts';

const ETHERTYPE_ARP = 0x0806;
const ETHERTYPE_IPV6 = 0x86dd;

const ip = (b: Uint8Array, at: number): string => ipText(u32(b, at));

export function summarize(frame: Uint8Array): string {
  if (frame.length < 14) return `[truncated Ethernet header, ${frame.length} bytes]`;
  let head = `${macText(readMac(frame, 6))} > ${macText(readMac(frame, 0))}`;
  let type = u16(frame, 12);
  let at = 14;
  if (type === ETHERTYPE_VLAN) {
    if (frame.length < 18) return `${head}, [truncated 802.1Q tag]`;
    head += `, vlan ${u16(frame, 14) & 0x0fff}`;
    type = u16(frame, 16);
    at = 18;
  }
  const rest = frame.subarray(at);
  switch (type) {
    case ETHERTYPE_ARP:
      return `${head}, ARP, ${arp(rest)}`;
    case ETHERTYPE_IPV4:
      return `${head}, IPv4, ${ipv4(rest)}`;
    case ETHERTYPE_IPV6:
      return `${head}, IPv6, length ${rest.length}`;
    default:
      return `${head}, ethertype 0x${type.toString(16).padStart(4, '0')}, length ${frame.length}`;
  }
}

function arp(b: Uint8Array): string {
  if (b.length < 28) return '[truncated]';
  const op = u16(b, 6);
  if (op === 1) return `Request who-has ${ip(b, 24)} tell ${ip(b, 14)}`;
  if (op === 2) return `Reply ${ip(b, 14)} is-at ${macText(readMac(b, 8))}`;
  return `op ${op}`;
}

function ipv4(b: Uint8Array): string {
  if (b.length < 20 || b[0]! >> 4 !== 4) return '[truncated or not IPv4]';
  const ihl = (b[0]! & 0x0f) * 4;
  const total = u16(b, 2);
  const proto = b[9]!;
  const src = ip(b, 12);
  const dst = ip(b, 16);
  const body = b.subarray(ihl, Math.min(b.length, total));
  // A fragment (more follow, or not the first): the first carries the transport header, the others only data.
  const flagsOffset = u16(b, 6);
  const more = (flagsOffset & 0x2000) !== 0;
  const offset = (flagsOffset & 0x1fff) * 8;
  if (offset > 0 || more) {
    const frag = `IP fragment, id ${u16(b, 4)}, offset ${offset}, length ${body.length}${more ? ', more follow' : ''}`;
    return offset > 0 ? `${src} > ${dst}: ${frag}` : `${transport(proto, src, dst, body)} (${frag})`;
  }
  return transport(proto, src, dst, body);
}

function transport(proto: number, src: string, dst: string, body: Uint8Array): string {
  switch (proto) {
    case 1:
      return `${src} > ${dst}: ICMP ${icmp(body)}`;
    case 6:
      return tcp(src, dst, body);
    case 17:
      return udp(src, dst, body);
    default:
      return `${src} > ${dst}: ip-proto-${proto} ${body.length}`;
  }
}

function icmp(b: Uint8Array): string {
  if (b.length < 8) return '[truncated]';
  const kind = b[0] === 8 ? 'echo request' : b[0] === 0 ? 'echo reply' : b[0] === 3 ? 'destination unreachable' : `type ${b[0]}`;
  return b[0] === 8 || b[0] === 0 ? `${kind}, id ${u16(b, 4)}, seq ${u16(b, 6)}, length ${b.length}` : `${kind}, length ${b.length}`;
}

function tcp(src: string, dst: string, b: Uint8Array): string {
  if (b.length < 20) return `${src} > ${dst}: TCP [truncated]`;
  const off = (b[12]! >> 4) * 4;
  const f = b[13]!;
  const flags = [f & 0x02 ? 'S' : '', f & 0x01 ? 'F' : '', f & 0x04 ? 'R' : '', f & 0x08 ? 'P' : '', f & 0x10 ? '.' : ''].join('') || 'none';
  const len = Math.max(0, b.length - off);
  const ack = f & 0x10 ? `, ack ${u32(b, 8)}` : '';
  return `${src}.${u16(b, 0)} > ${dst}.${u16(b, 2)}: Flags [${flags}], seq ${u32(b, 4)}${ack}, win ${u16(b, 14)}, length ${len}`;
}

const DHCP_TYPES = ['', 'Discover', 'Offer', 'Request', 'Decline', 'ACK', 'NAK', 'Release', 'Inform'];

function udp(src: string, dst: string, b: Uint8Array): string {
  if (b.length < 8) return `${src} > ${dst}: UDP [truncated]`;
  const sport = u16(b, 0);
  const dport = u16(b, 2);
  const body = b.subarray(8);
  const head = `${src}.${sport} > ${dst}.${dport}:`;
  if ((sport === 67 || sport === 68) && (dport === 67 || dport === 68)) return `${head} DHCP ${dhcp(body)}`;
  if (sport === 53 || dport === 53) return `${head} DNS ${dns(body)}`;
  return `${head} UDP, length ${body.length}`;
}

function dhcp(b: Uint8Array): string {
  if (b.length < 240 || u32(b, 236) !== DHCP_MAGIC) return '[truncated or no magic cookie]';
  const type = dhcpOptions(b.subarray(240)).get(53);
  if (!type?.length) return 'BOOTP (no message type)';
  const t = type[0]!;
  const yours = t === 2 || t === 5 ? `, your ${ip(b, 16)}` : '';
  return `${DHCP_TYPES[t] ?? `type ${t}`}, xid 0x${u32(b, 4).toString(16)}${yours}`;
}

const DNS_TYPES: Record<number, string> = { 1: 'A', 28: 'AAAA', 12: 'PTR', 5: 'CNAME' };

function dns(b: Uint8Array): string {
  if (b.length < 12) return '[truncated]';
  const id = u16(b, 0);
  const response = (b[2]! & 0x80) !== 0;
  const rcode = b[3]! & 0x0f;
  const questions = u16(b, 4);
  const answers = u16(b, 6);
  let name = '';
  if (questions > 0) {
    const q = dnsQuestion(b);
    name = q ? ` ${DNS_TYPES[q.qtype] ?? `type${q.qtype}`}? ${q.name}.` : ' [malformed question]';
  }
  if (!response) return `query ${id}${name}`;
  return `response ${id}${rcode === 3 ? ' NXDomain' : rcode ? ` rcode ${rcode}` : ''}${name} ${answers} answer(s)`;
}
