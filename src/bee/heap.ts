// A watchdog on the JavaScript heap for `bee-ts run`. When the old generation reaches its limit
// (--max-old-space-size), V8 aborts the process ("FATAL ERROR: Reached heap limit"): no 'exit'
// hook runs, so legacy attachments (tracefs events, netlink TC/XDP) would stay in the kernel.
// The guard samples the heap and stops the run first, with a message naming what to change.
import v8 from 'node:v8';
import { BeeTsError } from '../errors.js';

/** The run stopped because the JavaScript heap neared its limit. */
export class HeapLimitError extends BeeTsError {
  constructor(message: string) {
    super('HEAP_LIMIT', message);
  }
}

/** Share of the usable old generation at which the run stops. */
export const HEAP_STOP_FRACTION = 0.8;
/**
 * Least time between two samples. The run stops on two samples in a row over the line, so a
 * heap full of garbage that the next GC frees does not stop it.
 */
export const HEAP_CHECK_MS = 50;

export interface HeapSample {
  /** Bytes used outside the young generation (what V8's limit is about). */
  oldUsed: number;
  /** The old generation's limit in bytes (--max-old-space-size). */
  oldLimit: number;
  /**
   * What the old generation can hold before V8 gives up: a scavenge must be able to promote a
   * whole semi-space into it ("allocation failure; scavenge might not succeed" aborts below the limit).
   */
  usable: number;
}

const MiB = 1 << 20;

/** --max-semi-space-size from Node's flags (MiB), else V8's default on 64-bit (16). */
function semiSpaceFlag(): number {
  const flags = [...process.execArgv, ...(process.env.NODE_OPTIONS ?? '').split(/\s+/)];
  for (const f of flags) {
    const m = /^--max-semi-space-size[=](\d+)$/.exec(f);
    if (m) return Number(m[1]);
  }
  return 16;
}
/** Read once: V8 took its flags when the process started (a later NODE_OPTIONS changes nothing). */
let semiMiB: number | undefined;
const semiSpaceMiB = (): number => (semiMiB ??= semiSpaceFlag());

/**
 * The heap as the limit sees it. heap_size_limit is the old generation's limit plus the young
 * generation's reserve (three semi-spaces), so the old limit is what remains after that reserve.
 */
export function heapSample(): HeapSample {
  const h = v8.getHeapStatistics();
  let young = 0;
  for (const s of v8.getHeapSpaceStatistics()) if (s.space_name.startsWith('new')) young += s.space_used_size;
  const semi = semiSpaceMiB() * MiB;
  const oldLimit = h.heap_size_limit - 3 * semi > h.heap_size_limit / 2 ? h.heap_size_limit - 3 * semi : h.heap_size_limit;
  return { oldUsed: h.used_heap_size - young, oldLimit, usable: oldLimit - semi > oldLimit / 2 ? oldLimit - semi : oldLimit / 2 };
}

export class HeapGuard {
  private timer?: NodeJS.Timeout;
  private over = 0;
  private tripped = false;
  private last = 0;
  constructor(
    /** Called once, when the heap stayed over the line for two samples. */
    private readonly onLimit: (e: HeapLimitError) => void,
    /** What to say about what holds memory, for the message (e.g. the series count). */
    private readonly describe: () => string = () => '',
    private readonly sample: () => HeapSample = heapSample,
    private readonly fraction = HEAP_STOP_FRACTION,
  ) {}

  /**
   * Sample on a timer (unref'd: the guard never keeps a process alive). A busy event loop runs
   * timers seldom (GC pauses, drains), so the record path calls maybe() too.
   */
  start(intervalMs = HEAP_CHECK_MS): void {
    this.timer = setInterval(() => this.check(), intervalMs);
    this.timer.unref();
  }

  /** check(), when HEAP_CHECK_MS passed since the last sample (cheap enough per batch of records). */
  maybe(): boolean {
    if (this.tripped) return true;
    const now = performance.now();
    if (now - this.last < HEAP_CHECK_MS) return false;
    return this.check(now);
  }

  /** One sample; true once the guard has tripped. */
  check(now = performance.now()): boolean {
    if (this.tripped) return true;
    this.last = now;
    const s = this.sample();
    if (s.oldUsed < this.fraction * s.usable) {
      this.over = 0;
      return false;
    }
    if (++this.over < 2) return false;
    this.tripped = true;
    this.stop();
    const what = this.describe();
    this.onLimit(
      new HeapLimitError(
        `the JavaScript heap holds ${(s.oldUsed / MiB).toFixed(0)} MiB, near its ${(s.oldLimit / MiB).toFixed(0)} MiB limit: stopped the run (detaching everything) before V8 aborts${what ? `; ${what}` : ''}. Lower what grows (--max-series, fewer label values) or raise the limit (NODE_OPTIONS=--max-old-space-size=MiB)`,
      ),
    );
    return true;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
