// The host's services on one network, answering as a port of the switch:
// a gateway address that answers ARP and ping, a DHCP server (RFC 2131:
// leases from a pool, static leases by MAC, exhaustion counted) and a DNS
// server (RFC 1035: A records for the guests' names, from their leases).
// Pure, on an injected clock: it takes one frame and returns the replies.
import type { Clock } from '../clock.ts';
import { ETHERTYPE_IPV4, macText, readMac, type Mac } from './ethernet.ts';
import { checksum, inSubnet, ipText, ipv4Frame, maskOf, put16, put32, putMac, readIpv4, u16, u32, udpBody, type Ip, type Subnet } from './ipv4.ts';
import { DHCP_MAGIC, dhcpOptions, dnsQuestion } from './dhcp-dns.ts';

export interface ServicesConfig {
  subnet: Subnet;
  /** The gateway address (the services answer there) and its MAC. */
  gateway: Ip;
  mac: Mac;
  dhcp: boolean;
  dns: boolean;
  /** The DHCP pool, inclusive. */
  poolFrom: Ip;
  poolTo: Ip;
  leaseSeconds: number;
  /** Fixed addresses by MAC. */
  staticLeases?: Map<Mac, Ip>;
}

export interface Lease {
  mac: Mac;
  ip: Ip;
  /** The switch port the client asked from (whose VM name the DNS answers for). */
  port: string;
  /** Host clock, ms. */
  expiresAt: number;
}

export interface ServiceCounters {
  arpReplies: number;
  pingReplies: number;
  offers: number;
  acks: number;
  naks: number;
  /** DISCOVERs that found no free address. */
  poolExhausted: number;
  dnsAnswers: number;
  dnsNotFound: number;
}

const DHCP = { DISCOVER: 1, OFFER: 2, REQUEST: 3, ACK: 5, NAK: 6, RELEASE: 7 } as const;

export class HostServices {
  private readonly leasesByMac = new Map<Mac, Lease>();
  /** Offers not yet requested: MAC to address. */
  private readonly offered = new Map<Mac, Ip>();
  readonly counters: ServiceCounters = { arpReplies: 0, pingReplies: 0, offers: 0, acks: 0, naks: 0, poolExhausted: 0, dnsAnswers: 0, dnsNotFound: 0 };

  constructor(
    readonly config: ServicesConfig,
    private readonly clock: Clock,
    /** The name of the VM on a switch port (what DNS answers for), or null. */
    private readonly nameOf: (port: string) => string | null,
    /** A port's guest took an address (a DHCP ACK) or gave it back (null). */
    private readonly onAddress: (port: string, ip: Ip | null) => void = () => {},
  ) {}

  /** Leases that have not expired. */
  leases(): Lease[] {
    const now = this.clock.now();
    return [...this.leasesByMac.values()].filter((l) => l.expiresAt > now).map((l) => ({ ...l }));
  }

  /** The address leased to the VM on `port`, if any. */
  addressOf(port: string): Ip | null {
    return this.leases().find((l) => l.port === port)?.ip ?? null;
  }

  /** A guest's name to its leased address (DNS). */
  resolve(name: string): Ip | null {
    const wanted = name.toLowerCase().replace(/\.$/, '');
    return this.leases().find((l) => this.nameOf(l.port)?.toLowerCase() === wanted)?.ip ?? null;
  }

  /** Forget a port's leases (its VM is gone). */
  forgetPort(port: string): void {
    let had = false;
    for (const [mac, l] of this.leasesByMac) {
      if (l.port !== port) continue;
      this.leasesByMac.delete(mac);
      had = true;
    }
    if (had) this.onAddress(port, null);
  }

  /** One frame that reached the services from `port`; the frames they answer with. */
  handle(frame: Uint8Array, port: string): Uint8Array[] {
    if (frame.length >= 42 && u16(frame, 12) === 0x0806) return this.arp(frame);
    const p = readIpv4(frame);
    if (!p) return [];
    if (p.proto === 1 && p.dst === this.config.gateway) return this.ping(p.srcMac, p.src, p.body);
    if (p.proto !== 17 || p.body.length < 8) return [];
    const dport = u16(p.body, 2);
    const payload = p.body.subarray(8, u16(p.body, 4));
    if (dport === 67 && this.config.dhcp) return this.dhcp(payload, port);
    if (dport === 53 && this.config.dns && p.dst === this.config.gateway) return this.dns(p.srcMac, p.src, u16(p.body, 0), payload);
    return [];
  }

