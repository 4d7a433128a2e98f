// The host's networks: one virtual switch (src/core/net/switch.ts) on the
// host clock, a network being a VLAN on it. A guest attached to a network
// gets an access port of that VLAN (a trunk port when it carries more
// networks tagged), and its worker's NIC channel (src/protocol/nic-port.ts)
// is wired to the port: frames go up from the worker, through the switch,
// and down to the workers of the ports the switch chose, batched per port,
// never through the page. Mirrors copy a port's or a network's frames to
// another guest's port, for as long as both ports are plugged in.
import { HvError } from '../../core/errors.ts';
import { FramePacker, unpackFrames } from '../../core/net/frame-batch.ts';
import type { Clock } from '../../core/clock.ts';
import { VLAN_MAX, VLAN_MIN, VirtualSwitch, type MacEntry, type PortCounters } from '../../core/net/switch.ts';
import { noOffloads, type NicDown, type NicDropReason, type NicOffloadCounts, type NicUp } from '../../protocol/nic-port.ts';
import { CaptureRing, type CaptureLimits } from '../../core/net/capture.ts';
import { NAME_RULE, VM_NAME_RE } from '../../core/vm-name.ts';
import { ETH_MTU, isValidMtu, JUMBO_MTU, MIN_MTU, macText } from '../../core/net/ethernet.ts';
import { ipText, ipv4Frame, parseSubnet, udpBody } from '../../core/net/ipv4.ts';
import { HostServices, type ServiceCounters } from '../../core/net/services.ts';
import type { RateLimit } from '../../core/net/token-bucket.ts';

export interface NetworkSpec {
  name: string;
  /** Its VLAN on the host's switch (default: the lowest free from 10 up). */
  vlan?: number;
  /** Its IPv4 subnet (default 10.0.VLAN.0/24; VLANs above 255 use the second byte too). */
  subnet?: string;
  /** The host answers DHCP on it (default true): leases from .100-.199 of a /24. */
  dhcp?: boolean;
  /** The host answers DNS on it for the guests' names (default true). */
  dns?: boolean;
  /**
   * The largest IP packet its frames carry, bytes (default 1500, Ethernet's;
   * up to 9000, jumbo frames). Guests' NICs take it at boot (v86's virtio-net
   * tells the driver); the switch drops larger frames as oversized.
   */
  mtu?: number;
}

export interface NetworkInfo {
  name: string;
  vlan: number;
  subnet: string;
  /** The host's address on it (gateway, DHCP and DNS server). */
  gateway: string;
  dhcp: boolean;
  dns: boolean;
  mtu: number;
}

export interface LeaseInfo {
  ip: string;
  mac: string;
  /** The VM that took it (its name). */
  vm: string;
  expiresInS: number;
}

/** A port's switch counters, what its guest's worker could not take, and what the guest's NIC offloads did. */
export interface NicCounters extends PortCounters {
  guestDrops: Record<NicDropReason, number>;
  offload: NicOffloadCounts;
}

interface Wired {
  port: MessagePort;
  network: string;
  /** Networks the port carries tagged besides its own (a trunk port; none: an access port). */
  trunk: string[];
  guestDrops: Record<NicDropReason, number>;
  offload: NicOffloadCounts;
}

/** A mirror to a guest's port, by port id: kept while its ports come and go, on the switch while both are plugged in. */
export interface PortMirror {
  name: string;
  source: { port: string; direction: 'rx' | 'tx' | 'both' } | { network: string };
  to: string;
}

