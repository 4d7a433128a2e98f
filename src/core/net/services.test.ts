import { describe, expect, it } from 'vitest';
import { FakeClock } from '../clock.ts';
import { summarize } from './decode.ts';
import { parseMac } from './ethernet.ts';
import { checksum, ipText, ipv4Frame, parseIp, parseSubnet, put32, putMac, readIpv4, u16, u32, udpBody } from './ipv4.ts';
import { HostServices, type ServicesConfig } from './services.ts';
import { utf8Encode } from './utf8.ts';

const GW_MAC = parseMac('02:00:00:00:ff:01')!;
const A_MAC = parseMac('02:00:00:00:00:0a')!;
const B_MAC = parseMac('02:00:00:00:00:0b')!;
const C_MAC = parseMac('02:00:00:00:00:0c')!;
const ip = (t: string) => parseIp(t)!;

function services(clock = new FakeClock(0), extra: Partial<ServicesConfig> = {}): HostServices {
  const names: Record<string, string> = { pa: 'web1', pb: 'web2', pc: 'db' };
  return new HostServices(
    { subnet: parseSubnet('10.0.10.0/24'), gateway: ip('10.0.10.1'), mac: GW_MAC, dhcp: true, dns: true, poolFrom: ip('10.0.10.100'), poolTo: ip('10.0.10.199'), leaseSeconds: 3600, ...extra },
    clock,
    (port) => names[port] ?? null,
  );
}

function dhcpMessage(type: number, mac: number, xid: number, opts: [number, number[]][] = [], ciaddr = 0): Uint8Array {
  const m = new Uint8Array(300);
  m[0] = 1;
  m[1] = 1;
  m[2] = 6;
  put32(m, 4, xid);
  put32(m, 12, ciaddr);
  putMac(m, 28, mac);
  put32(m, 236, 0x63825363);
  let at = 240;
  for (const [code, value] of [[53, [type]] as [number, number[]], ...opts]) {
    m[at] = code;
    m[at + 1] = value.length;
    m.set(value, at + 2);
    at += 2 + value.length;
  }
  m[at] = 255;
  return ipv4Frame(mac, 0xffff_ffff_ffff, 0, 0xffffffff, 17, udpBody(68, 67, m));
}

/** The DHCP reply's type, offered address and options (53, 54, 51, 1, 3, 6). */
function dhcpReply(frame: Uint8Array) {
  const p = readIpv4(frame)!;
  const m = p.body.subarray(8);
  const opts = new Map<number, number[]>();
  for (let at = 240; m[at] !== 255; at += 2 + m[at + 1]!) opts.set(m[at]!, [...m.subarray(at + 2, at + 2 + m[at + 1]!)]);
  return { type: opts.get(53)![0], yiaddr: ipText(u32(m, 16)), opts, dst: ipText(p.dst), xid: u32(m, 4) };
}

function lease(s: HostServices, mac: number, port: string, xid = 1): string {
  const offer = dhcpReply(s.handle(dhcpMessage(1, mac, xid), port)[0]!);
  const ack = dhcpReply(s.handle(dhcpMessage(3, mac, xid + 1, [[50, offer.yiaddr.split('.').map(Number)], [54, [10, 0, 10, 1]]]), port)[0]!);
  expect(ack.type).toBe(5);
  return ack.yiaddr;
}

function dnsQuery(name: string, qtype = 1, id = 0x1234): Uint8Array {
  const labels = name.split('.').flatMap((l) => [l.length, ...utf8Encode(l)]);
  const q = new Uint8Array([id >> 8, id & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, qtype, 0, 1]);
  return ipv4Frame(A_MAC, GW_MAC, ip('10.0.10.100'), ip('10.0.10.1'), 17, udpBody(40000, 53, q));
}

describe('host services: gateway', () => {
  it('answers ARP for the gateway address, and nothing else', () => {
    const s = services();
    const req = (target: string) => {
      const f = new Uint8Array(42);
      putMac(f, 0, 0xffff_ffff_ffff);
      putMac(f, 6, A_MAC);
      f.set([0x08, 0x06, 0, 1, 8, 0, 6, 4, 0, 1], 12);
      putMac(f, 22, A_MAC);
      put32(f, 28, ip('10.0.10.100'));
      put32(f, 38, ip(target));
      return f;
    };
    const [reply] = s.handle(req('10.0.10.1'), 'pa');
    expect(summarize(reply!)).toBe('02:00:00:00:ff:01 > 02:00:00:00:00:0a, ARP, Reply 10.0.10.1 is-at 02:00:00:00:ff:01');
    expect(s.handle(req('10.0.10.7'), 'pa')).toEqual([]);
  });

  it('answers a ping to the gateway with a valid checksum', () => {
    const s = services();
    const icmp = new Uint8Array([8, 0, 0, 0, 0, 9, 0, 1, 0xaa, 0xbb]);
    icmp.set([checksum(icmp, 0, icmp.length) >> 8, checksum(icmp, 0, icmp.length) & 255], 2);
    const [reply] = s.handle(ipv4Frame(A_MAC, GW_MAC, ip('10.0.10.100'), ip('10.0.10.1'), 1, icmp), 'pa');
    const p = readIpv4(reply!)!;
    expect(summarize(reply!)).toContain('10.0.10.1 > 10.0.10.100: ICMP echo reply, id 9, seq 1');
    expect(checksum(p.body, 0, p.body.length)).toBe(0);
  });
});

