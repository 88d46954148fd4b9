// The ring and perf buffer readers walking the fake backend's memory (src/syscall/fake-memory.ts):
// records written with the kernel's layout (bpf_ringbuf_hdr, BUSY/DISCARD bits, 8-byte steps,
// the data area seen twice; perf_event_mmap_page, SAMPLE/LOST records), so the walk is checked
// without a kernel, including what a kernel run cannot arrange on demand (a record wrapping at an
// exact place, a record left BUSY, a corrupt length).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseObject } from '../src/loader/spec.js';
import { BpfMap } from '../src/maps/map.js';
import { PerfBufReader, type PerfEvent } from '../src/ringbuf/perfbuf.js';
import { RingBufReader } from '../src/ringbuf/ringbuf.js';
import { MAP_SHARED, PROT_READ, PROT_WRITE, useBackend } from '../src/syscall/backend.js';
import { MapType } from '../src/syscall/constants.js';
import { BpfError } from '../src/syscall/errno.js';
import { FakeBackend } from '../src/syscall/fake.js';
import { BPF_RINGBUF_BUSY_BIT, PERF_RECORD_LOST, PERF_RECORD_SAMPLE } from '../src/syscall/fake-memory.js';
import { Fd } from '../src/syscall/fd.js';
import { Mapping } from '../src/syscall/mapping.js';
import { readFixture } from './helpers.js';

const PAGE = 4096;
const fake = new FakeBackend(2);
let restore: () => void;
beforeAll(() => {
  restore = useBackend(fake);
});
afterAll(() => restore());

const ringMap = (size = PAGE, name = 'rb') => BpfMap.create({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: size, name });
const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (seed * 31 + i) & 0xff);
/** A ring buffer map, a reader on it and the fake's producer for it; disposing closes both. */
function openRing(size = PAGE) {
  const m = ringMap(size);
  const r = new RingBufReader(m);
  return {
    m,
    r,
    ring: fake.ring(m.fd.value),
    [Symbol.dispose]() {
      r.close();
      m.close();
    },
  };
}
/** Every record consumeRaw hands over, copied: [offset in the view, bytes]. */
function drainAll(r: RingBufReader, max?: number): [number, Uint8Array][] {
  const out: [number, Uint8Array][] = [];
  r.consumeRaw((v, off, len) => out.push([off, new Uint8Array(v.buffer.slice(v.byteOffset + off, v.byteOffset + off + len))]), max);
  return out;
}

