// The guest's NIC on the NIC channel (src/protocol/nic-port.ts). Frames the
// virtio NIC sends (v86's `net0-send` hands a view of its buffer: copied into
// the batch as it comes) go up in one batch per turn of the event loop, its
// one buffer transferred. The turn is v86's tick, which runs the guest until
// it halts: the guest's work after a send (returning from the system call,
// finishing its interrupt, going idle) would delay the frame. So the first
// send after a quiet spell goes up at once (a ping, a request, an answer:
// latency), and only what follows in the same turn waits for the batch (a
// stream sends in every tick: one message per tick, as before).
// Frames for the guest wait in a bounded queue until the NIC has a receive
// buffer (virtio-net drops a frame it has no buffer for, silently): what the
// queue cannot hold is counted and reported as dropped.
// The NIC does the offloads the guest's driver accepted (src/core/net/offload.ts):
// checksums and TCP segmentation on the way out, checksum checks and merging
// of TCP segments on the way in.
import { FramePacker, unpackFrames } from '../src/core/net/frame-batch.ts';
import { nextRxPacket, offloadTx, type RxOffloads, type RxPacket, type VnetHeader } from '../src/core/net/offload.ts';
import type { CpuPortLike } from '../src/protocol/cpu-port.ts';
import { noOffloads, type NicDown, type NicOffloadCounts, type NicUp } from '../src/protocol/nic-port.ts';

/**
 * Frames kept for a guest that has no receive buffer free. A sender's TCP
 * segmentation offload sends 64 KiB packets (45 frames) back to back, several
 * in one of its ticks, while the receiving guest may be busy in its own: with
 * 512, four 64 MiB transfers lost 293 frames and ran at 231-237 Mbit/s; with
 * 2048, none, at 275-412 Mbit/s (a probe, Node, P=2).
 */
export const RX_QUEUE_FRAMES = 2048;
/** How soon a queued frame is offered again, ms. */
const RETRY_MS = 1;
/**
 * A send this long (ms) after the last batch went up goes up at once. A
 * stream's sends are a tick or two apart (a tick runs ~1 ms), so it keeps one
 * batch per tick. Measured (Node, P=2, a probe of 200 pings, four pairs of runs
 * alternating): ping p50 2.19-2.92 ms against 2.50-3.12 ms batching every send, min 1.6-1.95 against 1.87-2.17.
 */
export const QUIET_MS = 5;

/** What the NIC needs of the emulator: its bus and whether the receive queue has a buffer. */
export interface NicHost {
  add_listener(event: 'net0-send', listener: (frame: Uint8Array) => void): void;
  remove_listener(event: 'net0-send', listener: (frame: Uint8Array) => void): void;
  /** The virtio header the guest put before a frame it sent; null when there is none to read. */
  sendHeader(frame: Uint8Array): VnetHeader | null;
  /** The receive offloads the guest's driver accepted. */
  rxOffloads(): RxOffloads;
  /** True when the guest has given the NIC a receive buffer. */
  rxReady(): boolean;
  /** Fill the next receive buffer(s) with a packet; false when there are not enough. The guest hears of it at flushRx(). */
  receive(packet: RxPacket): boolean;
  /** Tell the guest about the buffers filled since the last call (one interrupt for them all). */
  flushRx(): void;
  /** Let a halted guest run now: a frame has arrived. */
  wake(): void;
}

export class Nic {
  private readonly out = new FramePacker();
  private flushing = false;
  private lastFlush = Number.NEGATIVE_INFINITY;
  private readonly rx: Uint8Array[] = [];
  private dropped = 0;
  private badOffload = 0;
  private offload: NicOffloadCounts = noOffloads();
  private retry: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly onSend = (frame: Uint8Array): void => {
    if (this.closed) return;
    const header = this.host.sendHeader(frame);
    if (header === null || (header.flags === 0 && header.gsoType === 0)) this.out.push(frame);
    else {
      const frames = offloadTx(frame, header);
      if (frames === null) this.badOffload++;
      else for (const f of frames) this.out.push(f);
      if (frames !== null && header.gsoType !== 0) {
        this.offload.tsoPackets++;
        this.offload.tsoFrames += frames.length;
      }
    }
    if (!this.flushing) {
      if (this.now() - this.lastFlush >= QUIET_MS) this.flush();
      this.flushing = true;
      queueMicrotask(() => this.flush());
    }
  };

  constructor(
    private readonly host: NicHost,
    private readonly port: CpuPortLike & { postMessage(message: unknown, transfer?: Transferable[]): void },
    /** A monotonic clock in ms. */
    private readonly now: () => number = () => performance.now(),
  ) {
    host.add_listener('net0-send', this.onSend);
    port.addEventListener('message', ({ data }) => this.receive(unpackFrames((data as NicDown).batch)));
    port.start?.();
  }

  close(): void {
    this.closed = true;
    this.host.remove_listener('net0-send', this.onSend);
    if (this.retry !== null) clearTimeout(this.retry);
    this.port.close();
  }

  private flush(): void {
    this.flushing = false;
    if (this.closed) return;
    this.lastFlush = this.now();
    const batch = this.out.take();
    if (batch !== null) this.port.postMessage({ type: 'frames', batch } satisfies NicUp, [batch.bytes]);
    if (this.badOffload > 0) {
      this.port.postMessage({ type: 'dropped', reason: 'bad-offload', frames: this.badOffload } satisfies NicUp);
      this.badOffload = 0;
    }
    this.reportOffloads();
  }

  private reportOffloads(): void {
    const o = this.offload;
    if (o.tsoPackets + o.lroPackets === 0 || this.closed) return;
    this.port.postMessage({ type: 'offload', counts: o } satisfies NicUp);
    this.offload = noOffloads();
  }

  private receive(frames: Uint8Array[]): void {
    for (const f of frames) {
      if (this.rx.length < RX_QUEUE_FRAMES) this.rx.push(f);
      else this.dropped++;
    }
    this.deliver();
  }

  /** Hand queued frames to the NIC while it has buffers; try again soon for the rest. */
  private deliver(): void {
    this.retry = null;
    if (this.closed) return;
    const offloads = this.host.rxOffloads();
    let taken = 0;
    while (taken < this.rx.length && this.host.rxReady()) {
      const { packet, count } = nextRxPacket(this.rx, taken, offloads);
      if (!this.host.receive(packet)) break;
      taken += count;
      if (count > 1) {
        this.offload.lroPackets++;
        this.offload.lroFrames += count;
      }
    }
    if (taken > 0) {
      this.rx.splice(0, taken);
      this.host.flushRx();
      this.reportOffloads();
      this.host.wake();
    }
    if (this.dropped > 0) {
      const message: NicUp = { type: 'dropped', reason: 'guest-rx-full', frames: this.dropped };
      this.port.postMessage(message);
      this.dropped = 0;
    }
    if (this.rx.length > 0) this.retry = setTimeout(() => this.deliver(), RETRY_MS);
  }
}
