import { describe, expect, it } from 'vitest';
import { isHvError } from '../../core/errors.ts';
import { maskPatterns, randomAlnum, randomSecret, shellQuote, validateSecret } from './secret.ts';

const refusal = (input: unknown): string => {
  try {
    validateSecret(input);
  } catch (err) {
    expect(isHvError(err, 'invalid-argument')).toBe(true);
    return (err as Error).message;
  }
  throw new Error(`accepted ${String(input)}`);
};

describe('validateSecret', () => {
  it('accepts 8 to 64 printable ASCII characters', () => {
    expect(validateSecret('correct horse')).toBe('correct horse');
    expect(validateSecret("it's $HOME \\ `x`")).toBe("it's $HOME \\ `x`");
    expect(validateSecret('x'.repeat(64))).toHaveLength(64);
  });

  it('refuses too short and too long with the numbers', () => {
    expect(refusal('short')).toBe("the secret must be 8 to 64 characters long, got 5: a short string can occur in a guest's RAM by chance");
    expect(refusal('y'.repeat(65))).toBe('the secret must be 8 to 64 characters long, got 65');
  });

  it('refuses non-printable and non-ASCII characters, naming the character', () => {
    expect(refusal('pässword1')).toBe('the secret may only hold printable ASCII characters (letters, digits, punctuation, space); "ä" (U+00E4) is not one');
    expect(refusal('tab\there!')).toMatch(/"\\t" \(U\+0009\)/);
  });

  it('refuses spaces at the ends and non-strings', () => {
    expect(refusal(' padded secret')).toBe('the secret may not start or end with a space');
    expect(refusal(12345678)).toBe('the secret must be text');
  });
});

describe('random secrets', () => {
  it('are letters and digits of the asked length, and differ', () => {
    expect(randomAlnum(100)).toMatch(/^[A-Za-z0-9]{100}$/);
    expect(randomSecret()).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(randomSecret()).not.toBe(randomSecret());
  });
});

describe('maskPatterns', () => {
  it('XORs every pattern with one key; unmasking gives the pattern back', () => {
    const key = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const m = maskPatterns(['ABCDEFGH', 'xyz'], key);
    expect(m.keyHex).toBe('0102030405060708090a');
    const unmask = (hex: string) =>
      String.fromCharCode(...hex.match(/../g)!.map((h, i) => Number.parseInt(h, 16) ^ key[i]!));
    expect(m.maskedHex.map(unmask)).toEqual(['ABCDEFGH', 'xyz']);
    expect(m.maskedHex[0]).toBe('40'.repeat(8)); // 'A' ^ 1, 'B' ^ 2, ... are all 0x40
  });

  it('never contains the plain pattern, in bytes or in its hex text', () => {
    const secret = randomSecret();
    const m = maskPatterns([secret]);
    expect(m.keyHex + m.maskedHex[0]).not.toContain(secret);
    expect(m.keyHex).toHaveLength(2 * secret.length);
  });

  it('refuses a key shorter than a pattern', () => {
    expect(() => maskPatterns(['ABCDEFGH'], new Uint8Array(4))).toThrow(/4 bytes, the longest pattern 8/);
  });
});

describe('shellQuote', () => {
  it('single-quotes, escaping single quotes', () => {
    expect(shellQuote("it's")).toBe(`'it'\\''s'`);
    expect(shellQuote('$x `y`')).toBe(`'$x \`y\`'`);
  });
});
