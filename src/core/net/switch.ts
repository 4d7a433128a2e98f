// A learning Ethernet switch with 802.1Q VLANs, port mirroring and ingress
// rate limits, pure and on an injected clock: the host feeds it the frames a
// guest's NIC sent and delivers what it returns. Modelled on Open vSwitch's
// defaults: MAC entries age out after 300 s, the table is bounded, access
// ports carry one VLAN untagged, trunk ports carry the VLANs they allow
// tagged and their native VLAN untagged. A frame it cannot forward is
// counted with its reason and dropped, never thrown.
import type { Clock } from '../clock.ts';
import { ETH_HEADER, ETH_MTU, JUMBO_MTU, MIN_MTU, isGroup, isValidMtu, macText, popTag, pushTag, readMac, tagOf, type Mac } from './ethernet.ts';
import { TokenBucket, type RateLimit } from './token-bucket.ts';

export type PortId = string;

export type PortMode =
  | { mode: 'access'; vlan: number }
  /** `allowed`: the VLANs it carries tagged ('all': every one); `native`: the VLAN its untagged frames belong to (null: they are dropped). */
  | { mode: 'trunk'; allowed: number[] | 'all'; native: number | null };

export interface PortConfig {
  vlan: PortMode;
  rateLimit: RateLimit | null;
  /** The largest payload a frame entering here may carry, bytes (default ETH_MTU; up to JUMBO_MTU): larger frames are dropped as oversized. */
  mtu?: number;
}

export const DROP_REASONS = ['malformed', 'oversized', 'bad-source', 'vlan-not-allowed', 'tagged-on-access', 'untagged-on-trunk', 'rate-limit', 'same-port'] as const;
export type DropReason = (typeof DROP_REASONS)[number];

export interface PortCounters {
  rxFrames: number;
  rxBytes: number;
  txFrames: number;
  txBytes: number;
  drops: Record<DropReason, number>;
}

/** Copy a port's frames (received, sent or both), or a VLAN's, to an output port or a capture. */
export interface Mirror {
  id: string;
  source: { port: PortId; direction: 'rx' | 'tx' | 'both' } | { vlan: number };
  output: { port: PortId } | { capture: string };
}

/** A frame for a port (forwarded, flooded or mirrored to it). */
export interface Delivery {
  port: PortId;
  frame: Uint8Array;
}

export interface MirrorCopy {
  mirror: string;
  /** Where the copy was seen: the port it entered (rx) or left (tx) by. */
  at: PortId;
  direction: 'rx' | 'tx';
  vlan: number;
  frame: Uint8Array;
}

/** What one received frame becomes: frames for ports, and copies for captures. */
export interface SwitchResult {
  deliveries: Delivery[];
  captured: MirrorCopy[];
  /** Why the frame went nowhere (null: it was forwarded or flooded, perhaps to no other port; 'no-port': it came from a port that is gone). */
  dropped: DropReason | 'no-port' | null;
}

export interface MacEntry {
  mac: string;
  vlan: number;
  port: PortId;
  ageMs: number;
}

export interface SwitchOptions {
  /** Idle time after which a learnt address is forgotten, ms (default 300 s). */
  agingMs?: number;
  /** Most addresses the table holds; beyond it the oldest entry goes (default 8192). */
  maxMacs?: number;
}

export const VLAN_MIN = 1;
export const VLAN_MAX = 4094;

interface Port {
  id: PortId;
  config: PortConfig;
  bucket: TokenBucket | null;
  counters: PortCounters;
}

interface Learnt {
  port: PortId;
  seen: number;
}

export class VirtualSwitch {
  private readonly ports = new Map<PortId, Port>();
  /** Learnt addresses by VLAN * 2^48 + MAC (one number: a cheap key), oldest first. */
  private readonly table = new Map<number, Learnt>();
  private readonly mirrors = new Map<string, Mirror>();
  readonly agingMs: number;
  readonly maxMacs: number;

  constructor(
    private readonly clock: Clock,
    options: SwitchOptions = {},
  ) {
    this.agingMs = options.agingMs ?? 300_000;
    this.maxMacs = options.maxMacs ?? 8192;
    if (!(this.agingMs > 0)) throw new RangeError(`switch: aging time ${this.agingMs} ms must be positive`);
    if (!Number.isInteger(this.maxMacs) || this.maxMacs < 1) throw new RangeError(`switch: table size ${this.maxMacs} must be a whole number of at least 1`);
  }

  addPort(id: PortId, config: PortConfig): void {
    if (this.ports.has(id)) throw new RangeError(`switch: port ${id} exists already`);
    checkPortConfig(id, config);
    this.ports.set(id, { id, config, bucket: config.rateLimit ? new TokenBucket(config.rateLimit, this.clock) : null, counters: emptyCounters() });
  }