describe('ring buffer reader over the fake ring', () => {
  it('maps the consumer page read-write and the producer page + data area twice read-only, as the kernel allows', () => {
    using m = ringMap(2 * PAGE);
    const from = fake.memory.calls.length;
    const live = fake.memory.size;
    using r = new RingBufReader(m);
    expect(fake.memory.calls.slice(from).map(({ length, prot, flags, fd, offset }) => ({ length, prot, flags, fd, offset }))).toEqual([
      { length: PAGE, prot: PROT_READ | PROT_WRITE, flags: MAP_SHARED, fd: m.fd.value, offset: 0 },
      { length: PAGE + 4 * PAGE, prot: PROT_READ, flags: MAP_SHARED, fd: m.fd.value, offset: PAGE },
    ]);
    expect(fake.memory.size).toBe(live + 2);
    expect(r.data.byteLength).toBe(4 * PAGE);
    // The kernel refuses a writable mapping of anything but the consumer page.
    expect(() => Mapping.shared(PAGE + 4 * PAGE, PROT_READ | PROT_WRITE, m.fd.value, PAGE, 'data rw')).toThrow(BpfError);
    expect(() => Mapping.shared(PAGE + 4 * PAGE, PROT_READ | PROT_WRITE, m.fd.value, PAGE, 'data rw')).toThrow(/mmap: EPERM/);
  });

  it('delivers committed records in order, each at header + 8, and moves consumer_pos by 8-byte-rounded steps', () => {
    using t = openRing();
    const { r, ring } = t;
    const sizes = [1, 8, 13, 0, 100];
    for (const [i, n] of sizes.entries()) expect(ring.output(bytes(n, i))).toBe(true);
    expect(r.available()).toBe(16 + 16 + 24 + 8 + 112);
    const got = drainAll(r);
    expect(got.map(([off]) => off)).toEqual([8, 24, 40, 64, 72]);
    expect(got.map(([, b]) => b)).toEqual(sizes.map((n, i) => bytes(n, i)));
    expect(ring.consumerPos).toBe(176);
    expect(ring.consumerPos).toBe(ring.producerPos);
    expect(r.available()).toBe(0);
    expect(r.delivered).toBe(5);
    expect(drainAll(r)).toEqual([]);
  });

  it('a record that wraps at the end of the data area is contiguous in the double-mapped view', () => {
    using t = openRing();
    const { r, ring } = t;
    // Four 1000-byte records (1008-byte steps) end at 4032: the fifth's header sits 64 bytes
    // before the end and its payload runs 936 bytes past it.
    for (let i = 0; i < 4; i++) ring.output(bytes(1000, i));
    expect(drainAll(r)).toHaveLength(4);
    expect(ring.output(bytes(1000, 9))).toBe(true);
    const [[off, b]] = drainAll(r) as [[number, Uint8Array]];
    expect(off).toBe(4040);
    expect(off + 1000).toBeGreaterThan(PAGE);
    expect(b).toEqual(bytes(1000, 9));
    expect(ring.consumerPos).toBe(5040);
    // The walk goes on from the wrapped position (offsets back in the first copy).
    ring.output(bytes(5, 1));
    expect(drainAll(r)).toEqual([[5040 - PAGE + 8, bytes(5, 1)]]);
    // Many laps: a record at every alignment against the end.
    for (let lap = 0; lap < 200; lap++) {
      const n = 1 + ((lap * 37) % 600);
      expect(ring.output(bytes(n, lap))).toBe(true);
      const got = drainAll(r);
      expect(got).toHaveLength(1);
      expect(got[0]![1]).toEqual(bytes(n, lap));
    }
    expect(ring.consumerPos).toBe(ring.producerPos);
  });

  it('skips discarded records (not delivered, not counted) and still consumes their space', () => {
    using t = openRing();
    const { r, ring } = t;
    ring.output(bytes(4, 1));
    const d = ring.reserve(40)!;
    ring.discard(d);
    ring.output(bytes(4, 2));
    expect(drainAll(r).map(([, b]) => b)).toEqual([bytes(4, 1), bytes(4, 2)]);
    expect(r.delivered).toBe(2);
    expect(ring.consumerPos).toBe(16 + 48 + 16);
  });

  it('stops at a BUSY (reserved, uncommitted) record: nothing after it is delivered or consumed until it is submitted', () => {
    using t = openRing();
    const { r, ring } = t;
    ring.output(bytes(4, 1));
    const busy = ring.reserve(12)!;
    ring.output(bytes(4, 3));
    expect(drainAll(r).map(([, b]) => b)).toEqual([bytes(4, 1)]);
    expect(ring.consumerPos).toBe(16);
    expect(drainAll(r)).toEqual([]);
    expect(ring.consumerPos).toBe(16);
    ring.write(busy + 8, bytes(12, 2));
    ring.submit(busy);
    expect(drainAll(r).map(([, b]) => b)).toEqual([bytes(12, 2), bytes(4, 3)]);
    expect(ring.consumerPos).toBe(ring.producerPos);
  });

  it('a BUSY record after a committed and a discarded one of the same length: the length guess never skips the BUSY bit', () => {
    using t = openRing();
    const { r, ring } = t;
    ring.output(bytes(16, 1));
    ring.discard(ring.reserve(16)!);
    ring.output(bytes(16, 2));
    const busy = ring.reserve(16)!;
    expect(drainAll(r).map(([, b]) => b)).toEqual([bytes(16, 1), bytes(16, 2)]);
    expect(ring.consumerPos).toBe(busy);
    ring.submit(busy);
    expect(drainAll(r)).toHaveLength(1);
  });

  it('mixed lengths over many laps of the ring end, with discards and BUSY records: both segment loops and consumeBatch deliver every record once, in order, at its place', () => {
    // 64 KiB ring, ~40 KiB per drain: 16 KiB segments of irregular lengths switch the walk to its
    // unpredicted loop; runs of one length in between take the predicted one again.
    const size = 16 * PAGE;
    using t = openRing(size);
    const { r, ring } = t;
    let seed = 12345;
    const rand = (n: number) => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 8) % n;
    type Rec = { pos: number; data: Uint8Array };
    let got: [number, Uint8Array][] = [];
    const take = (v: DataView, off: number, len: number) => got.push([off, new Uint8Array(v.buffer.slice(v.byteOffset + off, v.byteOffset + off + len))]);
    const takeBatch = (v: DataView, offs: Int32Array, lens: Int32Array, k: number) => {
      for (let i = 0; i < k; i++) take(v, offs[i]!, lens[i]!);
    };
    let i = 0;
    for (let lap = 0; lap < 60; lap++) {
      const fixed = lap % 20 >= 14 ? 8 + (lap % 3) * 24 : -1;
      const want: Rec[] = [];
      let busy: { pos: number; data: Uint8Array } | undefined;
      const start = ring.producerPos;
      while (ring.producerPos - start < 40000) {
        const len = fixed >= 0 ? fixed : rand(101);
        const data = bytes(len, i++);
        const pos = ring.reserve(len)!;
        ring.write(pos + 8, data);
        if (fixed < 0 && rand(13) === 0) ring.discard(pos);
        else {
          ring.submit(pos);
          want.push({ pos, data });
        }
      }
      // Every fifth lap ends with a BUSY record and more committed ones behind it.
      if (lap % 5 === 2) {
        const data = bytes(24, i++);
        busy = { pos: ring.reserve(24)!, data };
        ring.write(busy.pos + 8, data);
        ring.output(bytes(8, i++));
      }
      got = [];
      const n = lap % 2 ? r.consumeBatch(takeBatch) : r.consumeRaw(take);
      expect(n).toBe(want.length);
      // The bytes of each, and each at its header + 8 in the first or the second copy of the data area.
      const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
      expect(got.map(([, b]) => hex(b)).join()).toBe(want.map((w) => hex(w.data)).join());
      expect(got.map(([off]) => off % size).join()).toBe(want.map((w) => (w.pos + 8) % size).join());
      expect(ring.consumerPos).toBe(busy ? busy.pos : ring.producerPos);
      if (busy) {
        ring.submit(busy.pos);
        got = [];
        expect(r.consumeRaw(take)).toBe(2);
        expect(got[0]![1]).toEqual(busy.data);
        expect(ring.consumerPos).toBe(ring.producerPos);
      }
    }
  });

  it('max bounds one call, and consumer_pos covers only what was handed over', () => {
    using t = openRing();
    const { r, ring } = t;
    for (let i = 0; i < 5; i++) ring.output(bytes(8, i));
    expect(drainAll(r, 2).map(([, b]) => b)).toEqual([bytes(8, 0), bytes(8, 1)]);
    expect(ring.consumerPos).toBe(32);
    expect(drainAll(r).map(([, b]) => b)).toEqual([2, 3, 4].map((i) => bytes(8, i)));
  });

  it('max cuts the walk at exactly max records whatever the sizes (the walk cuts segments, not records), with zero-length and discarded records among them', () => {
    using t = openRing(16 * PAGE);
    const { r, ring } = t;
    // Runs of one size (the predicted loop) and irregular sizes (it switches to the unpredicted
    // one), zero-length records, and discards of the size just delivered (same length bits).
    const want: Uint8Array[] = [];
    for (let i = 0; i < 300; i++) {
      const len = i < 80 ? 16 : i < 180 ? [0, 40, 3, 64, 24][(i * 7) % 5]! : i < 220 ? 0 : 8;
      if (i % 37 === 5) {
        const pos = ring.reserve(len)!;
        ring.discard(pos);
      }
      ring.output(bytes(len, i));
      want.push(bytes(len, i));
    }
    // One callback for every call (a fresh arrow would compile a walk per call).
    let part: Uint8Array[] = [];
    const take = (v: DataView, off: number, len: number) => part.push(new Uint8Array(v.buffer.slice(v.byteOffset + off, v.byteOffset + off + len)));
    for (const max of [1, 7, 256, 1000]) {
      const got: Uint8Array[] = [];
      let calls = 0;
      for (;;) {
        part = [];
        expect(r.consumeRaw(take, max)).toBe(part.length);
        if (part.length === 0) break;
        expect(part.length).toBe(Math.min(max, want.length - got.length));
        got.push(...part);
        calls++;
      }
      expect(got).toEqual(want);
      expect(calls).toBe(Math.ceil(want.length / max));
      expect(ring.consumerPos).toBe(ring.producerPos);
      for (let i = 0; i < want.length; i++) ring.output(want[i]!);
    }
  });

  it('a close from a callback of a walk started inside another walk stops both: neither touches the ring again', () => {
    using t = openRing();
    const { r, ring } = t;
    for (let i = 0; i < 6; i++) ring.output(bytes(8, i));
    let outer = 0;
    let inner = 0;
    const innerFn = () => {
      inner++;
      r.close();
    };
    expect(
      r.consumeRaw(() => {
        outer++;
        r.consumeRaw(innerFn);
      }),
    ).toBe(1);
    expect([outer, inner]).toEqual([1, 1]);
    expect(ring.consumerPos).toBe(0);
  });

  it('a close from inside a consumeBatch callback stops the walk at once', () => {
    using t = openRing(16 * PAGE);
    const { r, ring } = t;
    for (let i = 0; i < 600; i++) ring.output(bytes(8, i));
    const counts: number[] = [];
    expect(
      r.consumeBatch((_v, _o, _l, k) => {
        counts.push(k);
        r.close();
      }),
    ).toBe(256);
    expect(counts).toEqual([256]);
    expect(ring.consumerPos).toBe(0);
  });

  it('a full ring: the producer is refused (the kernel drops the record), the reader counts fullSeen, and space comes back once consumed', () => {
    using t = openRing();
    const { r, ring } = t;
    let made = 0;
    while (ring.output(bytes(56, made))) made++;
    // 64-byte steps: the kernel keeps producer - consumer <= size - 1, so 63 fit, not 64.
    expect(made).toBe(63);
    expect(ring.reserve(PAGE)).toBeUndefined(); // a record larger than the ring never fits
    r.drain(); // no handler: only the full check
    expect(r.fullSeen).toBe(0); // 64 bytes free: more records would fit
    expect(ring.output(bytes(48, 0))).toBe(true); // 8 bytes free: under the 16-byte margin
    expect(ring.output(new Uint8Array(0))).toBe(false);
    r.drain();
    expect(r.fullSeen).toBe(1);
    expect(drainAll(r)).toHaveLength(64);
    expect(ring.output(bytes(56, 0))).toBe(true);
  });

  it('consumeBatch hands over up to 256 records per call, with their offsets and lengths', () => {
    using t = openRing(16 * PAGE);
    const { r, ring } = t;
    for (let i = 0; i < 600; i++) ring.output(bytes(1 + (i % 50), i));
    const counts: number[] = [];
    const seen: Uint8Array[] = [];
    const fn = (v: DataView, offs: Int32Array, lens: Int32Array, k: number) => {
      counts.push(k);
      for (let i = 0; i < k; i++) seen.push(new Uint8Array(v.buffer.slice(v.byteOffset + offs[i]!, v.byteOffset + offs[i]! + lens[i]!)));
    };
    expect(r.consumeBatch(fn)).toBe(600);
    expect(counts).toEqual([256, 256, 88]);
    expect(seen).toEqual(Array.from({ length: 600 }, (_, i) => bytes(1 + (i % 50), i)));
    expect(ring.consumerPos).toBe(ring.producerPos);
  });

  it('consume decodes records by the map value type (BTF)', () => {
    const spec = parseObject(readFixture('ringbuf.bpfel.o'), { file: 'ringbuf.o' });
    const s = spec.maps.find((x) => x.name === 'events')!;
    using m = BpfMap.create({ type: MapType.RINGBUF, keySize: 0, valueSize: 0, maxEntries: PAGE, name: 'events' }, { btf: spec.btf, valueTypeId: s.valueTypeId });
    using r = new RingBufReader(m);
    const ring = fake.ring(m.fd.value);
    // struct event { u32 pid; u8 kind; u64 seq; char comm[16]; bool flag; s16 delta; }: 40 bytes.
    const ev = new Uint8Array(40);
    const dv = new DataView(ev.buffer);
    dv.setUint32(0, 4242, true);
    ev[4] = 7;
    dv.setBigUint64(8, 99n, true);
    ev.set(Buffer.from('fake-comm'), 16);
    ev[32] = 1;
    dv.setInt16(34, -5, true);
    ring.output(ev);
    const got: unknown[] = [];
    expect(r.consume((x) => got.push(x))).toBe(1);
    expect(got).toEqual([{ pid: 4242, kind: 7, seq: 99n, comm: 'fake-comm', flag: true, delta: -5 }]);
  });

  it('a close from inside the callback stops the walk at once and leaves that batch unconsumed', () => {
    using m = ringMap();
    const r = new RingBufReader(m);
    const ring = fake.ring(m.fd.value);
    for (let i = 0; i < 3; i++) ring.output(bytes(8, i));
    let calls = 0;
    expect(
      r.consumeRaw(() => {
        calls++;
        r.close();
      }),
    ).toBe(1);
    expect(calls).toBe(1);
    expect(ring.consumerPos).toBe(0);
    expect(r.consumeRaw(() => calls++)).toBe(0);
  });

  it('after close, views the caller kept read zeros; the ring keeps its records for the next reader', () => {
    using m = ringMap();
    const r = new RingBufReader(m);
    const ring = fake.ring(m.fd.value);
    ring.output(Uint8Array.from([1, 2, 3, 4]));
    const kept = r.data;
    expect(kept.getUint32(8, true)).toBe(0x04030201);
    r.close();
    expect(kept.getUint32(8, true)).toBe(0);
    expect(kept.getUint32(0, true)).toBe(0);
    expect(r.consumeRaw(() => {})).toBe(0);
    expect(r.available()).toBe(0);
    using again = new RingBufReader(m);
    expect(drainAll(again).map(([, b]) => [...b])).toEqual([[1, 2, 3, 4]]);
  });

  it('refuses maps that are not ring buffers, and the fake refuses ring sizes the kernel refuses', () => {
    using h = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 4, name: 'h' });
    expect(() => new RingBufReader(h)).toThrow(/map 'h' is hash, not a ring buffer/);
    expect(() => ringMap(3 * PAGE)).toThrow(/EINVAL/);
    expect(() => ringMap(PAGE / 2)).toThrow(/EINVAL/);
    expect(() => BpfMap.create({ type: MapType.RINGBUF, keySize: 4, valueSize: 0, maxEntries: PAGE })).toThrow(/EINVAL/);
  });
});

