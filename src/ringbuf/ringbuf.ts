// BPF ring buffer (BPF_MAP_TYPE_RINGBUF) reader over the map's mmap:
//   offset 0, one page, read-write: consumer_pos (we store it, once per batch, with release order)
//   offset page, read-only: producer_pos page, then the data area mapped twice in a row, so a
//   record that wraps at the end is still contiguous.
// Records: an 8-byte header (u32 len with BUSY bit 31 and DISCARD bit 30, u32 pg_off), then the
// payload; the next record starts at roundup(len + 8, 8). Views are created once; a closed reader
// never touches the (unmapped) memory again.
import type { Btf } from '../btf/btf.js';
import { compileDecoder, type Decoder } from '../maps/codec.js';
import type { BpfMap } from '../maps/map.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE, sys } from '../syscall/backend.js';
import { MapType } from '../syscall/constants.js';
import { BpfError } from '../syscall/errno.js';
import { BUSY_DRAIN, type Pollable, Poller } from './poller.js';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;
/**
 * x86 is TSO: loads are not reordered with other loads, so a plain load of a record header
 * already has acquire semantics, and V8 does not hoist the payload reads (which sit behind the
 * header's BUSY branch) above it. Atomics.load costs ~1.5× here, so it is used only where the
 * hardware needs it (arm64).
 */
const PLAIN_LOADS = process.arch === 'x64';
const BATCH_SLOTS = 4096;

export type RawRecordHandler = (view: DataView, offset: number, length: number) => void;
export type BatchHandler = (view: DataView, offsets: Int32Array, lengths: Int32Array, count: number) => void;

export interface RingBufOptions {
  /** BTF and value type for decoded records (defaults to the map's value type). */
  btf?: Btf;
  valueTypeId?: number;
  /** Max records per drain call (bounds the time spent in one callback turn). */
  batch?: number;
}

export class RingBufReader implements Pollable, AsyncIterable<unknown>, Disposable {
  readonly name: string;
  readonly size: number;
  readonly pollFd: number;
  private readonly mask: number;
  private consMap: bigint;
  private prodMap: bigint;
  private readonly page: number;
  readonly consPos: BigUint64Array;
  readonly prodPos: BigUint64Array;
  readonly hdr: Int32Array;
  /** DataView over the data area mapped twice (2 × size bytes). */
  readonly data: DataView;
  private closed = false;
  private handler?: RawRecordHandler;
  private decoded?: (record: unknown) => void;
  private decoder?: Decoder;
  private readonly queue: unknown[] = [];
  private waiters: ((r: IteratorResult<unknown>) => void)[] = [];
  private readonly batch: number;
  /** Records dropped by a decode failure (counted, not fatal). */
  decodeErrors = 0;
  /** Records delivered so far. */
  delivered = 0;