  setPort(id: PortId, config: PortConfig): void {
    const port = this.port(id);
    checkPortConfig(id, config);
    port.config = config;
    port.bucket = config.rateLimit ? new TokenBucket(config.rateLimit, this.clock) : null;
    // Addresses learnt on VLANs the port no longer carries would send frames where they cannot go.
    for (const [key, e] of this.table) if (e.port === id && !carries(config.vlan, Math.floor(key / 2 ** 48))) this.table.delete(key);
  }

  /** Remove a port: its addresses and the mirrors that use it go too. */
  removePort(id: PortId): void {
    this.port(id);
    this.ports.delete(id);
    for (const [key, e] of this.table) if (e.port === id) this.table.delete(key);
    for (const m of this.mirrors.values()) {
      if (('port' in m.source && m.source.port === id) || ('port' in m.output && m.output.port === id)) this.mirrors.delete(m.id);
    }
  }

  portIds(): PortId[] {
    return [...this.ports.keys()];
  }

  portConfig(id: PortId): PortConfig {
    return this.port(id).config;
  }

  addMirror(mirror: Mirror): void {
    if (this.mirrors.has(mirror.id)) throw new RangeError(`switch: mirror ${mirror.id} exists already`);
    if ('port' in mirror.source) this.port(mirror.source.port);
    else checkVlan(mirror.source.vlan, `mirror ${mirror.id}`);
    if ('port' in mirror.output) {
      this.port(mirror.output.port);
      if ('port' in mirror.source && mirror.source.port === mirror.output.port) throw new RangeError(`switch: mirror ${mirror.id} would copy port ${mirror.output.port} to itself`);
    }
    this.mirrors.set(mirror.id, mirror);
  }

  mirrorIds(): string[] {
    return [...this.mirrors.keys()];
  }

  removeMirror(id: string): void {
    this.mirrors.delete(id);
  }

  counters(id: PortId): PortCounters {
    const c = this.port(id).counters;
    return { ...c, drops: { ...c.drops } };
  }

  /** The learnt addresses that have not aged out, with their ages. */
  macTable(): MacEntry[] {
    const now = this.clock.now();
    const out: MacEntry[] = [];
    for (const [key, e] of this.table) {
      if (now - e.seen >= this.agingMs) continue;
      out.push({ mac: macText(key % 2 ** 48), vlan: Math.floor(key / 2 ** 48), port: e.port, ageMs: now - e.seen });
    }
    return out;
  }

  /** A frame that entered by port `from`: where it goes. */
  receive(from: PortId, frame: Uint8Array): SwitchResult {
    const port = this.ports.get(from);
    if (!port) return { deliveries: [], captured: [], dropped: 'no-port' };
    const c = port.counters;
    c.rxFrames++;
    c.rxBytes += frame.length;
    const drop = (reason: DropReason): SwitchResult => {
      c.drops[reason]++;
      return { deliveries: [], captured: [], dropped: reason };
    };
    if (frame.length < ETH_HEADER) return drop('malformed');
    const tag = tagOf(frame);
    if (tag !== null && frame.length < ETH_HEADER + 4) return drop('malformed');
    if (frame.length > (port.config.mtu ?? ETH_MTU) + (tag === null ? ETH_HEADER : ETH_HEADER + 4)) return drop('oversized');
    const src = readMac(frame, 6);
    if (isGroup(src)) return drop('bad-source');

    // Which VLAN it belongs to; `plain` is the frame without a tag.
    const mode = port.config.vlan;
    let vlan: number;
    let plain = frame;
    if (mode.mode === 'access') {
      // A priority tag (VLAN 0) carries no VLAN: the frame is the port's.
      if (tag !== null && tag !== 0) return drop('tagged-on-access');
      vlan = mode.vlan;
      if (tag !== null) plain = popTag(frame);
    } else if (tag === null || tag === 0) {
      if (mode.native === null) return drop('untagged-on-trunk');
      vlan = mode.native;
      if (tag !== null) plain = popTag(frame);
    } else {
      if (!carries(mode, tag)) return drop('vlan-not-allowed');
      vlan = tag;
      plain = popTag(frame);
    }
    if (port.bucket && !port.bucket.take(frame.length)) return drop('rate-limit');

    const now = this.clock.now();
    this.learn(vlan * 2 ** 48 + src, from, now);
    const dst = readMac(plain, 0);
    let targets: Port[];
    if (isGroup(dst)) {
      targets = this.inVlan(vlan, from);
    } else {
      const known = this.table.get(vlan * 2 ** 48 + dst);
      if (known && now - known.seen < this.agingMs) {
        if (known.port === from) return drop('same-port');
        const to = this.ports.get(known.port)!;
        targets = [to];
      } else {
        targets = this.inVlan(vlan, from);
      }
    }
    const deliveries: Delivery[] = [];
    for (const to of targets) {
      const out = egress(to.config.vlan, vlan, plain);
      deliveries.push({ port: to.id, frame: out });
      to.counters.txFrames++;
      to.counters.txBytes += out.length;
    }
    if (this.mirrors.size === 0) return { deliveries, captured: [], dropped: null };
    const captured: MirrorCopy[] = [];
    for (const m of this.mirror(from, vlan, plain, deliveries)) {
      const target = this.mirrors.get(m.mirror)!.output;
      if ('capture' in target) {
        captured.push(m);
        continue;
      }
      const to = this.ports.get(target.port)!;
      const out = egress(to.config.vlan, m.vlan, m.frame);
      deliveries.push({ port: to.id, frame: out });
      to.counters.txFrames++;
      to.counters.txBytes += out.length;
    }
    return { deliveries, captured, dropped: null };
  }

