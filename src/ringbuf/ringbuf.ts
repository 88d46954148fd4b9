// BPF ring buffer (BPF_MAP_TYPE_RINGBUF) reader over the map's mmap:
//   offset 0, one page, read-write: consumer_pos (we store it, once per batch, with release order)
//   offset page, read-only: producer_pos page, then the data area mapped twice in a row, so a
//   record that wraps at the end is still contiguous.
// Records: an 8-byte header (u32 len with BUSY bit 31 and DISCARD bit 30, u32 pg_off), then the
// payload; the next record starts at roundup(len + 8, 8). Views are created once; a closed reader
// never touches the memory again, and views the caller kept read zeros (syscall/mapping.ts).
import type { Btf } from '../btf/btf.js';
import type { Decoder } from '../maps/codec.js';
import { compileDecoder } from '../maps/decoder.js';
import type { BpfMap } from '../maps/map.js';
import { PROT_READ, PROT_WRITE, sys } from '../syscall/backend.js';
import { MapType } from '../syscall/constants.js';
import { Mapping } from '../syscall/mapping.js';
import { BUSY_DRAIN, Poller, ReaderError } from './poller.js';
import { RingRelay } from './relay.js';
import { type RawRecordHandler, type RecordReader, RecordQueue } from './reader.js';

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const HDR = 8;
const INT32_MAX = 0x7fffffff;
const LEN_MASK = ~(BUSY | DISCARD) >>> 0;
/**
 * x86 is TSO: loads are not reordered with other loads, so a plain load of a record header
 * already has acquire semantics, and V8 does not hoist the payload reads (which sit behind the
 * header's BUSY branch) above it. Atomics.load costs ~1.5× here, so it is used only where the
 * hardware needs it (arm64).
 */
const PLAIN_LOADS = process.arch === 'x64';
/** The walk chooses its loop per segment of this many bytes of records. */
const SEGMENT = 16384;
/** Segments walked unpredicted after one whose record lengths kept changing (then prediction is tried again). */
const MIXED_SEGMENTS = 64;
/** Records per consumeBatch call: 256 × 72-byte records stay in L1 while the caller reads them. */
const BATCH_SLOTS = 256;
let loopIds = 0;

/** One callback's compiled walk: consume(max) drains, stop() makes a walk under way return at its next record. */
interface Walk {
  consume(max: number): number;
  stop(): void;
}

export type BatchHandler = (view: DataView, offsets: Int32Array, lengths: Int32Array, count: number) => void;

export interface RingBufOptions {
  /** BTF and value type for decoded records (defaults to the map's value type). */
  btf?: Btf;
  valueTypeId?: number;
  /** Max records per drain call (bounds the time spent in one callback turn). */
  batch?: number;
  /**
   * Free bytes under which a drain counts the ring as full (fullSeen): the space of the largest
   * record the producer reserves, header included. Default 16 (any record no longer fits).
   */
  fullMargin?: number;
  /**
   * Drain on a thread of its own into a queue of this many bytes (a power of two, at least twice
   * the ring), which this reader then reads: the ring is emptied while this thread is busy or off
   * the CPU (garbage collection, a slow consumer, a busy host), at the cost of a copy per record
   * and the thread's rounds (bee-ts run --drain-thread: about 0.5 µs of CPU per record more). Needs
   * the native backend and the compiled worker module (dist/ringbuf/relay-worker.js; the
   * constructor throws a BpfError without them). `data`, `hdr` and the positions are then the
   * queue's. 0 or unset: drain on this thread.
   */
  drainThread?: number;
}

/**
 * Reads a BPF_MAP_TYPE_RINGBUF map (see {@link RecordReader}); also batched zero-copy drains.
 * @public
 */
