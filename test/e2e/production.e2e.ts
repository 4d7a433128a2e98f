// Issue: the test hook does not ship. `npm run build` (what a host deploys)
// must carry no trace of window.__hvDashboard; the test build has it.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TEST_SITE_DIR } from './test-site.ts';

const root = fileURLToPath(new URL('../..', import.meta.url));

function scripts(dir: string): string {
  return readdirSync(join(dir, 'assets'))
    .filter((f) => f.endsWith('.js'))
    .map((f) => readFileSync(join(dir, 'assets', f), 'utf8'))
    .join('\n');
}

describe('the production build', () => {
  it('has no test hook, while the test build has it', () => {
    const out = mkdtempSync(join(tmpdir(), 'hv-prod-'));
    try {
      const env = { ...process.env };
      delete env['VITE_HV_TEST_HOOKS'];
      const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn', '--outDir', out, '--emptyOutDir'], { cwd: root, env, encoding: 'utf8' });
      expect(build.status, build.stderr).toBe(0);
      expect(scripts(out).includes('__hvDashboard'), 'the production build names window.__hvDashboard').toBe(false);
      expect(scripts(TEST_SITE_DIR).includes('__hvDashboard'), 'the test build has the hook').toBe(true);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 120_000);
});
