// The guest's memory balloon: v86's virtio-balloon device (host side
// `emulator.v86.cpu.devices.virtio_balloon`, internal), driven to a target.
// v86's inflate only counts pages: here each page the guest gives up is
// zeroed as it arrives (its frame numbers are in the inflate queue's
// buffers), so that a snapshot or a migration, which skip zero pages, shrink
// with the balloon. Free-page hinting (v86's Cleanup) zeroes the pages the
// guest reports free. Memory statistics come from the stats queue.
import type { BalloonStats } from '../src/protocol/guest-api.ts';

const PAGE = 4096;

/** What this file uses of v86's VirtioBalloon. */
export interface V86Balloon {
  num_pages: number;
  actual: number;
  /** free_page_hint_cmd_id as the guest reads it: 0 stop, 1 done, others a request. */
  fp_cmd: number;
  Inflate(pages: number): void;
  Deflate(pages: number): void;
  Cleanup(done: (zeroedBytes: number) => void): void;
  GetStats(done: (stats: Record<string, number>) => void): void;
  virtio: { queues: V86VirtQueue[] };
}

interface V86VirtQueue {
  push_reply(chain: { read_buffers: { addr_low: number; len: number }[] }): void;
}

export class Balloon {
  /** Pages zeroed as the balloon took them, since boot. */
  zeroedPages = 0;
  /** The next free-page hint request's id (2 and up: 0 and 1 mean stop and done). */
  private hintId = 2;

  constructor(
    private readonly dev: V86Balloon,
    private readonly mem8: () => Uint8Array,
    private readonly zero: (address: number, length: number) => void,
  ) {
    const inflate = dev.virtio.queues[0];
    if (!inflate) throw new Error('virtio-balloon has no inflate queue');
    const push = inflate.push_reply.bind(inflate);
    inflate.push_reply = (chain) => {
      this.zeroInflated(chain.read_buffers);
      push(chain);
    };
  }

  /** Pages the host asked for, and pages the guest has given. */
  get targetPages(): number {
    return this.dev.num_pages;
  }

  get actualPages(): number {
    return this.dev.actual;
  }

  /** Ask the guest to give up `pages` pages in all (0: give everything back). */
  setTarget(pages: number): void {
    const delta = pages - this.dev.num_pages;
    if (delta > 0) this.dev.Inflate(delta);
    else if (delta < 0) this.dev.Deflate(-delta);
  }

  /** The guest's memory statistics, or null when its driver does not answer within timeoutMs. */
  stats(timeoutMs: number): Promise<BalloonStats | null> {
    return withTimeout(timeoutMs, (done) =>
      this.dev.GetStats((s) =>
        done({
          memFree: s['MEMFREE'] ?? 0,
          memTotal: s['MEMTOT'] ?? 0,
          memAvailable: s['AVAIL'] ?? 0,
          caches: s['CACHES'] ?? 0,
          swapIn: s['SWAP_IN'] ?? 0,
          swapOut: s['SWAP_OUT'] ?? 0,
          majorFaults: s['MAJFLT'] ?? 0,
          minorFaults: s['MINFLT'] ?? 0,
        }),
      ),
    );
  }

  /** Free-page hinting: the guest reports its free pages and v86 zeroes them; bytes zeroed, or null on timeout. */
  hintFree(timeoutMs: number): Promise<number | null> {
    return withTimeout(timeoutMs, (done) => {
      this.dev.Cleanup(done);
      // v86 asks with id 2 every time, and Linux ignores a request with the id of the one it answered last:
      // each request gets an id of its own (the guest reads it after this turn).
      this.dev.fp_cmd = this.hintId;
      this.hintId = this.hintId >= 0x7fffffff ? 2 : this.hintId + 1;
    });
  }

  /** The inflate buffers hold 32-bit page frame numbers: zero those pages. */
  private zeroInflated(buffers: { addr_low: number; len: number }[]): void {
    const mem = this.mem8();
    const view = new DataView(mem.buffer, mem.byteOffset, mem.byteLength);
    for (const b of buffers) {
      for (let at = b.addr_low; at + 4 <= b.addr_low + b.len; at += 4) {
        const address = view.getUint32(at, true) * PAGE;
        if (address + PAGE <= mem.length) {
          this.zero(address, PAGE);
          this.zeroedPages++;
        }
      }
    }
  }
}

function withTimeout<T>(ms: number, start: (done: (value: T) => void) => void): Promise<T | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(null), ms);
    start((value) => {
      clearTimeout(timer);
      resolve(value);
    });
  });
}
