// The NIC channel: a MessagePort between a guest worker and the hypervisor's
// virtual switch. Frames the guest's NIC sent go up it in batches (their
// buffers transferred), frames for the guest come down it; neither crosses
// the page. Types only.

/** Guest worker to switch: frames the NIC sent; and frames the guest could not take. */
export type NicUp = { type: 'frames'; frames: Uint8Array[] } | { type: 'dropped'; reason: NicDropReason; frames: number };

/** Switch to guest worker: frames for the guest's NIC. */
export type NicDown = { type: 'frames'; frames: Uint8Array[] };

/**
 * Why a guest worker dropped frames meant for its guest: its receive queue
 * was full (the guest did not give its NIC receive buffers fast enough).
 */
export type NicDropReason = 'guest-rx-full';