describe('a corrupt record length (the kernel never writes one; the data pages are read-only to us)', () => {
  it('is handed over with the header\'s length and consumed by it, as libbpf\'s ringbuf_process_ring does: the ring is dead afterwards', () => {
    for (const bad of [100, 4096, 0x3fffffff]) {
      using m = ringMap();
      using r = new RingBufReader(m);
      const ring = fake.ring(m.fd.value);
      ring.output(bytes(8, 1));
      const p = ring.reserve(8)!;
      ring.submit(p);
      ring.writeHeader(p, bad);
      ring.output(bytes(8, 3));
      const got: [number, number][] = [];
      expect(r.consumeRaw((_v, off, len) => got.push([off, len]))).toBe(2);
      // The record before it intact; the corrupt one at its place with the length its header claims
      // (past what was committed; for 0x3fffffff past the view too: a read there throws RangeError).
      expect(got).toEqual([[8, 8], [24, bad]]);
      expect(ring.consumerPos).toBe(16 + ((bad + 15) & ~7));
      expect(ring.consumerPos).toBeGreaterThan(ring.producerPos);
      // consumer_pos past producer_pos: the kernel's reserve sees a full ring from now on, and the reader sees nothing.
      expect(ring.output(bytes(8, 4))).toBe(false);
      expect(r.consumeRaw(() => {})).toBe(0);
      expect(r.available()).toBeLessThan(0);
    }
  });

  it('BUSY is honoured whatever the length bits say', () => {
    using t = openRing();
    const { r, ring } = t;
    const p = ring.reserve(8)!;
    ring.writeHeader(p, (BPF_RINGBUF_BUSY_BIT | 0x3fffffff) >>> 0);
    expect(drainAll(r)).toEqual([]);
    expect(ring.consumerPos).toBe(0);
  });
});

