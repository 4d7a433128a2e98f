// Image and wasm locations for guests run from Node (tests, bench, headless runs).
import { imageCatalog } from './images.ts';
import type { GuestImage } from '../protocol/guest-api.ts';

const imagesDir = new URL('../../images/', import.meta.url);

/** file: URL of v86.wasm in node_modules. */
export const nodeWasmUrl = new URL('../../node_modules/v86/build/v86.wasm', import.meta.url).href;

/** The image catalog with file: URLs into images/. */
export function nodeImages(): GuestImage[] {
  return imageCatalog((name) => new URL(name, imagesDir).href);
}

/** The image with this id (default: the first, the small kernel when built). */
export function nodeImage(id?: string): GuestImage {
  const all = nodeImages();
  const image = id ? all.find((i) => i.id === id) : all[0];
  if (!image) throw new Error(`no image ${id ?? ''} in images/manifest.json`);
  return image;
}
