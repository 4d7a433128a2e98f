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
    handOff: (g, next, to: HandOffTarget) => log.push(`${name} handOff ${g}->${next} ${to.channel}#${to.cell} notice=${to.notice}`),
    inbox: { channel: `in-${name}`, cell: name === 'a' ? 0 : 1 },
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
      // Addressed to the inbox (and cell) of the worker that was told to queue that grant.
      const [, next, to, cell] = /->(\d+) in-(\w)#(\d)/.exec(h)!;
      expect(log.some((l) => l.startsWith(`${to} queue ${next} `))).toBe(true);
      expect(cell).toBe(to === 'a' ? '0' : '1');
    }
    loop.dispose();
  });
});
