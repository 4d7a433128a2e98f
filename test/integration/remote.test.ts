// The page's hypervisor is a HypervisorClient talking to the Hypervisor in
// its own worker (src/host/remote/). Here both ends run in Node over a
// MessageChannel, with real guests: what the page reads after a command is
// the state the command left, errors keep their codes, console bytes and
// input reach the right boot, and a disposed hypervisor answers nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HvError } from '../../src/core/errors.ts';
import type { GuestHandle } from '../../src/host/host-api.ts';
import type { Hypervisor, HvEvent } from '../../src/host/hypervisor.ts';
import { nodeImages, nodeWasmUrl } from '../../src/host/node-images.ts';
import { HypervisorClient } from '../../src/host/remote/client.ts';
import { HypervisorServer, type Endpoint } from '../../src/host/remote/server.ts';
import { nodeHypervisor, sleep } from './hypervisor-helpers.ts';

async function rejection(p: Promise<unknown>): Promise<HvError> {
  try {
    await p;
  } catch (err) {
    return HvError.from(err);
  }
  throw new Error('expected a rejection');
}

/** Wait until `text` appears in what the listener collected. */
async function until(read: () => string, re: RegExp, timeoutMs = 20_000): Promise<void> {
  const t0 = Date.now();
  while (!re.test(read())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`never saw ${re} in: ${read().slice(-400)}`);
    await sleep(20);
  }
}

describe('the hypervisor behind its page protocol (real guests)', () => {
  let client: HypervisorClient;
  let hv: Hypervisor | null = null;
  let disposed = false;
  const events: HvEvent[] = [];
  const boots: { vmId: string; guest: GuestHandle }[] = [];

  beforeAll(() => {
    const channel = new MessageChannel();
    new HypervisorServer(channel.port1 as unknown as Endpoint, ({ settings }) => (hv = nodeHypervisor(settings, 1)));
    client = new HypervisorClient(channel.port2 as unknown as Endpoint, {
      env: { images: nodeImages(), wasmUrl: nodeWasmUrl, standbyWorkers: 1, templatesUrl: null, primeTemplates: false },
      settings: { pcpus: 1, memoryMiB: 512 },
    }, () => {
      disposed = true;
      channel.port1.close();
    });
    client.on((e) => events.push(e));
    client.onGuest((vmId, guest) => boots.push({ vmId, guest }));
  });
  afterAll(async () => {
    await client.dispose();
  });

  it('answers reads at once from the host it set up, and commands with the state they left', async () => {
    // Before the worker has answered anything: the settings it was asked for, normalised as the Hypervisor does.
    expect(client.settings).toMatchObject({ pcpus: 1, memoryMiB: 512, overcommit: false, periodMs: 100 });
    expect(client.memory).toMatchObject({ totalMiB: 512, reservedMiB: 0 });
    const info = await client.createVm({ name: 'r1', memoryMiB: 96 });
    expect(info).toMatchObject({ name: 'r1', state: 'defined', memoryMiB: 96 });
    expect(client.vms().map((v) => v.name)).toEqual(['r1']);
    await client.start(info.id);
    // The batch with the start's events arrived before its answer.
    expect(client.vm(info.id).state).toBe('running');
    expect(client.vm(info.id).ready?.name).toBe('r1');
    expect(client.memory.reservedMiB).toBe(96);
    expect(hv!.reservations()).toEqual([{ vmId: info.id, mib: 96 }]);
    expect(events.filter((e) => e.type === 'vm-state' && e.vmId === info.id).map((e) => (e as { state: string }).state)).toEqual(['defined', 'booting', 'running']);
  });

  it('keeps the codes of refusals, and changes nothing', async () => {
    expect((await rejection(Promise.resolve(client.createVm({ name: 'r1', memoryMiB: 96 })))).code).toBe('duplicate-name');
    const bad = await rejection(Promise.resolve(client.createVm({ name: 'r2', memoryMiB: 'lots' })));
    expect(bad.code).toBe('invalid-argument');
    expect(bad.message).toMatch(/lots/);
    expect((await rejection(Promise.resolve(client.setHost({ pcpus: 0 })))).code).toBe('invalid-argument');
    expect(client.settings.pcpus).toBe(1);
    expect((await rejection(client.start('vm99'))).code).toBe('not-found');
    expect(() => client.vm('vm99')).toThrow(/no VM with id vm99/);
    expect(() => client.resizeConsole(client.vms()[0]!.id, 0, 24)).toThrow(HvError);
    expect(client.vms().map((v) => v.name)).toEqual(['r1']);
    const s = await client.setHost({ overcommit: true });
    expect(s.overcommit).toBe(true);
    expect(client.settings.overcommit).toBe(true);
    expect(client.memory.overcommit).toBe(true);
  });

  it('carries console bytes to the boot they came from, and typed input back', async () => {
    const id = client.vms()[0]!.id;
    const handle = client.guest(id)!;
    expect(boots.some((b) => b.guest === handle)).toBe(true);
    let text = '';
    const off = handle.onSerial((bytes) => (text += new TextDecoder().decode(bytes)));
    // What the boot printed before anybody listened is handed over first.
    expect(text).toMatch(/HV-READY name=r1/);
    handle.write('echo remote-$((6*7))\n');
    await until(() => text, /remote-42/);
    off();
    expect((await handle.exec('echo exec-$((2+3))')).output.trim()).toBe('exec-5');
    expect(await handle.agent('echo agent-ok')).toMatchObject({ output: 'agent-ok\n', status: 0 });
    expect((await client.exec(id, 'hostname')).output.trim()).toBe('r1');
    const found = await handle.searchMemory('HV-READY name=r1', 4);
    expect(found.hits.length).toBeGreaterThan(0);
  });

  it('gives a restarted VM a new guest handle; the old one ends and refuses calls', async () => {
    const id = client.vms()[0]!.id;
    const old = client.guest(id)!;
    await client.restart(id);
    const now = client.guest(id)!;
    expect(now).not.toBe(old);
    expect(old.isDestroyed).toBe(true);
    expect(now.isDestroyed).toBe(false);
    expect((await rejection(old.exec('true'))).message).toMatch(/that boot of r1 has ended/);
    expect((await now.exec('echo again')).output.trim()).toBe('again');
  });

  it('follows the accounting on the hypervisor clock', async () => {
    const id = client.vms()[0]!.id;
    await client.exec(id, 'hv-burn > /dev/null & sleep 1; kill %1');
    const last = client.history.last(1)[0];
    expect(last).toBeDefined();
    // now() reads the hypervisor's clock: a period that just closed ended a moment ago.
    const sinceEnd = client.now() - (last!.host.startMs + last!.host.periodMs);
    expect(sinceEnd).toBeGreaterThan(-5);
    expect(sinceEnd).toBeLessThan(1000);
    expect(client.history.summary(id, client.now() - 1500).sharePct).toBeGreaterThan(30);
  });

  it('after dispose: nothing runs, and calls are refused', async () => {
    await client.dispose();
    expect(disposed).toBe(true);
    expect(hv!.vms()).toEqual([]);
    expect(hv!.reservations()).toEqual([]);
    expect((await rejection(client.start('vm1'))).message).toMatch(/disposed/);
  });
});
