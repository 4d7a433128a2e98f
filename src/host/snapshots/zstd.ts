// zstd for snapshot states, from @bokuweb/zstd-wasm (the zstd library built
// to wasm; the build already uses it for the prebuilt templates). A guest's
// worker never needs it: v86's restore_state inflates a zstd state itself.
// Measured on a booted 128 MiB guest's 12.9 MB state (Node): level 3 took
// 89 ms to 4.2 MB, level 1 82 ms to 4.5 MB; gzip at level 1 took 263 ms
// (CompressionStream) to 366 ms (fflate) for the same size as zstd's level 3.
import { compress, init } from '@bokuweb/zstd-wasm';

export const SNAPSHOT_ZSTD_LEVEL = 3;

let ready: Promise<void> | null = null;

/**
 * A zstd frame of `raw`. `wasmUrl`: where the page's build put zstd.wasm (the
 * browser); Node reads the package's own file.
 */
export async function zstdCompress(raw: Uint8Array, wasmUrl?: string): Promise<Uint8Array> {
  // The web build's init takes the wasm's URL; Node's (the typings this resolves to) takes none and reads its own file.
  ready ??= (init as (path?: string) => Promise<void>)(wasmUrl).catch((err: unknown) => {
    ready = null;
    throw err;
  });
  await ready;
  return compress(raw, SNAPSHOT_ZSTD_LEVEL);
}