/** Everything the network view shows, in one snapshot. */
export interface NetworkView {
  networks: (NetworkInfo & {
    leases: LeaseInfo[];
    services: ServiceCounters;
    capture: { running: boolean; frames: number; dropped: number; list: ReturnType<CaptureRing['list']> } | null;
  })[];
  /** Ports of running guests: the VM, its network and VLAN, its address, the networks it carries tagged (trunk), its counters. */
  ports: { vmId: string; vm: string; network: string; vlan: number; ip: string | null; trunk: { network: string; vlan: number; ip: string | null }[]; counters: NicCounters }[];
  /** Mirrors to guests' ports, by name, and whether they copy now (both ports plugged in). */
  mirrors: { name: string; source: string; to: string; active: boolean }[];
  /** Learnt addresses, the port named by its VM. */
  macTable: (MacEntry & { vm: string })[];
  /** Aging time of the MAC table, s. */
  agingS: number;
}

/** A load offered to a guest (Networks.offerLoad), and what became of it at the switch. */
export interface OfferedLoad {
  /** UDP frames (and their bytes) the host sent towards the guest, and over how long. */
  frames: number;
  bytes: number;
  ms: number;
  /** The rate really offered, Mbit/s of Ethernet frames. */
  mbps: number;
}

export class Networks {
  readonly switch: VirtualSwitch;
  private readonly nets = new Map<string, { info: NetworkInfo; services: HostServices }>();
  private readonly wired = new Map<string, Wired>();
  /** Captures by network name (kept after they stop, for the download), and whether each runs. */
  private readonly captures = new Map<string, { ring: CaptureRing; running: boolean }>();
  private readonly portMirrors = new Map<string, PortMirror>();

  constructor(
    private readonly clock: Clock,
    /** What people call a port (a VM's name for its id). */
    private readonly portName: (portId: string) => string = (id) => id,
    /** A port's guest took an address by DHCP on a network, or gave it back (null). */
    private readonly onAddress: (portId: string, ip: string | null, network: string) => void = () => {},
  ) {
    this.switch = new VirtualSwitch(clock);
  }

  list(): NetworkInfo[] {
    return [...this.nets.values()].map((n) => ({ ...n.info }));
  }

  get(name: string): NetworkInfo {
    return { ...this.entry(name).info };
  }

  /** A network's MTU; undefined when there is no network of that name. */
  mtuOf(name: string): number | undefined {
    return this.nets.get(name)?.info.mtu;
  }

  /** A network's DHCP leases that have not expired. */
  leases(network: string): LeaseInfo[] {
    const now = this.clock.now();
    return this.entry(network)
      .services.leases()
      .map((l) => ({ ip: ipText(l.ip), mac: macText(l.mac), vm: this.portName(l.port), expiresInS: Math.round((l.expiresAt - now) / 1000) }));
  }

  /** What the host's services on a network answered (and could not). */
  serviceCounters(network: string) {
    return { ...this.entry(network).services.counters };
  }

  private entry(name: string): { info: NetworkInfo; services: HostServices } {
    const n = this.nets.get(name);
    if (!n) throw new HvError('not-found', `there is no network named ${name}${this.nets.size ? ` (there are ${[...this.nets.keys()].join(', ')})` : ''}`, { network: name });
    return n;
  }

