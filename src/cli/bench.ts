// `bee-ts bench ringbuf`: bee-ts's ring buffer reader against libbpf's ring_buffer__consume /
// ring_buffer__poll, from one run on one machine (loader-notes §17 method):
//   consume: fill the 64 MiB ring with a BPF program (BPF_PROG_TEST_RUN) with 16-, 64-byte or
//            mixed-size records and time draining it (CPU and wall), `cycles` times per round,
//            the drains' times summed (one drain is ~10 ms: too short a window to time alone);
//            warm-up rounds first, then rounds that run every consumer (the peer too, one
//            process kept for all rounds) once in a rotated order, medians;
//   stream:  a producer process runs the program in a loop while the consumer reads, in
//            no-wakeup (BPF_RB_NO_WAKEUP, consumer polls on a timer), adaptive (flags 0) and
//            sampled (FORCE_WAKEUP every 500 records) modes, rounds alternating bee-ts and the
//            peer; reported as the consumer's CPU per record and drops (counted in BPF).
import { CliExit } from './errors.js';
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { BtfKind } from '../btf/types.js';
import { BpfObject } from '../loader/object.js';
import { compileDecoder } from '../maps/decoder.js';
import { Poller } from '../ringbuf/poller.js';
import { RingBufReader } from '../ringbuf/ringbuf.js';
import { PKG_ROOT } from './paths.js';

const here = path.dirname(fileURLToPath(import.meta.url));
export const BENCH_OBJECT = path.join(PKG_ROOT, 'test', 'fixtures', 'rb_bench.bpfel.o');
const PEER_SOURCE = path.join(PKG_ROOT, 'bench', 'peers', 'rb_libbpf.c');
const RING_BYTES = 64 << 20;

export type Impl = 'bee-ts' | 'bee-ts-decoded' | 'libbpf';
export type WakeMode = 'no-wakeup' | 'adaptive' | 'sampled';
/** A record size of the producer: 16 or 64 bytes, or mixed (16, 24, 40 and 64 in an irregular order). */
export type BenchSize = 16 | 64 | 'mixed';
export interface BenchRow {
  impl: Impl;
  /** bee-ts raw consumption: 'record' = consumeRaw's per-record callback, 'batch' = consumeBatch. */
  api?: 'record' | 'batch';
  mode: 'consume' | 'stream';
  size: BenchSize;
  /** consume: records per second of the consumer's CPU time (median round); stream: records consumed per second. */
  recordsPerSec: number;
  /** consume: records per second of wall time (median round). */
  wallRecordsPerSec?: number;
  /** consume, bee-ts-decoded (timed in rounds of its own with the peer): the peer's records per CPU second in those rounds, the ratio's base. */
  peerRecordsPerSec?: number;
  /** stream: the consumer's CPU time per record consumed, in ns (median round). */
  cpuNsPerRecord?: number;
  drops: number;
  wakeup?: WakeMode;
  producedPerSec?: number;
}

export interface BenchOptions {
  sizes: BenchSize[];
  seconds: number;
  /** Measured rounds (medians); every consumer runs once per round, in a rotated order. */
  rounds: number;
  /** Untimed rounds first (the JIT compiles the walk for each callback; the peer faults its mapping in). */
  warmup?: number;
  /** Fill+drain cycles per consume round, the drains' CPU and wall time summed (default 8). */
  cycles?: number;
  /** Measured streaming rounds per wake-up mode (one untimed round first). */
  streamRounds?: number;
  stream: boolean;
  log: (s: string) => void;
}

/**
 * Build the C peer with gcc -lbpf when libbpf's headers are present; otherwise say why not. The
 * binary goes into a fresh 0700 directory (removed by `dir`'s owner): run as root, a predictable
 * path in $TMPDIR would let another user plant a link for gcc to write through, or swap the
 * binary between its build and its run.
 */
