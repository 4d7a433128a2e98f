// Tunings of v86 for fast starts and cheap ticks; with tick-gate.ts the only
// place that touches v86 internals (emulator.v86.*).
//
// 1. The JIT switch. v86 compiles hot guest code to wasm, which V8 compiles
// again (on this 2-core machine, on the same cores). The small kernel's boot
// runs ~43 million mostly run-once instructions: interpreting them took 1.0 s
// of CPU, compiling them 2.5 s (measured, Node). So a guest of such an image
// (GuestImage.bootInterpreted) boots, or takes its clone identity, with the
// JIT off, and the worker switches it on once the guest is ready.
// v86 compiles the hot code of up to 3 guest pages into one wasm function;
// V8 then compiles each such function again with its optimizing tier, in time
// that grows faster than the function (register allocation took more than
// half of it in a Chrome trace of four guests starting to burn CPU: ~200 ms
// of CPU per function). The worker lets v86 put one page in a function
// (setJitPages): smaller functions reach V8's fast tier sooner.
//
// 2. Ticks in the browser. v86 schedules its next ~1 ms tick through a helper
// worker it starts (a message round trip per tick, to dodge timer clamping);
// with a grant of 10 ms that is ten round trips between two threads. A
// MessageChannel inside the guest's own worker does the same for zero-delay
// ticks without leaving the thread (Node keeps v86's setImmediate).
//
// 3. Memory. save_state asks the wasm function is_memory_zeroed(page, 4096) for every
// 4 KiB page, and restore_state first clears the whole RAM with zero_memory.
// Both run once per snapshot, so V8 has only its baseline compilation of them,
// a byte loop. Worse, the first touch of a RAM page costs ~13 us on this
// sandboxed host (reading or writing 128 MiB of fresh wasm memory: ~430 ms,
// measured; the same again once touched: 5 ms). Clearing a fresh instance's
// RAM before a restore touched every page for nothing: a new instance's memory
// is zero except where v86 loaded something. So a restore clears only what was
// written, and pages stay untouched until the guest or the state needs them.
//
// 4. The TSC. v86 makes rdtsc advance between two readings of a coarse clock
// (a browser's performance.now moves in 100 us steps without cross-origin
// isolation) by extrapolating within "the smallest step seen so far". A new
// instance starts with no step seen; its first readings (set_tsc at reset and
// at restore) record a step as large as the clock's value itself, and the
// guest's next reading within the same 100 us then jumps ahead by up to that
// much: about 2 s for a restored template. Linux's clock then stands still
// until real time catches up (seen in Chromium: one clone in two took 2 s to
// take its identity; Node's clock is fine-grained, so it never showed there).
// Two readings one clock step apart, before the guest runs, record a real step.
//
// 5. The NIC. v86's virtio-net offers no offloads and writes received frames
// with an empty virtio header. The worker offers checksum, TSO and LRO
// offloads and mergeable receive buffers (offerNicOffloads), reads the
// header of what the guest sends, and fills the receive queue itself
// (nicHost), so that nic.ts can do what a physical NIC does for its kernel.

import {
  readVnetHeader,
  VIRTIO_NET_F_CSUM,
  VIRTIO_NET_F_GUEST_CSUM,
  VIRTIO_NET_F_GUEST_TSO4,
  VIRTIO_NET_F_HOST_TSO4,
  VIRTIO_NET_F_MRG_RXBUF,
  VNET_HDR_LEN,
  writeVnetHeader,
} from '../src/core/net/offload.ts';
import type { NicHost } from './nic.ts';
/** The parts of v86's CPU object these tunings read or replace. */
export interface V86MemoryOps {
  mem8: Uint8Array;
  zero_memory(address: number, length: number): void;
  is_memory_zeroed(address: number, length: number): boolean;
}

export interface V86JitSwitch {
  /** v86's wasm export: index 0 is JIT_DISABLED. */
  set_jit_config(index: number, value: number): void;
}

/** Where v86's CPU object keeps its wasm exports (it binds set_jit_config, not get_jit_config). */
export interface V86JitRead {
  wm: { exports: { get_jit_config(index: number): number } };
}

/** The parts of v86's main object (emulator.v86) the tick scheduling uses. */
export interface V86Yield {
  yield(ms: number, tick: number): void;
  yield_callback(tick: number): void;
}