describe('host services: DHCP', () => {
  it('offers, then acknowledges, an address from the pool with mask, router and DNS server', () => {
    const s = services();
    const [offerFrame] = s.handle(dhcpMessage(1, A_MAC, 77), 'pa');
    const offer = dhcpReply(offerFrame!);
    expect(offer).toMatchObject({ type: 2, yiaddr: '10.0.10.100', dst: '255.255.255.255', xid: 77 });
    expect(offer.opts.get(1)).toEqual([255, 255, 255, 0]);
    expect(offer.opts.get(3)).toEqual([10, 0, 10, 1]);
    expect(offer.opts.get(6)).toEqual([10, 0, 10, 1]);
    expect(offer.opts.get(54)).toEqual([10, 0, 10, 1]);
    expect(u32(new Uint8Array(offer.opts.get(51)!), 0)).toBe(3600);
    expect(s.leases()).toEqual([]); // an offer is not a lease
    expect(lease(s, A_MAC, 'pa')).toBe('10.0.10.100');
    expect(s.leases().map((l) => [ipText(l.ip), l.port])).toEqual([['10.0.10.100', 'pa']]);
    expect(lease(s, B_MAC, 'pb')).toBe('10.0.10.101');
    // A client that asks again keeps its address.
    expect(lease(s, A_MAC, 'pa', 9)).toBe('10.0.10.100');
  });

  it('says NAK to a request for an address that is not the client\'s', () => {
    const s = services();
    lease(s, A_MAC, 'pa');
    const [nak] = s.handle(dhcpMessage(3, B_MAC, 5, [[50, [10, 0, 10, 100]]]), 'pb');
    expect(dhcpReply(nak!).type).toBe(6);
    expect(s.counters.naks).toBe(1);
  });

  it('ignores a request meant for another server', () => {
    const s = services();
    s.handle(dhcpMessage(1, A_MAC, 1), 'pa');
    expect(s.handle(dhcpMessage(3, A_MAC, 2, [[50, [10, 0, 10, 100]], [54, [10, 0, 10, 254]]]), 'pa')).toEqual([]);
  });

  it('counts an exhausted pool and offers nothing; an expired lease frees its address', () => {
    const clock = new FakeClock(0);
    const s = services(clock, { poolFrom: ip('10.0.10.100'), poolTo: ip('10.0.10.101'), leaseSeconds: 60 });
    lease(s, A_MAC, 'pa');
    lease(s, B_MAC, 'pb');
    expect(s.handle(dhcpMessage(1, C_MAC, 3), 'pc')).toEqual([]);
    expect(s.counters.poolExhausted).toBe(1);
    clock.advance(60_001);
    expect(s.leases()).toEqual([]);
    expect(lease(s, C_MAC, 'pc')).toBe('10.0.10.100');
  });

  it('gives a static lease to its MAC only', () => {
    const s = services(new FakeClock(0), { staticLeases: new Map([[B_MAC, ip('10.0.10.50')]]) });
    expect(lease(s, B_MAC, 'pb')).toBe('10.0.10.50');
    expect(lease(s, A_MAC, 'pa')).toBe('10.0.10.100');
  });
});

describe('host services: DNS', () => {
  function answer(s: HostServices, name: string, qtype = 1) {
    const [r] = s.handle(dnsQuery(name, qtype), 'pa');
    const p = readIpv4(r!)!;
    const m = p.body.subarray(8);
    return { id: u16(m, 0), rcode: m[3]! & 15, answers: u16(m, 6), summary: summarize(r!), a: u16(m, 6) ? ipText(u32(m, m.length - 4)) : null };
  }

  it('answers A for a guest by its VM name (any case, trailing dot), from its lease', () => {
    const s = services();
    lease(s, A_MAC, 'pa');
    lease(s, B_MAC, 'pb');
    expect(answer(s, 'web2')).toMatchObject({ id: 0x1234, rcode: 0, answers: 1, a: '10.0.10.101' });
    expect(answer(s, 'WEB1')).toMatchObject({ rcode: 0, a: '10.0.10.100' });
    expect(answer(s, 'web2').summary).toContain('DNS response 4660 A? web2. 1 answer(s)');
  });

  it('says NXDOMAIN for a name no guest has, and no address for AAAA', () => {
    const s = services();
    lease(s, A_MAC, 'pa');
    expect(answer(s, 'nowhere')).toMatchObject({ rcode: 3, answers: 0 });
    expect(answer(s, 'db')).toMatchObject({ rcode: 3 }); // db has no lease
    expect(answer(s, 'web1', 28)).toMatchObject({ rcode: 0, answers: 0 });
    expect(s.counters.dnsNotFound).toBe(2);
  });

  it('forgets the leases of a port whose VM is gone', () => {
    const s = services();
    lease(s, A_MAC, 'pa');
    s.forgetPort('pa');
    expect(answer(s, 'web1').rcode).toBe(3);
  });
});

describe('subnets', () => {
  it.each([
    ['10.0.10.0/33', /not valid/],
    ['10.0.10.5/24', /host bits set: did you mean 10.0.10.0\/24/],
    ['300.0.0.0/8', /not valid/],
  ])('refuses %s', (text, error) => {
    expect(() => parseSubnet(text)).toThrow(error);
  });
});