  /**
   * Forget addresses idle for the aging time, to free their memory. Not
   * needed for correctness: lookups and macTable() ignore aged entries, and a
   * full table drops its idlest entry first.
   */
  expire(): number {
    const now = this.clock.now();
    let n = 0;
    for (const [key, e] of this.table) {
      if (now - e.seen >= this.agingMs) {
        this.table.delete(key);
        n++;
      }
    }
    return n;
  }

  private learn(key: number, port: PortId, now: number): void {
    const e = this.table.get(key);
    if (e && e.port === port) {
      // Refreshed: to the young end of the table, so that a full table drops the idlest first.
      this.table.delete(key);
      e.seen = now;
      this.table.set(key, e);
      return;
    }
    if (e) this.table.delete(key); // moved to another port
    if (this.table.size >= this.maxMacs) {
      const oldest = this.table.keys().next().value as number;
      this.table.delete(oldest);
    }
    this.table.set(key, { port, seen: now });
  }

  private inVlan(vlan: number, except: PortId): Port[] {
    const out: Port[] = [];
    for (const p of this.ports.values()) if (p.id !== except && carries(p.config.vlan, vlan)) out.push(p);
    return out;
  }

  private mirror(from: PortId, vlan: number, plain: Uint8Array, deliveries: Delivery[]): MirrorCopy[] {
    const out: MirrorCopy[] = [];
    for (const m of this.mirrors.values()) {
      const s = m.source;
      if ('vlan' in s) {
        if (s.vlan === vlan) out.push({ mirror: m.id, at: from, direction: 'rx', vlan, frame: plain });
        continue;
      }
      if (s.port === from && s.direction !== 'tx') out.push({ mirror: m.id, at: from, direction: 'rx', vlan, frame: plain });
      if (s.direction !== 'rx') {
        for (const d of deliveries) if (d.port === s.port) out.push({ mirror: m.id, at: d.port, direction: 'tx', vlan, frame: plain });
      }
    }
    return out;
  }

  private port(id: PortId): Port {
    const p = this.ports.get(id);
    if (!p) throw new RangeError(`switch: there is no port ${id}`);
    return p;
  }
}

/** Does a port of this mode carry VLAN `vlan`? */
function carries(mode: PortMode, vlan: number): boolean {
  if (mode.mode === 'access') return mode.vlan === vlan;
  return mode.native === vlan || mode.allowed === 'all' || mode.allowed.includes(vlan);
}

/** The frame as it leaves a port of this mode: untagged on access ports and a trunk's native VLAN, tagged otherwise. */
function egress(mode: PortMode, vlan: number, plain: Uint8Array): Uint8Array {
  if (mode.mode === 'access' || mode.native === vlan) return plain;
  return pushTag(plain, vlan);
}

function checkVlan(vlan: number, where: string): void {
  if (!Number.isInteger(vlan) || vlan < VLAN_MIN || vlan > VLAN_MAX) throw new RangeError(`${where}: VLAN ${vlan} is not valid (use ${VLAN_MIN}-${VLAN_MAX})`);
}

function checkPortConfig(id: PortId, config: PortConfig): void {
  const where = `switch: port ${id}`;
  const m = config.vlan;
  if (m.mode === 'access') checkVlan(m.vlan, where);
  else {
    if (m.native !== null) checkVlan(m.native, where);
    if (m.allowed !== 'all') for (const v of m.allowed) checkVlan(v, where);
  }
  if (config.rateLimit) new TokenBucket(config.rateLimit, { now: () => 0 }); // throws on a bad limit
  const mtu = config.mtu ?? ETH_MTU;
  if (!isValidMtu(mtu)) throw new RangeError(`${where}: MTU ${mtu} is not valid (use ${MIN_MTU}-${JUMBO_MTU})`);
}

function emptyCounters(): PortCounters {
  return { rxFrames: 0, rxBytes: 0, txFrames: 0, txBytes: 0, drops: Object.fromEntries(DROP_REASONS.map((r) => [r, 0])) as Record<DropReason, number> };
}
