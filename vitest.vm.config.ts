import { defineConfig } from 'vitest/config';
import { pathToFileURL } from 'node:url';
import { BaseSequencer, ForksPoolWorker, type PoolOptions, type TestSpecification } from 'vitest/node';

import { VM_FILES } from './test/vm-matrix.js';

// The files and their order: test/vm-matrix.ts (with the reason for each kernel file left out).
const include = process.env.BEE_VM_INCLUDE ? process.env.BEE_VM_INCLUDE.split(',') : [...VM_FILES];

/** Prints why a test failed as soon as it does (the summary at the end never comes if the VM is killed). */
class FailuresAtOnce {
  onTestCaseResult(test: { fullName: string; module: { moduleId: string }; result(): { state: string; errors?: readonly { message: string }[] } }) {
    const r = test.result();
    if (r.state === 'failed') for (const e of r.errors ?? []) console.log(`FAILED ${test.module.moduleId} > ${test.fullName}: ${e.message}`);
  }
}

/** Files run in the order they are listed (globs: by path), not by vitest's size heuristic. */
class ListedOrder extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => {
      // A file, or a directory glob (test/vm/**/*.test.ts: every file under test/vm/).
      const i = include.findIndex((g) => (g.endsWith('/**/*.test.ts') ? f.moduleId.includes(`/${g.slice(0, -'**/*.test.ts'.length)}`) : f.moduleId.endsWith(`/${g}`)));
      return i < 0 ? include.length : i;
    };
    return [...files].sort((a, b) => rank(a) - rank(b) || a.moduleId.localeCompare(b.moduleId, 'en'));
  }
}

/**
 * vitest's forks worker, with one change: vitest waits 60 s of wall time (a constant) for a started
 * worker to answer, and under TCG on a shared host a Node start-up plus vitest's worker modules can
 * take longer (CI lost whole VM runs to it). This worker preloads vitest's worker entry
 * (test/setup/vm-worker-preload.mjs) and its start() returns once the child says it is up, within
 * WORKER_UP_MS; vitest's 60 s then only covers the answer itself.
 */
const WORKER_UP_MS = 900_000;
class PatientForksWorker extends ForksPoolWorker {
  override readonly name = 'patient-forks';
  constructor(options: PoolOptions) {
    super(options);
    this.env = { ...this.env, BEE_VM_WORKER_ENTRY: pathToFileURL(this.entrypoint).href };
    this.execArgv = [...this.execArgv, '--import', new URL('./test/setup/vm-worker-preload.mjs', import.meta.url).href];
  }
  override async start(): Promise<void> {
    await super.start();
    await new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        this.off('message', onMessage);
        this.off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onMessage = (m: unknown) => (m as { beeVmWorkerUp?: boolean } | null)?.beeVmWorkerUp && done();
      const onExit = (code: number | null) => done(new Error(`the VM suite's worker exited (${code}) before it was up`));
      const timer = setTimeout(() => done(new Error(`the VM suite's worker was not up within ${WORKER_UP_MS / 1000} s`)), WORKER_UP_MS);
      this.on('message', onMessage);
      this.on('exit', onExit);
    });
  }
}

// Runs inside the QEMU VM (scripts/vm-test.mjs): the repository is mounted read-only there.
export default defineConfig({
  // /tmp is the host's (read-only over 9p); the VM's writable scratch is $TMPDIR on a tmpfs.
  cacheDir: `${process.env.TMPDIR ?? '/tmp'}/bee-vite-cache`,
  test: {
    // BEE_VM_INCLUDE (comma-separated globs) runs other files instead, e.g. test/kernel/jited.test.ts.
    include,
    sequence: { sequencer: ListedOrder },
    setupFiles: ['test/setup/leak-check.ts'],
    // Under TCG a Node start-up costs 10-20 s of CPU and every module transform is emulated: one
    // worker process runs every file in turn and keeps its module cache (src/ and the helpers are
    // transformed and evaluated once, not once per file). The kernel tests keep no module state
    // between files (no vi.mock, no env changes); the leak check still runs around each file.
    pool: { name: 'patient-forks', createPoolWorker: (options) => new PatientForksWorker(options) },
    isolate: false,
    maxWorkers: 1,
    fileParallelism: false,
    // TCG emulation on a shared 2-core host: each `bee-ts run` a test starts is a Node start-up
    // (10-60 s, measured up to 160 s per test under load), so per-test limits are generous; the
    // whole run per kernel is bounded by scripts/vm-test.mjs (BEE_VM_TIMEOUT_MS).
    // The serial console is a terminal: no live summary (it redraws every second), one line per test.
    reporters: [['verbose', { summary: false }], new FailuresAtOnce()],
    testTimeout: 900_000,
    hookTimeout: 900_000,
  },
});
