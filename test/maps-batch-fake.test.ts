// The map call fast paths over the fake syscall backend: number keys of each width written
// without BigInt, exact-size byte keys and values handed over without a copy, and batch dumps
// (dumpFlat/dumpRaw/dump) across chunk boundaries, with ENOENT ending a batch part-way, ENOSPC
// from a bucket larger than the room left, a kernel that refuses the command, and a map that
// changes between the calls of one dump. The fake walks hash buckets as kernel/bpf/hashtab.c does.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Cmd } from '../src/syscall/bpf.js';
import { useBackend } from '../src/syscall/backend.js';
import { FakeBackend } from '../src/syscall/fake.js';
import { EINVAL } from '../src/syscall/errno.js';
import { parseObject } from '../src/loader/spec.js';
import { fitsNumberFast, writeNumber } from '../src/maps/bytes.js';
import { BpfMap } from '../src/maps/map.js';
import { MapType } from '../src/syscall/constants.js';
import { readFixture } from './helpers.js';

const fake = new FakeBackend(3);
let restore: () => void;
beforeAll(() => {
  restore = useBackend(fake);
});
afterAll(() => restore());
const defaultBatchBytes = BpfMap.batchBytes;
afterEach(() => {
  BpfMap.batchBytes = defaultBatchBytes;
  fake.batchBuckets = 256;
  fake.beforeCall = undefined;
  fake.refuse.clear();
});

const le = (size: number, v: bigint) => {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = Number((BigInt.asUintN(size * 8, v) >> BigInt(8 * i)) & 0xffn);
  return b;
};
const u32 = (b: Uint8Array) => new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true);
const key4 = (k: number) => le(4, BigInt(k));
const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
const batchCalls = () => fake.calls.filter((c) => c.cmd === Cmd.MAP_LOOKUP_BATCH).length;

/** The map's entries by GET_NEXT_KEY + lookup (the path every kernel has), as hex pairs. */
const byIteration = (m: BpfMap) => [...m.entriesRaw()].map(([k, v]) => [hexOf(k), hexOf(v)]).sort();
const flatPairs = (m: BpfMap) => {
  const f = m.dumpFlat();
  const out: string[][] = [];
  for (let i = 0; i < f.count; i++) out.push([hexOf(f.keys.subarray(i * m.keySize, (i + 1) * m.keySize)), hexOf(f.values.subarray(i * m.valueBufSize, (i + 1) * m.valueBufSize))]);
  return out;
};

describe('number keys without BigInt', () => {
  const samples = [0, 1, 127, 128, 255, 256, -1, -2, -128, -129, 0x1234, -0x1234, 0x7fffffff, -0x80000000, 0x80000001, 0xffffffff, 2 ** 32, 2 ** 32 + 5, -(2 ** 32) - 5, 2 ** 40 + 3, -(2 ** 40) - 3, 2 ** 52 + 1, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER];
  it('writeNumber gives the bytes BigInt.asUintN gives, for 1, 2, 4 and 8 bytes', () => {
    for (const size of [1, 2, 4, 8])
      for (const v of samples) {
        const out = new Uint8Array(size);
        expect(fitsNumberFast(v, size)).toBe(true);
        writeNumber(v, out, size);
        expect([...out], `size ${size} value ${v}`).toEqual([...le(size, BigInt(v))]);
      }
    // beyond 2^53 an 8-byte number is not exact: the fast path refuses it (the BigInt path takes it)
    expect(fitsNumberFast(2 ** 60, 8)).toBe(false);
    expect(fitsNumberFast(2 ** 60, 4)).toBe(true);
    expect(fitsNumberFast(1.5, 4)).toBe(false);
    expect(fitsNumberFast(NaN, 1)).toBe(false);
    expect(fitsNumberFast(5, 3)).toBe(false);
  });

  it('number keys of each width reach the same entries as their little-endian bytes', () => {
    for (const size of [1, 2, 4, 8]) {
      using m = BpfMap.create({ type: MapType.HASH, keySize: size, valueSize: 4, maxEntries: 64, name: `num${size}` });
      samples.forEach((k, i) => m.update(k, Uint8Array.of(i, 0, 0, 0)));
      for (const k of samples) {
        const last = samples.findLastIndex((x) => BigInt.asUintN(size * 8, BigInt(x)) === BigInt.asUintN(size * 8, BigInt(k)));
        expect(m.lookupRaw(le(size, BigInt(k)))?.[0], `size ${size} key ${k}`).toBe(last);
        expect((m.lookup(k) as Uint8Array)[0]).toBe(last);
      }
      // bigints and numbers past 2^53 take the BigInt path and agree with the bytes
      m.update(2n ** 60n + 7n, Uint8Array.of(99, 0, 0, 0));
      expect(m.lookupRaw(le(size, 2n ** 60n + 7n))?.[0]).toBe(99);
      expect((m.lookup(2 ** 60) as Uint8Array | undefined)?.[0]).toBe(m.lookupRaw(le(size, 2n ** 60n))?.[0]);
      expect(m.delete(0)).toBe(true);
      expect(m.delete(0)).toBe(false);
      expect(m.lookupRaw(le(size, 0n))).toBeUndefined();
      expect(() => m.lookup(1.5)).toThrow(/map 'num\d' key/);
    }
  });

  it('a map with a BTF key type keeps encoding numbers through its codec', () => {
    const spec = parseObject(readFixture('maps.bpfel.o'), { file: 'maps.o' });
    const s = spec.maps.find((x) => x.name === 'counts')!;
    using m = BpfMap.create({ type: s.type, keySize: s.keySize, valueSize: s.valueSize, maxEntries: s.maxEntries, name: s.name }, { btf: spec.btf, keyTypeId: s.keyTypeId, valueTypeId: s.valueTypeId });
    expect(() => m.lookup(5)).toThrow(/key/);
  });

  it('exact-size byte keys and values go to the kernel as they are; other sizes are refused', () => {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8, name: 'bytes' });
    const k = key4(7);
    const v = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
    m.update(k, v);
    v[0] = 42; // the kernel copied the value during the call: changing ours after changes nothing
    expect([...(m.lookup(k) as Uint8Array)]).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const got = m.lookup(7) as Uint8Array;
    got[1] = 0;
    expect((m.lookup(7) as Uint8Array)[1]).toBe(2); // a lookup returns a fresh copy
    expect(Object.getPrototypeOf(got)).toBe(Uint8Array.prototype);
    expect(() => m.update(k, new Uint8Array(4))).toThrow(/value: expected 8 bytes, got 4/);
    expect(() => m.update(new Uint8Array(5), v)).toThrow(/key: expected 4 bytes, got 5/);
    expect(m.delete(k)).toBe(true);
    expect(m.lookup(k)).toBeUndefined();
  });

  it('per-CPU maps still spread one byte value over every CPU', () => {
    using m = BpfMap.create({ type: MapType.PERCPU_HASH, keySize: 2, valueSize: 4, maxEntries: 4, name: 'pcb' });
    m.update(3, Uint8Array.of(5, 0, 0, 0));
    expect((m.lookup(3) as Uint8Array[]).map((b) => [...b])).toEqual([[5, 0, 0, 0], [5, 0, 0, 0], [5, 0, 0, 0]]);
  });
});

