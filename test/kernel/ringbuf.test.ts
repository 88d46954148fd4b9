import '../../src/syscall/native.js';
import { spawn } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { PerfBufReader } from '../../src/ringbuf/perfbuf.js';
import { Poller } from '../../src/ringbuf/poller.js';
import type { RecordReader } from '../../src/ringbuf/reader.js';
import { RingBufReader } from '../../src/ringbuf/ringbuf.js';
import { childBound, fixture, libEntry, needKernel, waitUntil } from '../helpers.js';
import { MapType } from '../../src/syscall/constants.js';
import { haveMapType } from '../../src/syscall/features.js';

const skip = needKernel();

/** struct req of ringbuf.c */
function produce(o: BpfObject, prog: string, n: number, size = 0, opts: { discardEvery?: number; flags?: number; seq?: bigint } = {}) {
  const req = Buffer.alloc(48);
  req.writeUInt32LE(n, 0);
  req.writeUInt32LE(size, 4);
  req.writeUInt32LE(opts.discardEvery ?? 0, 8);
  req.writeUInt32LE(opts.flags ?? 0, 12);
  req.writeBigUInt64LE(opts.seq ?? 0n, 16);
  o.program(prog).testRun({ ctxIn: req });
  return { seq: req.readBigUInt64LE(16), produced: Number(req.readBigUInt64LE(24)), dropped: Number(req.readBigUInt64LE(32)), discarded: Number(req.readBigUInt64LE(40)) };
}