/** Serve v86's zero-delay ticks from a MessageChannel in this thread; longer waits keep v86's own path. */
export function installFastYield(v86: V86Yield, channel: MessageChannel = new MessageChannel()): () => void {
  const slow = v86.yield.bind(v86);
  channel.port1.onmessage = (e: MessageEvent<number>) => v86.yield_callback(e.data);
  v86.yield = (ms, tick) => (ms < 1 ? channel.port2.postMessage(tick) : slow(ms, tick));
  return () => {
    v86.yield = slow;
    channel.port1.close();
  };
}

/** v86's wasm export that reads the TSC as the guest would (and updates its extrapolation). */
export interface V86Tsc {
  read_tsc(): bigint;
}

/**
 * Teach v86's TSC extrapolation the clock's real step: read the TSC, wait for
 * `now` to move, read it again (the guest's TSC value is not changed). Polls
 * `now` at most `maxPolls` times; returns the step seen, ms (0: the clock did
 * not move, nothing learnt).
 */
export function primeTsc(exports: V86Tsc, now: () => number, maxPolls = 1_000_000): number {
  exports.read_tsc();
  const t0 = now();
  // One reading per clock value: readings within one step would count as the guest's own.
  for (let i = 0; i < maxPolls; i++) {
    const t = now();
    if (t > t0) {
      exports.read_tsc();
      return t - t0;
    }
  }
  return 0;
}

/** Switch v86's JIT compiler on or off; it takes effect at the next block it would compile. */
export function setJit(cpu: V86JitSwitch, on: boolean): void {
  cpu.set_jit_config(0, on ? 0 : 1);
}

/**
 * Guest pages one JIT-compiled wasm function covers (v86's MAX_PAGES; its
 * default is 3). Measured in Chromium (four guests on two cores, P=1, a
 * probe alternating builds; seconds until the aggregate MIPS reached 80 % of
 * its steady figure): 3, 4, 4 and 4 s with 1 page; 6 and 7 s with 2; 6, 8 and
 * 9 s with 3. In Node a lone burning guest's steady speed was the same
 * (297-341 MIPS with 1, 297-331 with 3), and so were TCP transfers after the
 * first (316-444 Mbit/s against 287-356; the first: 162 against 91).
 */
export const JIT_PAGES = 1;

/** Set how many guest pages v86 compiles into one wasm function; it takes effect at the next compilation. */
export function setJitPages(cpu: V86JitSwitch, pages: number): void {
  cpu.set_jit_config(1, pages);
}

/** How many guest pages v86 compiles into one wasm function, as v86 reads it. */
export function jitPages(cpu: V86JitRead): number {
  return cpu.wm.exports.get_jit_config(1);
}

/**
 * Replace cpu.zero_memory and cpu.is_memory_zeroed with equivalents that are
 * fast from the first call. writtenBelow: in a fresh instance, the address
 * above which v86 has written nothing (it loaded no kernel or initrd there);
 * the first clear skips what lies above it, later ones clear everything.
 */
export function installFastMemoryOps(cpu: V86MemoryOps, writtenBelow = Infinity): void {
  let limit = writtenBelow;
  cpu.zero_memory = (address, length) => {
    // mem8 is read at each call: it is a view on the wasm memory of the moment.
    cpu.mem8.fill(0, address, Math.min(address + length, Math.max(address, limit)));
    limit = Infinity;
  };
  cpu.is_memory_zeroed = (address, length) => isZeroed(cpu.mem8, address, length);
}

/** True when mem8[address, address + length) holds only zero bytes. */
export function isZeroed(mem8: Uint8Array, address: number, length: number): boolean {
  const start = mem8.byteOffset + address;
  const end = start + length;
  const bytes = new Uint8Array(mem8.buffer);
  // Whole 32-bit words where aligned, bytes at the unaligned edges.
  const wordStart = (start + 3) & ~3;
  const wordEnd = end & ~3;
  if (wordEnd <= wordStart) {
    for (let i = start; i < end; i++) if (bytes[i] !== 0) return false;
    return true;
  }
  for (let i = start; i < wordStart; i++) if (bytes[i] !== 0) return false;
  const words = new Uint32Array(mem8.buffer, wordStart, (wordEnd - wordStart) >>> 2);
  for (let i = 0; i < words.length; i++) if (words[i] !== 0) return false;
  for (let i = wordEnd; i < end; i++) if (bytes[i] !== 0) return false;
  return true;
}

/** v86's virtio-net device, as nicHost reads and feeds it (v86 internals). */
interface V86VirtioNet {
  virtio: {
    /** Feature bits in 32-bit words: offered by the device, and accepted by the driver. */
    device_feature: Uint32Array;
    driver_feature: Uint32Array;
    queues: V86VirtQueue[];
  };
}

