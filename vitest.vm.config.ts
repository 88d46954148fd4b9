import { defineConfig } from 'vitest/config';

// Runs inside the QEMU VM (scripts/vm-test.mjs): the repository is mounted read-only there.
export default defineConfig({
  // /tmp is the host's (read-only over 9p); the VM's writable scratch is $TMPDIR on a tmpfs.
  cacheDir: `${process.env.TMPDIR ?? '/tmp'}/bee-vite-cache`,
  test: {
    include: ['test/vm/**/*.test.ts'],
    testTimeout: 300_000,
    hookTimeout: 300_000,
    fileParallelism: false,
  },
});