describe.skipIf(skip ?? needKernel('5.8', 'BPF ring buffers', () => haveMapType(MapType.RINGBUF)))('ring buffer reader on the real kernel', () => {
  it('records of every size class arrive intact and in order', () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using r = new RingBufReader(o.map('rb'));
    const sizes = [8, 9, 12, 15, 16, 17, 31, 63, 64, 65, 100, 255, 256, 1000, 4000, 4096];
    let seq = 0n;
    for (const size of sizes) {
      const res = produce(o, 'produce', 3, size, { seq });
      expect(res.produced).toBe(3);
      const got: [bigint, number][] = [];
      r.consumeRaw((v, off, len) => got.push([v.getBigUint64(off, true), len]));
      expect(got).toEqual([0n, 1n, 2n].map((i) => [seq + i, size]));
      seq = res.seq;
    }
    expect(r.available()).toBe(0);
  });

  it('consumeBatch hands over records in order, in batches, before committing them', () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using r = new RingBufReader(o.map('rb'));
    const res = produce(o, 'produce', 3000, 8);
    expect(res.produced).toBe(3000);
    const seqs: bigint[] = [];
    let calls = 0;
    const n = r.consumeBatch((v, offs, lens, count) => {
      calls++;
      // Not committed yet: the kernel still counts these bytes as unread.
      expect(r.available()).toBeGreaterThanOrEqual(count * 16);
      for (let i = 0; i < count; i++) {
        expect(lens[i]).toBe(8);
        seqs.push(v.getBigUint64(offs[i]!, true));
      }
    });
    expect(n).toBe(3000);
    expect(calls).toBe(Math.ceil(3000 / RingBufReader.BATCH_RECORDS));
    expect(seqs).toEqual(Array.from({ length: 3000 }, (_, i) => BigInt(i)));
    expect(r.available()).toBe(0);
  });

  it('mixed lengths and discards in one drain: every header is checked, not just predicted', () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using r = new RingBufReader(o.map('rb'));
    // 16 and 17 bytes share a 24-byte step but not a header; a discarded 24-byte record has the
    // same length as the submitted ones around it, only its DISCARD bit differs.
    let seq = 0n;
    const want: [bigint, number][] = [];
    for (const [prog, size, n] of [['produce', 16, 3], ['produce', 17, 3], ['produce', 16, 2], ['produce_discard', 0, 6], ['produce', 8, 2], ['produce', 4000, 2], ['produce', 9, 2]] as const) {
      const res = produce(o, prog, n, size, { seq, discardEvery: 2 });
      for (let i = 0n; i < BigInt(n); i++) {
        const s = seq + i;
        if (prog === 'produce') want.push([s, size]);
        else if (s % 2n !== 0n) want.push([s, 24]);
      }
      seq = res.seq;
    }
    const got: [bigint, number][] = [];
    r.consumeRaw((v, off, len) => got.push([v.getBigUint64(off, true), len]));
    expect(got).toEqual(want);
    expect(r.available()).toBe(0);
  });

  it('many records of irregular sizes (the unpredicted walk), then fixed sizes again (the predicted one): every record, in order, at its length', () => {
    using o = BpfObject.open(fixture('rb_bench.bpfel.o')).load();
    using r = new RingBufReader(o.map('rb'));
    // rb_bench.c's produce_mixed: record i of a batch is 16, 40, 64 or 24 bytes by a hash of i.
    const mixedLen = (i: number) => [16, 40, 64, 24][(Math.imul(i, 2654435761) >>> 28) & 3]!;
    const run = (prog: string, n: number, seq: bigint) => {
      const req = Buffer.alloc(40);
      req.writeUInt32LE(n, 0);
      req.writeUInt32LE(1, 4);
      req.writeBigUInt64LE(seq, 16);
      o.program(prog).testRun({ ctxIn: req });
      expect(Number(req.readBigUInt64LE(24))).toBe(n);
      return req.readBigUInt64LE(16);
    };
    const want: [bigint, number][] = [];
    let seq = 0n;
    const mixed = (n: number) => {
      for (let i = 0; i < n; i++) want.push([seq + BigInt(i), mixedLen(i)]);
      seq = run('produce_mixed', n, seq);
    };
    const fixed = (n: number) => {
      for (let i = 0; i < n; i++) want.push([seq + BigInt(i), 16]);
      seq = run('produce_16', n, seq);
    };
    mixed(20000);
    fixed(30000);
    mixed(5000);
    const got: [bigint, number][] = [];
    expect(r.consumeRaw((v, off, len) => got.push([v.getBigUint64(off, true), len]))).toBe(want.length);
    expect(got).toEqual(want);
    expect(r.available()).toBe(0);
    // The batched walk, across the switches too.
    want.length = 0;
    fixed(3000);
    mixed(20000);
    fixed(3000);
    got.length = 0;
    r.consumeBatch((v, offs, lens, k) => {
      for (let i = 0; i < k; i++) got.push([v.getBigUint64(offs[i]!, true), lens[i]!]);
    });
    expect(got).toEqual(want);
    expect(r.available()).toBe(0);
  });

  it('max bounds a drain and commits only what was delivered; consumeBatch too', () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using r = new RingBufReader(o.map('rb'));
    produce(o, 'produce', 10, 16);
    const seqs: bigint[] = [];
    expect(r.consumeRaw((v, off) => seqs.push(v.getBigUint64(off, true)), 4)).toBe(4);
    expect(r.available()).toBe(6 * 24);
    expect(r.consumeBatch((v, offs, _lens, k) => {
      for (let i = 0; i < k; i++) seqs.push(v.getBigUint64(offs[i]!, true));
    }, 3)).toBe(3);
    expect(r.available()).toBe(3 * 24);
    expect(r.consumeRaw((v, off) => seqs.push(v.getBigUint64(off, true)))).toBe(3);
    expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i)));
  });

  it('closing from a consumeBatch callback stops the drain without touching the ring', () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    const r = new RingBufReader(o.map('rb'));
    produce(o, 'produce', 2500, 8);
    let calls = 0;
    const n = r.consumeBatch((_v, _offs, _lens, k) => {
      calls++;
      expect(k).toBe(RingBufReader.BATCH_RECORDS);
      r.close();
    });
    expect(calls).toBe(1);
    expect(n).toBe(RingBufReader.BATCH_RECORDS);
    expect(r.consumeBatch(() => calls++)).toBe(0);
    expect(calls).toBe(1);
  });

  it('skips discarded records', () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using r = new RingBufReader(o.map('rb'));
    const res = produce(o, 'produce_discard', 30, 0, { discardEvery: 3 });
    expect(res.discarded).toBe(10);
    const seqs: bigint[] = [];
    r.consumeRaw((v, off, len) => {
      expect(len).toBe(24);
      expect(v.getBigUint64(off + 8, true)).toBe(0xbeen);
      seqs.push(v.getBigUint64(off, true));
    });
    expect(seqs.length).toBe(20);
    expect(seqs.every((s) => s % 3n !== 0n)).toBe(true);
  });

  it('handles wrap-around at the ring end (records stay contiguous)', () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using r = new RingBufReader(o.map('rb'));
    let seq = 0n;
    let next = 0n;
    let wrapped = 0;
    // 1000-byte records in a 64 KiB ring: positions wrap many times, some records straddle the end.
    for (let round = 0; round < 40; round++) {
      seq = produce(o, 'produce', 20, 1000, { seq }).seq;
      r.consumeRaw((v, off, len) => {
        expect(len).toBe(1000);
        expect(v.getBigUint64(off, true)).toBe(next++);
        if (off + len > r.size) wrapped++;
      });
    }
    expect(next).toBe(800n);
    expect(wrapped).toBeGreaterThan(0);
  });

  it('a full ring drops in BPF (counted) and the reader resumes', () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using r = new RingBufReader(o.map('rb'));
    const full = produce(o, 'produce', 2000, 100);
    expect(full.dropped).toBeGreaterThan(0);
    expect(full.produced + full.dropped).toBe(2000);
    let n = 0;
    r.consumeRaw(() => n++);
    expect(n).toBe(full.produced);
    const again = produce(o, 'produce', 10, 100, { seq: full.seq });
    expect(again.dropped).toBe(0);
    const seqs: bigint[] = [];
    r.consumeRaw((v, off) => seqs.push(v.getBigUint64(off, true)));
    expect(seqs).toEqual(Array.from({ length: 10 }, (_, i) => full.seq + BigInt(i)));
  });

  it('decodes typed records by BTF (padding, bool, s16, char array)', async () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using r = new RingBufReader(o.map('events'));
    produce(o, 'produce_events', 2);
    const got: unknown[] = [];
    r.consume((e) => got.push(e));
    expect(got).toEqual([
      { pid: 4242, kind: 7, seq: 0n, comm: 'bee-ts-ringbuf', flag: false, delta: -3 },
      { pid: 4242, kind: 7, seq: 1n, comm: 'bee-ts-ringbuf', flag: true, delta: -3 },
    ]);
  });

  it('async iteration waits without blocking the event loop (a timer keeps firing)', async () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    const r = new RingBufReader(o.map('events'));
    let ticks = 0;
    const timer = setInterval(() => ticks++, 10);
    const it = r[Symbol.asyncIterator]();
    const first = it.next();
    // While the iterator waits, the timer keeps firing (a blocking wait would stop it, and this
    // wait would then never end). Counted to 10 however slowly the host runs it.
    expect(await waitUntil(() => ticks >= 10)).toBe(true);
    produce(o, 'produce_events', 3, 0, { seq: 100n });
    const a = await first;
    expect((a.value as { seq: bigint }).seq).toBe(100n);
    expect(((await it.next()).value as { seq: bigint }).seq).toBe(101n);
    expect(((await it.next()).value as { seq: bigint }).seq).toBe(102n);
    clearInterval(timer);
    r.close();
    expect((await it.next()).done).toBe(true);
  });

  it('onRaw delivers through the poller; closing mid-stream from the callback is safe', async () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    const r = new RingBufReader(o.map('rb'));
    let got = 0;
    const done = new Promise<void>((res) =>
      r.onRaw(() => {
        got++;
        if (got === 5) {
          r.close();
          res();
        }
      }),
    );
    produce(o, 'produce', 50, 16);
    await done;
    expect(got).toBe(5);
    expect(r.consumeRaw(() => {})).toBe(0);
    expect(r.available()).toBe(0);
    produce(o, 'produce', 50, 16, { seq: 100n }); // the kernel keeps producing into a ring nobody reads
  });

  it('a drain stopped at its record bound goes on at once, not after a timer; the round sees how full the ring was', async () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using r = new RingBufReader(o.map('rb'), { batch: 10 });
    produce(o, 'produce', 100, 16); // 24 bytes each
    const p = Poller.get();
    const i0 = p.stats.immediateRounds;
    const fills: number[] = [];
    const seqs: bigint[] = [];
    await new Promise<void>((res) =>
      r.onRaw((v, off) => {
        if (seqs.length % 10 === 0) fills.push(r.fill);
        seqs.push(v.getBigUint64(off, true));
        if (seqs.length === 100) res();
      }),
    );
    expect(seqs).toEqual(Array.from({ length: 100 }, (_, i) => BigInt(i)));
    // Ten drains of ten: the first saw all 100 records, each later one 10 fewer.
    expect(fills).toEqual(Array.from({ length: 10 }, (_, k) => ((100 - 10 * k) * 24) / r.size));
    // The nine after the first came from setImmediate rounds (drains that stopped with records left).
    expect(p.stats.immediateRounds - i0).toBe(9);
    expect(r.more).toBe(false);
  });

  it('several rings share one poller', async () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using a = new RingBufReader(o.map('rb'));
    using b = new RingBufReader(o.map('events'));
    const seen = { a: 0, b: 0 };
    a.onRaw(() => seen.a++);
    b.onRecord(() => seen.b++);
    expect(Poller.get().size).toBeGreaterThanOrEqual(2);
    produce(o, 'produce', 4, 32);
    produce(o, 'produce_events', 6);
    await waitUntil(() => seen.a >= 4 && seen.b >= 6);
    expect(seen).toEqual({ a: 4, b: 6 });
  });

  // Through the package entry (the bundled library): a drain thread's worker module is found from
  // dist/lib as from dist/ringbuf.
  it.each([
    ['', '{}'],
    [' with a drain thread', "{ drainThread: 2 * o.map('events').maxEntries }"],
  ])('the process exits once its readers are closed%s', async (_, opts) => {
    const script = `
      const { BpfObject, RingBufReader } = await import('${libEntry}');
      const o = BpfObject.open('${fixture('ringbuf.bpfel.o')}').load();
      const r = new RingBufReader(o.map('events'), ${opts});
      const it = r[Symbol.asyncIterator]();
      const p = it.next();
      const req = Buffer.alloc(48); req.writeUInt32LE(1, 0);
      o.program('produce_events').testRun({ ctxIn: req });
      console.log(JSON.stringify((await p).value.comm));
      r.close();
      o.close();`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    const code = await new Promise<number | null>((res) => {
      const t = setTimeout(() => {
        child.kill('SIGKILL');
        res(-1);
      }, childBound(20_000));
      child.on('exit', (c) => {
        clearTimeout(t);
        res(c);
      });
    });
    expect(out.trim()).toBe('"bee-ts-ringbuf"');
    expect(code).toBe(0);
  });
});