  create(spec: NetworkSpec): NetworkInfo {
    const name = String(spec.name ?? '').trim();
    if (!VM_NAME_RE.test(name)) throw new HvError('invalid-argument', `network name "${name}" is not valid: ${NAME_RULE}`, { name });
    if (this.nets.has(name)) throw new HvError('duplicate-name', `a network named ${name} already exists`, { name });
    const taken = new Set([...this.nets.values()].map((n) => n.info.vlan));
    let vlan = spec.vlan;
    if (vlan === undefined) {
      vlan = 10;
      while (taken.has(vlan)) vlan++;
    }
    if (!Number.isInteger(vlan) || vlan < VLAN_MIN || vlan > VLAN_MAX) {
      throw new HvError('invalid-argument', `network ${name}: VLAN ${String(vlan)} is not valid (use ${VLAN_MIN}-${VLAN_MAX})`, { vlan });
    }
    const other = [...this.nets.values()].find((n) => n.info.vlan === vlan);
    if (other) throw new HvError('invalid-argument', `network ${name}: VLAN ${vlan} is network ${other.info.name}'s already`, { vlan });
    let subnet;
    try {
      subnet = parseSubnet(spec.subnet ?? `10.${vlan >> 8}.${vlan & 255}.0/24`);
    } catch (err) {
      throw new HvError('invalid-argument', `network ${name}: ${(err as Error).message}`, { subnet: spec.subnet });
    }
    const mtu = spec.mtu ?? ETH_MTU;
    if (!isValidMtu(mtu)) {
      throw new HvError('invalid-argument', `network ${name}: an MTU of ${String(mtu)} is not valid (use ${MIN_MTU}-${JUMBO_MTU}: ${ETH_MTU} is Ethernet's, ${JUMBO_MTU} jumbo frames)`, { mtu });
    }
    const size = 2 ** (32 - subnet.prefix);
    const gateway = subnet.network + 1;
    const services = new HostServices(
      {
        subnet,
        gateway,
        mac: 0x02_00_00_fe_00_00 + vlan, // locally administered, one per VLAN
        dhcp: spec.dhcp ?? true,
        dns: spec.dns ?? true,
        poolFrom: subnet.network + (size >= 256 ? 100 : 2),
        poolTo: subnet.network + (size >= 256 ? 199 : size - 2),
        leaseSeconds: 3600,
      },
      this.clock,
      (port) => (this.wired.has(port) ? this.portName(port) : null),
      (port, ip) => this.onAddress(port, ip === null ? null : ipText(ip), name),
    );
    const info: NetworkInfo = { name, vlan, subnet: `${ipText(subnet.network)}/${subnet.prefix}`, gateway: ipText(gateway), dhcp: spec.dhcp ?? true, dns: spec.dns ?? true, mtu };
    this.nets.set(name, { info, services });
    this.switch.addPort(servicePort(name), { vlan: { mode: 'access', vlan }, rateLimit: null, mtu });
    return { ...info };
  }

  /** Delete a network no guest is attached to (`users`: the guests that are, by name); the mirrors of its frames go too. */
  remove(name: string, users: string[]): void {
    this.get(name);
    if (users.length > 0) throw new HvError('illegal-state', `network ${name} is in use by ${users.join(', ')}: attach them elsewhere first`, { network: name });
    for (const m of [...this.portMirrors.values()]) if ('network' in m.source && m.source.network === name) this.removeMirror(m.name);
    this.stopCapture(name);
    this.captures.delete(name);
    this.switch.removePort(servicePort(name));
    this.nets.delete(name);
  }

  /** Capture every frame of a network (its VLAN, as each entered the switch) from now on, in a new ring. */
  startCapture(network: string, limits: CaptureLimits = {}): void {
    const { vlan } = this.get(network);
    this.stopCapture(network);
    this.captures.set(network, { ring: new CaptureRing(this.clock.now(), Date.now(), limits), running: true });
    this.switch.addMirror({ id: captureMirror(network), source: { vlan }, output: { capture: network } });
  }

  stopCapture(network: string): void {
    const c = this.captures.get(network);
    if (!c?.running) return;
    c.running = false;
    this.switch.removeMirror(captureMirror(network));
  }

  /** A network's capture: whether it runs, what it let go, and its last `n` frames summed up. */
  capture(network: string, n = 200) {
    this.get(network);
    const c = this.captures.get(network);
    if (!c) return null;
    return { running: c.running, frames: c.ring.size, dropped: c.ring.dropped, list: c.ring.list(n, this.portName) };
  }

  /** A network's capture as a pcapng file (one interface per port, named after its VM); `vm`: only the frames that entered or left by its port. */
  capturePcapng(network: string, vm?: string): Uint8Array {
    this.get(network);
    const c = this.captures.get(network);
    if (!c) throw new HvError('illegal-state', `network ${network} has no capture: start one first`, { network });
    if (vm !== undefined && !c.ring.has(vm, this.portName)) {
      throw new HvError('not-found', `network ${network}'s capture has no frame of ${vm}`, { network, vm });
    }
    return c.ring.pcapng(this.portName, vm);
  }


