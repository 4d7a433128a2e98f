// Mean and 95 % confidence interval over repeats (Student's t). Pure.

// Two-sided 95 % quantiles of Student's t for 1..30 degrees of freedom.
const T95 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086, 2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042];

export interface MeanCi {
  n: number;
  mean: number;
  /** Half-width of the 95 % confidence interval of the mean (null with fewer than 2 values). */
  ci95: number | null;
}

/** Mean and 95 % CI of the values (NaN and null left out); n 0 gives mean NaN. */
export function meanCi(values: readonly (number | null)[]): MeanCi {
  const xs = values.filter((x): x is number => x !== null && Number.isFinite(x));
  const n = xs.length;
  const mean = n ? xs.reduce((s, x) => s + x, 0) / n : Number.NaN;
  if (n < 2) return { n, mean, ci95: null };
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / (n - 1));
  const t = T95[n - 2] ?? 1.96;
  return { n, mean, ci95: (t * sd) / Math.sqrt(n) };
}
