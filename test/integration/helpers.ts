// Shared set-up for integration tests: real guests in Node worker_threads,
// booted through the same worker code the browser uses.
import { Guest, type GuestOptions } from '../../src/host/guest.ts';
import { nodeGuestWorkers } from '../../src/host/node-workers.ts';
import { nodeImage, nodeWasmUrl } from '../../src/host/node-images.ts';

/** The image integration tests boot (HV_TEST_IMAGE=debian to try the generic kernel). */
export const testImage = () => nodeImage(process.env['HV_TEST_IMAGE']);

/** Boot a real guest in a Node worker and wait for its shell. */
export function bootGuest(name: string, memoryMiB: number, extra: Partial<GuestOptions> = {}): Promise<Guest> {
  return Guest.create(nodeGuestWorkers, { name, memoryMiB, image: testImage(), wasm: { url: nodeWasmUrl }, ...extra });
}

/** Destroy every guest given, ignoring the ones that are undefined. */
export async function destroyAll(...guests: (Guest | undefined)[]): Promise<void> {
  await Promise.all(guests.map((g) => g?.destroy()));
}
