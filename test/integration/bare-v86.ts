// A v86 instance in the test's own thread, loaded and not started, built as
// the guest worker builds one (80 MiB RAM, 1 MiB VGA memory, the small
// image's BIOSes, ACPI): for the tests of facts about v86 itself. v86 is
// imported when the first instance is made, so that a test can replace
// performance.now before v86 binds it.
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { V86 } from 'v86';
import { nodeImage, nodeWasmUrl } from '../../src/host/node-images.ts';

const MiB = 1 << 20;
let wasm: Promise<WebAssembly.Module> | null = null;

async function bytes(url: string): Promise<ArrayBuffer> {
  const b = await readFile(fileURLToPath(url));
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength);
}

/** A new instance, resolved once v86 says it is loaded; `kernel` also loads the kernel and initrd, `nic` adds a virtio NIC. */
export async function bareV86(options: { kernel?: boolean; nic?: boolean } = {}): Promise<V86> {
  const { V86: V86Ctor } = await import('v86');
  wasm ??= bytes(nodeWasmUrl).then((b) => WebAssembly.compile(b));
  const module = await wasm;
  const image = nodeImage('hv');
  const emulator = new V86Ctor({
    wasm_fn: async (imports: WebAssembly.Imports) => (await WebAssembly.instantiate(module, imports)).exports,
    memory_size: 80 * MiB,
    vga_memory_size: MiB,
    bios: { buffer: await bytes(image.bios.url) },
    vga_bios: { buffer: await bytes(image.vgaBios.url) },
    ...(options.kernel ? { bzimage: { buffer: await bytes(image.kernel.url) }, initrd: { buffer: await bytes(image.initrd.url) } } : {}),
    acpi: true,
    autostart: false,
    ...(options.nic ? { net_device: { type: 'virtio', relay_url: undefined as unknown as string } } : {}),
  } as ConstructorParameters<typeof V86Ctor>[0]);
  await new Promise<void>((resolve) => emulator.add_listener('emulator-loaded', () => resolve()));
  return emulator;
}
