// Issue: the lifecycle under any interleaving. Commands issued together, or
// at random moments, end in states a sequential model allows, with no worker
// left behind, the pool holding exactly the RAM of the VMs that hold it, and
// every VM that should run answering its shell. A worker that stops
// answering is found and marked crashed, and the others keep their shares.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { proxy, transfer } from 'comlink';
import { HvError } from '../../src/core/errors.ts';
import { holdsMemory, TRANSITIONS, type UserCommand, type VmState } from '../../src/core/lifecycle.ts';
import type { BootSpec, GuestEvent, GuestEventSink } from '../../src/protocol/guest-api.ts';
import type { Hypervisor } from '../../src/host/hypervisor.ts';
import { Hypervisor as HypervisorClass } from '../../src/host/hypervisor.ts';
import { liveGuestThreads, nodeGuestWorkers } from '../../src/host/node-workers.ts';
import { nodeImages, nodeWasmUrl } from '../../src/host/node-images.ts';
import type { GuestWorker, GuestWorkerFactory } from '../../src/host/worker-port.ts';
import { nodeHypervisor, sleep } from './hypervisor-helpers.ts';

type Command = Exclude<UserCommand, 'migrate'>;
const COMMANDS: Command[] = ['start', 'stop', 'restart', 'pause', 'resume', 'destroy'];

/** The state each command leaves a VM in when it succeeds. */
const RESULT: Record<Command, VmState> = { start: 'running', restart: 'running', resume: 'running', pause: 'paused', stop: 'stopped', destroy: 'destroyed' };

type Outcome = 'ok' | 'cancelled' | 'illegal-state' | 'not-found' | `other: ${string}`;

interface Issued {
  vm: string;
  command: Command;
  outcome?: Outcome;
}

async function settle(p: Promise<void>): Promise<Outcome> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = HvError.from(err);
    if (e.code === 'cancelled' || e.code === 'illegal-state' || e.code === 'not-found') return e.code;
    return `other: ${e.code}: ${e.message}`;
  }
}

/**
 * Replays one VM's commands, in the order issued, against the lifecycle
 * table: each success must be legal where the ones before it left the VM,
 * each refusal illegal there. A cancelled boot may have left it booting.
 * Returns the states the VM may be in now, or throws naming the command
 * that does not fit.
 */
function replay(commands: Issued[], from: VmState): Set<VmState> {
  let possible = new Set<VmState>([from]);
  for (const [i, c] of commands.entries()) {
    const legalFrom = [...possible].filter((s) => TRANSITIONS[s][c.command] !== undefined);
    const where = `command ${i} (${c.command} ${c.vm}: ${c.outcome}) with the VM ${[...possible].join(' or ')}`;
    switch (c.outcome) {
      case 'ok': {
        // A stop or destroy issued again while the first still waits joins it (one result for both).
        const prev = commands[i - 1];
        const joined = prev?.command === c.command && prev.outcome === 'ok' && (c.command === 'stop' || c.command === 'destroy');
        if (legalFrom.length === 0 && !joined) throw new Error(`${where}: succeeded but is illegal there`);
        possible = new Set([RESULT[c.command]]);
        break;
      }
      case 'illegal-state':
        if (legalFrom.length === possible.size) throw new Error(`${where}: refused but is legal there`);
        break;
      case 'not-found':
        if (!possible.has('destroyed')) throw new Error(`${where}: VM not found before it was destroyed`);
        break;
      case 'cancelled':
        // Cancelled waiting: no effect; cancelled while booting: it is left booting for the stop or destroy.
        if (c.command === 'start' || c.command === 'restart') possible = new Set([...possible, 'booting']);
        break;
      default:
        throw new Error(`${where}: unexpected outcome`);
    }
  }
  return possible;
}

/** Waits (up to 15 s) until the host holds exactly what the VMs' states say, then checks it. */
async function expectConsistent(hv: Hypervisor, context: string): Promise<void> {
  const held = () => hv.vms().filter((v) => holdsMemory(v.state));
  const deadline = performance.now() + 15_000;
  // A template still booting for a cancelled clone goes away on its own.
  while (performance.now() < deadline && (liveGuestThreads() !== held().length || hv.memory.hostMiB !== 0)) await sleep(50);
  const vms = hv.vms();
  expect(vms.filter((v) => v.state === 'booting'), `${context}: nothing left booting`).toEqual([]);
  expect(liveGuestThreads(), `${context}: one worker per VM that holds RAM`).toBe(held().length);
  expect(hv.memory.hostMiB, `${context}: no template RAM left`).toBe(0);
  const reserved = Object.fromEntries(hv.reservations().map((r) => [r.vmId, r.mib]));
  expect(reserved, `${context}: the pool holds the RAM of the VMs that hold it`).toEqual(Object.fromEntries(held().map((v) => [v.id, v.memoryMiB])));
  for (const v of vms.filter((v) => v.state === 'running')) {
    const r = await hv.exec(v.id, `echo alive-${v.name}`, 15_000);
    expect(r.output.trim(), `${context}: ${v.name} answers`).toBe(`alive-${v.name}`);
  }
}