  private arp(f: Uint8Array): Uint8Array[] {
    // Ethernet/IPv4 request for the gateway's address.
    if (u16(f, 14) !== 1 || u16(f, 16) !== ETHERTYPE_IPV4 || u16(f, 20) !== 1 || u32(f, 38) !== this.config.gateway) return [];
    const asker = readMac(f, 22);
    const askerIp = u32(f, 28);
    const r = new Uint8Array(42);
    putMac(r, 0, asker);
    putMac(r, 6, this.config.mac);
    put16(r, 12, 0x0806);
    put16(r, 14, 1);
    put16(r, 16, ETHERTYPE_IPV4);
    r[18] = 6;
    r[19] = 4;
    put16(r, 20, 2);
    putMac(r, 22, this.config.mac);
    put32(r, 28, this.config.gateway);
    putMac(r, 32, asker);
    put32(r, 38, askerIp);
    this.counters.arpReplies++;
    return [r];
  }

  private ping(mac: Mac, src: Ip, icmp: Uint8Array): Uint8Array[] {
    if (icmp.length < 8 || icmp[0] !== 8) return [];
    const reply = icmp.slice();
    reply[0] = 0;
    put16(reply, 2, 0);
    put16(reply, 2, checksum(reply, 0, reply.length));
    this.counters.pingReplies++;
    return [ipv4Frame(this.config.mac, mac, this.config.gateway, src, 1, reply)];
  }

  // --- DHCP ---

  private dhcp(m: Uint8Array, port: string): Uint8Array[] {
    if (m.length < 240 || m[0] !== 1 || u32(m, 236) !== DHCP_MAGIC) return [];
    const xid = u32(m, 4);
    const mac = readMac(m, 28);
    const opts = dhcpOptions(m.subarray(240));
    const type = opts.get(53)?.[0];
    const requested = opts.get(50);
    const server = opts.get(54);
    const now = this.clock.now();
    switch (type) {
      case DHCP.DISCOVER: {
        const ip = this.pick(mac, requested ? u32(requested, 0) : null, now);
        if (ip === null) {
          this.counters.poolExhausted++;
          return [];
        }
        this.offered.set(mac, ip);
        this.counters.offers++;
        return [this.dhcpReply(DHCP.OFFER, xid, mac, ip)];
      }
      case DHCP.REQUEST: {
        if (server && u32(server, 0) !== this.config.gateway) {
          this.offered.delete(mac); // the client took another server's offer
          return [];
        }
        const want = requested ? u32(requested, 0) : u32(m, 12); // requested address, or ciaddr when renewing
        const mine = this.offered.get(mac) ?? this.leasesByMac.get(mac)?.ip ?? null;
        if (want !== mine || !this.free(want, mac, now)) {
          this.counters.naks++;
          return [this.dhcpReply(DHCP.NAK, xid, mac, 0)];
        }
        this.offered.delete(mac);
        this.leasesByMac.set(mac, { mac, ip: want, port, expiresAt: now + this.config.leaseSeconds * 1000 });
        this.counters.acks++;
        this.onAddress(port, want);
        return [this.dhcpReply(DHCP.ACK, xid, mac, want)];
      }
      case DHCP.RELEASE: {
        const released = this.leasesByMac.get(mac);
        if (released?.ip === u32(m, 12)) {
          this.leasesByMac.delete(mac);
          this.onAddress(released.port, null);
        }
        return [];
      }
      default:
        return [];
    }
  }

  /** The address for a client: its static one, the one it had, the one it asks for if free, else the pool's first free one. */
  private pick(mac: Mac, requested: Ip | null, now: number): Ip | null {
    const fixed = this.config.staticLeases?.get(mac);
    if (fixed !== undefined) return fixed;
    const had = this.leasesByMac.get(mac)?.ip ?? this.offered.get(mac);
    if (had !== undefined && this.free(had, mac, now)) return had;
    const { poolFrom, poolTo } = this.config;
    if (requested !== null && requested >= poolFrom && requested <= poolTo && this.free(requested, mac, now)) return requested;
    for (let ip = poolFrom; ip <= poolTo; ip++) if (this.free(ip, mac, now)) return ip;
    return null;
  }

