// One poller per process: an epoll set holding every ring (plus an eventfd to wake it), with at
// most one outstanding async epoll_wait on libuv's threadpool, so waiting never blocks the event
// loop. Once records come it polls on a timer instead (1 ms while drains are large, COALESCE_MS
// while records trickle in) and goes back to epoll after CALM_ROUNDS empty rounds: a ring wakes
// its reader for nearly every record once the reader keeps up, and each wake-up is a threadpool
// round trip: at a few thousand records a second that was one round trip per record, where a
// timer round serves every record of those milliseconds (bench/run-events --rate 2000).
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
const TIMER_MS = 1;
/** Delay between an epoll wake-up and its drain (records arriving meanwhile share the wake-up). */
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
}


export class Poller {
  private static instance?: Poller;
  private epfd?: Fd;
  private efd?: Fd;
  private readonly members = new Map<number, Pollable>();
  private waiting = false;
  private timer?: NodeJS.Timeout;
  /** Timer rounds left before going back to epoll (reset by every round that drained something). */
  private calm = 0;
  /** The last drain was large: poll every TIMER_MS. */
  private busy = false;
  private readonly events = Buffer.alloc(EPOLL_EVENT_SIZE * MAX_EVENTS);
  private readonly one = new BigUint64Array([1n]);
  /** Stats for tests and benchmarks. */
  readonly stats = { wakeups: 0, timerRounds: 0 };
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
    this.timer = undefined;
  }

  private drainAll(): number {
    let n = 0;
    for (const p of this.members.values()) if (p.active) n += p.drain();
    return n;
  }

  private schedule(): void {
    if (this.members.size === 0) return;
    if (this.timerOnly || this.calm > 0) {
      if (!this.timer) this.timer = setTimeout(this.onTimer, this.busy ? TIMER_MS : COALESCE_MS);
      return;
    }
    this.arm();
  }

  /**
   * A timer round: drain, then poll again in 1 ms while drains are large, in COALESCE_MS while
   * records keep coming, and go back to waiting after CALM_ROUNDS rounds that found nothing.
   */
  private readonly onTimer = (): void => {
    this.timer = undefined;
    this.stats.timerRounds++;
    const n = this.drainAll();
    this.busy = n >= BUSY_DRAIN;
    if (n > 0) this.calm = CALM_ROUNDS;
    else if (this.calm > 0) this.calm--;
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
      this.busy = false;
      if (!this.timer) this.timer = setTimeout(this.onTimer, COALESCE_MS);
    });
  }

  private clearEventfd(): void {
    if (this.efd) sys().read(this.efd.value, new Uint8Array(8), 8);
  }

  get size(): number {
    return this.members.size;
  }
}
