// Issue: the hypervisor core. Real guests under the real scheduler: shares,
// caps, pause and idle are measured from the hypervisor's own accounting.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import { isHvError } from '../../src/core/errors.ts';
import { nodeHypervisor, sleep } from './hypervisor-helpers.ts';

/** Measure each VM's share of one pCPU (%) over the next windowMs. */
async function measureShares(hv: Hypervisor, ids: string[], windowMs: number): Promise<number[]> {
  const from = performance.now();
  await sleep(windowMs);
  const to = performance.now();
  return ids.map((id) => hv.history.summary(id, from, to).sharePct);
}

describe('three CPU burners on one pCPU with weights 1:2:4', () => {
  let hv: Hypervisor;
  const ids: string[] = [];

  beforeAll(async () => {
    hv = nodeHypervisor({ pcpus: 1, memoryMiB: 1024 });
    for (const [name, weight] of [['w1', 1000], ['w2', 2000], ['w4', 4000]] as const) {
      ids.push(hv.createVm({ name, memoryMiB: 80, weight }).id);
    }
    await Promise.all(ids.map((id) => hv.start(id)));
    for (const id of ids) expect((await hv.exec(id, 'hv-burn > /dev/null &')).status).toBe(0);
    await sleep(2000); // let the burners take over from the shells
  });
  afterAll(() => hv?.dispose());

  it('divides the pCPU 14.3 / 28.6 / 57.1 % (within 5 points) over 20 s', async () => {
    const shares = await measureShares(hv, ids, 20_000);
    const total = shares.reduce((a, b) => a + b, 0);
    const label = `shares ${shares.map((x) => x.toFixed(1)).join(' / ')} % of a pCPU`;
    console.info(`weights 1:2:4 on one pCPU over 20 s: ${label}`);
    // One pCPU: together they cannot have used more than it (plus rounding at
    // the window's edges), and with hand-overs between workers the burners keep it busy.
    expect(total, label).toBeLessThan(103);
    // The scheduler's promise, in shares of the whole pCPU.
    const expected = [100 / 7, 200 / 7, 400 / 7];
    shares.forEach((s, i) => expect(Math.abs(s - expected[i]!), label).toBeLessThan(5));
  });

  it('records ready time for guests waiting for the pCPU', () => {
    const recent = hv.history.last(50);
    const ready = ids.map((id) => recent.flatMap((p) => p.vms).filter((r) => r.vmId === id).reduce((s, r) => s + r.readyMs, 0));
    // With three burners on one pCPU, each one waits most of the time it is not running.
    for (const r of ready) expect(r).toBeGreaterThan(0);
  });

  it('starts most grants on a hand-over between the guests\' workers, not a host round trip', () => {
    const records = hv.history.last(50).flatMap((p) => p.vms);
    const grants = records.reduce((s, r) => s + r.grants, 0);
    const handedOver = records.reduce((s, r) => s + r.handedOver, 0);
    // About ten grants per period; those that follow a period's turn-over come from the host.
    expect(grants).toBeGreaterThan(200);
    expect(handedOver / grants, `${handedOver} of ${grants} grants handed over`).toBeGreaterThan(0.6);
  });
});

describe('caps, pause, idle and the memory pool', () => {
  let hv: Hypervisor;
  let capped: string;
  let idle: string;

  beforeAll(async () => {
    hv = nodeHypervisor({ pcpus: 1, memoryMiB: 200 });
    capped = hv.createVm({ name: 'capped', memoryMiB: 80, capPct: 20 }).id;
    idle = hv.createVm({ name: 'idle', memoryMiB: 80 }).id;
    await Promise.all([hv.start(capped), hv.start(idle)]);
  });
  afterAll(() => hv?.dispose());

  it('holds a guest capped at 20 % within 17-23 % on an otherwise idle host', async () => {
    await hv.exec(capped, 'hv-burn > /dev/null &');
    await sleep(1500);
    const [share] = await measureShares(hv, [capped], 10_000);
    expect(share).toBeGreaterThan(17);
    expect(share).toBeLessThan(23);
  });

  it('an idle guest uses under 5 % of a pCPU', async () => {
    const [share] = await measureShares(hv, [idle], 5000);
    expect(share).toBeLessThan(5);
  });

  it('a paused guest does not execute, and goes on after resume', async () => {
    await hv.pause(capped);
    expect(hv.vm(capped).state).toBe('paused');
    const api = hv.guest(capped)!.api;
    const before = (await api.counters()).instructions;
    await sleep(2000);
    const after = (await api.counters()).instructions;
    expect(after).toBe(before);
    await hv.resume(capped);
    await sleep(500);
    expect((await api.counters()).instructions).toBeGreaterThan(after);
    expect((await hv.exec(capped, 'echo back')).output.trim()).toBe('back');
  });

  it('refuses a start beyond the memory pool with the numbers', async () => {
    const big = hv.createVm({ name: 'big', memoryMiB: 96 }).id;
    const err = await hv.start(big).then(() => null, (e: unknown) => e);
    expect(isHvError(err, 'pool-exhausted')).toBe(true);
    expect((err as Error).message).toBe('cannot start big: needs 96 MiB but only 40 MiB of the 200 MiB pool is free (160 MiB reserved)');
    expect(hv.vm(big).state).toBe('defined');
    expect(hv.memory.reservedMiB).toBe(160);
  });

  it('refuses illegal commands with a typed error', async () => {
    const err = await hv.resume(idle).then(() => null, (e: unknown) => e);
    expect(isHvError(err, 'illegal-state')).toBe(true);
    expect((err as Error).message).toMatch(/idle/);
  });

  it('keeps a console size for the next boot, takes one while paused, and refuses a bad one', async () => {
    expect(() => hv.resizeConsole(idle, 120, 0)).toThrow('a console needs a whole number of rows from 1 to 1000, got 0');
    // The guest's agent sets the size a moment after it is sent.
    const sizeBecomes = async (want: string): Promise<string> => {
      let size = '';
      for (let i = 0; i < 20 && size !== want; i++) {
        size = (await hv.exec(idle, 'stty size 2>&1')).output.trim();
        if (size !== want) await sleep(250);
      }
      return size;
    };
    hv.resizeConsole(idle, 120, 40);
    await hv.stop(idle);
    await hv.start(idle);
    expect(await sizeBecomes('40 120')).toBe('40 120');
    await hv.pause(idle);
    hv.resizeConsole(idle, 90, 20);
    await hv.resume(idle);
    expect(await sizeBecomes('20 90')).toBe('20 90');
  });

  it('destroy releases the RAM', async () => {
    await hv.destroy(idle);
    expect(hv.memory.reservedMiB).toBe(80);
    expect(hv.vms().map((v) => v.name)).not.toContain('idle');
  });
});
