// Boot section: cold boot to the ready line and to a shell answer, save_state
// time and size, and restore into a fresh worker to a shell answer (Node).
import { Guest } from '../src/host/guest.ts';
import { nodeGuestWorkers, workerBundle } from '../src/host/node-workers.ts';
import { nodeImages, nodeWasmUrl } from '../src/host/node-images.ts';
import { StandbyWorkers } from '../src/host/standby-workers.ts';
import { targetRow, type BenchRow } from './table.ts';

const MEMORY_MIB = 128;

export async function benchBoot(): Promise<BenchRow[]> {
  const rows: BenchRow[] = [];
  workerBundle(); // compiled once per process (~0.15 s), as the browser loads the built worker: not part of a boot
  for (const image of nodeImages()) {
    const section = `boot/${image.id}`;
    const t0 = performance.now();
    const guest = await Guest.create(nodeGuestWorkers, { name: 'bench', memoryMiB: MEMORY_MIB, image, wasm: { url: nodeWasmUrl } });
    const readyS = (performance.now() - t0) / 1000;
    const readyInstr = (await guest.api.counters()).instructions;
    await guest.exec('true');
    const shellS = (performance.now() - t0) / 1000;
    const small = image.id === 'hv';
    rows.push(small ? targetRow(section, 'cold boot to ready line', readyS, 's', '<=', 2) : { section, metric: 'cold boot to ready line', value: readyS, unit: 's' });
    rows.push(
      small
        ? targetRow(section, 'guest instructions to ready', readyInstr / 1e9, 'billion', '<=', 0.4)
        : { section, metric: 'guest instructions to ready', value: readyInstr / 1e9, unit: 'billion' },
    );
    rows.push({ section, metric: 'cold boot to shell answer', value: shellS, unit: 's' });

    const s0 = performance.now();
    const saved = await guest.saveState();
    rows.push({ section, metric: `save_state (${MEMORY_MIB} MiB guest)`, value: performance.now() - s0, unit: 'ms' });
    rows.push({ section, metric: 'state size (uncompressed)', value: saved.state.byteLength / 2 ** 20, unit: 'MiB' });
    await guest.destroy();

    const r0 = performance.now();
    const clone = await Guest.create(nodeGuestWorkers, { name: 'bench', memoryMiB: MEMORY_MIB, image, wasm: { url: nodeWasmUrl }, state: saved });
    const answer = await clone.exec('echo restored');
    if (answer.output.trim() !== 'restored') throw new Error(`restored guest answered ${JSON.stringify(answer.output)}`);
    rows.push({ section, metric: 'restore into fresh worker to shell answer', value: (performance.now() - r0) / 1000, unit: 's' });
    await clone.destroy();

    // The same cold boot on a standby worker (thread started, wasm compiled, files loaded: the dashboard keeps two).
    const standby = new StandbyWorkers(nodeGuestWorkers, { wasm: { url: nodeWasmUrl }, files: [image.bios, image.vgaBios, image.kernel, image.initrd] }, 1);
    await standby.whenReady();
    const w0 = performance.now();
    const warm = await Guest.create(standby.factory, { name: 'bench', memoryMiB: MEMORY_MIB, image, wasm: { url: nodeWasmUrl } });
    rows.push({ section, metric: 'cold boot to ready line, standby worker', value: (performance.now() - w0) / 1000, unit: 's' });
    await warm.destroy();
    await standby.dispose();
  }
  return rows;
}