  /** Not leased (or offered) to another MAC, and nobody's static address. */
  private free(ip: Ip, mac: Mac, now: number): boolean {
    if (ip === this.config.gateway || !inSubnet(ip, this.config.subnet)) return false;
    for (const l of this.leasesByMac.values()) if (l.ip === ip && l.mac !== mac && l.expiresAt > now) return false;
    for (const [m, o] of this.offered) if (o === ip && m !== mac) return false;
    for (const [m, s] of this.config.staticLeases ?? []) if (s === ip && m !== mac) return false;
    return true;
  }

  private dhcpReply(type: number, xid: number, mac: Mac, yiaddr: Ip): Uint8Array {
    const { gateway, subnet, leaseSeconds } = this.config;
    const options: [number, Uint8Array][] = [
      [53, new Uint8Array([type])],
      [54, ip4(gateway)],
    ];
    if (type !== DHCP.NAK) {
      options.push([51, u32b(leaseSeconds)], [1, ip4(maskOf(subnet.prefix))], [3, ip4(gateway)]);
      if (this.config.dns) options.push([6, ip4(gateway)]);
    }
    const size = 240 + options.reduce((n, [, v]) => n + 2 + v.length, 0) + 1;
    const m = new Uint8Array(Math.max(300, size)); // BOOTP's minimum
    m[0] = 2; // BOOTREPLY
    m[1] = 1;
    m[2] = 6;
    put32(m, 4, xid);
    put32(m, 16, yiaddr);
    put32(m, 20, gateway);
    putMac(m, 28, mac);
    put32(m, 236, DHCP_MAGIC);
    let at = 240;
    for (const [code, value] of options) {
      m[at] = code;
      m[at + 1] = value.length;
      m.set(value, at + 2);
      at += 2 + value.length;
    }
    m[at] = 255;
    // To the client's MAC, and to the limited broadcast address: it has no address yet.
    return ipv4Frame(this.config.mac, mac, gateway, 0xffffffff, 17, udpBody(67, 68, m));
  }

  // --- DNS ---

  private dns(mac: Mac, src: Ip, srcPort: number, q: Uint8Array): Uint8Array[] {
    if (q.length < 12 || (q[2]! & 0x80) !== 0 || u16(q, 4) !== 1) return [];
    const asked = dnsQuestion(q);
    if (!asked) return [];
    const { qtype } = asked;
    const question = q.subarray(12, asked.end);
    const address = this.resolve(asked.name);
    const answers: Uint8Array[] = [];
    if (address !== null && qtype === 1) {
      const a = new Uint8Array(16);
      put16(a, 0, 0xc00c); // the name: a pointer to the question's
      put16(a, 2, 1);
      put16(a, 4, 1);
      put32(a, 6, 60);
      put16(a, 10, 4);
      put32(a, 12, address);
      answers.push(a);
    }
    if (address === null) this.counters.dnsNotFound++;
    else this.counters.dnsAnswers++;
    const r = new Uint8Array(12 + question.length + answers.reduce((n, a) => n + a.length, 0));
    put16(r, 0, u16(q, 0));
    r[2] = 0x84 | (q[2]! & 0x01); // response, authoritative, recursion desired as asked
    r[3] = address === null ? 3 : 0; // NXDOMAIN for a name no guest has
    put16(r, 4, 1);
    put16(r, 6, answers.length);
    r.set(question, 12);
    let w = 12 + question.length;
    for (const a of answers) {
      r.set(a, w);
      w += a.length;
    }
    return [ipv4Frame(this.config.mac, mac, this.config.gateway, src, 17, udpBody(53, srcPort, r))];
  }
}

const ip4 = (ip: Ip): Uint8Array => u32b(ip);

function u32b(v: number): Uint8Array {
  const b = new Uint8Array(4);
  put32(b, 0, v);
  return b;
}

/** For messages: an address and a MAC as people read them. */
export function leaseText(l: Lease): string {
  return `${ipText(l.ip)} to ${macText(l.mac)}`;
}

