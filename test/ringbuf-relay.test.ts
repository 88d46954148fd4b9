// The drain thread's copy (src/ringbuf/relay-copy.ts) on the fake backend's ring memory: records
// move in order with their headers into a queue in the ring's own layout (the data area written
// twice, so a record wrapping at the queue's end reads contiguously as in the kernel's double
// mapping), BUSY stops the move, DISCARD records are left for the reader to skip, and a full queue leaves the rest in
// the ring (bounded memory: the kernel's ring then fills and drops, as without the thread). The
// thread itself (relay-worker.ts) needs the native backend: test/kernel/run.test.ts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BpfMap } from '../src/maps/map.js';
import { queueBytes, queueViews, relayRecords, type RingSide } from '../src/ringbuf/relay-copy.js';
import { PROT_READ, PROT_WRITE, useBackend } from '../src/syscall/backend.js';
import { MapType } from '../src/syscall/constants.js';
import { FakeBackend } from '../src/syscall/fake.js';
import { Mapping } from '../src/syscall/mapping.js';

const PAGE = 4096;
const fake = new FakeBackend(2);
let restore: () => void;
beforeAll(() => {
  restore = useBackend(fake);
});
afterAll(() => restore());

const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i + 1) & 0xff);

/** A fake ring buffer map seen as the drain thread maps it, and its producer. */
function openRing(size = PAGE) {
  const m = BpfMap.create({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: size, name: 'rb' });
  const cons = Mapping.shared(PAGE, PROT_READ | PROT_WRITE, m.fd.value, 0, 'cons');
  const prod = Mapping.shared(PAGE + 2 * size, PROT_READ, m.fd.value, PAGE, 'data');
  const ring: RingSide = {
    consPos: new BigUint64Array(cons.buffer, 0, 1),
    prodPos: new BigUint64Array(prod.buffer, 0, 1),
    hdr: new Int32Array(prod.buffer, PAGE, (2 * size) / 4),
    bytes: new Uint8Array(prod.buffer, PAGE, 2 * size),
    size,
  };
  return {
    ring,
    producer: fake.ring(m.fd.value),
    [Symbol.dispose]() {
      cons.close();
      prod.close();
      m.close();
    },
  };
}

/** A queue over plain memory (the thread's is anonymous shared memory, the same layout). */
const newQueue = (size: number) => queueViews(new ArrayBuffer(queueBytes(size)), size);

/** What a reader of the queue sees, walking it as RingBufReader walks a ring: payloads in order; the consumer position advances. */
function readQueue(q: ReturnType<typeof queueViews>): Uint8Array[] {
  const out: Uint8Array[] = [];
  let cons = Number(q.consPos[0]);
  const prod = Number(q.prodPos[0]);
  // From cons & mask on, every byte up to prod is contiguous (the mirrored area).
  let off = cons & (q.size - 1);
  const end = off + (prod - cons);
  while (off < end) {
    const h = q.data.getUint32(off, true);
    // Never BUSY: only committed records are moved. DISCARD ones are skipped, as the reader skips them.
    expect(h & 0x80000000).toBe(0);
    const len = h & 0x3fffffff;
    if ((h & 0x40000000) === 0) out.push(q.bytes.slice(off + 8, off + 8 + len));
    const step = (len + 15) & ~7;
    off += step;
    cons += step;
  }
  q.consPos[0] = BigInt(cons);
  return out;
}

describe('drain thread queue (relay-copy)', () => {
  it('moves committed records in order with their headers and releases the ring once', () => {
    using t = openRing();
    const q = newQueue(2 * PAGE);
    const sizes = [1, 8, 13, 0, 100];
    for (const [i, n] of sizes.entries()) expect(t.producer.output(bytes(n, i))).toBe(true);
    const r = relayRecords(t.ring, q);
    expect(r).toEqual({ moved: 5, blocked: false, used: 16 + 16 + 24 + 8 + 112 });
    expect(t.producer.consumerPos).toBe(t.producer.producerPos);
    expect(Number(q.prodPos[0])).toBe(176);
    expect(readQueue(q)).toEqual(sizes.map((n, i) => bytes(n, i)));
    // Nothing new: nothing moves, no position changes.
    expect(relayRecords(t.ring, q)).toEqual({ moved: 0, blocked: false, used: 0 });
  });

  it('stops at a BUSY record; DISCARD ones go over marked, as the reader skips them in a ring', () => {
    using t = openRing();
    const q = newQueue(2 * PAGE);
    expect(t.producer.output(bytes(10, 1))).toBe(true);
    const dropped = t.producer.reserve(20)!;
    t.producer.discard(dropped);
    expect(t.producer.output(bytes(30, 2))).toBe(true);
    const busy = t.producer.reserve(40)!;
    expect(t.producer.output(bytes(50, 3))).toBe(true);
    expect(relayRecords(t.ring, q).moved).toBe(2);
    // The ring is released up to the BUSY record, not past it.
    expect(t.producer.consumerPos).toBe(busy);
    expect(readQueue(q)).toEqual([bytes(10, 1), bytes(30, 2)]);
    t.producer.write(busy + 8, bytes(40, 4));
    t.producer.submit(busy);
    expect(relayRecords(t.ring, q).moved).toBe(2);
    expect(readQueue(q)).toEqual([bytes(40, 4), bytes(50, 3)]);
    expect(t.producer.consumerPos).toBe(t.producer.producerPos);
  });

  it('writes both copies of the data area, so records wrapping at the queue end read contiguously', () => {
    using t = openRing();
    const qsize = 2 * PAGE;
    const q = newQueue(qsize);
    const got: Uint8Array[] = [];
    const want: Uint8Array[] = [];
    // 200-byte steps never divide 8 KiB: records straddle the queue's end at several offsets.
    for (let i = 0; i < 200; i++) {
      const b = bytes(192, i);
      want.push(b);
      expect(t.producer.output(b)).toBe(true);
      if (i % 7 === 6) {
        expect(relayRecords(t.ring, q).blocked).toBe(false);
        got.push(...readQueue(q));
      }
    }
    relayRecords(t.ring, q);
    got.push(...readQueue(q));
    expect(got).toEqual(want);
    expect(q.bytes.subarray(0, qsize)).toEqual(q.bytes.subarray(qsize));
  });

  it('a full queue leaves the rest in the ring (bounded: nothing is held past the queue) and moves it once there is room', () => {
    using t = openRing();
    const qsize = 2 * PAGE;
    const q = newQueue(qsize);
    // 3 KiB of records at a time into the 4 KiB ring, 8 KiB of queue, no reader for a while.
    let made = 0;
    const want: Uint8Array[] = [];
    let blocked = false;
    for (let round = 0; round < 6; round++) {
      for (let i = 0; i < 12; i++) {
        const b = bytes(248, made);
        if (!t.producer.output(b)) break;
        want.push(b);
        made++;
      }
      const r = relayRecords(t.ring, q);
      blocked ||= r.blocked;
      expect(Number(q.prodPos[0]) - Number(q.consPos[0])).toBeLessThanOrEqual(qsize);
    }
    expect(blocked).toBe(true);
    // The queue is full and the ring holds what did not fit.
    expect(Number(q.prodPos[0]) - Number(q.consPos[0])).toBe(qsize);
    expect(t.producer.producerPos - t.producer.consumerPos).toBeGreaterThan(0);
    const got = readQueue(q);
    expect(relayRecords(t.ring, q).blocked).toBe(false);
    got.push(...readQueue(q));
    expect(got).toEqual(want);
  });
});