  constructor(
    readonly map: BpfMap,
    opts: RingBufOptions = {},
  ) {
    if (map.type !== MapType.RINGBUF) throw new Error(`map '${map.name}' is ${map.typeName}, not a ring buffer`);
    this.name = map.name;
    this.size = map.maxEntries;
    // The consume loop works in int32 offsets within the ring.
    if (this.size >= 2 ** 31) throw new Error(`ring buffer '${map.name}' is ${this.size} bytes; bee-ts reads rings under 2 GiB`);
    this.mask = this.size - 1;
    this.pollFd = map.fd.value;
    this.batch = opts.batch ?? Infinity;
    const s = sys();
    this.page = s.pageSize();
    const fd = map.fd.value;
    this.consMap = s.mmap(this.page, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (this.consMap < 0n) throw new BpfError('mmap', Number(-this.consMap), `ring buffer '${map.name}' consumer page`);
    this.prodMap = s.mmap(this.page + 2 * this.size, PROT_READ, MAP_SHARED, fd, this.page);
    if (this.prodMap < 0n) {
      s.munmap(this.consMap, this.page);
      throw new BpfError('mmap', Number(-this.prodMap), `ring buffer '${map.name}' data`);
    }
    this.consPos = new BigUint64Array(s.view(this.consMap, this.page), 0, 1);
    const prodBuf = s.view(this.prodMap, this.page + 2 * this.size);
    this.prodPos = new BigUint64Array(prodBuf, 0, 1);
    this.data = new DataView(prodBuf, this.page, 2 * this.size);
    this.hdr = new Int32Array(prodBuf, this.page, (2 * this.size) / 4);
    const btf = opts.btf ?? map.btf;
    const vt = opts.valueTypeId ?? map.valueTypeId;
    if (btf && vt) this.decoder = compileDecoder(btf, vt);
  }

  get active(): boolean {
    return !this.closed && (this.handler !== undefined || this.decoded !== undefined || this.waiters.length > 0 || this.iterating);
  }

  private iterating = false;

  /** Bytes waiting to be consumed. */
  available(): number {
    if (this.closed) return 0;
    return Number(Atomics.load(this.prodPos, 0) - Atomics.load(this.consPos, 0));
  }

  /**
   * Consume what is committed now, calling `fn(view, offset, length)` per record (zero-copy: the
   * view is only valid during the call). Returns the number of records delivered.
   */
  consumeRaw(fn: RawRecordHandler, max = this.batch): number {
    if (this.closed) return 0;
    let loop = this.loops.get(fn);
    if (!loop) {
      loop = this.compileLoop(fn);
      this.loops.set(fn, loop);
    }
    const n = loop(max);
    this.delivered += n;
    return n;
  }

  /**
   * A consume loop generated for one callback. Each generated function has its own call site,
   * so V8 sees `fn` as monomorphic and can inline it: about twice the throughput of one shared
   * loop whose call site sees every callback in the process.
   */
  private readonly loops = new WeakMap<RawRecordHandler, (max: number) => number>();
  private compileLoop(fn: RawRecordHandler, beforeCommit?: () => void): (max: number) => number {
    const load = PLAIN_LOADS ? 'hdr[off >> 2]' : 'Atomics.load(hdr, off >> 2)';
    // The inner loop stays in int32 arithmetic: a ring offset and a byte budget (the producer is at
    // most one ring ahead), not the 64-bit positions, which only meet at the commit.
    const body = `
      return function consume(max) {
        let cons = Number(Atomics.load(consPos, 0));
        let n = 0;
        for (;;) {
          const prod = Number(Atomics.load(prodPos, 0));
          if (prod <= cons) break;
          let remaining = (prod - cons) | 0;
          let off = cons & mask;
          let used = 0;
          let busy = false;
          while (remaining > 0 && n < max) {
            const len = ${load} >>> 0;
            if (len & ${BUSY}) { busy = true; break; }
            const size = len & ${~(BUSY | DISCARD) >>> 0};
            const step = (size + ${HDR + 7}) & ~7;
            if ((len & ${DISCARD}) === 0) {
              fn(data, off + ${HDR}, size);
              n++;
              if (self.closed) return n;
            }
            off = (off + step) & mask;
            remaining = (remaining - step) | 0;
            used = (used + step) | 0;
          }
          // Commit once per batch (release order for the kernel's producer).
          ${beforeCommit ? 'pre(); if (self.closed) return n;' : ''}
          if (used !== 0) {
            cons += used;
            Atomics.store(consPos, 0, BigInt(cons));
          }
          if (busy || n >= max) break;
        }
        return n;
      };`;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return new Function('fn', 'pre', 'self', 'hdr', 'data', 'mask', 'consPos', 'prodPos', body)(fn, beforeCommit, this, this.hdr, this.data, this.mask, this.consPos, this.prodPos) as (max: number) => number;
  }

  private readonly batchOffsets = new Int32Array(BATCH_SLOTS);
  private readonly batchLengths = new Int32Array(BATCH_SLOTS);
  private batchCount = 0;
  private batchFn?: BatchHandler;
  /** consumeBatch's per-record step: collect, and hand over a full batch. */
  private readonly collect: RawRecordHandler = (_view, off, len) => {
    this.batchOffsets[this.batchCount] = off;
    this.batchLengths[this.batchCount] = len;
    if (++this.batchCount === BATCH_SLOTS) this.flushBatch();
  };
  /** Deliver collected records; runs before every commit, so the zero-copy views are still valid. */
  private readonly flushBatch = (): void => {
    const k = this.batchCount;
    this.batchCount = 0;
    if (k > 0) this.batchFn!(this.data, this.batchOffsets, this.batchLengths, k);
  };

  /**
   * Consume in batches: `fn(view, offsets, lengths, count)` once per up to 4096 records, where
   * record i is `view` bytes [offsets[i], offsets[i] + lengths[i]) (zero-copy, valid during the
   * call). No call per record: the caller's own loop does the work.
   */
  consumeBatch(fn: BatchHandler): number {
    if (this.closed) return 0;
    this.batchFn = fn;
    let loop = this.loops.get(this.collect);
    if (!loop) {
      loop = this.compileLoop(this.collect, this.flushBatch);
      this.loops.set(this.collect, loop);
    }
    const n = loop(this.batch);
    this.delivered += n;
    return n;
  }

  /** Consume and decode by BTF: `fn(record)` per record. */
  consume(fn: (record: unknown) => void, max = this.batch): number {
    const dec = this.decoder;
    if (!dec) throw new Error(`ring buffer '${this.name}' has no value type: use consumeRaw, or declare __type(value, struct ...)`);
    let raw = this.decodedRaw.get(fn);
    if (!raw) {
      raw = (view, off) => {
        let rec: unknown;
        try {
          rec = dec(view, off);
        } catch (e) {
          if (e instanceof RangeError || e instanceof TypeError) {
            this.decodeErrors++;
            return;
          }
          throw e;
        }
        fn(rec);
      };
      this.decodedRaw.set(fn, raw);
    }
    return this.consumeRaw(raw, max);
  }

  private readonly decodedRaw = new WeakMap<(record: unknown) => void, RawRecordHandler>();
  /** The async iterator's delivery function (one, so its consume loop is compiled once). */
  private readonly enqueue = (r: unknown): void => {
    const w = this.waiters.shift();
    if (w) w({ value: r, done: false });
    else this.queue.push(r);
  };

  /** Pollable: the poller calls this when the ring has data. */
  drain(): number {
    if (this.closed) return 0;
    let n = 0;
    if (this.handler) n += this.consumeRaw(this.handler);
    else if (this.decoded) n += this.consume(this.decoded);
    else if (this.waiters.length > 0 || this.iterating) {
      n += this.consume(this.enqueue, Math.max(1, 4096 - this.queue.length));
    }
    return n;
  }

  /** Deliver raw records as they arrive (zero-copy `(view, offset, length)`), on the shared poller. */
  onRaw(fn: RawRecordHandler): this {
    this.handler = fn;
    Poller.get().add(this);
    return this;
  }

  /** Deliver decoded records as they arrive. */
  onRecord(fn: (record: unknown) => void): this {
    if (!this.decoder) throw new Error(`ring buffer '${this.name}' has no value type to decode with`);
    this.decoded = fn;
    Poller.get().add(this);
    return this;
  }

  /** Decoded records as an async iterator (ends when the reader is closed). */
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (!this.decoder) throw new Error(`ring buffer '${this.name}' has no value type to decode with`);
    this.iterating = true;
    Poller.get().add(this);
    return {
      next: () => {
        if (this.queue.length) return Promise.resolve({ value: this.queue.shift(), done: false });
        if (this.closed) return Promise.resolve({ value: undefined, done: true });
        // Something may be ready right now (a drain happened while nobody was asking).
        this.drain();
        if (this.queue.length) return Promise.resolve({ value: this.queue.shift(), done: false });
        Poller.get().kick();
        return new Promise((res) => this.waiters.push(res));
      },
      return: () => {
        this.close();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    Poller.get().remove(this);
    const s = sys();
    s.munmap(this.consMap, this.page);
    s.munmap(this.prodMap, this.page + 2 * this.size);
    this.consMap = 0n;
    this.prodMap = 0n;
    for (const w of this.waiters.splice(0)) w({ value: undefined, done: true });
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export { BUSY_DRAIN };
