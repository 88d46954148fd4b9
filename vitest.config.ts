import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/vm/**'],
    // A global leak check after every test file: fds, mmaps, links, probe events, pins.
    setupFiles: ['test/setup/leak-check.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Kernel tests share global kernel state (ids, tracefs): run files one at a time.
    fileParallelism: false,
  },
});
