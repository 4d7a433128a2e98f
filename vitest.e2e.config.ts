import { defineConfig } from 'vitest/config';

// End-to-end: the test build of the site (dist-test/, see test/e2e/test-site.ts) in Debian's
// Chromium driven by playwright-core. Real guests boot in the page's workers,
// which is slow and CPU-heavy: long timeouts, one file at a time.
export default defineConfig({
  test: {
    name: 'e2e',
    include: ['test/e2e/**/*.e2e.ts'],
    environment: 'node',
    globalSetup: ['test/e2e/global-setup.ts'],
    testTimeout: 180_000,
    hookTimeout: 60_000,
    fileParallelism: false,
    // A flaky boot is a bug to look at, not to retry away.
    retry: 0,
  },
});