export class RingBufReader implements RecordReader {
  /** Most records handed to one consumeBatch callback. */
  static readonly BATCH_RECORDS = BATCH_SLOTS;
  readonly name: string;
  readonly size: number;
  /** The fd the poller waits on. @internal */
  readonly pollFd: number;
  private readonly mask: number;
  private readonly consMap?: Mapping;
  private readonly prodMap?: Mapping;
  /** The drain thread (drainThread): the views below are its queue's. */
  private readonly relay?: RingRelay;
  /** Bytes of what the views cover (the ring, or the drain thread's queue). */
  private readonly span: number;
  private readonly page: number;
  private readonly fullMargin: number;
  readonly consPos: BigUint64Array;
  readonly prodPos: BigUint64Array;
  readonly hdr: Int32Array;
  /** DataView over the data area mapped twice (2 × size bytes). */
  readonly data: DataView;
  private closed = false;
  private handler?: RawRecordHandler;
  private decoded?: (record: unknown) => void;
  private decoder?: Decoder;
  private readonly pending = new RecordQueue();
  private readonly batch: number;
  /** Records dropped by a decode failure (counted, not fatal). */
  decodeErrors = 0;
  /** Records delivered so far. */
  delivered = 0;
  /**
   * Drains that found the ring (nearly) full: the kernel's bpf_ringbuf_reserve fails while it
   * is, and those records are lost without a trace here (only the probe can count them).
   */
  fullSeen = 0;
  /** A ring buffer does not report lost records (see fullSeen): always 0. */
  readonly lost = 0;

  /**
   * @throws {@link ReaderError} when the map is not a ring buffer or is 2 GiB or more; {@link BpfError} when it cannot be mapped.
   */
  constructor(
    readonly map: BpfMap,
    opts: RingBufOptions = {},
  ) {
    if (map.type !== MapType.RINGBUF) throw new ReaderError(`map '${map.name}' is ${map.typeName}, not a ring buffer`);
    this.name = map.name;
    this.size = map.maxEntries;
    // The consume loop works in int32 offsets within the ring.
    if (this.size >= 2 ** 31) throw new ReaderError(`ring buffer '${map.name}' is ${this.size} bytes; bee-ts reads rings under 2 GiB`);
    this.batch = opts.batch ?? Infinity;
    this.page = sys().pageSize();
    this.fullMargin = opts.fullMargin ?? 16;
    const fd = map.fd.value;
    const qsize = opts.drainThread ?? 0;
    if (qsize > 0) {
      if ((qsize & (qsize - 1)) !== 0 || qsize < 2 * this.size || qsize >= 2 ** 30) throw new ReaderError(`ring buffer '${map.name}': drainThread ${qsize} must be a power of two, at least twice the ring (${this.size}) and under 1 GiB`);
      const relay = new RingRelay(fd, this.size, qsize, this.fullMargin, `ring buffer '${map.name}'`);
      this.relay = relay;
      this.span = qsize;
      this.mask = qsize - 1;
      this.pollFd = relay.pollFd;
      const q = relay.queue;
      this.consPos = q.consPos;
      this.prodPos = q.prodPos;
      this.data = q.data;
      this.hdr = q.hdr;
    } else {
      this.span = this.size;
      this.mask = this.size - 1;
      this.pollFd = fd;
      this.consMap = Mapping.shared(this.page, PROT_READ | PROT_WRITE, fd, 0, `ring buffer '${map.name}' consumer page`);
      try {
        this.prodMap = Mapping.shared(this.page + 2 * this.size, PROT_READ, fd, this.page, `ring buffer '${map.name}' data`);
      } catch (e) {
        this.consMap.close();
        throw e;
      }
      this.consPos = new BigUint64Array(this.consMap.buffer, 0, 1);
      const prodBuf = this.prodMap.buffer;
      this.prodPos = new BigUint64Array(prodBuf, 0, 1);
      this.data = new DataView(prodBuf, this.page, 2 * this.size);
      this.hdr = new Int32Array(prodBuf, this.page, (2 * this.size) / 4);
    }
    const btf = opts.btf ?? map.btf;
    const vt = opts.valueTypeId ?? map.valueTypeId;
    if (btf && vt) this.decoder = compileDecoder(btf, vt);
  }

  /** Whether the poller should drain this ring now. @internal */
  get active(): boolean {
    return !this.closed && (this.handler !== undefined || this.decoded !== undefined || this.pending.wanted);
  }

  /** Bytes waiting to be consumed. */
  available(): number {
    if (this.closed) return 0;
    return Number(Atomics.load(this.prodPos, 0) - Atomics.load(this.consPos, 0));
  }

