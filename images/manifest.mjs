// Keeps images/manifest.json in step with the files beside it.
//   node images/manifest.mjs add FILE PACKAGE VERSION DESCRIPTION
//   node images/manifest.mjs verify      (exit 1 when a file's bytes or sha256 differ)
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const path = join(here, 'manifest.json');
const manifest = existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : { files: {} };
const digest = (file) => {
  const bytes = readFileSync(join(here, file));
  return { bytes: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex') };
};

const [cmd, file, pkg, version, description] = process.argv.slice(2);
if (cmd === 'add') {
  manifest.files[file] = { ...digest(file), package: pkg, version, description };
  manifest.files = Object.fromEntries(Object.entries(manifest.files).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(path, JSON.stringify(manifest, null, 2) + '\n');
} else if (cmd === 'verify') {
  let bad = 0;
  for (const [name, entry] of Object.entries(manifest.files)) {
    const actual = existsSync(join(here, name)) ? digest(name) : null;
    if (!actual || actual.sha256 !== entry.sha256 || actual.bytes !== entry.bytes) {
      console.error(`images: ${name} does not match manifest.json`);
      bad++;
    }
  }
  process.exit(bad ? 1 : 0);
} else {
  console.error('usage: manifest.mjs add FILE PACKAGE VERSION DESCRIPTION | verify');
  process.exit(2);
}
