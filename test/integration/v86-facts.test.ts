// Facts about v86 that the guest worker relies on, checked against the
// installed v86 (a new version could change them).
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { V86 } from 'v86';
import { nodeImage, nodeWasmUrl } from '../../src/host/node-images.ts';

const MiB = 1 << 20;

async function bytes(url: string): Promise<ArrayBuffer> {
  const b = await readFile(fileURLToPath(url));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

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
    const image = nodeImage('hv');
    const wasm = await WebAssembly.compile(await bytes(nodeWasmUrl));
    const written: Record<string, number[]> = {};
    for (const withKernel of [false, true]) {
      const emulator = new V86({
        wasm_fn: async (imports: WebAssembly.Imports) => (await WebAssembly.instantiate(wasm, imports)).exports,
        memory_size: 80 * MiB,
        vga_memory_size: MiB,
        bios: { buffer: await bytes(image.bios.url) },
        vga_bios: { buffer: await bytes(image.vgaBios.url) },
        ...(withKernel ? { bzimage: { buffer: await bytes(image.kernel.url) }, initrd: { buffer: await bytes(image.initrd.url) } } : {}),
        acpi: true,
        autostart: false,
        net_device: { type: 'virtio', relay_url: undefined as unknown as string },
      } as ConstructorParameters<typeof V86>[0]);
      await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
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
