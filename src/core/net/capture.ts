// A packet capture: the frames a mirror copies, kept in a ring buffer (the
// oldest go first when it is full, and are counted), written out as pcapng
// with one interface per switch port. Timestamps are the host clock's,
// anchored to the wall clock when the capture starts.
import { writePcapng, type PcapInterface, type PcapPacket } from './pcapng.ts';
import { summarize } from './decode.ts';

export interface CapturedFrame {
  /** Host clock, ms. */
  at: number;
  port: string;
  direction: 'rx' | 'tx';
  vlan: number;
  frame: Uint8Array;
  /** The ports the switch sent it out of (filled in for frames seen as they entered). */
  to?: string[];
}

export interface CaptureLimits {
  /** Most frames kept (default 10 000). */
  maxFrames?: number;
  /** Most bytes kept (default 16 MiB). */
  maxBytes?: number;
}

export class CaptureRing {
  private frames: CapturedFrame[] = [];
  private bytes = 0;
  /** Frames that went out of the ring to make room. */
  dropped = 0;
  private readonly maxFrames: number;
  private readonly maxBytes: number;

  /** `wallAtStart`: the Unix time (ms) of host clock `hostAtStart`. */
  constructor(
    private readonly hostAtStart: number,
    private readonly wallAtStart: number,
    limits: CaptureLimits = {},
  ) {
    this.maxFrames = limits.maxFrames ?? 10_000;
    this.maxBytes = limits.maxBytes ?? 16 * 2 ** 20;
  }

  add(f: CapturedFrame): void {
    // The switch may hand the same bytes on to a guest: keep a copy of our own.
    this.frames.push({ ...f, frame: f.frame.slice() });
    this.bytes += f.frame.length;
    while (this.frames.length > this.maxFrames || (this.bytes > this.maxBytes && this.frames.length > 1)) {
      this.bytes -= this.frames.shift()!.frame.length;
      this.dropped++;
    }
  }

  /** True when some frame kept entered or left by the port named `only`. */
  has(only: string, name: (port: string) => string = (p) => p): boolean {
    return this.frames.some((f) => involves(f, name, only));
  }

  get size(): number {
    return this.frames.length;
  }

  /**
   * The last `n` frames with a tcpdump-like summary each (`name` turns a port
   * id into what people call it; `to`: the ports it went out of, so named).
   */
  list(n = Infinity, name: (port: string) => string = (p) => p): { at: number; port: string; to: string[]; direction: 'rx' | 'tx'; length: number; summary: string }[] {
    return this.frames
      .slice(Number.isFinite(n) ? -n : 0)
      .map((f) => ({ at: f.at, port: name(f.port), to: (f.to ?? []).map(name), direction: f.direction, length: f.frame.length, summary: summarize(f.frame) }));
  }

  /**
   * What is kept, as a pcapng file: one interface per port (named by `name`),
   * microsecond timestamps; `only`: just the frames that entered or left by
   * the port of that name.
   */
  pcapng(name: (port: string) => string = (p) => p, only?: string): Uint8Array {
    const ifaces: PcapInterface[] = [];
    const index = new Map<string, number>();
    const kept = only === undefined ? this.frames : this.frames.filter((f) => involves(f, name, only));
    const packets: PcapPacket[] = kept.map((f) => {
      let i = index.get(f.port);
      if (i === undefined) {
        i = ifaces.length;
        index.set(f.port, i);
        ifaces.push({ name: name(f.port) });
      }
      return { iface: i, timeUs: (this.wallAtStart + (f.at - this.hostAtStart)) * 1000, data: f.frame, comment: `${f.direction} vlan ${f.vlan}` };
    });
    return writePcapng(ifaces, packets);
  }
}

/** The frame entered or left by the port named `only`. */
function involves(f: CapturedFrame, name: (port: string) => string, only: string): boolean {
  return name(f.port) === only || (f.to ?? []).some((p) => name(p) === only);
}
