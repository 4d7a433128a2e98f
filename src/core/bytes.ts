// Byte arrays: one from many, a pattern in one, and a text's SHA-256.
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';

/** The SHA-256 of a text's UTF-8 bytes, hex (synchronous: the same in Node, the page and a worker). */
export function textSha256(text: string): string {
  return bytesToHex(sha256(utf8ToBytes(text)));
}

/** The chunks one after the other, in a fresh buffer (which can be transferred). */
export function concatBytes(chunks: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.byteLength, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** Find up to maxHits offsets of pattern in haystack[from, to), overlapping chunk edges handled by the caller. */
export function findAll(haystack: Uint8Array, pattern: Uint8Array, from: number, to: number, maxHits: number, out: number[]): boolean {
  const first = pattern[0];
  if (first === undefined) throw new Error('search pattern is empty');
  const last = Math.min(to, haystack.length) - pattern.length;
  let i = haystack.indexOf(first, from);
  while (i !== -1 && i <= last) {
    let j = 1;
    while (j < pattern.length && haystack[i + j] === pattern[j]) j++;
    if (j === pattern.length) {
      if (out.length >= maxHits) return true;
      out.push(i);
    }
    i = haystack.indexOf(first, i + 1);
  }
  return false;
}

/** Whether `haystack` holds `pattern` anywhere (an empty pattern: yes). */
export function includesBytes(haystack: Uint8Array, pattern: Uint8Array): boolean {
  return pattern.length === 0 || findAll(haystack, pattern, 0, haystack.length, 0, []);
}
