// The host's networks: one virtual switch (src/core/net/switch.ts) on the
// host clock, a network being a VLAN on it. A guest attached to a network
// gets an access port of that VLAN, and its worker's NIC channel
// (src/protocol/nic-port.ts) is wired to the port: frames go up from the
// worker, through the switch, and down to the workers of the ports the
// switch chose, batched per port, never through the page.
import { HvError } from '../../core/errors.ts';
import type { Clock } from '../../core/clock.ts';
import { VLAN_MAX, VLAN_MIN, VirtualSwitch, type MacEntry, type PortCounters } from '../../core/net/switch.ts';
import type { NicDown, NicDropReason, NicUp } from '../../protocol/nic-port.ts';
import { CaptureRing, type CaptureLimits } from '../../core/net/capture.ts';
import { VM_NAME_RE } from '../../core/vm-name.ts';
import { macText } from '../../core/net/ethernet.ts';
import { ipText, parseSubnet } from '../../core/net/ipv4.ts';
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
}

export interface NetworkInfo {
  name: string;
  vlan: number;
  subnet: string;
  /** The host's address on it (gateway, DHCP and DNS server). */
  gateway: string;
  dhcp: boolean;
  dns: boolean;
}

export interface LeaseInfo {
  ip: string;
  mac: string;
  /** The VM that took it (its name). */
  vm: string;
  expiresInS: number;
}

/** A port's switch counters, and what its guest's worker could not take. */
export interface NicCounters extends PortCounters {
  guestDrops: Record<NicDropReason, number>;
}

interface Wired {
  port: MessagePort;
  network: string;
  guestDrops: Record<NicDropReason, number>;
}

/** Everything the network view shows, in one snapshot. */
export interface NetworkView {
  networks: (NetworkInfo & {
    leases: LeaseInfo[];
    services: ServiceCounters;
    capture: { running: boolean; frames: number; dropped: number; list: ReturnType<CaptureRing['list']> } | null;
  })[];
  /** Ports of running guests: the VM, its network and VLAN, its address, its counters. */
  ports: { vmId: string; vm: string; network: string; vlan: number; ip: string | null; counters: NicCounters }[];
  /** Learnt addresses, the port named by its VM. */
  macTable: (MacEntry & { vm: string })[];
  /** Aging time of the MAC table, s. */
  agingS: number;
}

export class Networks {
  readonly switch: VirtualSwitch;
  private readonly nets = new Map<string, { info: NetworkInfo; services: HostServices }>();
  private readonly wired = new Map<string, Wired>();
  /** Captures by network name (kept after they stop, for the download), and whether each runs. */
  private readonly captures = new Map<string, { ring: CaptureRing; running: boolean }>();

  constructor(
    private readonly clock: Clock,
    /** What people call a port (a VM's name for its id). */
    private readonly portName: (portId: string) => string = (id) => id,
    /** A port's guest took an address by DHCP, or gave it back (null). */
    private readonly onAddress: (portId: string, ip: string | null) => void = () => {},
  ) {
    this.switch = new VirtualSwitch(clock);
  }

  list(): NetworkInfo[] {
    return [...this.nets.values()].map((n) => ({ ...n.info }));
  }

  get(name: string): NetworkInfo {
    return { ...this.entry(name).info };
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
    if (!VM_NAME_RE.test(name)) throw new HvError('invalid-argument', `network name "${name}" is not valid: use 1-32 letters, digits and dashes`, { name });
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
      (port, ip) => this.onAddress(port, ip === null ? null : ipText(ip)),
    );
    const info: NetworkInfo = { name, vlan, subnet: `${ipText(subnet.network)}/${subnet.prefix}`, gateway: ipText(gateway), dhcp: spec.dhcp ?? true, dns: spec.dns ?? true };
    this.nets.set(name, { info, services });
    this.switch.addPort(servicePort(name), { vlan: { mode: 'access', vlan }, rateLimit: null });
    return { ...info };
  }

  /** Delete a network no guest is attached to (`users`: the guests that are, by name). */
  remove(name: string, users: string[]): void {
    this.get(name);
    if (users.length > 0) throw new HvError('illegal-state', `network ${name} is in use by ${users.join(', ')}: attach them elsewhere first`, { network: name });
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


  /** Wire a guest worker's NIC channel (`port`, the host's end) to a new access port of the network's VLAN, policed at `limit`. */
  connect(portId: string, network: string, port: MessagePort, limit: RateLimit | null = null): void {
    const { vlan } = this.get(network);
    this.disconnect(portId);
    this.switch.addPort(portId, { vlan: { mode: 'access', vlan }, rateLimit: limit });
    const wired: Wired = { port, network, guestDrops: { 'guest-rx-full': 0 } };
    this.wired.set(portId, wired);
    port.addEventListener('message', (e: MessageEvent) => {
      const m = e.data as NicUp;
      if (m.type === 'frames') this.forward(portId, m.frames);
      else wired.guestDrops[m.reason] += m.frames;
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
    const ports = [...this.wired].map(([vmId, w]) => {
      const { vlan } = this.get(w.network);
      const ip = this.entry(w.network).services.addressOf(vmId);
      return { vmId, vm: this.portName(vmId), network: w.network, vlan, ip: ip === null ? null : ipText(ip), counters: this.counters(vmId)! };
    });
    const macTable = this.switch.macTable().map((e) => ({ ...e, vm: e.port.startsWith(SERVICE_PREFIX) ? 'host' : this.portName(e.port) }));
    return { networks, ports, macTable, agingS: this.switch.agingMs / 1000 };
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
    this.nets.get(wired.network)?.services.forgetPort(portId);
  }

  counters(portId: string): NicCounters | null {
    const wired = this.wired.get(portId);
    return wired ? { ...this.switch.counters(portId), guestDrops: { ...wired.guestDrops } } : null;
  }

  macTable(): MacEntry[] {
    return this.switch.macTable();
  }

  dispose(): void {
    for (const id of [...this.wired.keys()]) this.disconnect(id);
  }

  /**
   * Frames from one port, through the switch, to the others: one message per
   * port, each buffer sent once. A frame for a network's services port is
   * answered at once, and the answers go through the switch as that port's.
   */
  private forward(from: string, frames: Uint8Array[]): void {
    const out = new Map<string, Uint8Array[]>();
    const sent = new Set<ArrayBufferLike>();
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
        // A flooded frame goes to several ports: each gets a buffer of its own.
        const f = sent.has(d.frame.buffer) ? d.frame.slice() : d.frame;
        sent.add(f.buffer);
        const list = out.get(d.port) ?? [];
        list.push(f);
        out.set(d.port, list);
      }
    };
    for (const frame of frames) through(from, frame);
    for (const [portId, list] of out) {
      const message: NicDown = { type: 'frames', frames: list };
      this.wired.get(portId)?.port.postMessage(message, list.map((f) => f.buffer as ArrayBuffer));
    }
  }
}

const CAPTURE_PREFIX = 'capture:';
const captureMirror = (network: string): string => `${CAPTURE_PREFIX}${network}`;
const SERVICE_PREFIX = 'services:';
const servicePort = (network: string): string => `${SERVICE_PREFIX}${network}`;