/** A virtqueue of v86's (virtio.js). */
interface V86VirtQueue {
  /** The next request to pop (a 16-bit ring index). */
  avail_last_idx: number;
  has_request(): boolean;
  pop_request(): V86BufferChain;
  push_reply(chain: V86BufferChain): void;
  flush_replies(): void;
}

interface V86BufferChain {
  length_writable: number;
  /** Appends bytes to what the chain holds; returns how many fitted. */
  set_next_blob(bytes: Uint8Array): number;
}

/** What nicHost needs of the emulator. */
interface NicEmulator {
  v86: { cpu: unknown };
  add_listener(event: string, listener: (data: unknown) => void): void;
  remove_listener(event: string, listener: (data: unknown) => void): void;
}

const virtioNet = (emulator: NicEmulator): V86VirtioNet | undefined => (emulator.v86.cpu as { devices: { virtio_net?: V86VirtioNet } }).devices.virtio_net;
const hasFeature = (words: Uint32Array, bit: number): boolean => ((words[bit >>> 5]! >>> (bit & 31)) & 1) === 1;

/**
 * Offer the guest's driver the NIC's offloads (nic.ts does them): checksums
 * and TCP segmentation both ways, and mergeable receive buffers (a large
 * packet spans as many page-sized buffers as it needs; without them, a
 * driver that takes large packets gives the NIC ~76 KiB for every frame).
 * Before the guest boots: a driver reads the offer once, at its probe. A
 * restored guest keeps what its state negotiated.
 */
export function offerNicOffloads(emulator: NicEmulator): void {
  const net = virtioNet(emulator);
  if (!net) return;
  for (const bit of [VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_MRG_RXBUF]) {
    // v86 starts the accepted set equal to the offer, before the driver writes its own.
    net.virtio.device_feature[bit >>> 5]! |= 1 << (bit & 31);
    net.virtio.driver_feature[bit >>> 5]! |= 1 << (bit & 31);
  }
}

/**
 * The emulator as the NIC sees it: v86's bus events, and its virtio NIC's
 * receive queue (v86 internals). v86 hands a sent frame to `net0-send` as a
 * view just past the 12-byte virtio header in the buffer it read the
 * packet into: that is where the guest's offload requests are read.
 */
export function nicHost(emulator: NicEmulator, wake: () => void): NicHost {
  const net = virtioNet(emulator);
  const accepted = (bit: number): boolean => (net ? hasFeature(net.virtio.driver_feature, bit) : false);
  const rxQueue = () => net?.virtio.queues[0];
  return {
    add_listener: (event, listener) => emulator.add_listener(event, listener as (data: unknown) => void),
    remove_listener: (event, listener) => emulator.remove_listener(event, listener as (data: unknown) => void),
    sendHeader: (frame) =>
      frame.byteOffset >= VNET_HDR_LEN && (accepted(VIRTIO_NET_F_CSUM) || accepted(VIRTIO_NET_F_HOST_TSO4))
        ? readVnetHeader(new Uint8Array(frame.buffer, frame.byteOffset - VNET_HDR_LEN, VNET_HDR_LEN))
        : null,
    rxOffloads: () => ({ csum: accepted(VIRTIO_NET_F_GUEST_CSUM), tso4: accepted(VIRTIO_NET_F_GUEST_TSO4) }),
    rxReady: () => rxQueue()?.has_request() ?? false,
    receive: ({ frame, header }) => {
      const queue = rxQueue()!;
      // With mergeable buffers (MRG_RXBUF) a packet takes as many buffers as it needs; without, one.
      const many = accepted(VIRTIO_NET_F_MRG_RXBUF);
      const total = VNET_HDR_LEN + frame.length;
      const chains: V86BufferChain[] = [];
      let room = 0;
      while ((chains.length === 0 || (many && room < total)) && queue.has_request()) {
        const chain = queue.pop_request();
        chains.push(chain);
        room += chain.length_writable;
      }
      if (chains.length === 0 || (many && room < total)) {
        // Not enough buffers yet: give back what was taken (the ring index only moved here).
        queue.avail_last_idx = (queue.avail_last_idx - chains.length) & 0xffff;
        return false;
      }
      let at = 0;
      for (const bytes of [writeVnetHeader(header, chains.length), frame]) {
        for (let done = 0; done < bytes.length && at < chains.length; ) {
          done += chains[at]!.set_next_blob(bytes.subarray(done));
          if (done < bytes.length) at++;
        }
      }
      for (const chain of chains) queue.push_reply(chain);
      return true;
    },
    flushRx: () => rxQueue()?.flush_replies(),
    wake,
  };
}
