// Lab author tooling, one command per verb:
//   npm run lab:check FILE...   validate lab files (same validator and messages as the page); exit 1 on any problem
//   npm run lab:test FILE...    boot each lab in Node: every step's checks fail before its solution and pass after
//   npm run lab:schema [--check] write labs/lab.schema.json from the schema (--check: fail if it is stale)
//   npm run lab:scorm FILE [--out ZIP] [--site-url URL]   pack a lab as a SCORM 1.2 package
import { readFileSync, writeFileSync } from 'node:fs';
import { formatProblem } from '../src/core/lab/locate.ts';
import { parseLab, type Lab } from '../src/core/lab/parse.ts';
import { labJsonSchemaText } from '../src/core/lab/json-schema.ts';
import { labContext } from '../src/host/lab/lab-session.ts';
import { nodeImages } from '../src/host/node-images.ts';

const SCHEMA_FILE = new URL('../labs/lab.schema.json', import.meta.url);

/** Parse each file; print every problem located; the labs that are valid. */
function checkFiles(files: string[]): { valid: { file: string; lab: Lab; text: string }[]; failed: number } {
  const ctx = labContext(nodeImages());
  const valid: { file: string; lab: Lab; text: string }[] = [];
  let failed = 0;
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (err) {
      console.error(`${file}: cannot read it: ${(err as Error).message}`);
      failed++;
      continue;
    }
    const r = parseLab(text, ctx);
    if (r.ok) {
      valid.push({ file, lab: r.lab, text });
    } else {
      failed++;
      for (const p of r.problems) console.error(formatProblem(file, p));
    }
  }
  return { valid, failed };
}

async function test(files: string[]): Promise<number> {
  const { proveLab } = await import('../src/host/lab/prove-lab.ts');
  const { nodeHostFactory, nodeHypervisor } = await import('../src/host/node-hypervisor.ts');
  const { valid, failed } = checkFiles(files);
  let bad = failed;
  for (const { file, lab } of valid) {
    console.log(`${file}: ${lab.title}`);
    const hv = nodeHypervisor({ pcpus: lab.host.pcpus, memoryMiB: lab.host.memoryMiB });
    try {
      const proof = await proveLab(hv, lab, (s) => {
        const mark = s.problem ? 'FAIL' : 'ok  ';
        const failing = s.before.results.filter((r) => !r.passed).length;
        console.log(`  ${mark} ${s.stepId}: before the solution ${failing}/${s.before.results.length} checks failed; after: ${s.after?.passed ? `passed in ${((s.passMs ?? 0) / 1000).toFixed(1)} s` : 'still failing'}`);
        if (s.problem) console.log(`       ${s.problem}`);
        for (const r of s.after?.passed ? [] : (s.after?.results ?? []).filter((x) => !x.passed)) {
          console.log(`       ${r.label}: expected ${r.expected}, found ${r.found}`);
        }
      }, { makeHost: nodeHostFactory });
      console.log(`  guests ready in ${(proof.readyMs / 1000).toFixed(2)} s${proof.error ? `; error: ${proof.error}` : ''}`);
      if (!proof.ok) bad++;
    } finally {
      await hv.dispose();
    }
  }
  console.log(`${files.length - bad} passed, ${bad} failed`);
  return bad === 0 ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const files = rest.filter((a) => !a.startsWith('--'));
  switch (verb) {
    case 'check': {
      if (files.length === 0) return usage();
      const { valid, failed } = checkFiles(files);
      for (const v of valid) console.log(`${v.file}: ok (${v.lab.steps.length} steps, ${v.lab.guests.length} guests)`);
      return failed === 0 ? 0 : 1;
    }
    case 'test':
      return files.length === 0 ? usage() : test(files);
    case 'schema': {
      const text = labJsonSchemaText();
      if (rest.includes('--check')) {
        const ok = readFileSync(SCHEMA_FILE, 'utf8') === text;
        console.log(ok ? 'labs/lab.schema.json is up to date' : 'labs/lab.schema.json is stale: run npm run lab:schema');
        return ok ? 0 : 1;
      }
      writeFileSync(SCHEMA_FILE, text);
      console.log('wrote labs/lab.schema.json');
      return 0;
    }
    case 'scorm': {
      const { packScorm } = await import('./scorm.ts');
      return packScorm(rest);
    }
    default:
      return usage();
  }
}

function usage(): number {
  console.error('usage: tsx scripts/lab.ts check|test FILE... | schema [--check] | scorm FILE [--out ZIP] [--site-url URL]');
  return 2;
}

process.exitCode = await main(process.argv.slice(2));
