// npm run templates [-- --out DIR]: boot, in Node, the templates the bundled
// labs clone from (one per image and RAM), through the same Hypervisor and
// guest worker code the page runs, and write them as the site's templates/
// folder (src/host/template-files.ts): index.json and one zstd-compressed v86
// state each (v86 inflates it in the guest worker). The build (vite.config.ts)
// runs this and ships the folder, so that an embedded lab's first guest is a
// clone, not a cold boot in the student's tab.
//
// States are cached in node_modules/.cache/hv-templates under a hash of what
// makes them (v86, the images, the guest runtime's sources, the key): a build
// boots only what changed. Prints the folder's path.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { compress, init as initZstd } from '@bokuweb/zstd-wasm';
import { parseLab } from '../src/core/lab/parse.ts';
import { GUEST_NIC } from '../src/host/hypervisor.ts';
import { labContext } from '../src/host/lab/lab-session.ts';
import { nodeHypervisor } from '../src/host/node-hypervisor.ts';
import { nodeImages } from '../src/host/node-images.ts';
import { TEMPLATE_INDEX, TEMPLATE_INDEX_VERSION, type TemplateIndex, type TemplateIndexEntry } from '../src/host/template-files.ts';
import { templateKey, templateSlot, type TemplateKey } from '../src/host/templates.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const cacheDir = join(root, 'node_modules/.cache/hv-templates');
const v86Version = (JSON.parse(readFileSync(join(root, 'node_modules/v86/package.json'), 'utf8')) as { version: string }).version;

/** Every file whose change may change a saved state: the worker side and how the host boots a guest. */
function runtimeSources(): string[] {
  const files = readdirSync(join(root, 'workers'))
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join(root, 'workers', f));
  files.push(...['src/host/guest.ts', 'src/host/templates.ts', 'src/host/hypervisor.ts', 'src/protocol/guest-api.ts', 'node_modules/v86/build/v86.wasm'].map((f) => join(root, f)));
  return files.sort();
}

function cacheName(key: TemplateKey, sources: string): string {
  const h = createHash('sha256').update(JSON.stringify({ key, v86Version, sources })).digest('hex').slice(0, 16);
  return `${key.imageId}-${key.memoryMiB}-${key.nic ?? 'none'}-${h}.state.zst`;
}

/** The (image, RAM) of every guest the bundled labs clone. */
function labSlots(): { imageId: string; memoryMiB: number }[] {
  const ctx = labContext(nodeImages());
  const seen = new Map<string, { imageId: string; memoryMiB: number }>();
  const dir = join(root, 'labs');
  for (const f of readdirSync(dir).filter((n) => /\.ya?ml$/.test(n))) {
    const r = parseLab(readFileSync(join(dir, f), 'utf8'), ctx);
    if (!r.ok) throw new Error(`labs/${f} has problems (npm run lab:check labs/${f})`);
    for (const g of r.lab.guests) if (g.boot === 'clone') seen.set(`${g.image}/${g.memoryMiB}`, { imageId: g.image, memoryMiB: g.memoryMiB });
  }
  return [...seen.values()];
}

async function main(): Promise<void> {
  const outArg = process.argv.indexOf('--out');
  const out = outArg > 0 ? process.argv[outArg + 1]! : join(cacheDir, 'site');
  const sourcesHash = createHash('sha256');
  for (const f of runtimeSources()) sourcesHash.update(f.slice(root.length)).update(readFileSync(f));
  const sources = sourcesHash.digest('hex');
  mkdirSync(cacheDir, { recursive: true });
  await initZstd();
  const images = nodeImages();
  const entries: TemplateIndexEntry[] = [];
  const wanted = labSlots();
  let hv: ReturnType<typeof nodeHypervisor> | null = null;
  try {
    for (const { imageId, memoryMiB } of wanted) {
      const image = images.find((im) => im.id === imageId)!;
      const key = templateKey(image, memoryMiB, GUEST_NIC);
      const name = cacheName(key, sources);
      const meta = join(cacheDir, `${name}.json`);
      if (existsSync(join(cacheDir, name)) && existsSync(meta)) {
        entries.push(JSON.parse(readFileSync(meta, 'utf8')) as TemplateIndexEntry);
      } else {
        hv ??= nodeHypervisor({ pcpus: 1, memoryMiB: 4096 }, 0);
        const t0 = performance.now();
        const template = await hv.templates.get(image, memoryMiB, GUEST_NIC);
        const raw = new Uint8Array(template.saved.state);
        // Level 9: 4.6 MB for an 80 MiB guest's 14.5 MB, in about 1 s (level 3: 5.2 MB; 15: 4.56 MB in 2 s).
        const packed = compress(raw, 9);
        writeFileSync(join(cacheDir, name), packed);
        const entry: TemplateIndexEntry = { file: name, key, clockMs: template.saved.clockMs, bytes: packed.byteLength, stateBytes: raw.byteLength, bootMs: Math.round(template.bootMs), builtAt: new Date(template.savedAt).toISOString() };
        writeFileSync(meta, JSON.stringify(entry));
        entries.push(entry);
        console.error(`templates: ${templateSlot(key)} booted and saved in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      }
    }
  } finally {
    await hv?.dispose();
  }
  // States of older builds are not needed again.
  const kept = new Set(entries.flatMap((e) => [e.file, `${e.file}.json`]));
  for (const f of readdirSync(cacheDir)) if (f.includes('.state.') && !kept.has(f)) rmSync(join(cacheDir, f));
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  for (const e of entries) writeFileSync(join(out, e.file), readFileSync(join(cacheDir, e.file)));
  const index: TemplateIndex = { version: TEMPLATE_INDEX_VERSION, v86: v86Version, templates: entries };
  writeFileSync(join(out, TEMPLATE_INDEX), `${JSON.stringify(index, null, 2)}\n`);
  const mb = entries.reduce((s, e) => s + e.bytes, 0) / 1e6;
  console.error(`templates: ${entries.length} in ${out} (${mb.toFixed(1)} MB)`);
  console.log(out);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    console.error(`templates: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
