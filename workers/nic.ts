// The guest's NIC on the NIC channel (src/protocol/nic-port.ts). Frames the
// virtio NIC sends (v86's `net0-send` hands a view of its buffer: copied into
// the batch as it comes) go up in one batch per turn of the event loop, its
// one buffer transferred.
// Frames for the guest wait in a bounded queue until the NIC has a receive
// buffer (virtio-net drops a frame it has no buffer for, silently): what the
// queue cannot hold is counted and reported as dropped.
import { FramePacker, unpackFrames } from '../src/core/net/frame-batch.ts';
import type { CpuPortLike } from '../src/protocol/cpu-port.ts';
import type { NicDown, NicUp } from '../src/protocol/nic-port.ts';

/** Frames kept for a guest that has no receive buffer free. */
export const RX_QUEUE_FRAMES = 512;
/** How soon a queued frame is offered again, ms. */
const RETRY_MS = 1;

/** What the NIC needs of the emulator: its bus and whether the receive queue has a buffer. */
export interface NicHost {
  add_listener(event: 'net0-send', listener: (frame: Uint8Array) => void): void;
  remove_listener(event: 'net0-send', listener: (frame: Uint8Array) => void): void;
  bus: { send(event: 'net0-receive', frame: Uint8Array): void };
  /** True when the guest has given the NIC a receive buffer. */
  rxReady(): boolean;
  /** Let a halted guest run now: a frame has arrived. */
  wake(): void;
}

export class Nic {
  private readonly out = new FramePacker();
  private flushing = false;
  private readonly rx: Uint8Array[] = [];
  private dropped = 0;
  private retry: ReturnType<typeof setTimeout> | null = null;
  private closed = false;
  private readonly onSend = (frame: Uint8Array): void => {
    if (this.closed) return;
    this.out.push(frame);
    if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(() => this.flush());
    }
  };

  constructor(
    private readonly host: NicHost,
    private readonly port: CpuPortLike & { postMessage(message: unknown, transfer?: Transferable[]): void },
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
    const batch = this.out.take();
    if (this.closed || batch === null) return;
    const message: NicUp = { type: 'frames', batch };
    this.port.postMessage(message, [batch.bytes]);
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
    let delivered = false;
    while (this.rx.length > 0 && this.host.rxReady()) {
      this.host.bus.send('net0-receive', this.rx.shift()!);
      delivered = true;
    }
    if (delivered) this.host.wake();
    if (this.dropped > 0) {
      const message: NicUp = { type: 'dropped', reason: 'guest-rx-full', frames: this.dropped };
      this.port.postMessage(message);
      this.dropped = 0;
    }
    if (this.rx.length > 0) this.retry = setTimeout(() => this.deliver(), RETRY_MS);
  }
}