/** A small seeded generator (mulberry32): the same seed gives the same sequence. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const issue = (hv: Hypervisor, id: string, command: Command): Promise<void> => hv[command](id);

describe('every pair of lifecycle commands issued together on a running VM', () => {
  let hv: Hypervisor;
  let n = 0;
  beforeAll(() => {
    hv = nodeHypervisor({ pcpus: 1, memoryMiB: 1024 }, 0);
  });
  afterAll(() => hv?.dispose());

  const pairs = COMMANDS.flatMap((a) => COMMANDS.map((b) => [a, b] as const));
  it.each(pairs)('%s + %s', async (a, b) => {
    const name = `p${++n}`;
    const id = hv.createVm({ name, memoryMiB: 80, boot: 'clone' }).id;
    await hv.start(id);
    const issued: Issued[] = [
      { vm: name, command: a },
      { vm: name, command: b },
    ];
    const outcomes = await Promise.all([settle(issue(hv, id, a)), settle(issue(hv, id, b))]);
    issued.forEach((c, i) => (c.outcome = outcomes[i]));
    const possible = replay(issued, 'running');
    const state = hv.vms().find((v) => v.id === id)?.state ?? 'destroyed';
    expect([...possible], `${a} + ${b}: ${outcomes.join(', ')}; now ${state}`).toContain(state);
    await expectConsistent(hv, `${a} + ${b}`);
    if (state !== 'destroyed') await hv.destroy(id);
  });

  it('two restarts at once both resolve, one after the other', async () => {
    const id = hv.createVm({ name: 'twice', memoryMiB: 80, boot: 'clone' }).id;
    await hv.start(id);
    const results = await Promise.all([settle(hv.restart(id)), settle(hv.restart(id))]);
    expect(results).toEqual(['ok', 'ok']);
    expect(hv.vm(id).state).toBe('running');
    await expectConsistent(hv, 'two restarts');
    await hv.destroy(id);
  });

  it('stopping a booting VM cancels its start (not a refusal)', async () => {
    const id = hv.createVm({ name: 'early', memoryMiB: 80, boot: 'clone' }).id;
    const refusals: string[] = [];
    const off = hv.on((e) => {
      if (e.type === 'refusal') refusals.push(e.error.message);
    });
    const start = settle(hv.start(id));
    await sleep(50);
    expect(hv.vm(id).state).toBe('booting');
    expect(await settle(hv.stop(id))).toBe('ok');
    expect(await start).toBe('cancelled');
    expect(hv.vm(id).state).toBe('stopped');
    expect(refusals).toEqual([]);
    off();
    await expectConsistent(hv, 'stop while booting');
    await hv.destroy(id);
  });
});

describe('50 random commands over 3 VMs', () => {
  let hv: Hypervisor;
  afterAll(() => hv?.dispose());

  const seed = Number(process.env['HV_LIFECYCLE_SEED'] ?? 20261204);
  it(`ends consistent (seed ${seed}; HV_LIFECYCLE_SEED replays another)`, async () => {
    hv = nodeHypervisor({ pcpus: 1, memoryMiB: 1024 }, 0);
    const rand = random(seed);
    const names = ['r1', 'r2', 'r3'];
    const ids = Object.fromEntries(names.map((name) => [name, hv.createVm({ name, memoryMiB: 80, boot: 'clone' }).id]));
    const issued: Issued[] = [];
    const pending: Promise<void>[] = [];
    for (let i = 0; i < 50; i++) {
      const vm = names[Math.floor(rand() * names.length)]!;
      const command = COMMANDS[Math.floor(rand() * COMMANDS.length)]!;
      // Mostly right after each other, sometimes after a boot's worth of time.
      const gap = rand() < 0.7 ? Math.floor(rand() * 60) : Math.floor(rand() * 600);
      const c: Issued = { vm, command };
      issued.push(c);
      pending.push(settle(issue(hv, ids[vm]!, command)).then((o) => void (c.outcome = o)));
      await sleep(gap);
    }
    await Promise.all(pending);
    const story = issued.map((c, i) => `${i}: ${c.command} ${c.vm} -> ${c.outcome}`).join('\n');
    for (const name of names) {
      const possible = replay(
        issued.filter((c) => c.vm === name),
        'defined',
      );
      const state = hv.vms().find((v) => v.id === ids[name])?.state ?? 'destroyed';
      expect([...possible], `seed ${seed}, ${name} is ${state}:\n${story}`).toContain(state);
    }
    await expectConsistent(hv, `seed ${seed}`);
  });
});

/** Guest workers whose messages can be dropped both ways, as if the worker hung. */
function hangableWorkers(base: GuestWorkerFactory): { factory: GuestWorkerFactory; made: { hang(): void }[] } {
  const made: { hang(): void }[] = [];
  const factory: GuestWorkerFactory = (): GuestWorker => {
    const w = base();
    let hung = false;
    const api = new Proxy(w.api as object, {
      get(target, prop) {
        const real = Reflect.get(target, prop) as (...args: unknown[]) => Promise<unknown>;
        if (typeof prop === 'symbol' || prop === 'then') return real;
        if (prop === 'boot') {
          return (spec: BootSpec, sink: GuestEventSink) => {
            // The CPU channel goes through a relay that stops relaying when the worker "hangs".
            const host = spec.cpuPort as MessagePort | undefined;
            if (host) {
              const relay = new MessageChannel();
              // CPU commands may carry a port for hand-overs (CpuCommand 'link', handOff.link): pass it on.
              const ports = (d: { link?: unknown; port?: unknown }) => [d.link, d.port].filter((p): p is MessagePort => p instanceof MessagePort);
              host.addEventListener('message', (e) => void (hung || relay.port2.postMessage(e.data, ports(e.data))));
              relay.port2.addEventListener('message', (e) => void (hung || host.postMessage(e.data)));
              host.start();
              relay.port2.start();
              spec = transfer({ ...spec, cpuPort: relay.port1 }, [relay.port1, ...(spec.state ? [spec.state] : [])]);
            }
            return real(
              spec,
              proxy((events: GuestEvent[]) => {
                if (!hung) sink(events);
              }),
            );
          };
        }
        return (...args: unknown[]) => (hung ? new Promise(() => {}) : real(...args));
      },
    }) as GuestWorker['api'];
    made.push({ hang: () => void (hung = true) });
    return { api, onFailure: (l) => w.onFailure(l), terminate: () => w.terminate() };
  };
  return { factory, made };
}

