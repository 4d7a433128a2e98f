// Loads a guest image file (http(s), relative or file: URL), reports progress,
// and checks its size and sha256 against the manifest entry.
import type { ImageFile } from '../src/protocol/guest-api.ts';
import { sha256 } from '@noble/hashes/sha2.js';
import { HvError } from '../src/core/errors.ts';

export type Progress = (loaded: number, total: number) => void;

async function readFileUrl(url: string): Promise<ArrayBuffer> {
  // Node only; the module name is a variable so that bundlers leave it alone.
  const fsName = 'node:fs/promises';
  const urlName = 'node:url';
  const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
  const { fileURLToPath } = (await import(/* @vite-ignore */ urlName)) as typeof import('node:url');
  const buf = await fs.readFile(fileURLToPath(url));
  return buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
}

async function fetchWithProgress(url: string, total: number, progress: Progress): Promise<ArrayBuffer> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`HTTP ${response.status} ${response.statusText}`);
  if (!response.body) return response.arrayBuffer();
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let loaded = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
    loaded += value.byteLength;
    progress(loaded, Math.max(total, loaded));
  }
  const out = new Uint8Array(loaded);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out.buffer;
}

/**
 * sha256 of bytes as lowercase hex. Browsers offer crypto.subtle on secure
 * pages only (https or localhost); a lab served over plain http elsewhere
 * falls back to a JavaScript implementation.
 */
export async function sha256Hex(bytes: ArrayBuffer): Promise<string> {
  const digest = globalThis.crypto?.subtle ? new Uint8Array(await crypto.subtle.digest('SHA-256', bytes)) : sha256(new Uint8Array(bytes));
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** Load one image file and verify it; throws HvError image-missing / image-corrupt. */
export async function loadImageFile(file: ImageFile, progress: Progress): Promise<ArrayBuffer> {
  let bytes: ArrayBuffer;
  try {
    bytes = file.url.startsWith('file:') ? await readFileUrl(file.url) : await fetchWithProgress(file.url, file.bytes, progress);
  } catch (err) {
    throw new HvError('image-missing', `image file ${file.name} could not be loaded from ${file.url}: ${(err as Error).message}`, {
      file: file.name,
      url: file.url,
    });
  }
  progress(bytes.byteLength, bytes.byteLength);
  if (bytes.byteLength !== file.bytes) {
    throw new HvError('image-corrupt', `image file ${file.name} has ${bytes.byteLength} bytes, the manifest says ${file.bytes}`, {
      file: file.name,
      expectedBytes: file.bytes,
      actualBytes: bytes.byteLength,
    });
  }
  const sha = await sha256Hex(bytes);
  if (sha !== file.sha256) {
    throw new HvError('image-corrupt', `image file ${file.name} is corrupted: sha256 ${sha.slice(0, 12)}… does not match the manifest's ${file.sha256.slice(0, 12)}…`, {
      file: file.name,
      expected: file.sha256,
      actual: sha,
    });
  }
  return bytes;
}
