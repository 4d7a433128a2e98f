// The hand-over transport in one process: two links joined by a MessageChannel
// (as the CPU service joins two workers) and a shared buffer, each with a
// stand-in for its worker's tick gate.
import { afterEach, describe, expect, it } from 'vitest';
import type { GateState } from './tick-gate.ts';
import { AWAIT_MS, HandOffLink, type HandOffGate } from './hand-off.ts';

class FakeGate implements HandOffGate {
  state: GateState = 'waiting';
  readonly queued = new Map<number, number>();
  readonly handed: [number, number | undefined][] = [];
  isQueued(grantId: number): boolean {
    return this.queued.has(grantId);
  }
  queue(grantId: number, ms: number): void {
    this.queued.set(grantId, ms);
  }
  onHandOff(grantId: number, ms?: number): void {
    this.handed.push([grantId, ms]);
    if (ms !== undefined || this.queued.delete(grantId)) this.state = 'granted';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const links: HandOffLink[] = [];

function pair(withCells: boolean) {
  const cells = withCells ? new SharedArrayBuffer(4 * 4) : undefined;
  const gates = { a: new FakeGate(), b: new FakeGate() };
  const a = new HandOffLink(withCells ? 0 : null, cells, () => gates.a, () => performance.now());
  const b = new HandOffLink(withCells ? 1 : null, cells, () => gates.b, () => performance.now());
  links.push(a, b);
  const channel = new MessageChannel();
  b.accept(channel.port2);
  return { a, b, gates, toB: { key: 'b', cell: withCells ? 1 : null }, port: channel.port1 };
}

describe('HandOffLink', () => {
  afterEach(() => {
    for (const l of links.splice(0)) l.close();
  });

  it('sends the grant to the successor on its port, and forgets the route', async () => {
    const { a, gates, toB, port } = pair(false);
    a.route(12, 7, { ...toB, notice: false }, port);
    a.passOn(12);
    a.passOn(12); // the route is used: nothing more goes out
    await sleep(20);
    expect(gates.b.handed).toEqual([[12, 7]]);
    expect(gates.a.handed).toEqual([]);
    expect(gates.b.state).toBe('granted');
  });

  it('keeps the port for later routes to the same worker, and closes it on unlink', async () => {
    const { a, gates, toB, port } = pair(false);
    a.route(13, 5, { ...toB, notice: false }, port);
    a.route(14, 6, { ...toB, notice: false });
    a.passOn(13);
    a.passOn(14);
    await sleep(20);
    expect(gates.b.handed).toEqual([
      [13, 5],
      [14, 6],
    ]);
    a.unlink('b');
    a.route(15, 6, { ...toB, notice: false });
    a.passOn(15);
    await sleep(20);
    expect(gates.b.handed).toHaveLength(2);
  });

  it('stays awake on notice and takes the hand-over from its cell', async () => {
    const { a, b, gates, toB } = pair(true);
    gates.b.queue(21, 4);
    // No port to b: only the cell can carry this hand-over.
    a.route(21, 4, { ...toB, notice: true });
    b.awaitHandOff(21);
    expect(b.isAwaiting).toBe(true);
    a.passOn(21);
    await sleep(5);
    expect(gates.b.handed).toEqual([[21, undefined]]);
    expect(b.isAwaiting).toBe(false);
  });

  it('gives notice only when the route asks for it, and the notice queues the grant and makes the successor poll', async () => {
    const { a, b, gates, toB, port } = pair(true);
    a.route(31, 3, { ...toB, notice: false }, port);
    a.giveNotice(31);
    await sleep(10);
    expect(b.isAwaiting).toBe(false);
    expect(gates.b.queued.size).toBe(0);
    a.route(32, 3, { ...toB, notice: true });
    a.giveNotice(32);
    const t0 = performance.now();
    while (!b.isAwaiting && performance.now() - t0 < 200) await sleep(0);
    expect(b.isAwaiting).toBe(true);
    expect(gates.b.queued.get(32)).toBe(3);
  });

  it('stops polling after AWAIT_MS when no hand-over comes', async () => {
    const { b, gates } = pair(true);
    gates.b.queue(41, 2);
    b.awaitHandOff(41);
    await sleep(AWAIT_MS + 20);
    expect(b.isAwaiting).toBe(false);
    expect(gates.b.handed).toEqual([]);
  });
});
