// Net section: the virtual switch's decisions per second (src/core/net, pure):
// known unicast between learnt guests, and broadcasts flooded in a VLAN, on
// a switch of 16 access ports in two VLANs and a trunk.
import { performance } from 'node:perf_hooks';
import { pushTag } from '../src/core/net/ethernet.ts';
import { VirtualSwitch } from '../src/core/net/switch.ts';
import { targetRow, type BenchRow } from './table.ts';

const S = 'net';
const PORTS = 16;

function frame(dst: number, src: number, size = 64): Uint8Array {
  const f = new Uint8Array(size);
  for (let i = 0; i < 6; i++) {
    f[i] = Math.floor(dst / 2 ** (8 * (5 - i))) % 256;
    f[6 + i] = Math.floor(src / 2 ** (8 * (5 - i))) % 256;
  }
  f[12] = 0x08;
  return f;
}

/** Decisions per second of `frames` sent round-robin from their ports, over about `ms`. */
function rate(sw: VirtualSwitch, frames: { port: string; frame: Uint8Array }[], ms: number): number {
  let n = 0;
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < ms) {
    for (let i = 0; i < 10_000; i++) {
      const f = frames[i % frames.length]!;
      sw.receive(f.port, f.frame);
    }
    n += 10_000;
    t = performance.now();
  }
  return n / ((t - t0) / 1000);
}

export async function benchNet(): Promise<BenchRow[]> {
  const sw = new VirtualSwitch({ now: () => performance.now() });
  const macs: number[] = [];
  for (let i = 0; i < PORTS; i++) {
    sw.addPort(`p${i}`, { vlan: { mode: 'access', vlan: i % 2 ? 20 : 10 }, rateLimit: null });
    macs.push(0x02_00_00_00_00_00 + i + 1);
  }
  sw.addPort('trunk', { vlan: { mode: 'trunk', allowed: [10, 20], native: null }, rateLimit: null });
  // Every guest speaks once: all addresses learnt.
  for (let i = 0; i < PORTS; i++) sw.receive(`p${i}`, frame(0xffff_ffff_ffff, macs[i]!));
  const unicast = Array.from({ length: PORTS }, (_, i) => ({ port: `p${i}`, frame: frame(macs[(i + 2) % PORTS]!, macs[i]!) }));
  const broadcast = Array.from({ length: PORTS }, (_, i) => ({ port: `p${i}`, frame: frame(0xffff_ffff_ffff, macs[i]!) }));
  const tagged = Array.from({ length: PORTS }, (_, i) => ({ port: 'trunk', frame: pushTag(frame(macs[i]!, 0x02_00_00_00_01_00), i % 2 ? 20 : 10) }));
  rate(sw, unicast, 300); // warm-up: V8 compiles the hot path
  const u = rate(sw, unicast, 1000);
  const b = rate(sw, broadcast, 1000);
  const t = rate(sw, tagged, 1000);
  return [
    targetRow(S, 'switch decisions per second, known unicast (access to access)', u, '/s', '>=', 1e6, `${PORTS} access ports in VLANs 10 and 20, a trunk; 64-byte frames`),
    { section: S, metric: 'switch decisions per second, broadcast flooded in a VLAN', value: b, unit: '/s', note: `each one ${PORTS / 2} copies (7 access ports and the trunk, tagged)` },
    { section: S, metric: 'switch decisions per second, tagged from the trunk to an access port', value: t, unit: '/s', note: 'the tag is taken off' },
  ];
}