  /**
   * Wire a guest worker's NIC channel (`port`, the host's end) to a new port
   * of the network's VLAN, policed at `limit`: an access port, or with
   * `trunk` networks a trunk port that carries them tagged and its own
   * network untagged (native).
   */
  connect(portId: string, network: string, port: MessagePort, limit: RateLimit | null = null, trunk: string[] = []): void {
    const { vlan } = this.get(network);
    const tagged = this.trunkVlans(network, trunk);
    this.disconnect(portId);
    // A trunk takes the largest frames any network it carries has.
    const mtu = Math.max(...[network, ...trunk].map((n) => this.get(n).mtu));
    this.switch.addPort(portId, { vlan: tagged.length ? { mode: 'trunk', allowed: tagged, native: vlan } : { mode: 'access', vlan }, rateLimit: limit, mtu });
    const wired: Wired = { port, network, trunk: [...trunk], guestDrops: { 'guest-rx-full': 0, 'bad-offload': 0 }, offload: noOffloads() };
    this.wired.set(portId, wired);
    this.plugMirrors();
    port.addEventListener('message', (e: MessageEvent) => {
      const m = e.data as NicUp;
      if (m.type === 'frames') this.forward(portId, unpackFrames(m.batch));
      else if (m.type === 'dropped') wired.guestDrops[m.reason] += m.frames;
      else for (const k of Object.keys(m.counts) as (keyof NicOffloadCounts)[]) wired.offload[k] += m.counts[k];
    });
    port.start();
  }

  /** One snapshot for the network view (`frames`: how many capture lines per network). */
  view(frames = 100): NetworkView {
    const networks = [...this.nets.values()].map(({ info, services }) => ({
      ...info,
      leases: this.leases(info.name),
      services: { ...services.counters },
      capture: this.capture(info.name, frames),
    }));
    const on = (vmId: string, network: string) => {
      const { info, services } = this.entry(network);
      const ip = services.addressOf(vmId);
      return { network, vlan: info.vlan, ip: ip === null ? null : ipText(ip) };
    };
    const ports = [...this.wired].map(([vmId, w]) => ({ vmId, vm: this.portName(vmId), ...on(vmId, w.network), trunk: w.trunk.map((n) => on(vmId, n)), counters: this.counters(vmId)! }));
    const macTable = this.switch.macTable().map((e) => ({ ...e, vm: e.port.startsWith(SERVICE_PREFIX) ? 'host' : this.portName(e.port) }));
    return { networks, ports, mirrors: this.mirrors(), macTable, agingS: this.switch.agingMs / 1000 };
  }

  /** The VLANs of a trunk's networks (checked: they exist, none twice, not the port's own network). */
  trunkVlans(network: string, trunk: string[]): number[] {
    const seen = new Set<string>();
    return trunk.map((n) => {
      if (n === network) throw new HvError('invalid-argument', `network ${n} is the port's own (untagged) network: a trunk carries other networks`, { network: n });
      if (seen.has(n)) throw new HvError('invalid-argument', `network ${n} is listed twice in the trunk`, { network: n });
      seen.add(n);
      return this.get(n).vlan;
    });
  }

  /**
   * Copy a guest's port (what it sent, received or both) or a whole
   * network to another guest's port, as a switch's SPAN port does: the
   * copies leave `to` as its own VLAN's frames would (untagged on an access
   * port). Kept by name while the guests stop and start; it copies while
   * both ports are plugged in.
   */
  addMirror(mirror: PortMirror): void {
    if (!VM_NAME_RE.test(mirror.name)) throw new HvError('invalid-argument', `mirror name "${mirror.name}" is not valid: ${NAME_RULE}`, { name: mirror.name });
    if (this.portMirrors.has(mirror.name)) throw new HvError('duplicate-name', `a mirror named ${mirror.name} already exists`, { name: mirror.name });
    if ('network' in mirror.source) this.get(mirror.source.network);
    else if (mirror.source.port === mirror.to) throw new HvError('invalid-argument', `mirror ${mirror.name} would copy ${this.portName(mirror.to)}'s port to itself`, { name: mirror.name });
    this.portMirrors.set(mirror.name, { ...mirror, source: { ...mirror.source } });
    this.plugMirrors();
  }

