import { defineConfig } from 'vitest/config';

// Two projects: `unit` is pure and fast (src/**, fake clocks); `integration`
// boots real guests in Node worker_threads and is given generous timeouts.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['src/**/*.test.ts', 'workers/**/*.test.ts', 'bench/**/*.test.ts'],
          environment: 'node',
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          environment: 'node',
          testTimeout: 180_000,
          hookTimeout: 180_000,
          // Real guests are CPU-heavy: one file at a time on a 2-core machine.
          fileParallelism: false,
        },
      },
    ],
  },
});
