import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/vm/**'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Kernel tests share global kernel state (ids, tracefs): run files one at a time.
    fileParallelism: false,
  },
});
