// One poller per process: an epoll set holding every ring (plus an eventfd to wake it), with at
// most one outstanding async epoll_wait on libuv's threadpool, so waiting never blocks the event
// loop. Once records come it polls on a timer instead and goes back to epoll after CALM_ROUNDS
// empty rounds: a ring wakes its reader for nearly every record once the reader keeps up, and each
// wake-up is a threadpool round trip: at a few thousand records a second that was one round trip
// per record, where a timer round serves every record of those milliseconds (bench/run-events
// --rate 2000). The timer's delay follows how full the rings were: the next round comes when the
// fullest ring is expected to be TARGET_FILL full at the rate it filled since the last round,
// between TIMER_MS and COALESCE_MS; a drain that stopped at its record bound with records left
// goes on at once (setImmediate), never after a sleep. Each round has fixed costs (a timer, the
// drain's calls, one stdout write in bee-ts run), so rounds no more often than the rings need:
// at 100 k records/s into examples/opensnoop.o's 1 MiB ring, 5 ms rounds (8 % of the ring)
// instead of 1 ms ones (README, `run` end to end). Buffers that do not say how full they were
// (perf buffers) keep the record-count rule: a drain of BUSY_DRAIN records or more polls again
// in TIMER_MS.
// The wait never blocks exit: process.exit() joins libuv's threadpool, so an epoll_wait(-1) there
// would hang it. Each wait is bounded (WAIT_MS), and an 'exit' listener writes the eventfd so the
// outstanding wait returns at once.
import { BeeTsError } from '../errors.js';
import { EPOLL_EVENT_SIZE, sys } from '../syscall/backend.js';
import { BpfError } from '../syscall/errno.js';
import { Fd } from '../syscall/fd.js';

/** A ring or perf buffer reader cannot be opened on this map, or cannot decode (no value type). */
export class ReaderError extends BeeTsError {
  constructor(message: string) {
    super('READER', message);
  }
}

const EPOLLIN = 0x1;
const EPOLL_CTL_ADD = 1;
const EPOLL_CTL_DEL = 2;
const EFD_CLOEXEC = 0x80000;
const EFD_NONBLOCK = 0x800;
const MAX_EVENTS = 64;
/** A drain this large means the producer is busy: poll on a timer instead of waiting for wake-ups. */
export const BUSY_DRAIN = 64;
/** Shortest delay between two timer rounds. */
const TIMER_MS = 1;
/** How full the fullest ring should be when the next timer round drains it. */
export const TARGET_FILL = 1 / 8;
/**
 * Delay between an epoll wake-up and its drain (records arriving meanwhile share the wake-up),
 * and the longest delay between two timer rounds.
 */
export const COALESCE_MS = 5;
/** Timer rounds that found nothing before going back to epoll. */
const CALM_ROUNDS = 8;
/** Longest single epoll_wait on the threadpool (the bound on how long exit can be held up). */
export const WAIT_MS = 250;

export interface Pollable {
  /** epoll target fd. */
  readonly pollFd: number;
  /** Consume what is available; returns the number of records delivered. */
  drain(): number;
  /** Wanted by a consumer right now (paused rings are not drained). */
  readonly active: boolean;
  /** Share of the buffer (0 to 1) in use when its last drain began; undefined when it cannot say. */
  readonly fill?: number;
  /** Its last drain stopped at its record bound with records left. */
  readonly more?: boolean;
}

/**
 * The delay before the next timer round: when the fullest ring reaches TARGET_FILL at the rate it
 * filled over the last `elapsedMs` (it was `fill` full), within [TIMER_MS, COALESCE_MS]. With
 * `fill` unknown (perf buffers), TIMER_MS after a drain of BUSY_DRAIN records or more, else
 * COALESCE_MS.
 * @internal
 */
export function nextDelay(records: number, fill: number | undefined, elapsedMs: number): number {
  if (fill === undefined) return records >= BUSY_DRAIN ? TIMER_MS : COALESCE_MS;
  if (fill <= 0) return COALESCE_MS;
  const ms = Math.round((Math.max(elapsedMs, TIMER_MS) * TARGET_FILL) / fill);
  return ms < TIMER_MS ? TIMER_MS : ms > COALESCE_MS ? COALESCE_MS : ms;
}


export class Poller {
  private static instance?: Poller;
  private epfd?: Fd;
  private efd?: Fd;
  private readonly members = new Map<number, Pollable>();
  private waiting = false;
  private timer?: NodeJS.Timeout;
  /** A round queued with setImmediate (a drain stopped at its bound with records left). */
  private immediate?: NodeJS.Immediate;
  /** Timer rounds left before going back to epoll (reset by every round that drained something). */
  private calm = 0;
  /** Delay of the next timer round (nextDelay of the last one). */
  private delay = COALESCE_MS;
  /** When the last round began (or the wait woke up): what the rings filled over until the next one. */
  private lastRound = 0;
  private readonly events = Buffer.alloc(EPOLL_EVENT_SIZE * MAX_EVENTS);
  private readonly one = new BigUint64Array([1n]);
  /** Stats for tests and benchmarks. */
  readonly stats = { wakeups: 0, timerRounds: 0, immediateRounds: 0 };
  /** Forced timer polling (producers that never wake us, e.g. BPF_RB_NO_WAKEUP). */
  timerOnly = false;