  /**
   * Consume what is committed now, calling `fn(view, offset, length)` per record (zero-copy: the
   * view is only valid during the call). Returns the number of records delivered. The walk is
   * compiled once per callback: pass the same function each time, not a fresh arrow per call.
   */
  consumeRaw(fn: RawRecordHandler, max = this.batch): number {
    return this.run(this.loops, fn, false, max);
  }

  /** Run fn's compiled walk (compiling it on first use), counting what it delivered. */
  private run<F extends RawRecordHandler | BatchHandler>(cache: WeakMap<F, Walk>, fn: F, batched: boolean, max: number): number {
    if (this.closed) return 0;
    let walk = cache.get(fn);
    if (!walk) {
      walk = this.compileLoop(fn, batched);
      cache.set(fn, walk);
    }
    // close() from inside a callback tells every walk under way to stop (see compileLoop).
    this.walking.push(walk);
    let n: number;
    try {
      n = walk.consume(max);
    } finally {
      this.walking.pop();
    }
    this.delivered += n;
    return n;
  }

  /** The walks under way (a callback may start another): close() stops each of them. */
  private readonly walking: Walk[] = [];

  /**
   * A consume loop generated for one callback. Each generated function has its own call site,
   * so V8 sees `fn` as monomorphic and can inline it: about twice the throughput of one shared
   * loop whose call site sees every callback in the process.
   */
  private readonly loops = new WeakMap<RawRecordHandler, Walk>();
  private compileLoop(fn: RawRecordHandler | BatchHandler, batched: boolean): Walk {
    // x64: the header through the DataView the callback reads (its byte offset, no shift, and the
    // same view's loads serve both); elsewhere an acquire load through the Int32Array.
    const load = PLAIN_LOADS ? 'dv.getInt32(off, true)' : 'Atomics.load(hdr, off >> 2)';
    // Per record: hand it to fn (or, batched, note it and hand over a full batch), count it, and
    // leave the segment when a callback closed the reader. No test of max per record: each
    // segment is cut to hold at most the records still wanted (a record takes at least 8 bytes).
    const deliver = (len: string) =>
      batched
        ? `offs[b] = (rec + ${HDR}) | 0; lens[b] = ${len}; b = (b + 1) | 0; k = (k + 1) | 0;
              if (b === ${BATCH_SLOTS}) { fn(dv, offs, lens, b); b = 0; if (shut === true) { got = k; slot = 0; return ~off; } }`
        : `fn(dv, (rec + ${HDR}) | 0, ${len});
              k = (k + 1) | 0;
              if (shut === true) { got = k; return ~off; }`;
    const leave = batched ? 'got = k; slot = b;' : 'got = k;';
    const enter = `const dv = data;
        let off = off0 | 0;
        const segEnd = end0 | 0;
        let k = 0;${batched ? '\n        let b = slot | 0;' : ''}`;
    // Why it is shaped like this (each step measured on a full 64 MiB ring, bench ringbuf):
    // - each segment (SEGMENT bytes) is walked by a small function of its own, predicted() or
    //   unpredicted(), whose parameters and prediction state it turns into int32 locals at once
    //   (off0 | 0): TurboFan then keeps the offset in a register as an untagged int32, also where
    //   it inlines the function into consume() (it does, once consume() is hot). In the one loop
    //   nest before, the offset was a tagged Smi spilled to the stack, and the walk's chain per
    //   record (header load → step → offset → next header load) went through a store, a reload,
    //   a tag, a Smi check and an untag: ~15 cycles where the loop here takes ~8 (A/B in one
    //   process, same ring: mixed sizes 1.39×, 16 B 1.19×, 64 B 1.05× the records per CPU
    //   second). Counts and state cross between the functions through closure variables once
    //   per segment.
    // - int32 arithmetic only (no overflow checks: every sum is |0); the 64-bit positions meet the
    //   walk once per batch.
    // - no masking per record: the data area is mapped twice in a row, so from start = cons & mask
    //   every committed byte up to start + (prod - cons) < 2 × size is contiguous in the view.
    // - the step of a committed record: offsets are multiples of 8, so off + roundup(len + 8, 8)
    //   is (off + len + 15) & -8, and a header with neither BUSY nor DISCARD needs no mask; a
    //   DISCARD record's step is recomputed from its record's offset with the mask.
    // - fixed sizes: the record length is predicted. A header equal to the last delivered one
    //   (never BUSY, never DISCARD: prev starts as a zero-length record's header) is that record's
    //   length again: deliver it and step by the same amount, with no arithmetic on it. The branch
    //   is predicted by the CPU, so the next header's load does not wait for this one (a load →
    //   add → load chain otherwise bounds the walk). Any other header takes the full path.
    // - mixed sizes: there the guess is mostly wrong, and each wrong guess costs a mispredicted
    //   branch on top of the chain. A segment where more than a quarter of the headers differed
    //   from their predecessor switches the walk to unpredicted() (step computed from every
    //   header, BUSY tested as the sign bit: no branch that depends on the sizes) for the next
    //   MIXED_SEGMENTS segments, then the predicted loop is tried again.
    // - closing: close() from a callback sets this walk's \`shut\` (a variable of the generated
    //   closure, one load per record; a property of the reader cost ~13 instructions, a map check
    //   and a truthiness test of an untyped field). After it the walk touches no ring memory.
    // - a segment function returns the offset it stopped at, or ~offset (negative) when the walk
    //   must stop there (BUSY, or the reader was closed); \`got\` is what it delivered.
    // The id makes each source unique: V8 caches \`new Function\` by source text, and loops that
    // shared one compiled function would share its call-site feedback (measured: a loop that had
    // seen a second callback ran 3× slower).
    const body = `// ring buffer walk ${++loopIds}
      var mixed = 0;
      var shut = false;
      var got = 0;
      var slot = 0;
      var prev = 0;
      var prevStep = ${HDR};
      function predicted(off0, end0) {
        ${enter}
        let changes = 0;
        let p = prev | 0;
        let ps = prevStep | 0;
        while (off < segEnd) {
          const len = ${load};
          const rec = off;
          if (len === p) off = (off + ps) | 0;
          else {
            if (len < 0) { ${leave} prev = p; prevStep = ps; return ~off; }
            changes = (changes + 1) | 0;
            if ((len & ${DISCARD}) !== 0) {
              off = (rec + (((len & ${LEN_MASK}) + ${HDR + 7}) & -8)) | 0;
              continue;
            }
            off = (off + len + ${HDR + 7}) & -8;
            p = len;
            ps = (off - rec) | 0;
          }
          // One call site for both paths: it is the one V8 inlines, with the feedback of every record.
          ${deliver('len')}
        }
        ${leave}
        prev = p;
        prevStep = ps;
        if (changes * 4 > k + 8) mixed = ${MIXED_SEGMENTS};
        return off;
      }
      function unpredicted(off0, end0) {
        ${enter}
        while (off < segEnd) {
          const len = ${load};
          if (len < 0) { ${leave} return ~off; }
          const rec = off;
          if ((len & ${DISCARD}) === 0) {
            off = (off + len + ${HDR + 7}) & -8;
            ${deliver('len')}
          } else {
            off = (rec + (((len & ${LEN_MASK}) + ${HDR + 7}) & -8)) | 0;
          }
        }
        ${leave}
        return off;
      }
      function consume(max) {
        max = max >= ${INT32_MAX} ? ${INT32_MAX} : max | 0;
        let cons = Number(Atomics.load(consPos, 0));
        let n = 0;
        let stop = false;
        prev = 0;
        prevStep = ${HDR};
        while (!stop) {
          const prod = Number(Atomics.load(prodPos, 0));
          if (prod <= cons) break;
          const start = cons & mask;
          const end = (start + (prod - cons)) | 0;
          let off = start;
          while (off < end) {
            // At most SEGMENT bytes, and room for no more records than are still wanted.
            const want = (max - n) | 0;
            if (want <= 0) { stop = true; break; }
            let room = (end - off) | 0;
            if (room > ${SEGMENT}) room = ${SEGMENT};
            if (want < (room >> 3)) room = want << 3;
            let r;
            if (mixed === 0) r = predicted(off, (off + room) | 0);
            else {
              mixed = (mixed - 1) | 0;
              r = unpredicted(off, (off + room) | 0);
              // The predicted loop's guess starts again from a header it checks.
              prev = 0;
              prevStep = ${HDR};
            }
            n = (n + got) | 0;
            if (r < 0) { off = ~r; stop = true; break; }
            off = r;
          }
          // A callback that closed the reader unmapped the ring: touch nothing more.
          if (shut === true) return n;
          ${batched ? `if (slot !== 0) { const b = slot; slot = 0; fn(data, offs, lens, b); if (shut === true) return n; }` : ''}
          // Commit once per batch (release order for the kernel's producer), after every record
          // in it was handed over: the producer may overwrite the space as soon as it sees this.
          if (off !== start) {
            cons += off - start;
            Atomics.store(consPos, 0, BigInt(cons));
          }
        }
        return n;
      }
      return { consume, stop() { shut = true; } };`;
    // eslint-disable-next-line @typescript-eslint/no-implied-eval
    return new Function('fn', 'hdr', 'data', 'mask', 'consPos', 'prodPos', 'offs', 'lens', body)(
      fn, this.hdr, this.data, this.mask, this.consPos, this.prodPos, new Int32Array(BATCH_SLOTS), new Int32Array(BATCH_SLOTS),
    ) as Walk;
  }