describe('perf buffer reader over fake perf events', () => {
  const perfMap = () => BpfMap.create({ type: MapType.PERF_EVENT_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, name: 'pe' });

  it('opens one BPF_OUTPUT event per CPU, stores its fd at key = cpu, enables it and maps 1 + pages pages', () => {
    using m = perfMap();
    const opens = fake.perfOpens.length;
    const maps = fake.memory.calls.length;
    using r = new PerfBufReader(m, { pages: 4 });
    const evs = fake.perfOpens.slice(opens);
    expect(evs.map((e) => e.cpu)).toEqual([0, 1]);
    for (const e of evs) {
      const a = new DataView(e.attr.buffer);
      expect(a.getUint32(0, true)).toBe(1); // PERF_TYPE_SOFTWARE
      expect(a.getBigUint64(8, true)).toBe(10n); // PERF_COUNT_SW_BPF_OUTPUT
      expect(a.getBigUint64(16, true)).toBe(1n); // sample_period
      expect(e.sampleType).toBe(1n << 10n); // PERF_SAMPLE_RAW
      expect(e.enabled).toBe(true);
    }
    const fds = [...fake.perfFds].filter(([, e]) => evs.includes(e)).map(([fd]) => fd);
    expect(fake.memory.calls.slice(maps).map((c) => [c.fd, c.length, c.prot])).toEqual(fds.map((fd) => [fd, 5 * PAGE, PROT_READ | PROT_WRITE]));
    expect(m.lookup(0)).toEqual(Uint8Array.from(Buffer.from(new Uint32Array([fds[0]!]).buffer)));
    r.close();
    for (const fd of fds) expect(fake.perfFds.has(fd)).toBe(false);
  });

  it('delivers samples of every CPU (the raw size as the kernel padded it), a sample that wraps reassembled, and LOST counts', () => {
    using m = perfMap();
    const opens = fake.perfOpens.length;
    using r = new PerfBufReader(m, { pages: 1 });
    const [cpu0, cpu1] = fake.perfOpens.slice(opens) as [NonNullable<(typeof fake.perfOpens)[0]>, NonNullable<(typeof fake.perfOpens)[0]>];
    expect(cpu0.sample(bytes(5, 1))).toBe(true);
    expect(cpu1.sample(bytes(12, 2))).toBe(true);
    const got: Uint8Array[] = [];
    const fn = (v: DataView, off: number, len: number) => got.push(new Uint8Array(v.buffer.slice(v.byteOffset + off, v.byteOffset + off + len)));
    expect(r.consumeRaw(fn)).toBe(2);
    // u32 size + raw is padded to 8 bytes: 5 → 12 (4 + 12 = 16), 12 → 12.
    expect(got.map((b) => b.length)).toEqual([12, 12]);
    expect(got[0]!.subarray(0, 5)).toEqual(bytes(5, 1));
    expect(got[1]).toEqual(bytes(12, 2));
    // 1000-byte samples (1016-byte records) in a 4096-byte ring: the fifth wraps.
    got.length = 0;
    for (let i = 0; i < 4; i++) expect(cpu0.sample(bytes(1004, i))).toBe(true);
    expect(r.consumeRaw(fn)).toBe(4);
    expect(cpu0.tail).toBe(cpu0.head);
    expect(cpu0.sample(bytes(1004, 9))).toBe(true);
    expect((cpu0.head - 1024) % PAGE).toBeGreaterThan(PAGE - 1024);
    got.length = 0;
    expect(r.consumeRaw(fn)).toBe(1);
    expect(got[0]).toEqual(bytes(1004, 9));
    // Fill cpu1's ring, drop three, consume, and the next sample comes after a LOST record of 3.
    let fit = 0;
    while (cpu1.sample(bytes(1004, fit))) fit++;
    expect(fit).toBe(4);
    expect(cpu1.sample(bytes(4, 0))).toBe(false);
    expect(cpu1.sample(bytes(4, 0))).toBe(false);
    expect(r.consumeRaw(() => {})).toBe(4);
    expect(cpu1.sample(bytes(4, 7))).toBe(true);
    expect(r.lost).toBe(0);
    const events: PerfEvent[] = [];
    r.eventHook = (e) => events.push(e);
    r.consumeRaw(() => {});
    expect(events.map((e) => [e.type, e.cpu, e.lost])).toEqual([
      [PERF_RECORD_LOST, 1, 3n],
      [PERF_RECORD_SAMPLE, 1, undefined],
    ]);
    expect(r.lost).toBe(3);
  });

  it('sampleTime: the u64 time before the raw bytes', () => {
    using m = perfMap();
    const opens = fake.perfOpens.length;
    using r = new PerfBufReader(m, { pages: 1, sampleTime: true });
    const cpu0 = fake.perfOpens[opens]!;
    expect(cpu0.sampleType).toBe((1n << 10n) | (1n << 2n));
    cpu0.sample(bytes(4, 3), 123456789n);
    const events: PerfEvent[] = [];
    r.eventHook = (e) => events.push(e);
    r.consumeRaw(() => {});
    expect(events).toEqual([{ type: PERF_RECORD_SAMPLE, cpu: 0, key: 0, size: 8 + 8 + 4 + 4, time: 123456789n, data: bytes(4, 3) }]);
  });

  it('pages must be a power of two; nothing is left open when it fails', () => {
    using m = perfMap();
    const before = Fd.open;
    expect(() => new PerfBufReader(m, { pages: 3 })).toThrow(/power of two/);
    expect(Fd.open).toBe(before);
  });
});
