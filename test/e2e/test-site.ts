// The site the browser tests and benches drive: the production build plus the
// test hook (window.__hvDashboard), built into its own folder so that `dist/`
// stays what a host would deploy.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** Where the test build goes (vite's outDir). */
export const TEST_SITE_DIR = fileURLToPath(new URL('../../dist-test', import.meta.url));

/** The environment variable that compiles the test hook in (read by src/main.ts at build time). */
export const TEST_HOOKS_ENV = { VITE_HV_TEST_HOOKS: '1' };

/** Build the test site (about 10 s); throws when vite fails. */
export function buildTestSite(): void {
  const build = spawnSync('npx', ['vite', 'build', '--logLevel', 'warn', '--outDir', TEST_SITE_DIR, '--emptyOutDir'], {
    cwd: root,
    env: { ...process.env, ...TEST_HOOKS_ENV },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  if (build.status !== 0) throw new Error(`vite build of the test site failed with status ${build.status}`);
}