  private readonly batchLoops = new WeakMap<BatchHandler, Walk>();
  /**
   * Consume in batches: `fn(view, offsets, lengths, count)` once per up to BATCH_RECORDS (256) records, where
   * record i is `view` bytes [offsets[i], offsets[i] + lengths[i]) (zero-copy, valid during the
   * call; the ring space is released only after it returns). No call per record: the caller's
   * own loop does the work.
   */
  consumeBatch(fn: BatchHandler, max = this.batch): number {
    return this.run(this.batchLoops, fn, true, max);
  }

  /**
   * Consume and decode by BTF: `fn(record)` per record.
   * @throws {@link ReaderError} when the map has no value type to decode with.
   */
  consume(fn: (record: unknown) => void, max = this.batch): number {
    const dec = this.decoder;
    if (!dec) throw new ReaderError(`ring buffer '${this.name}' has no value type: use consumeRaw, or declare __type(value, struct ...)`);
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

  /** The poller calls this when the ring has data. @internal */
  drain(): number {
    this.more = false;
    if (this.closed) return 0;
    const relay = this.relay;
    if (relay) relay.ack();
    const used = this.available();
    this.fill = used / this.span;
    // With a drain thread, the thread sees the ring (this reader sees its queue).
    if (relay) this.fullSeen = relay.fullSeen;
    else if (this.size - used < this.fullMargin) this.fullSeen++;
    let n = 0;
    if (this.handler) n += this.consumeRaw(this.handler);
    else if (this.decoded) n += this.consume(this.decoded);
    // The iterator's queue is bounded by its consumer: that drain waits for the next round.
    else if (this.pending.wanted) return this.consume(this.pending.push, this.pending.room);
    // Stopped at the bound: the poller drains again at once, not after a sleep.
    this.more = n >= this.batch && this.available() > 0;
    return n;
  }

  /** Share of the ring in use when the last drain began (the poller's delay). @internal */
  fill = 0;
  /** The last drain stopped at its record bound with records left. @internal */
  more = false;

  /** Deliver raw records as they arrive (zero-copy `(view, offset, length)`), on the shared poller. */
  onRaw(fn: RawRecordHandler): this {
    this.handler = fn;
    Poller.get().add(this);
    return this;
  }

  /**
   * Deliver decoded records as they arrive.
   * @throws {@link ReaderError} when the map has no value type to decode with.
   */
  onRecord(fn: (record: unknown) => void): this {
    if (!this.decoder) throw new ReaderError(`ring buffer '${this.name}' has no value type to decode with`);
    this.decoded = fn;
    Poller.get().add(this);
    return this;
  }

  /**
   * Decoded records as an async iterator (ends when the reader is closed).
   * @throws {@link ReaderError} when the map has no value type to decode with.
   */
  [Symbol.asyncIterator](): AsyncIterator<unknown> {
    if (!this.decoder) throw new ReaderError(`ring buffer '${this.name}' has no value type to decode with`);
    const it = this.pending.iterator({ closed: () => this.closed, drain: () => this.drain(), kick: () => Poller.get().kick(), close: () => this.close() });
    Poller.get().add(this);
    return it;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.walking) w.stop();
    Poller.get().remove(this);
    this.relay?.close();
    this.consMap?.close();
    this.prodMap?.close();
    this.pending.end();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

export { BUSY_DRAIN, type RawRecordHandler };
