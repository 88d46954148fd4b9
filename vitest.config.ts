import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/vm/**'],
    // A global leak check after every test file: fds, mmaps, links, probe events, pins.
    setupFiles: ['test/setup/leak-check.ts'],
    // Generous: a start-up of `bee-ts run` takes ~1 s on a quiet host and ~8 s on a loaded 2-core
    // one; a test that several runs make must not fail for that (a hang still ends here).
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Kernel tests share global kernel state (ids, tracefs): run files one at a time.
    fileParallelism: false,
  },
});
