// The CPU service over real MessagePorts: it links two guest workers before
// the first hand-over between them, and unlinks them when one's boot ends.
import { afterEach, describe, expect, it } from 'vitest';
import type { CpuCommand } from '../../protocol/cpu-port.ts';
import { CpuService } from './cpu-service.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const open: { close(): void }[] = [];

/** A guest's end of its CPU channel, and what the service sent down it. */
function guest(service: CpuService, name: string) {
  const channel = new MessageChannel();
  const got: CpuCommand[] = [];
  channel.port1.onmessage = (e: MessageEvent<CpuCommand>) => got.push(e.data);
  open.push(channel.port1);
  service.register(name, channel.port2, {}, { key: `key-${name}`, cell: null });
  return { port: channel.port1, got };
}

describe('CpuService', () => {
  afterEach(() => {
    for (const p of open.splice(0)) p.close();
  });

  it('gives two workers a port of their own before the first hand-over between them, and unlinks them when one goes', async () => {
    let t = 0;
    const service = new CpuService({ config: { pcpus: 1, handOff: true, sliceMs: 10 }, hostCores: 2 }, { periods: () => {}, voided: () => {} }, { now: () => t, setTimeout: () => ({}), clearTimeout: () => {} });
    const a = guest(service, 'a');
    const b = guest(service, 'b');
    a.port.postMessage({ type: 'cpu-wake', usedMs: 0, instructions: 0 });
    await sleep(10);
    b.port.postMessage({ type: 'cpu-wake', usedMs: 0, instructions: 0 });
    await sleep(10);
    const first = a.got.find((c) => c.op === 'grant');
    expect(first).toBeDefined();
    // a's slice ends (preempted: b waits); b runs, and a's next grant goes to b.
    t = 10;
    a.port.postMessage({ type: 'cpu-slice-end', grantId: first!.op === 'grant' ? first!.grantId : 0, usedMs: 10, instructions: 1e6, reason: 'preempted', handedOff: null });
    await sleep(20);
    const handOff = b.got.find((c) => c.op === 'handOff');
    expect(handOff).toMatchObject({ op: 'handOff', ms: 10, to: { key: 'key-a' } });
    const link = a.got.find((c) => c.op === 'link');
    expect(link).toBeDefined();
    // The two ends are joined: what b sends on its end reaches a's.
    const fromB = (handOff as Extract<CpuCommand, { op: 'handOff' }>).link as unknown as MessagePort;
    const toA = (link as Extract<CpuCommand, { op: 'link' }>).port as unknown as MessagePort;
    open.push(fromB, toA);
    const heard = new Promise((r) => (toA.onmessage = (e) => r(e.data)));
    fromB.postMessage({ grant: 4, ms: 10 });
    expect(await heard).toEqual({ grant: 4, ms: 10 });
    // When a's boot ends, b is told to close its port to a.
    service.unregister('a');
    await sleep(10);
    expect(b.got.filter((c) => c.op === 'unlink')).toEqual([{ op: 'unlink', key: 'key-a' }]);
    service.dispose();
  });
});