  static get(): Poller {
    Poller.instance ??= new Poller();
    return Poller.instance;
  }

  private ensure(): void {
    if (this.epfd) return;
    const ep = sys().epollCreate();
    if (ep < 0) throw new BpfError('epoll_create1', -ep);
    this.epfd = new Fd(ep, 'epoll');
    const ev = sys().eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (ev < 0) throw new BpfError('eventfd', -ev);
    this.efd = new Fd(ev, 'eventfd');
    this.ctl(EPOLL_CTL_ADD, this.efd.value);
    // Not a signal handler: only wakes our own wait so the threadpool can be joined on exit.
    process.once('exit', () => this.wake());
  }

  /** Make the outstanding wait return now. */
  wake(): void {
    if (this.waiting && this.efd && !this.efd.closed) sys().write(this.efd.value, new Uint8Array(this.one.buffer), 8);
  }

  private ctl(op: number, fd: number): void {
    const r = sys().epollCtl(this.epfd!.value, op, fd, EPOLLIN, BigInt(fd));
    if (r < 0) throw new BpfError('epoll_ctl', -r);
  }

  add(p: Pollable): void {
    this.ensure();
    this.ctl(EPOLL_CTL_ADD, p.pollFd);
    this.members.set(p.pollFd, p);
    this.schedule();
  }

  remove(p: Pollable): void {
    if (!this.members.delete(p.pollFd)) return;
    if (this.epfd) sys().epollCtl(this.epfd.value, EPOLL_CTL_DEL, p.pollFd, 0, 0n);
    if (this.members.size === 0) {
      this.stopTimer();
      // Wake the outstanding wait so the process can exit once nothing is watched.
      this.wake();
    }
  }

  /** Something became interesting (a consumer resumed): make sure we are polling. */
  kick(): void {
    this.schedule();
  }

  private stopTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    if (this.immediate) clearImmediate(this.immediate);
    this.timer = undefined;
    this.immediate = undefined;
  }

  private schedule(): void {
    if (this.members.size === 0) return;
    if (this.timerOnly || this.calm > 0) {
      if (!this.timer && !this.immediate) this.timer = setTimeout(this.onTimer, this.delay);
      return;
    }
    this.arm();
  }

  /**
   * A timer round: drain, then go on at once when a drain stopped at its bound, poll again after
   * nextDelay while records keep coming, and go back to waiting after CALM_ROUNDS rounds that
   * found nothing.
   */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.immediate = undefined;
    this.stats.timerRounds++;
    const now = performance.now();
    let n = 0;
    let fill: number | undefined = 0;
    let more = false;
    let unknown = 0;
    for (const p of this.members.values()) {
      if (!p.active) continue;
      const k = p.drain();
      n += k;
      if (p.more) more = true;
      const f = p.fill;
      if (f === undefined) unknown += k;
      else if (fill !== undefined && f > fill) fill = f;
    }
    // A buffer that cannot say how full it was decides by its record count alone.
    if (unknown >= BUSY_DRAIN) fill = undefined;
    this.delay = nextDelay(unknown >= BUSY_DRAIN ? unknown : n, fill, now - this.lastRound);
    this.lastRound = now;
    if (n > 0) this.calm = CALM_ROUNDS;
    else if (this.calm > 0) this.calm--;
    if (more && this.members.size > 0) {
      this.stats.immediateRounds++;
      this.immediate = setImmediate(this.onTimer);
      return;
    }
    this.schedule();
  };

  private arm(): void {
    if (this.waiting || this.members.size === 0) return;
    this.waiting = true;
    sys().epollWaitAsync(this.epfd!.value, this.events, MAX_EVENTS, WAIT_MS, (r) => {
      this.waiting = false;
      if (this.members.size === 0) {
        this.clearEventfd();
        return;
      }
      if (r === 0) {
        // The bounded wait ran out with nothing ready: wait again.
        this.schedule();
        return;
      }
      this.stats.wakeups++;
      if (r < 0 && r !== -4) {
        // Surface the error on the next tick instead of spinning.
        setTimeout(() => this.schedule(), 10);
        return;
      }
      this.clearEventfd();
      // Drain a little later, as a timer round (timer rounds go on while records keep coming).
      this.lastRound = performance.now();
      this.delay = COALESCE_MS;
      if (!this.timer && !this.immediate) this.timer = setTimeout(this.onTimer, COALESCE_MS);
    });
  }

  private clearEventfd(): void {
    if (this.efd) sys().read(this.efd.value, new Uint8Array(8), 8);
  }

  get size(): number {
    return this.members.size;
  }
}