describe('batch dumps', () => {
  const filled = (n: number, name: string, type: number = MapType.HASH) => {
    const m = BpfMap.create({ type, keySize: 4, valueSize: 8, maxEntries: Math.max(n, 1), name });
    for (let k = 0; k < n; k++) m.update(k * 37, Uint8Array.of(k & 0xff, k >> 8, 0, 0, 0, 0, 0, 9));
    return m;
  };

  it('one call for a map that fits the chunk; every entry once, equal to key iteration', () => {
    using m = filled(500, 'whole');
    fake.calls = [];
    expect(flatPairs(m).sort()).toEqual(byIteration(m));
    expect(batchCalls()).toBe(1);
    const f = m.dumpFlat();
    expect(f.count).toBe(500);
    expect(f.keys.length).toBe(500 * 4);
    expect(f.values.length).toBe(500 * 8);
  });

  it('chunk boundaries: every chunk size from 1 to past the map gives the same entries', () => {
    using m = filled(70, 'chunks');
    const ref = byIteration(m);
    for (let chunk = 1; chunk <= 80; chunk++) {
      BpfMap.batchBytes = chunk * 12;
      fake.calls = [];
      const got = flatPairs(m);
      expect(got.length, `chunk ${chunk}`).toBe(70);
      expect(new Set(got.map((p) => p[0])).size).toBe(70);
      expect(got.sort(), `chunk ${chunk}`).toEqual(ref);
      // whole buckets per call, at least one entry per call: never more calls than entries (+ ENOSPC retries)
      expect(batchCalls()).toBeLessThanOrEqual(70 + 8);
      // dumpRaw's pairs are views of the same bytes, and dump() decodes the same entries
      const raw = m.dumpRaw().map(([k, v]) => [hexOf(k), hexOf(v)]);
      expect(raw.sort()).toEqual(ref);
      expect((m.dump() as [Uint8Array, Uint8Array][]).map(([k, v]) => [hexOf(k), hexOf(v)]).sort()).toEqual(ref);
    }
  });

  it('ENOENT part-way through a batch keeps that batch’s entries', () => {
    using m = filled(10, 'enoent');
    BpfMap.batchBytes = 4 * 12; // 10 entries in chunks of 4: the third call ends the walk with ENOENT and 2 entries
    fake.batchBuckets = 1000; // one entry per bucket
    fake.calls = [];
    expect(m.dumpFlat().count).toBe(10);
    expect(batchCalls()).toBe(3);
  });

  it('ENOSPC: a bucket larger than the chunk flushes what the chunk holds, or doubles an empty chunk', () => {
    using m = filled(40, 'enospc');
    const ref = byIteration(m);
    fake.batchBuckets = 1; // every entry in one bucket: only a 40-entry call can take it
    BpfMap.batchBytes = 12;
    fake.calls = [];
    expect(flatPairs(m).sort()).toEqual(ref);
    // chunks of 1, 2, 4, 8, 16, 32 are refused, 64 takes the bucket
    expect(batchCalls()).toBe(7);
    fake.batchBuckets = 4; // buckets of 10: chunk 12 fills with one bucket, flushes at the next
    BpfMap.batchBytes = 12 * 12;
    expect(flatPairs(m).sort()).toEqual(ref);
  });

  it('an empty map, an array map, a per-CPU map', () => {
    using e = filled(0, 'empty');
    expect(e.dumpFlat().count).toBe(0);
    expect(e.dump()).toEqual([]);
    using a = BpfMap.create({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 9, name: 'arr' });
    a.update(3, Uint8Array.of(3, 0, 0, 0));
    BpfMap.batchBytes = 2 * 8;
    const d = a.dump() as [Uint8Array, Uint8Array][];
    expect(d.map(([k, v]) => [u32(k), v[0]])).toEqual([[0, 0], [1, 0], [2, 0], [3, 3], [4, 0], [5, 0], [6, 0], [7, 0], [8, 0]]);
    using p = BpfMap.create({ type: MapType.PERCPU_HASH, keySize: 4, valueSize: 4, maxEntries: 8, name: 'pcd' });
    p.update(1, [Uint8Array.of(1, 0, 0, 0), Uint8Array.of(2, 0, 0, 0), Uint8Array.of(3, 0, 0, 0)]);
    p.update(2, Uint8Array.of(7, 0, 0, 0));
    expect(p.valueBufSize).toBe(24);
    const pd = (p.dump() as [Uint8Array, Uint8Array[]][]).map(([k, v]) => [u32(k), v.map((x) => x[0])]).sort();
    expect(pd).toEqual([[1, [1, 2, 3]], [2, [7, 7, 7]]]);
    expect(pd).toEqual([...p.entries()].map(([k, v]) => [u32(k as Uint8Array), (v as Uint8Array[]).map((x) => x[0])]).sort());
  });

  it('values decoded through BTF straight from the batch buffer equal entries()', () => {
    const spec = parseObject(readFixture('maps.bpfel.o'), { file: 'maps.o' });
    const s = spec.maps.find((x) => x.name === 'counts')!;
    using m = BpfMap.create({ type: s.type, keySize: s.keySize, valueSize: s.valueSize, maxEntries: s.maxEntries, name: s.name }, { btf: spec.btf, keyTypeId: s.keyTypeId, valueTypeId: s.valueTypeId });
    for (let i = 0; i < 30; i++) m.update({ pid: i * 3, comm: `c${i}` }, BigInt(i) * 1000n);
    BpfMap.batchBytes = 7 * (s.keySize + s.valueSize);
    const byKey = (x: [unknown, unknown][]) => x.map((e) => JSON.stringify(e, (_k, v) => (typeof v === 'bigint' ? `${v}n` : v))).sort();
    expect(byKey(m.dump())).toEqual(byKey([...m.entries()]));
    expect(m.dump().length).toBe(30);
  });

  it('a kernel that refuses BPF_MAP_LOOKUP_BATCH: the same entries by key iteration', () => {
    using m = filled(150, 'refused');
    const ref = byIteration(m);
    fake.refuse.set(Cmd.MAP_LOOKUP_BATCH, EINVAL);
    fake.calls = [];
    expect(flatPairs(m).sort()).toEqual(ref);
    expect(batchCalls()).toBe(1);
    expect(fake.calls.filter((c) => c.cmd === Cmd.MAP_GET_NEXT_KEY).length).toBe(151);
  });

  it('a map changing between the calls of a dump: entries present throughout appear exactly once', () => {
    using m = filled(200, 'changing');
    const before = new Set(byIteration(m).map((p) => p[0]));
    BpfMap.batchBytes = 10 * 12;
    fake.batchBuckets = 64;
    let calls = 0;
    const deleted = new Set<string>();
    const added = new Set<string>();
    const hook = (cmd: number) => {
      if (cmd !== Cmd.MAP_LOOKUP_BATCH) return;
      calls++;
      // each call deletes two keys and adds one (through the fake's element command, as a program would)
      fake.beforeCall = undefined;
      for (const k of [...before].filter((h) => !deleted.has(h)).slice(calls * 3, calls * 3 + 2)) {
        m.delete(Buffer.from(k, 'hex'));
        deleted.add(k);
      }
      const nk = key4(100000 + calls);
      m.update(nk, new Uint8Array(8));
      added.add(hexOf(nk));
      fake.beforeCall = hook;
    };
    fake.beforeCall = hook;
    const f = flatPairs(m).map((p) => p[0]!);
    fake.beforeCall = undefined;
    expect(calls).toBeGreaterThan(1);
    expect(new Set(f).size).toBe(f.length); // no entry twice
    for (const k of before) if (!deleted.has(k)) expect(f).toContain(k); // none present throughout lost
    for (const k of f) expect(before.has(k) || added.has(k)).toBe(true); // nothing invented
  });
});
