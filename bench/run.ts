// npm run bench [-- --json FILE] [--only boot,scheduler,...]
// Prints a table and writes JSON (default bench-results/latest.json).
import os from 'node:os';
import { benchBoot } from './boot.ts';
import { printTable, writeJson, type BenchRow } from './table.ts';

type Section = () => Promise<BenchRow[]>;

const SECTIONS: Record<string, () => Promise<Section>> = {
  boot: async () => benchBoot,
  scheduler: async () => (await import('./scheduler.ts')).benchScheduler,
  ui: async () => (await import('./ui.ts')).benchUi,
  clone: async () => (await import('./clone.ts')).benchClone,
  lab: async () => (await import('./lab.ts')).benchLab,
};

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const only = arg('--only')?.split(',') ?? Object.keys(SECTIONS);
const jsonPath = arg('--json') ?? 'bench-results/latest.json';
const rows: BenchRow[] = [];
for (const name of only) {
  const load = SECTIONS[name];
  if (!load) {
    console.error(`bench: unknown section "${name}"; sections: ${Object.keys(SECTIONS).join(', ')}`);
    process.exit(2);
  }
  console.error(`bench: running ${name} ...`);
  const section = await load();
  rows.push(...(await section()));
}
printTable(rows);
writeJson(jsonPath, rows, {
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  loadavg: os.loadavg(),
});
console.error(`bench: wrote ${jsonPath}`);
process.exit(0);
