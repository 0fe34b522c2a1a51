import { defineConfig } from 'vitest/config';

// Kernel tests run WGSL on Dawn; without a GPU that is SwiftShader on the CPU, so
// more than two test files at once only makes them fight over the two cores.
export default defineConfig({
  test: {
    include: ['tests/unit/**/*.test.ts', 'tests/e2e/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    pool: 'forks',
    maxWorkers: 2,
    fileParallelism: true,
  },
});
