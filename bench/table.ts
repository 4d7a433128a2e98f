// Benchmark rows, the printed table and the JSON file.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

export interface BenchRow {
  section: string;
  metric: string;
  value: number;
  unit: string;
  /** e.g. "<= 2" or ">= 0.97"; empty when there is no target yet. */
  target?: string;
  pass?: boolean;
  note?: string;
}

/** A row with a target: pass is computed from the comparison. */
export function targetRow(section: string, metric: string, value: number, unit: string, op: '<=' | '>=', bound: number, note?: string): BenchRow {
  const pass = op === '<=' ? value <= bound : value >= bound;
  return { section, metric, value, unit, target: `${op} ${bound}`, pass, ...(note ? { note } : {}) };
}

function fmt(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  if (Math.abs(v) >= 1e9) return `${(v / 1e9).toFixed(3)}e9`;
  if (Math.abs(v) >= 100) return v.toFixed(0);
  if (Math.abs(v) >= 10) return v.toFixed(1);
  return v.toFixed(3);
}

/** Print rows as an aligned text table. */
export function printTable(rows: BenchRow[]): void {
  const cells = rows.map((r) => [r.section, r.metric, fmt(r.value), r.unit, r.target ?? '', r.pass === undefined ? '' : r.pass ? 'ok' : 'MISS', r.note ?? '']);
  const head = ['section', 'metric', 'value', 'unit', 'target', '', 'note'];
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) => c.map((x, i) => (i === 2 ? x.padStart(widths[i]!) : x.padEnd(widths[i]!))).join('  ').trimEnd();
  console.log(line(head));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}

/** Write rows and the machine description as JSON. */
export function writeJson(path: string, rows: BenchRow[], meta: Record<string, unknown>): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, JSON.stringify({ ...meta, rows }, null, 2) + '\n');
}
