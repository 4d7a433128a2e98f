/// <reference types="vite/client" />
// Image and wasm locations for guests run in the browser: every guest image
// file and v86.wasm is emitted by Vite as an asset of the build, so the page
// loads them from wherever it is served (any static server, any sub-path).
import wasmAssetUrl from 'v86/build/v86.wasm?url';
import { imageCatalog } from './images.ts';
import { HvError } from '../core/errors.ts';
import type { GuestImage } from '../protocol/guest-api.ts';

// Asset URL of each file in images/, keyed by file name. Files that appear in
// the manifest later (a freshly built kernel) are picked up on the next build.
const assets: Record<string, string> = Object.fromEntries(
  Object.entries(
    import.meta.glob<string>('../../images/*.{bin,cpio}', { query: '?url', import: 'default', eager: true }),
  ).map(([path, url]) => [path.slice(path.lastIndexOf('/') + 1), url]),
);

/**
 * Absolute URL: a worker resolves a relative URL against its own script's URL,
 * not the page's, so URLs handed to guest workers must be absolute.
 */
function absolute(url: string): string {
  return new URL(url, import.meta.url).href;
}

/** Absolute URL of v86.wasm as emitted by the build. */
export const browserWasmUrl: string = absolute(wasmAssetUrl);

/** The image catalog with absolute URLs of the bundled image files, the default image first. */
export function browserImages(): GuestImage[] {
  return imageCatalog((name) => {
    const url = assets[name];
    if (!url) {
      throw new HvError('image-missing', `image file ${name} is listed in images/manifest.json but is not part of this build`, {
        file: name,
      });
    }
    return absolute(url);
  });
}