describe.skipIf(skip)('perf buffer reader on the real kernel', () => {
  it('per-CPU rings deliver samples, decoded by BTF', async () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using pb = new PerfBufReader(o.map('perf_events'), { pages: 8 });
    o.globals.set('perf_n', 10);
    o.program('perf_produce').testRun();
    const got: { seq: bigint; comm: string }[] = [];
    pb.consume((e) => got.push(e as { seq: bigint; comm: string }));
    expect(got.map((e) => e.seq)).toEqual(Array.from({ length: 10 }, (_, i) => BigInt(i)));
    expect(got[0]!.comm).toBe('bee-ts-perfbuf');
  });

  it('wrapped records are reassembled and lost samples counted', () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    using pb = new PerfBufReader(o.map('perf_events'), { pages: 1 });
    o.globals.set('perf_n', 64);
    let seen = 0;
    for (let round = 0; round < 20; round++) {
      o.program('perf_produce').testRun();
      pb.consumeRaw((v, off, len) => {
        expect(len).toBeGreaterThanOrEqual(40); // sizeof(struct event), padded by the kernel to keep records 8-aligned
        expect(v.getUint32(off, true)).toBe(4242);
        seen++;
      });
    }
    expect(seen + pb.lost).toBeGreaterThanOrEqual(20 * 64 - 64);
    expect(seen).toBeGreaterThan(0);
  });
});

