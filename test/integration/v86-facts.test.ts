// Facts about v86 that the guest worker relies on, checked against the
// installed v86 (a new version could change them).
import { describe, expect, it } from 'vitest';
import { bareV86 } from './bare-v86.ts';

const MiB = 1 << 20;

/** Pages of mem8 that hold a non-zero byte. */
function writtenPages(mem8: Uint8Array): number[] {
  const pages: number[] = [];
  for (let p = 0; p < mem8.length >> 12; p++) {
    const page = mem8.subarray(p << 12, (p + 1) << 12);
    if (page.some((b) => b !== 0)) pages.push(p);
  }
  return pages;
}

describe('a new v86 instance, before it runs', () => {
  // workers/v86-tuning.ts: a restore clears only the first MiB of a fresh
  // instance built without a kernel, because v86 wrote nothing above it.
  it('has written nothing above the first MiB when it loaded no kernel, and the kernel above it when it did', async () => {
    const written: Record<string, number[]> = {};
    for (const withKernel of [false, true]) {
      const emulator = await bareV86({ kernel: withKernel, nic: true });
      const mem8 = (emulator as unknown as { v86: { cpu: { mem8: Uint8Array } } }).v86.cpu.mem8;
      written[String(withKernel)] = writtenPages(mem8);
      await emulator.destroy();
    }
    const above = (pages: number[]) => pages.filter((p) => p >= MiB >> 12);
    expect(written['false']!.length).toBeGreaterThan(0); // the BIOSes
    expect(above(written['false']!)).toEqual([]);
    // The check itself sees writes above 1 MiB: the kernel and initrd.
    expect(above(written['true']!).length).toBeGreaterThan(100);
  });
});
