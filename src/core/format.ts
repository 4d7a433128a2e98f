// Number formatting shared by error messages and records. Messages must name
// the problem with numbers and units, so every unit gets one formatter here.

/** Rounds to at most `digits` decimals and drops trailing zeros (12.50 -> "12.5"). */
export function fmtNumber(value: number, digits = 1): string {
  if (!Number.isFinite(value)) return String(value);
  const factor = 10 ** digits;
  const rounded = Math.round(value * factor) / factor;
  // Avoid "-0" after rounding a tiny negative value.
  return String(rounded === 0 ? 0 : rounded);
}

/** Formats mebibytes: 128 -> "128 MiB". */
export function fmtMiB(mib: number): string {
  return `${fmtNumber(mib)} MiB`;
}

/** Formats a percentage: 33.333 -> "33.3 %". */
export function fmtPct(pct: number): string {
  return `${fmtNumber(pct)} %`;
}

/** Formats milliseconds: 12.345 -> "12.35 ms". */
export function fmtMs(ms: number): string {
  return `${fmtNumber(ms, 2)} ms`;
}

/** Joins words for prose: ["a"] -> "a", ["a","b","c"] -> "a, b or c". */
export function joinWords(words: readonly string[], last = 'or'): string {
  if (words.length <= 1) return words[0] ?? '';
  return `${words.slice(0, -1).join(', ')} ${last} ${words[words.length - 1]}`;
}

/** Shows an arbitrary input value in a message: strings quoted, objects by type. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (value === null || value === undefined) return String(value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  return Array.isArray(value) ? 'an array' : `a value of type ${typeof value}`;
}
