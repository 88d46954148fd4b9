// A ring buffer's drain thread, seen from the main thread: a worker (relay-worker.ts) that moves
// committed records from the kernel's ring into a bounded queue in the ring's own layout
// (relay-copy.ts), which RingBufReader then walks instead of the ring. Why: a consumer that is
// off the CPU for longer than the ring lasts loses records (examples/opensnoop.c's 1 MiB ring
// is 62 ms at 100 k records/s; on a busy 2-core host bee-ts run's main thread waited 60-320 ms
// on the run queue at times: bench/run-events --trace). The thread does little (a copy per
// record, a round every 2 ms while records come), so it is off the CPU less often and not
// at the same times as the main thread, and its queue holds `queueSize` bytes (4 rings' worth in
// bee-ts run) while the main thread is away. Only with the native backend (the worker makes its
// own syscalls) and where the worker's module is there (dist/, not the TypeScript sources).
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { currentBackend, sys } from '../syscall/backend.js';
import { BpfError } from '../syscall/errno.js';
import { Mapping } from '../syscall/mapping.js';
import { CTL, CTL_WORDS, queueBytes, queueViews } from './relay-copy.js';
import type { RelayWorkerData } from './relay-worker.js';

const EFD_CLOEXEC = 0x80000;
const EFD_NONBLOCK = 0x800;
/** How long start-up and close() wait for the thread. */
const WAIT_MS = 5000;

/**
 * The worker's module: beside this one in dist/ringbuf, also when this code is bundled into
 * dist/cli or dist/lib (scripts/bundle-cli.mjs puts the CLI's chunks and the library's file one
 * level below dist).
 */
function workerFile(): string | undefined {
  for (const rel of ['./relay-worker.js', '../ringbuf/relay-worker.js']) {
    const f = fileURLToPath(new URL(rel, import.meta.url));
    if (fs.existsSync(f)) return f;
  }
  return undefined;
}

/** Whether a drain thread can run here: the native backend and the worker's compiled module. */
export function relayAvailable(): boolean {
  return (currentBackend() ?? sys()).name === 'native' && workerFile() !== undefined;
}

export class RingRelay {
  /** The fd the poller waits on: written by the thread after each round that moved records. */
  readonly pollFd: number;
  readonly queue: ReturnType<typeof queueViews>;
  private readonly memory: Mapping;
  private readonly ctl = new Int32Array(new SharedArrayBuffer(4 * CTL_WORDS));
  private readonly stopFd: number;
  private readonly worker: Worker;
  private closed = false;
  private readonly scratch = new Uint8Array(8);

  constructor(mapFd: number, ringSize: number, queueSize: number, fullMargin: number, what: string) {
    const file = workerFile();
    if (!file) throw new BpfError('worker', 2, what, 'the drain thread runs from the compiled dist/ringbuf/relay-worker.js');
    const b = sys();
    this.memory = Mapping.anonymousShared(queueBytes(queueSize), `${what} drain queue`);
    this.queue = queueViews(this.memory.buffer, queueSize);
    const notify = b.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (notify < 0) {
      this.memory.close();
      throw new BpfError('eventfd', -notify, what);
    }
    const stop = b.eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (stop < 0) {
      b.close(notify);
      this.memory.close();
      throw new BpfError('eventfd', -stop, what);
    }
    this.pollFd = notify;
    this.stopFd = stop;
    const data: RelayWorkerData = { mapFd, ringSize, ctl: this.ctl.buffer as SharedArrayBuffer, queueAddr: this.memory.addr, queueSize, notifyFd: notify, stopFd: stop, fullMargin };
    // execArgv: none of the parent's. A worker inherits them by default, and under `node -e CODE`
    // (or -p) that is the eval: the thread ran the parent's script instead of its module and never
    // came up (ETIMEDOUT after WAIT_MS; test/kernel/ringbuf.test.ts runs a reader under -e).
    this.worker = new Worker(file, { workerData: data, stdout: false, stderr: false, execArgv: [] });
    // Never keeps the process alive; close() (or exit) ends it.
    this.worker.unref();
    const ctl = this.ctl;
    // The thread maps the ring before the reader is handed out: a failure is the constructor's.
    const deadline = performance.now() + WAIT_MS;
    while (Atomics.load(ctl, CTL.ready) === 0 && Atomics.load(ctl, CTL.failed) === 0 && performance.now() < deadline) Atomics.wait(ctl, CTL.ready, 0, 50);
    if (Atomics.load(ctl, CTL.ready) === 0) {
      const errno = Atomics.load(ctl, CTL.errno) || 110;
      this.close();
      throw new BpfError('mmap', errno, what, 'the drain thread could not map the ring');
    }
  }

  /** Rounds of the thread that found the kernel ring (nearly) full. */
  get fullSeen(): number {
    return Atomics.load(this.ctl, CTL.full);
  }

  /** Reset the wake-up (before a drain, so a round that moves records after it wakes the poller again). */
  ack(): void {
    sys().read(this.pollFd, this.scratch, 8);
  }

  /** Stop the thread and wait (bounded) until it has unmapped the ring. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const ctl = this.ctl;
    Atomics.store(ctl, CTL.stop, 1);
    Atomics.notify(ctl, CTL.stop);
    const b = sys();
    b.write(this.stopFd, new Uint8Array(new BigUint64Array([1n]).buffer), 8);
    const deadline = performance.now() + WAIT_MS;
    while (Atomics.load(ctl, CTL.done) === 0 && performance.now() < deadline) Atomics.wait(ctl, CTL.done, 0, 50);
    void this.worker.terminate();
    b.close(this.stopFd);
    b.close(this.pollFd);
    // After the thread let go of it (or gave up waiting: its views then read zeros).
    this.memory.close();
  }
}