  removeMirror(name: string): void {
    if (!this.portMirrors.delete(name)) throw new HvError('not-found', `there is no mirror named ${name}`, { name });
    this.switch.removeMirror(portMirrorId(name));
  }

  /** Forget a port for good (its VM is gone): the mirrors from or to it go too. */
  forgetPort(portId: string): void {
    this.disconnect(portId);
    for (const m of [...this.portMirrors.values()]) if (m.to === portId || ('port' in m.source && m.source.port === portId)) this.removeMirror(m.name);
  }

  mirrors(): NetworkView['mirrors'] {
    const ports = new Set(this.switch.portIds());
    return [...this.portMirrors.values()].map((m) => {
      const source = 'network' in m.source ? `network ${m.source.network}` : `${this.portName(m.source.port)} (${m.source.direction})`;
      return { name: m.name, source, to: this.portName(m.to), active: pluggedIn(m, ports) };
    });
  }

  /** Put on the switch the mirrors whose ports are all plugged in (the switch drops a mirror when one of its ports goes). */
  private plugMirrors(): void {
    const ports = new Set(this.switch.portIds());
    const onSwitch = new Set(this.switch.mirrorIds());
    for (const m of this.portMirrors.values()) {
      const id = portMirrorId(m.name);
      if (onSwitch.has(id) || !pluggedIn(m, ports)) continue;
      const source = 'port' in m.source ? { ...m.source } : { vlan: this.get(m.source.network).vlan };
      this.switch.addMirror({ id, source, output: { port: m.to } });
    }
  }

  /**
   * Offer a guest UDP load from the host's address on its network (to its
   * leased address, port `dstPort`: 9, discard, by default) at `mbps` for
   * `ms`, in batches every 5 ms: the frames go through the switch and the
   * NIC channel like any guest's, so every one ends counted (the guest's
   * interface counters, or a drop with its reason).
   */
  async offerLoad(portId: string, options: { mbps: number; ms: number; frameBytes?: number; dstPort?: number }): Promise<OfferedLoad> {
    const wired = this.wired.get(portId);
    if (!wired) throw new HvError('illegal-state', `${this.portName(portId)} is not on a network, or does not run`, { vm: portId });
    const { mbps, ms } = options;
    if (!(mbps > 0 && mbps <= 10_000)) throw new HvError('invalid-argument', `an offered load of ${mbps} Mbit/s is not valid (use more than 0, at most 10000)`, { mbps });
    if (!(ms > 0 && ms <= 600_000)) throw new HvError('invalid-argument', `a load lasting ${ms} ms is not valid (use more than 0, at most 600000)`, { ms });
    const frameBytes = options.frameBytes ?? 1514;
    if (!Number.isInteger(frameBytes) || frameBytes < 60 || frameBytes > 1514) throw new HvError('invalid-argument', `a ${frameBytes}-byte frame is not valid (use 60-1514)`, { frameBytes });
    const { info, services } = this.entry(wired.network);
    const lease = services.leases().find((l) => l.port === portId);
    if (!lease) throw new HvError('illegal-state', `${this.portName(portId)} has no address on ${wired.network}: take one with udhcpc first`, { vm: portId });
    const from = servicePort(wired.network);
    const payload = new Uint8Array(frameBytes - 42);
    const frame = (): Uint8Array => ipv4Frame(services.config.mac, lease.mac, services.config.gateway, lease.ip, 17, udpBody(9, options.dstPort ?? 9, payload));
    const perMs = (mbps * 1000) / 8 / frameBytes;
    const start = this.clock.now();
    let sent = 0;
    for (;;) {
      const elapsed = Math.min(ms, this.clock.now() - start);
      const due = Math.floor(elapsed * perMs) - sent;
      if (due > 0 && this.wired.get(portId) === wired && this.nets.get(info.name)) {
        this.forward(from, Array.from({ length: due }, frame));
        sent += due;
      }
      if (elapsed >= ms || this.wired.get(portId) !== wired) break;
      await new Promise((r) => setTimeout(r, 5));
    }
    const took = Math.max(1, this.clock.now() - start);
    return { frames: sent, bytes: sent * frameBytes, ms: took, mbps: (sent * frameBytes * 8) / took / 1000 };
  }

