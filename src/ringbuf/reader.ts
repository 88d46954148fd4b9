// The one reader interface: the ring buffer reader (ringbuf.ts, BPF_MAP_TYPE_RINGBUF) and the perf
// buffer reader (perfbuf.ts, BPF_MAP_TYPE_PERF_EVENT_ARRAY) deliver records the same ways, so a
// consumer (src/bee/runner.ts) holds a RecordReader and does not care which map kind it reads.
// Also the async-iteration queue both readers share.
import type { BpfMap } from '../maps/map.js';

/** A record handler on the zero-copy path: `view` bytes [offset, offset + length), valid during the call. */
export type RawRecordHandler = (view: DataView, offset: number, length: number) => void;

/**
 * What every record reader offers (`RingBufReader`, `PerfBufReader`).
 *
 * - poll: `onRaw`/`onRecord` deliver records as they arrive, from the shared epoll poller;
 * - consume: `consumeRaw`/`consume` drain what is there now, synchronously;
 * - async iteration: `for await (const record of reader)` (decoded records; ends on close);
 * - close: `close()`/`[Symbol.dispose]()` stop delivery and unmap the buffers.
 *
 * @public
 */
export interface RecordReader extends AsyncIterable<unknown>, Disposable {
  /** The map read. */
  readonly map: BpfMap;
  /** The map's name. */
  readonly name: string;
  /** Records delivered so far. */
  readonly delivered: number;
  /** Records the kernel reported as lost (a full perf buffer says how many; a ring buffer never does: 0). */
  readonly lost: number;
  /** Drains that found the buffer (nearly) full: a ring buffer's only sign of loss; 0 for a perf buffer. */
  readonly fullSeen: number;
  /**
   * Drain what is there now, zero-copy; returns the number of records delivered.
   * @throws {@link ReaderError} when the reader was misused (see the concrete class).
   */
  consumeRaw(fn: RawRecordHandler): number;
  /**
   * Drain what is there now, decoded by the map's BTF value type; returns the number of records.
   * @throws {@link ReaderError} when the map has no value type to decode with.
   */
  consume(fn: (record: unknown) => void): number;
  /** Deliver raw records as they arrive, on the shared poller. */
  onRaw(fn: RawRecordHandler): this;
  /**
   * Deliver decoded records as they arrive, on the shared poller.
   * @throws {@link ReaderError} when the map has no value type to decode with.
   */
  onRecord(fn: (record: unknown) => void): this;
  /**
   * Decoded records as an async iterator (ends when the reader is closed; breaking out closes it).
   * @throws {@link ReaderError} when the map has no value type to decode with.
   */
  [Symbol.asyncIterator](): AsyncIterator<unknown>;
  /** Stop delivery and unmap; idempotent. */
  close(): void;
}

/** Most decoded records the async iterator keeps waiting for a slow consumer. */
const QUEUE_MAX = 4096;

/**
 * The async iterator's queue: decoded records waiting for `next()`, and `next()` calls waiting
 * for records.
 * @internal
 */
export class RecordQueue {
  private readonly queue: unknown[] = [];
  private waiters: ((r: IteratorResult<unknown>) => void)[] = [];
  private iterating = false;

  /** An iterator exists or a `next()` waits: drains should fill the queue. */
  get wanted(): boolean {
    return this.iterating || this.waiters.length > 0;
  }

  /** Records the queue takes now (at least 1, so a waiting `next()` is always served). */
  get room(): number {
    return Math.max(1, QUEUE_MAX - this.queue.length);
  }

  /** One delivery function for every drain (so a reader's compiled consume loop is reused). */
  readonly push = (r: unknown): void => {
    const w = this.waiters.shift();
    if (w) w({ value: r, done: false });
    else this.queue.push(r);
  };

  /** The iterator: `drain()` fills the queue now, `kick()` wakes the poller, `close()` ends the reader. */
  iterator(r: { closed(): boolean; drain(): unknown; kick(): void; close(): void }): AsyncIterator<unknown> {
    this.iterating = true;
    return {
      next: () => {
        if (this.queue.length) return Promise.resolve({ value: this.queue.shift(), done: false });
        if (r.closed()) return Promise.resolve({ value: undefined, done: true });
        // Something may be ready right now (a drain happened while nobody was asking).
        r.drain();
        if (this.queue.length) return Promise.resolve({ value: this.queue.shift(), done: false });
        r.kick();
        return new Promise((res) => this.waiters.push(res));
      },
      return: () => {
        r.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  /** The reader closed: every waiting `next()` ends. */
  end(): void {
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
  }
}
