// The NIC channel: a MessagePort between a guest worker and the hypervisor's
// virtual switch. Frames the guest's NIC sent go up it in batches (one
// buffer per batch, transferred), frames for the guest come down it the same
// way; neither crosses the page. Types, and the zero offload counts both
// ends start from.
import type { FrameBatch } from '../core/net/frame-batch.ts';

/** Guest worker to switch: frames the NIC sent; frames the guest could not take; what the NIC's offloads did (counts since the last report). */
export type NicUp = { type: 'frames'; batch: FrameBatch } | { type: 'dropped'; reason: NicDropReason; frames: number } | { type: 'offload'; counts: NicOffloadCounts };

/** What a guest's NIC did for it (workers/nic.ts, src/core/net/offload.ts). */
export interface NicOffloadCounts {
  /** TCP packets the guest handed its NIC whole (TSO), and the frames the NIC cut them into. */
  tsoPackets: number;
  tsoFrames: number;
  /** Packets the NIC gave the guest merged from several frames of a TCP flow (LRO), and those frames. */
  lroPackets: number;
  lroFrames: number;
}

/** Offload counts of nothing done yet. */
export function noOffloads(): NicOffloadCounts {
  return { tsoPackets: 0, tsoFrames: 0, lroPackets: 0, lroFrames: 0 };
}

/** Switch to guest worker: frames for the guest's NIC. */
export type NicDown = { type: 'frames'; batch: FrameBatch };

/**
 * Why a guest worker dropped frames: `guest-rx-full`, its receive queue for
 * the guest was full (the guest did not give its NIC receive buffers fast
 * enough); `bad-offload`, the guest asked its NIC for an offload it does not
 * do (a GSO type other than TCPv4, a checksum outside the frame).
 */
export type NicDropReason = 'guest-rx-full' | 'bad-offload';
