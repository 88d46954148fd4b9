// The drain thread's queue (relay.ts, relay-worker.ts): shared memory laid out as the kernel's
// ring buffer, so RingBufReader's walk reads it unchanged. The positions, then the data area of
// `size` bytes mapped twice in a row — here written twice (put() mirrors every byte), so a
// record that wraps at the end is contiguous as in the kernel's double mapping. The thread's
// control words are a small SharedArrayBuffer of their own (Atomics.wait needs one); the queue
// is anonymous shared memory (Mapping.anonymousShared), which both threads view.
// Committed records are copied as the ring holds them (8-byte header, payload, padding; DISCARD
// ones too, which the reader skips), in one piece per round; the queue's producer position
// advances (seq-cst) after the bytes are written, its consumer position is the reader's. Kernel-free: test/ringbuf-relay.test.ts runs it on the fake
// backend's ring memory.

const BUSY = 0x80000000;
const DISCARD = 0x40000000;
const LEN_MASK = ~(BUSY | DISCARD) >>> 0;
const HDR = 8;

/** Control words (Int32Array indices of the control SharedArrayBuffer, CTL_WORDS of them). */
export const CTL = {
  /** Set by the reader's close(): the thread stops. */
  stop: 0,
  /** Set by the thread once it has unmapped the ring (close() waits for it). */
  done: 1,
  /** Rounds that found the kernel ring (nearly) full. */
  full: 2,
  /** Set by the thread when it could not start (errno in `errno`). */
  failed: 3,
  errno: 4,
  /** Set by the thread once it has mapped the ring. */
  ready: 5,
} as const;
export const CTL_WORDS = 16;
/** Bytes before the data area: the consumer position (at 0) and the producer's (at 8). */
export const QUEUE_HEAD = 64;

/** A ring in the kernel's layout: headers as int32 words, bytes, positions, size (a power of two). */
export interface RingSide {
  readonly hdr: Int32Array;
  readonly bytes: Uint8Array;
  readonly consPos: BigUint64Array;
  readonly prodPos: BigUint64Array;
  readonly size: number;
}

/** Bytes of memory a queue of `size` data bytes (a power of two) takes. */
export const queueBytes = (size: number): number => QUEUE_HEAD + 2 * size;

/** The queue's views over its memory (queueBytes(size) bytes: positions, `size` bytes of data, mirrored). */
export function queueViews(buf: ArrayBufferLike, size: number): RingSide & { data: DataView } {
  return {
    consPos: new BigUint64Array(buf, 0, 1),
    prodPos: new BigUint64Array(buf, 8, 1),
    hdr: new Int32Array(buf, QUEUE_HEAD, (2 * size) / 4),
    bytes: new Uint8Array(buf, QUEUE_HEAD, 2 * size),
    data: new DataView(buf, QUEUE_HEAD, 2 * size),
    size,
  };
}

/** Write `src` at `x` (< size) of a mirrored area: both copies of every byte. */
function put(q: RingSide, x: number, src: Uint8Array): void {
  const size = q.size;
  const n = src.length;
  q.bytes.set(src, x);
  const m = x + size;
  q.bytes.set(n <= size - x ? src : src.subarray(0, size - x), m);
  if (x + n > size) q.bytes.set(src.subarray(size - x), 0);
}

export interface RelayResult {
  /** Records moved into the queue (DISCARD ones not counted). */
  moved: number;
  /** Committed records left in the ring because the queue had no room for the next one. */
  blocked: boolean;
  /** Bytes in use in the ring before the move. */
  used: number;
}

/** x86 loads are not reordered with other loads (see ringbuf.ts): plain header loads there. */
const PLAIN_LOADS = process.arch === 'x64';

/**
 * Move the committed records of `ring` (up to the first BUSY one) into `q`, in order, while `q`
 * has room: the headers are walked to find where that ends, then the bytes go over in one piece
 * (DISCARD records too: the reader skips them as it does in the kernel's ring). The ring's
 * consumer position advances once past what was moved, the queue's producer position once,
 * after the bytes.
 */
export function relayRecords(ring: RingSide, q: RingSide): RelayResult {
  const cons = Number(Atomics.load(ring.consPos, 0));
  const prod = Number(Atomics.load(ring.prodPos, 0));
  const used = prod - cons;
  if (used <= 0) return { moved: 0, blocked: false, used: 0 };
  const qprod = Number(Atomics.load(q.prodPos, 0));
  const room = q.size - (qprod - Number(Atomics.load(q.consPos, 0)));
  const hdr = ring.hdr;
  const start = cons & (ring.size - 1);
  const end = start + used;
  let off = start;
  let moved = 0;
  let blocked = false;
  while (off < end) {
    const len = PLAIN_LOADS ? hdr[off >> 2]! : Atomics.load(hdr, off >> 2);
    if (len & BUSY) break;
    const step = ((len & LEN_MASK) + HDR + 7) & ~7;
    if (off + step - start > room) {
      blocked = true;
      break;
    }
    if ((len & DISCARD) === 0) moved++;
    off += step;
  }
  if (off === start) return { moved, blocked, used };
  put(q, qprod & (q.size - 1), ring.bytes.subarray(start, off));
  Atomics.store(q.prodPos, 0, BigInt(qprod + (off - start)));
  Atomics.store(ring.consPos, 0, BigInt(cons + (off - start)));
  return { moved, blocked, used };
}
