// The memory experiment's secret: random or typed by the user, and its masked
// form for the guest tool hv-memscan, which must search for it without the
// plain bytes ever existing in the guest that searches.
import { HvError } from '../../core/errors.ts';

export const SECRET_MIN_CHARS = 8;
export const SECRET_MAX_CHARS = 64;

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** `length` random letters and digits from the platform's CSPRNG (browser and Node). */
export function randomAlnum(length: number): string {
  const bytes = crypto.getRandomValues(new Uint8Array(length));
  // 248 = 4 x 62: dropping bytes >= 248 keeps every character equally likely.
  let out = '';
  for (const b of bytes) if (b < 248) out += ALNUM[b % 62];
  return out.length === length ? out : out + randomAlnum(length - out.length);
}

/** A fresh random secret: 24 letters and digits (about 143 bits). */
export function randomSecret(): string {
  return randomAlnum(24);
}

/**
 * Check a user-typed secret: 8 to 64 printable ASCII characters (space allowed,
 * not at the ends). It travels over the serial console into a shell, so other
 * bytes would not arrive as typed; short ones could occur in RAM by chance.
 */
export function validateSecret(input: unknown): string {
  if (typeof input !== 'string') {
    throw new HvError('invalid-argument', 'the secret must be text', { secret: typeof input });
  }
  const chars = [...input];
  if (chars.length < SECRET_MIN_CHARS || chars.length > SECRET_MAX_CHARS) {
    throw new HvError(
      'invalid-argument',
      `the secret must be ${SECRET_MIN_CHARS} to ${SECRET_MAX_CHARS} characters long, got ${chars.length}` +
        (chars.length < SECRET_MIN_CHARS ? ': a short string can occur in a guest\'s RAM by chance' : ''),
      { length: chars.length, min: SECRET_MIN_CHARS, max: SECRET_MAX_CHARS },
    );
  }
  const bad = chars.find((c) => c < ' ' || c > '~');
  if (bad !== undefined) {
    const code = bad.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0');
    throw new HvError(
      'invalid-argument',
      `the secret may only hold printable ASCII characters (letters, digits, punctuation, space); ${JSON.stringify(bad)} (U+${code}) is not one`,
      { char: bad },
    );
  }
  if (input.trim() !== input) {
    throw new HvError('invalid-argument', 'the secret may not start or end with a space', {});
  }
  return input;
}

/** The patterns hv-memscan looks for, XORed with one random key, as hex. */
export interface MaskedPatterns {
  keyHex: string;
  maskedHex: string[];
}

/** Mask each pattern with one random key at least as long as the longest: neither hex string holds a pattern. */
export function maskPatterns(patterns: readonly string[], key?: Uint8Array): MaskedPatterns {
  const bytes = patterns.map((p) => new TextEncoder().encode(p));
  const longest = Math.max(...bytes.map((b) => b.length));
  const k = key ?? crypto.getRandomValues(new Uint8Array(longest));
  if (k.length < longest) throw new HvError('invalid-argument', `the mask key has ${k.length} bytes, the longest pattern ${longest}`, {});
  return {
    keyHex: toHex(k),
    maskedHex: bytes.map((b) => toHex(b.map((v, i) => v ^ k[i]!))),
  };
}

/** Quote a string for the guest's shell (single quotes; ' becomes '\''). */
export function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}
