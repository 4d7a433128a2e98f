// Starts set up in turn (src/host/boot-admission.ts): on a host with two
// cores one guest at a time takes its worker and makes its boot call (files,
// emulator, restore); the rest of each boot overlaps. Real guests.
import { afterEach, describe, expect, it } from 'vitest';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import { liveGuestThreads, nodeGuestWorkers } from '../../src/host/node-workers.ts';
import type { GuestWorker } from '../../src/host/worker-port.ts';
import { nodeHypervisor, sh } from './hypervisor-helpers.ts';

/** Guest workers whose boot calls are counted while they run. */
function countedWorkers() {
  const seen = { inFlight: 0, most: 0, calls: 0 };
  const factory = (): GuestWorker => {
    const worker = nodeGuestWorkers();
    const api = new Proxy(worker.api, {
      get(target, key, receiver) {
        if (key !== 'boot') return Reflect.get(target, key, receiver);
        return async (...args: Parameters<typeof target.boot>) => {
          seen.calls++;
          seen.most = Math.max(seen.most, ++seen.inFlight);
          try {
            return await target.boot(...args);
          } finally {
            seen.inFlight--;
          }
        };
      },
    });
    return { api, onFailure: (l) => worker.onFailure(l), terminate: () => worker.terminate() };
  };
  return { seen, factory };
}

describe('starts set up in turn', () => {
  let hv: Hypervisor | null = null;
  afterEach(async () => {
    await hv?.dispose();
    hv = null;
  });

  it('makes one boot call at a time on two cores, and every guest boots', async () => {
    const { seen, factory } = countedWorkers();
    hv = nodeHypervisor({ pcpus: 2, memoryMiB: 512 }, 0, undefined, { workers: factory, hostCores: 2 });
    const ids = ['a', 'b', 'c'].map((name) => hv!.createVm({ name, memoryMiB: 80 }).id);
    await Promise.all(ids.map((id) => hv!.start(id)));
    expect(seen.calls).toBe(3);
    expect(seen.most).toBe(1);
    for (const [i, id] of ids.entries()) expect(await sh(hv, id, 'hostname')).toBe(['a', 'b', 'c'][i]);
    expect(hv.vms().every((vm) => vm.state === 'running')).toBe(true);
  });

  it('lets a start waiting for its turn be destroyed, with nothing left of it', async () => {
    const { seen, factory } = countedWorkers();
    hv = nodeHypervisor({ pcpus: 2, memoryMiB: 512 }, 0, undefined, { workers: factory, hostCores: 2 });
    const first = hv.createVm({ name: 'first', memoryMiB: 80 }).id;
    const waiting = hv.createVm({ name: 'waiting', memoryMiB: 80 }).id;
    const booting = hv.start(first);
    const cancelled = hv.start(waiting);
    await hv.destroy(waiting);
    await expect(cancelled).rejects.toThrow();
    await booting;
    expect(seen.calls).toBe(1); // the destroyed VM never made its boot call
    expect(hv.vms().map((vm) => [vm.name, vm.state])).toEqual([['first', 'running']]);
    expect(hv.reservations()).toEqual([{ vmId: first, mib: 80 }]);
    await hv.dispose();
    hv = null;
    expect(liveGuestThreads()).toBe(0);
  });
});