describe('a guest worker that stops answering', () => {
  let hv: Hypervisor;
  afterEach(() => hv?.dispose());

  it('is marked crashed within 2 s, and the others keep their shares', async () => {
    const workers = hangableWorkers(nodeGuestWorkers);
    hv = new HypervisorClass({ workers: workers.factory, images: nodeImages(), wasm: { url: nodeWasmUrl }, hostCores: 2 }, { pcpus: 1, memoryMiB: 1024 });
    const ids = ['h1', 'h2', 'victim'].map((name) => hv.createVm({ name, memoryMiB: 80, image: 'hv', boot: 'clone' }).id);
    for (const id of ids) await hv.start(id);
    for (const id of ids) expect((await hv.exec(id, 'hv-burn > /dev/null &')).status).toBe(0);
    await sleep(1500);
    const [a, b, victim] = ids as [string, string, string];
    // The victim started last: its worker is the last one made.
    workers.made[workers.made.length - 1]!.hang();
    const hungAt = performance.now();
    while (hv.vm(victim).state !== 'crashed' && performance.now() - hungAt < 5000) await sleep(20);
    const detectedMs = performance.now() - hungAt;
    console.info(`a hung worker was marked crashed after ${detectedMs.toFixed(0)} ms: ${hv.vm(victim).reason}`);
    expect(hv.vm(victim).state).toBe('crashed');
    expect(detectedMs).toBeLessThan(2000);
    expect(hv.vm(victim).reason).toMatch(/stopped answering/);
    expect(hv.vm(a).state).toBe('running');
    // Its grants were voided when their reports did not come (the pCPU was freed, not held).
    expect(hv.faults().some((f) => f.vmId === victim && /voided/.test(f.message))).toBe(true);
    await sleep(1000);
    const from = performance.now();
    await sleep(5000);
    const to = performance.now();
    const shares = [a, b].map((id) => hv.history.summary(id, from, to).sharePct);
    console.info(`the two others after the crash: ${shares.map((s) => s.toFixed(1)).join(' / ')} % of the pCPU`);
    for (const s of shares) expect(Math.abs(s - 50)).toBeLessThan(5);
    // The crashed VM holds nothing; it restarts on a new worker.
    expect(hv.reservations().map((r) => r.vmId).sort()).toEqual([a, b].sort());
    await hv.restart(victim);
    expect((await hv.exec(victim, 'echo back')).output.trim()).toBe('back');
  });

  it('a worker terminated behind the hypervisor\'s back is marked crashed', async () => {
    const threads: { terminate(): Promise<unknown> }[] = [];
    hv = new HypervisorClass(
      {
        workers: () => {
          const w = nodeGuestWorkers();
          threads.push(w.thread);
          return w;
        },
        images: nodeImages(),
        wasm: { url: nodeWasmUrl },
        hostCores: 2,
      },
      { pcpus: 1, memoryMiB: 1024 },
    );
    const id = hv.createVm({ name: 'gone', memoryMiB: 80, image: 'hv' }).id;
    await hv.start(id);
    const t0 = performance.now();
    await threads[threads.length - 1]!.terminate();
    while (hv.vm(id).state !== 'crashed' && performance.now() - t0 < 5000) await sleep(20);
    expect(hv.vm(id).state).toBe('crashed');
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(hv.reservations()).toEqual([]);
  });
});
