// npm run bench [-- --json FILE] [--only boot,scheduler,clone,ui,lab,net,migration,storage,memory]
// Prints a table and writes JSON (default bench-results/latest.json).
import os from 'node:os';
import { benchBoot } from './boot.ts';
import { runSections, type Section } from './sections.ts';
import { printTable, writeJson } from './table.ts';

const SECTIONS: Record<string, () => Promise<Section>> = {
  boot: async () => benchBoot,
  scheduler: async () => (await import('./scheduler.ts')).benchScheduler,
  ui: async () => (await import('./ui.ts')).benchUi,
  clone: async () => {
    const [{ benchClone }, { benchCloneBrowser }] = await Promise.all([import('./clone.ts'), import('./clone-browser.ts')]);
    return async () => [...(await benchClone()), ...(await benchCloneBrowser())];
  },
  lab: async () => (await import('./lab.ts')).benchLab,
  net: async () => (await import('./net.ts')).benchNet,
  migration: async () => (await import('./migration.ts')).benchMigration,
  storage: async () => (await import('./storage.ts')).benchStorage,
  memory: async () => (await import('./memory.ts')).benchMemory,
};

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const only = arg('--only')?.split(',') ?? Object.keys(SECTIONS);
const jsonPath = arg('--json') ?? 'bench-results/latest.json';
const unknown = only.filter((name) => !SECTIONS[name]);
if (unknown.length > 0) {
  console.error(`bench: unknown section "${unknown[0]}"; sections: ${Object.keys(SECTIONS).join(', ')}`);
  process.exit(2);
}
const { rows, failed } = await runSections(only, (name) => SECTIONS[name]!());
printTable(rows);
writeJson(jsonPath, rows, {
  date: new Date().toISOString(),
  node: process.version,
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model ?? 'unknown',
  loadavg: os.loadavg(),
});
console.error(`bench: wrote ${jsonPath}${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exit(failed.length ? 1 : 0);
