import { defineConfig } from 'vitest/config';

// Runs inside the QEMU VM (scripts/vm-test.mjs): the repository is mounted read-only there.
export default defineConfig({
  // /tmp is the host's (read-only over 9p); the VM's writable scratch is $TMPDIR on a tmpfs.
  cacheDir: `${process.env.TMPDIR ?? '/tmp'}/bee-vite-cache`,
  test: {
    // BEE_VM_INCLUDE (comma-separated globs) runs other files instead, e.g. test/kernel/maps.test.ts.
    include: process.env.BEE_VM_INCLUDE ? process.env.BEE_VM_INCLUDE.split(',') : ['test/vm/**/*.test.ts'],
    // TCG emulation on a shared 2-core host: each `bee-ts run` a test starts is a Node start-up
    // (10-60 s, measured up to 160 s per test under load), so per-test limits are generous; the
    // whole run per kernel is bounded by scripts/vm-test.mjs (BEE_VM_TIMEOUT_MS).
    testTimeout: 900_000,
    hookTimeout: 900_000,
    fileParallelism: false,
  },
});
