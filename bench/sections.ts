// Runs bench sections one after the other; a section that fails (no Chromium,
// a guest that does not boot) becomes one row with its error, and the others
// keep their figures, so the JSON is always written.
import type { BenchRow } from './table.ts';

export type Section = () => Promise<BenchRow[]>;

export interface SectionsResult {
  rows: BenchRow[];
  failed: string[];
}

export async function runSections(names: string[], load: (name: string) => Promise<Section>, log: (line: string) => void = console.error): Promise<SectionsResult> {
  const rows: BenchRow[] = [];
  const failed: string[] = [];
  for (const name of names) {
    log(`bench: running ${name} ...`);
    try {
      const section = await load(name);
      rows.push(...(await section()));
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      log(`bench: section ${name} failed: ${message}`);
      failed.push(name);
      rows.push({ section: name, metric: 'section failed', value: Number.NaN, unit: '', pass: false, note: firstLine(message) });
    }
  }
  return { rows, failed };
}

function firstLine(s: string): string {
  const line = s.split('\n')[0] ?? '';
  return line.length > 160 ? `${line.slice(0, 157)}...` : line;
}