  /** Police a connected port's ingress (null: no limit); a port not connected has nothing to change. */
  setLimit(portId: string, limit: RateLimit | null): void {
    if (!this.wired.has(portId)) return;
    this.switch.setPort(portId, { ...this.switch.portConfig(portId), rateLimit: limit });
  }

  /** Unplug a port: the switch forgets it and its addresses. */
  disconnect(portId: string): void {
    const wired = this.wired.get(portId);
    if (!wired) return;
    this.wired.delete(portId);
    wired.port.close();
    this.switch.removePort(portId);
    // A VM that does not run has no address: its name no longer resolves, its lease is free.
    for (const n of [wired.network, ...wired.trunk]) this.nets.get(n)?.services.forgetPort(portId);
  }

  counters(portId: string): NicCounters | null {
    const wired = this.wired.get(portId);
    return wired ? { ...this.switch.counters(portId), guestDrops: { ...wired.guestDrops }, offload: { ...wired.offload } } : null;
  }

  macTable(): MacEntry[] {
    return this.switch.macTable();
  }

  dispose(): void {
    for (const id of [...this.wired.keys()]) this.disconnect(id);
  }

  /**
   * Frames from one port, through the switch, to the others: one message per
   * port, its frames packed in one buffer. A frame for a network's services
   * port is answered at once, and the answers go through the switch as that
   * port's.
   */
  private forward(from: string, frames: Uint8Array[]): void {
    const out = new Map<string, FramePacker>();
    const through = (port: string, frame: Uint8Array): void => {
      const result = this.switch.receive(port, frame);
      for (const m of result.captured) {
        const network = m.mirror.slice(CAPTURE_PREFIX.length);
        this.captures.get(network)?.ring.add({ at: this.clock.now(), port: m.at, direction: m.direction, vlan: m.vlan, frame: m.frame, to: result.deliveries.map((d) => d.port) });
      }
      for (const d of result.deliveries) {
        if (d.port.startsWith(SERVICE_PREFIX)) {
          const network = d.port.slice(SERVICE_PREFIX.length);
          for (const reply of this.nets.get(network)?.services.handle(d.frame, port) ?? []) through(d.port, reply);
          continue;
        }
        let packer = out.get(d.port);
        if (!packer) out.set(d.port, (packer = new FramePacker(BATCH_BYTES)));
        packer.push(d.frame);
      }
    };
    for (const frame of frames) through(from, frame);
    for (const [portId, packer] of out) {
      const batch = packer.take()!;
      const message: NicDown = { type: 'frames', batch };
      this.wired.get(portId)?.port.postMessage(message, [batch.bytes]);
    }
  }
}

/** A batch to one port starts with room for a few full frames (it grows as needed). */
const BATCH_BYTES = 8 * 1024;
const CAPTURE_PREFIX = 'capture:';
const portMirrorId = (name: string): string => `mirror:${name}`;
/** A mirror copies while the ports it names are on the switch. */
const pluggedIn = (m: PortMirror, ports: Set<string>): boolean => ports.has(m.to) && ('network' in m.source || ports.has(m.source.port));
const captureMirror = (network: string): string => `${CAPTURE_PREFIX}${network}`;
const SERVICE_PREFIX = 'services:';
const servicePort = (network: string): string => `${SERVICE_PREFIX}${network}`;
