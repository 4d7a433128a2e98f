// The hand-over transport in one process: BroadcastChannels and a shared
// buffer between two links, each with a stand-in for its worker's tick gate.
import { afterEach, describe, expect, it } from 'vitest';
import type { GateState } from './tick-gate.ts';
import { AWAIT_MS, HandOffLink, type HandOffGate } from './hand-off.ts';

class FakeGate implements HandOffGate {
  state: GateState = 'waiting';
  readonly queued = new Set<number>();
  readonly handed: number[] = [];
  isQueued(grantId: number): boolean {
    return this.queued.has(grantId);
  }
  onHandOff(grantId: number): void {
    this.handed.push(grantId);
    if (this.queued.delete(grantId)) this.state = 'granted';
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let n = 0;
const links: HandOffLink[] = [];

function pair(withCells: boolean) {
  const prefix = `hand-off-test-${n++}`;
  const cells = withCells ? new SharedArrayBuffer(4 * 4) : undefined;
  const gates = { a: new FakeGate(), b: new FakeGate() };
  const a = new HandOffLink({ channel: `${prefix}-a`, cell: withCells ? 0 : null }, cells, () => gates.a, () => performance.now());
  const b = new HandOffLink({ channel: `${prefix}-b`, cell: withCells ? 1 : null }, cells, () => gates.b, () => performance.now());
  links.push(a, b);
  return { a, b, gates, toB: { channel: `${prefix}-b`, cell: withCells ? 1 : null }, cells };
}

describe('HandOffLink', () => {
  afterEach(() => {
    for (const l of links.splice(0)) l.close();
  });

  it('posts a hand-over to the successor inbox only, and forgets the route', async () => {
    const { a, gates, toB } = pair(false);
    gates.b.queued.add(12);
    a.route(12, { ...toB, notice: false });
    a.passOn(12);
    a.passOn(12); // the route is used: nothing more goes out
    await sleep(20);
    expect(gates.b.handed).toEqual([12]);
    expect(gates.a.handed).toEqual([]);
    expect(gates.b.state).toBe('granted');
  });

  it('stays awake on notice and takes the hand-over from its cell', async () => {
    const { a, b, gates, toB } = pair(true);
    gates.b.queued.add(21);
    // The message side is addressed elsewhere: only the cell can carry this hand-over.
    a.route(21, { ...toB, channel: `${toB.channel}-nobody`, notice: true });
    b.awaitHandOff(21);
    expect(b.isAwaiting).toBe(true);
    a.passOn(21);
    await sleep(5);
    expect(gates.b.handed).toEqual([21]);
    expect(b.isAwaiting).toBe(false);
  });

  it('gives notice only when the route asks for it, and the notice makes the successor poll', async () => {
    const { a, b, gates, toB } = pair(true);
    gates.b.queued.add(31).add(32);
    a.route(31, { ...toB, notice: false });
    a.giveNotice(31);
    await sleep(10);
    expect(b.isAwaiting).toBe(false);
    a.route(32, { ...toB, notice: true });
    a.giveNotice(32);
    const t0 = performance.now();
    while (!b.isAwaiting && performance.now() - t0 < 200) await sleep(0);
    expect(b.isAwaiting).toBe(true);
  });

  it('stops polling after AWAIT_MS when no hand-over comes', async () => {
    const { b, gates } = pair(true);
    gates.b.queued.add(41);
    b.awaitHandOff(41);
    await sleep(AWAIT_MS + 20);
    expect(b.isAwaiting).toBe(false);
    expect(gates.b.handed).toEqual([]);
  });
});