export function buildPeer(): { path?: string; dir?: string; reason?: string } {
  if (!fs.existsSync(PEER_SOURCE)) return { reason: `peer source ${PEER_SOURCE} is missing` };
  if (!fs.existsSync('/usr/include/bpf/libbpf.h')) return { reason: 'libbpf-dev is not installed (apt-get install libbpf-dev): no libbpf peer' };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-rb-libbpf-'));
  const out = path.join(dir, 'rb_libbpf');
  try {
    execFileSync('gcc', ['-O2', '-o', out, PEER_SOURCE, '-lbpf'], { stdio: 'pipe' });
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    return { reason: `cannot build the libbpf peer: ${(e as { stderr?: Buffer }).stderr?.toString().trim() ?? e}` };
  }
  return { path: out, dir };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** One consumer in the consume rounds: drains a full ring once per round, timed in CPU and wall. */
interface Drainer {
  impl: Impl;
  api?: 'record' | 'batch';
  /** One round: `cycles` times fill, drain; the records drained, the drains' CPU and wall seconds summed, the producer's drops. */
  round(): Promise<{ records: number; cpu: number; wall: number; drops: number }>;
}

/**
 * `warmup` untimed rounds, then `rounds` measured ones; each round runs every consumer once, the
 * order rotated by one per round (none is always first after the fill of another). Rates are the
 * median round's (the machine is shared and noisy: one slow round should not decide a ratio).
 */
async function consumeRounds(ds: Drainer[], warmup: number, rounds: number): Promise<Map<Drainer, { cpu: number; wall: number; drops: number }>> {
  const samples = new Map(ds.map((d) => [d, { cpu: [] as number[], wall: [] as number[], drops: 0 }]));
  for (let r = -warmup; r < rounds; r++) {
    for (let i = 0; i < ds.length; i++) {
      const d = ds[(((i + r) % ds.length) + ds.length) % ds.length]!;
      const x = await d.round();
      if (r < 0) continue;
      const s = samples.get(d)!;
      s.cpu.push(x.records / x.cpu);
      s.wall.push(x.records / x.wall);
      s.drops += x.drops;
    }
  }
  return new Map([...samples].map(([d, s]) => [d, { cpu: median(s.cpu), wall: median(s.wall), drops: s.drops }]));
}

/** Process CPU seconds since `t` (process.cpuUsage). */
const cpuSince = (t: NodeJS.CpuUsage) => {
  const u = process.cpuUsage(t);
  return (u.user + u.system) / 1e6;
};

type PeerResult = { records: number; seconds: number; drops?: number; cpu?: number };

/**
 * The libbpf consume peer: one process for all rounds of a size, asked for `cycles` fill+drain
 * cycles per round on its stdin, one JSON line back (so it is timed as bee-ts is, in a process
 * that has drained the ring before, and no process start-up sits between the two sides' rounds).
 */
function consumePeer(peer: string, args: string[]): { ask(cycles: number): Promise<PeerResult>; close(): void } {
  const p = spawn(peer, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  let out = '';
  let waiting: { resolve: (r: PeerResult) => void; reject: (e: Error) => void } | undefined;
  p.stdout.on('data', (d) => {
    out += d;
    const nl = out.indexOf('\n');
    if (nl < 0 || !waiting) return;
    const w = waiting;
    waiting = undefined;
    const line = out.slice(0, nl);
    out = out.slice(nl + 1);
    w.resolve(JSON.parse(line) as PeerResult);
  });
  p.on('exit', (code, sig) => waiting?.reject(new CliExit(`libbpf peer exited ${code ?? sig}`)));
  return {
    ask: (cycles) =>
      new Promise((resolve, reject) => {
        if (p.exitCode !== null || p.signalCode !== null) return reject(new CliExit(`libbpf peer exited ${p.exitCode ?? p.signalCode}`));
        waiting = { resolve, reject };
        p.stdin.write(`${cycles}\n`);
      }),
    close: () => {
      p.stdin.end();
      if (p.exitCode === null && p.signalCode === null) setTimeout(() => p.kill('SIGKILL'), 2000).unref();
    },
  };
}

/**
 * The libbpf peer consuming while `produce()` runs: started first and waited for until it reads
 * the ring ("ready"), stopped (SIGUSR1) once the producer is done. A fixed window could close
 * before the producer, a Node process that can take seconds to start on a loaded host, produced
 * anything: the libbpf stream rows then read 0 records/s.
 */
async function streamPeer<T>(peer: string, args: string[], produce: () => Promise<T>): Promise<[T, PeerResult]> {
  const p = spawn(peer, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  const exited = new Promise<PeerResult>((resolve, reject) =>
    p.on('exit', (code, sig) => (code === 0 ? resolve(JSON.parse(out.slice(out.indexOf('\n') + 1))) : reject(new CliExit(`libbpf peer exited ${code ?? sig}`)))),
  );
  await new Promise<void>((resolve, reject) => {
    p.stdout.on('data', (d) => {
      out += d;
      if (out.startsWith('ready\n')) resolve();
    });
    exited.catch(reject);
  });
  try {
    return [await produce(), await (p.kill('SIGUSR1'), exited)];
  } finally {
    if (p.exitCode === null && p.signalCode === null) p.kill('SIGKILL');
  }
}

function runProducer(progPin: string, mode: number, seconds: number): { done: Promise<{ produced: number; dropped: number; seconds: number }> } {
  const p = spawn(process.execPath, [path.join(here, 'bench-producer.js'), progPin, String(mode), String(seconds)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  p.stdout.on('data', (d) => (out += d));
  return { done: new Promise((resolve, reject) => p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new CliExit(`producer exited ${code}`))))) };
}

const WAKE: Record<WakeMode, number> = { adaptive: 0, 'no-wakeup': 1, sampled: 2 };
/** Ring bytes per record the fill counts with (mixed: a step at least the sizes' mean, so a fill never overflows). */
const STEP_SIZE: Record<string, number> = { 16: 16, 64: 64, mixed: 40 };

export async function benchRingbuf(o: BenchOptions): Promise<{ rows: BenchRow[]; ratios: Record<string, number>; machine: Record<string, unknown>; rss?: { before: number; after: number }; peer?: string }> {
  const obj = BpfObject.open(BENCH_OBJECT).load();
  const pinDir = `/sys/fs/bpf/bee-bench-${process.pid}`;
  fs.mkdirSync(pinDir, { recursive: true });
  // The pins hold the ring and the producer in the kernel. The CLI ends an uncaught error with
  // process.exit(), which skips the finally below: the 'exit' hook still removes them.
  const unpin = () => fs.rmSync(pinDir, { recursive: true, force: true });
  process.once('exit', unpin);
  const rows: BenchRow[] = [];
  const peer = buildPeer();
  if (peer.reason) o.log(`bench: ${peer.reason}`);
  // Ctrl-C or kill ends a process without 'exit' (the pins stayed in bpffs, measured): remove
  // them and the peer's build directory, then end as the signal would have (128 + its number).
  const onSignal = (sig: NodeJS.Signals) => {
    unpin();
    if (peer.dir) fs.rmSync(peer.dir, { recursive: true, force: true });
    process.exit(128 + (os.constants.signals[sig] ?? 0));
  };
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
  for (const sig of SIGNALS) process.once(sig, onSignal);
  const warmup = o.warmup ?? 3;
  const cycles = Math.max(1, o.cycles ?? 8);
  const streamRounds = o.streamRounds ?? 5;
  let rss: { before: number; after: number } | undefined;
  try {
    const ring = obj.map('rb');
    ring.pin(`${pinDir}/rb`);
    const reader = new RingBufReader(ring);
    // Empties the ring between measurements (one callback, so its walk is compiled once).
    const discard = () => {};
    const btf = obj.spec.btf!;
    let sink = 0;
    for (const size of o.sizes) {
      if (size !== 16 && size !== 64 && size !== 'mixed') throw new CliExit(`--size ${String(size)}: the producer emits 16- or 64-byte records, or mixed sizes ('mixed')`);
      const prog = obj.program(`produce_${size}`);
      const progPin = `${pinDir}/produce_${size}`;
      prog.pin(progPin);
      const per = Math.floor(RING_BYTES / ((STEP_SIZE[size]! + 8 + 7) & ~7));
      const fill = () => {
        const req = Buffer.alloc(40);
        req.writeUInt32LE(per, 0);
        req.writeUInt32LE(1, 4);
        prog.testRun({ ctxIn: req });
        return Number(req.readBigUInt64LE(32));
      };
      reader.consumeRaw(discard);
      // One callback per consumer, reused across rounds (the reader compiles a loop per
      // callback). Each does the C peer's work per record: fold the payload's first 32-bit word
      // into a sum by XOR. Not `(sum + word) | 0`: that sum leaves the int32 range before the
      // `| 0` whenever it wraps, and if that happened while V8 was still interpreting the
      // callback (whether it did depended on the sum's value at the time), the add's type
      // feedback said Number and TurboFan compiled it as double arithmetic with conversions, a
      // dependency chain of ~14 cycles per record: that process then drained at half its rate
      // for the whole run (seen in --print-opt-code; the walk's code was the same). An XOR's
      // result is an int32 whatever the values, so with this producer's words (all under 2^31)
      // its feedback cannot change. (getUint32, not getInt32: in one process, getInt32 here
      // drained 64 B records at 0.83x the rate of getUint32.)
      const rawFn = (v: DataView, off: number) => {
        sink ^= v.getUint32(off, true);
      };
      const batchFn = (v: DataView, offs: Int32Array, _lens: Int32Array, k: number) => {
        let s = sink;
        for (let i = 0; i < k; i++) s ^= v.getUint32(offs[i]!, true);
        sink = s;
      };
      const inProcess = (impl: Impl, api: 'record' | 'batch' | undefined, drain: () => number): Drainer => ({
        impl,
        api,
        round: async () => {
          let records = 0;
          let cpu = 0;
          let wall = 0;
          let drops = 0;
          for (let c = 0; c < cycles; c++) {
            drops += fill();
            const c0 = process.cpuUsage();
            const t0 = performance.now();
            records += drain();
            wall += (performance.now() - t0) / 1000;
            cpu += cpuSince(c0);
          }
          return { records, cpu, wall, drops };
        },
      });
      const ds: Drainer[] = [inProcess('bee-ts', 'record', () => reader.consumeRaw(rawFn)), inProcess('bee-ts', 'batch', () => reader.consumeBatch(batchFn))];
      // Decoded into JS objects by BTF (the fixed-size record types): rounds of its own after the
      // others, with the peer alternated again. Its millions of short-lived objects keep V8's GC
      // threads busy on the other core after its drains (counted in this process's CPU time, and
      // competing for memory), which the raw consumers' rounds must not pay for.
      let decoded: Drainer | undefined;
      if (size !== 'mixed') {
        const recType = btf.types.find((t) => t.kind === BtfKind.Struct && t.name === (size === 16 ? 'rec16' : 'rec64'));
        if (!recType) throw new CliExit('rb_bench.o lacks its record types');
        const dec = compileDecoder(btf, recType.id);
        const decodedFn = (v: DataView, off: number) => {
          const rec = dec(v, off) as { pid?: number; value?: bigint };
          if (rec.pid === -1) sink = (sink + 1) | 0;
        };
        decoded = inProcess('bee-ts-decoded', undefined, () => reader.consumeRaw(decodedFn));
      }
      // libbpf: one peer process for this size's rounds, the same cycles per round.
      const consumer = peer.path ? consumePeer(peer.path, ['consume', `${pinDir}/rb`, progPin, String(STEP_SIZE[size])]) : undefined;
      if (consumer)
        ds.push({
          impl: 'libbpf',
          round: async () => {
            const res = await consumer.ask(cycles);
            return { records: res.records, cpu: res.cpu!, wall: res.seconds, drops: res.drops ?? 0 };
          },
        });
      let got: Awaited<ReturnType<typeof consumeRounds>>;
      let gotDecoded: Awaited<ReturnType<typeof consumeRounds>> | undefined;
      const peerDrainer = ds.find((d) => d.impl === 'libbpf');
      try {
        got = await consumeRounds(ds, warmup, o.rounds);
        if (decoded) gotDecoded = await consumeRounds(peerDrainer ? [decoded, peerDrainer] : [decoded], warmup, o.rounds);
      } finally {
        consumer?.close();
      }
      const report = (d: Drainer, g: { cpu: number; wall: number; drops: number }, peerRate?: number) => {
        rows.push({ impl: d.impl, api: d.api, mode: 'consume', size, recordsPerSec: g.cpu, wallRecordsPerSec: g.wall, drops: g.drops, peerRecordsPerSec: peerRate });
        o.log(`consume ${size} ${d.impl}${d.api ? ` (${d.api} callback)` : ''}: ${(g.cpu / 1e6).toFixed(1)} M records per CPU second, ${(g.wall / 1e6).toFixed(1)} M/s wall`);
      };
      for (const d of ds) report(d, got.get(d)!);
      if (decoded && gotDecoded) report(decoded, gotDecoded.get(decoded)!, peerDrainer ? gotDecoded.get(peerDrainer)!.cpu : undefined);
      if (!o.stream) continue;
      for (const wake of ['no-wakeup', 'adaptive', 'sampled'] as WakeMode[]) {
        const poller = Poller.get();
        const samples = new Map<Impl, { rate: number[]; cpu: number[]; drops: number[]; produced: number[] }>();
        const add = (impl: Impl, x: { rate: number; cpu: number; drops: number; produced: number }) => {
          let s = samples.get(impl);
          if (!s) samples.set(impl, (s = { rate: [], cpu: [], drops: [], produced: [] }));
          s.rate.push(x.rate);
          s.cpu.push(x.cpu);
          s.drops.push(x.drops);
          s.produced.push(x.produced);
        };
        // bee-ts: the shared poller; timer-only when the producer never wakes us. The CPU time is
        // this process's over the producer's run (the producer is another process).
        let count = 0;
        const onRec = (v: DataView, off: number) => {
          sink ^= v.getUint32(off, true);
          count++;
        };
        const beeRound = async () => {
          reader.consumeRaw(discard);
          poller.timerOnly = wake === 'no-wakeup';
          rss ??= { before: process.memoryUsage().rss, after: 0 };
          count = 0;
          const c0 = process.cpuUsage();
          reader.onRaw(onRec);
          const res = await runProducer(progPin, WAKE[wake], o.seconds).done;
          await new Promise((r) => setTimeout(r, 20));
          count += reader.consumeRaw(onRec);
          const cpu = cpuSince(c0);
          poller.remove(reader);
          poller.timerOnly = false;
          return { rate: count / res.seconds, cpu: (cpu * 1e9) / Math.max(1, count), drops: res.dropped, produced: res.produced / res.seconds };
        };
        const peerRound = async () => {
          reader.consumeRaw(discard);
          // The peer's window is only an upper bound: it stops when the producer is done.
          const [p2, c2] = await streamPeer(peer.path!, ['stream', `${pinDir}/rb`, String(o.seconds + 120), wake === 'no-wakeup' ? 'sleep' : 'poll'], () => runProducer(progPin, WAKE[wake], o.seconds).done);
          return { rate: c2.records / p2.seconds, cpu: ((c2.cpu ?? NaN) * 1e9) / Math.max(1, c2.records), drops: p2.dropped, produced: p2.produced / p2.seconds };
        };
        // `warmup` untimed rounds, then rounds alternating bee-ts and the peer (the order rotated).
        for (let r = -warmup; r < streamRounds; r++) {
          const order: [Impl, () => Promise<{ rate: number; cpu: number; drops: number; produced: number }>][] = [['bee-ts', beeRound]];
          if (peer.path) order.push(['libbpf', peerRound]);
          if (r % 2 !== 0) order.reverse();
          for (const [impl, f] of order) {
            const x = await f();
            if (r >= 0) add(impl, x);
          }
        }
        for (const [impl, s] of samples) {
          const row: BenchRow = { impl, mode: 'stream', size, wakeup: wake, recordsPerSec: median(s.rate), cpuNsPerRecord: median(s.cpu), drops: median(s.drops), producedPerSec: median(s.produced) };
          rows.push(row);
          o.log(`stream ${size} ${wake} ${impl}: ${(row.recordsPerSec / 1e6).toFixed(1)} M records/s, ${row.cpuNsPerRecord!.toFixed(0)} ns consumer CPU per record, ${row.drops} drops (producer ${(row.producedPerSec! / 1e6).toFixed(1)} M/s)`);
        }
      }
      if (rss) rss.after = process.memoryUsage().rss;
    }
    void sink;
    reader.close();
  } finally {
    unpin();
    process.off('exit', unpin);
    for (const sig of SIGNALS) process.off(sig, onSignal);
    if (peer.dir) fs.rmSync(peer.dir, { recursive: true, force: true });
    obj.close();
  }
  const ratios: Record<string, number> = {};
  const sizeText = (x: BenchSize) => (x === 'mixed' ? 'mixed sizes' : `${x}B`);
  for (const r of rows) {
    if (r.impl === 'libbpf') continue;
    const base = rows.find((x) => x.impl === 'libbpf' && x.mode === r.mode && x.size === r.size && x.wakeup === r.wakeup);
    if (!base) continue;
    const name = `${r.impl}${r.api === 'batch' ? ' (batch)' : ''}/libbpf ${r.mode}${r.wakeup ? ` ${r.wakeup}` : ''} ${sizeText(r.size)}`;
    // Streaming compares consumers by CPU per record (libbpf's / bee-ts's: above 1 is cheaper).
    ratios[name] = r.mode === 'stream' ? base.cpuNsPerRecord! / r.cpuNsPerRecord! : r.recordsPerSec / (r.peerRecordsPerSec ?? base.recordsPerSec);
  }
  const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, kernel: os.release(), node: process.version, load: os.loadavg()[0] };
  return { rows, ratios, machine, rss, peer: peer.path ? 'libbpf' : peer.reason };
}

export function benchText(r: Awaited<ReturnType<typeof benchRingbuf>>): string {
  const lines = [`machine: ${r.machine.cpus} CPUs (${r.machine.cpu}), Linux ${r.machine.kernel}, Node ${r.machine.node}, load average ${(r.machine.load as number).toFixed(1)} at the end`];
  lines.push('impl                    mode     size   wakeup     M rec/CPU s  M rec/s wall  CPU ns/rec  drops');
  for (const x of r.rows) {
    const consume = x.mode === 'consume';
    lines.push(
      `${(x.impl + (x.api ? ` (${x.api})` : '')).padEnd(24)}${x.mode.padEnd(9)}${String(x.size).padStart(5)}  ${(x.wakeup ?? '-').padEnd(10)}  ${(consume ? (x.recordsPerSec / 1e6).toFixed(1) : '-').padStart(10)}  ${((consume ? x.wallRecordsPerSec! : x.recordsPerSec) / 1e6).toFixed(1).padStart(12)}  ${(consume ? '-' : x.cpuNsPerRecord!.toFixed(0)).padStart(10)}  ${x.drops}`,
    );
  }
  lines.push('ratios (bee-ts / libbpf, same run; consume: records per CPU second; stream: libbpf CPU per record / bee-ts CPU per record):');
  for (const [k, v] of Object.entries(r.ratios)) lines.push(`  ${k}: ${v.toFixed(2)}x`);
  if (r.rss) lines.push(`RSS before/after streaming: ${(r.rss.before / 1048576).toFixed(1)} / ${(r.rss.after / 1048576).toFixed(1)} MiB`);
  return lines.join('\n') + '\n';
}