describe.skipIf(skip ?? needKernel('5.8', 'BPF ring buffers', () => haveMapType(MapType.RINGBUF)))('one RecordReader interface for ring and perf buffers', () => {
  /** One consumer, written against the interface only: consume, poll (onRecord), async iteration, close. */
  async function consumer(r: RecordReader, produce: (n: number) => void) {
    const seq = (e: unknown) => (e as { seq: bigint }).seq;
    produce(2);
    const consumed: bigint[] = [];
    r.consume((e) => consumed.push(seq(e)));
    const it = r[Symbol.asyncIterator]();
    const pending = it.next(); // waits: nothing produced yet
    produce(3);
    const iterated = [seq((await pending).value), seq((await it.next()).value), seq((await it.next()).value)];
    r.close();
    const done = (await it.next()).done;
    return { consumed, iterated, done, delivered: r.delivered, name: r.name };
  }

  it('the ring buffer reader', async () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    let next = 0n;
    const got = await consumer(new RingBufReader(o.map('events')), (n) => {
      next = produce(o, 'produce_events', n, 0, { seq: next }).seq;
    });
    expect(got).toEqual({ consumed: [0n, 1n], iterated: [2n, 3n, 4n], done: true, delivered: 5, name: 'events' });
  });

  it('the perf buffer reader: the same consumer, the same results', async () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    const got = await consumer(new PerfBufReader(o.map('perf_events'), { pages: 8 }), (n) => {
      o.globals.set('perf_n', n);
      o.program('perf_produce').testRun();
    });
    // perf_seq counts on across runs, like the ring's seq.
    expect(got).toEqual({ consumed: [0n, 1n], iterated: [2n, 3n, 4n], done: true, delivered: 5, name: 'perf_events' });
  });

  it('polling through the interface: onRecord from the shared poller, for either reader', async () => {
    using o = BpfObject.open(fixture('ringbuf.bpfel.o')).load();
    const readers: RecordReader[] = [new RingBufReader(o.map('events')), new PerfBufReader(o.map('perf_events'), { pages: 8 })];
    const seen: Record<string, number> = {};
    for (const r of readers) r.onRecord(() => (seen[r.name] = (seen[r.name] ?? 0) + 1));
    produce(o, 'produce_events', 4);
    o.globals.set('perf_n', 6);
    o.program('perf_produce').testRun();
    expect(await waitUntil(() => seen.events === 4 && seen.perf_events === 6)).toBe(true);
    for (const r of readers) r.close();
    expect(readers.map((r) => [r.lost, r.fullSeen])).toEqual([[0, 0], [0, 0]]);
  });
});
