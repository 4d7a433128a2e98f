import { describe, expect, it } from 'vitest';
import type { HandOffTarget } from '../protocol/guest-api.ts';
import { CpuLoop, type CpuPort } from './cpu-loop.ts';
import type { HostTimers } from './timers.ts';

// A clock that stands still and timers that never fire: only what attach() decides is seen.
const stillTimers: HostTimers = { now: () => 0, setTimeout: () => ({}), clearTimeout: () => {} };

function port(name: string, log: string[]): CpuPort {
  return {
    grant: (g, ms) => log.push(`${name} grant ${g} ${ms}`),
    preempt: (g) => log.push(`${name} preempt ${g}`),
    queue: (g, ms) => log.push(`${name} queue ${g} ${ms}`),
    handOff: (g, next, ms, to: HandOffTarget) => log.push(`${name} handOff ${g}->${next} ${ms} ${to.key}#${to.cell} notice=${to.notice}`),
    inbox: { key: `in-${name}`, cell: name === 'a' ? 0 : 1 },
  };
}

describe('CpuLoop', () => {
  it.each([
    [1, 2, true],
    [2, 2, false],
    [1, 1, false],
  ])('with %d pCPU(s) on %d host core(s), asks for notice of hand-overs: %s', (pcpus, cores, notice) => {
    const log: string[] = [];
    const loop = new CpuLoop({ pcpus, handOff: true }, stillTimers, () => {}, cores);
    loop.attach('a', port('a', log), {});
    loop.attach('b', port('b', log), {});
    loop.attach('c', port('c', log), {});
    const handOffs = log.filter((l) => l.includes('handOff'));
    expect(handOffs.length).toBeGreaterThan(0);
    for (const h of handOffs) {
      expect(h.endsWith(`notice=${notice}`)).toBe(true);
      // Addressed to the inbox (and cell) of the queued grant's worker, which alone is told of it only if it hands over to itself.
      const [, from, next, to, cell] = /^(\w) handOff \d+->(\d+) [\d.]+ in-(\w)#(\d)/.exec(h)!;
      expect(cell).toBe(to === 'a' ? '0' : '1');
      expect(log.some((l) => l.startsWith(`${to} queue ${next} `))).toBe(from === to);
    }
    loop.dispose();
  });

  it('sends the queued grant with the hand-over, and tells a parked guest nothing before it', () => {
    const log: string[] = [];
    let t = 0;
    const loop = new CpuLoop({ pcpus: 1, handOff: true, sliceMs: 10 }, { ...stillTimers, now: () => t }, () => {}, 2);
    for (const name of ['a', 'b', 'c']) loop.attach(name, port(name, log), {});
    t = 10;
    loop.pump();
    loop.onGuestEvent('a', { type: 'cpu-slice-end', grantId: 1, usedMs: 10, instructions: 1e6, reason: 'preempted', handedOff: null });
    // b runs next, and c's grant goes to b: c, parked, is not woken until b hands over.
    expect(log.slice(-2)).toEqual(['b grant 3 10', 'b handOff 3->4 10 in-c#1 notice=true']);
    expect(log.some((l) => l.startsWith('c '))).toBe(false);
    loop.dispose();
  });
});
