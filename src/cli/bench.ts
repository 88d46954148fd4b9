// `bee-ts bench ringbuf`: bee-ts's ring buffer reader against libbpf's ring_buffer__consume /
// ring_buffer__poll, from one run on one machine (loader-notes §17 method):
//   consume: fill the 64 MiB ring with a BPF program (BPF_PROG_TEST_RUN), time draining it;
//   stream:  a producer process runs the program in a loop while the consumer reads, in
//            no-wakeup (BPF_RB_NO_WAKEUP, consumer polls on a timer), adaptive (flags 0) and
//            sampled (FORCE_WAKEUP every 500 records) modes; drops are counted in BPF.
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
export interface BenchRow {
  impl: Impl;
  /** bee-ts raw consumption: 'record' = consumeRaw's per-record callback, 'batch' = consumeBatch. */
  api?: 'record' | 'batch';
  mode: 'consume' | 'stream';
  size: number;
  recordsPerSec: number;
  drops: number;
  wakeup?: WakeMode;
  producedPerSec?: number;
}

export interface BenchOptions {
  sizes: number[];
  seconds: number;
  rounds: number;
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

/**
 * Fill the ring and drain it `rounds` times; the rate is the median round's (the machine is shared
 * and noisy: one slow round should not decide a ratio), for bee-ts and the C peer alike. One
 * untimed round first: the JIT compiles the walk for this callback (the C peer likewise drains
 * once untimed, faulting its fresh mapping in).
 */
function drainRounds(fill: () => number, drain: () => number, rounds: number): { rate: number; drops: number } {
  const rates: number[] = [];
  let drops = 0;
  for (let r = -1; r < rounds; r++) {
    const d = fill();
    const t0 = performance.now();
    const k = drain();
    const secs = (performance.now() - t0) / 1000;
    if (r < 0) continue;
    rates.push(k / secs);
    drops += d;
  }
  return { rate: median(rates), drops };
}

type PeerResult = { records: number; seconds: number; drops?: number; rates?: number[] };

function runPeer(peer: string, args: string[]): Promise<PeerResult> {
  return new Promise((resolve, reject) => {
    const p = spawn(peer, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', (code) => (code === 0 ? resolve(JSON.parse(out)) : reject(new CliExit(`libbpf peer exited ${code}`))));
  });
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

export async function benchRingbuf(o: BenchOptions): Promise<{ rows: BenchRow[]; ratios: Record<string, number>; machine: Record<string, unknown>; rss?: { before: number; after: number }; peer?: string }> {
  const obj = BpfObject.open(BENCH_OBJECT).load();
  const pinDir = `/sys/fs/bpf/bee-bench-${process.pid}`;
  fs.mkdirSync(pinDir, { recursive: true });
  const rows: BenchRow[] = [];
  const peer = buildPeer();
  if (peer.reason) o.log(`bench: ${peer.reason}`);
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
      if (size !== 16 && size !== 64) throw new CliExit(`--size ${size}: the producer emits 16- or 64-byte records`);
      const prog = obj.program(`produce_${size}`);
      const progPin = `${pinDir}/produce_${size}`;
      prog.pin(progPin);
      const per = Math.floor(RING_BYTES / ((size + 8 + 7) & ~7));
      const fill = () => {
        const req = Buffer.alloc(40);
        req.writeUInt32LE(per, 0);
        req.writeUInt32LE(1, 4);
        prog.testRun({ ctxIn: req });
        return Number(req.readBigUInt64LE(32));
      };
      reader.consumeRaw(discard);
      // One callback per measurement, reused across rounds (the reader compiles a loop per
      // callback). Each does the C peer's work per record: add the first u32 to a wrapping 32-bit
      // sum (an unbounded JS sum would turn into a heap double and time the allocator instead).
      const rawFn = (v: DataView, off: number) => {
        sink = (sink + v.getUint32(off, true)) | 0;
      };
      const batchFn = (v: DataView, offs: Int32Array, _lens: Int32Array, k: number) => {
        let s = sink;
        for (let i = 0; i < k; i++) s = (s + v.getUint32(offs[i]!, true)) | 0;
        sink = s;
      };
      // --- consume: raw zero-copy records, per-record callback and batch callback
      for (const [api, drain] of [
        ['record', () => reader.consumeRaw(rawFn)],
        ['batch', () => reader.consumeBatch(batchFn)],
      ] as const) {
        const { rate, drops } = drainRounds(fill, drain, o.rounds);
        rows.push({ impl: 'bee-ts', api, mode: 'consume', size, recordsPerSec: rate, drops });
        o.log(`consume ${size}B bee-ts (${api} callback): ${(rate / 1e6).toFixed(1)} M records/s`);
      }
      // --- consume: decoded into JS objects by BTF
      const recType = btf.types.find((t) => t.kind === BtfKind.Struct && t.name === (size === 16 ? 'rec16' : 'rec64'));
      if (!recType) throw new CliExit('rb_bench.o lacks its record types');
      const dec = compileDecoder(btf, recType.id);
      const decodedFn = (v: DataView, off: number) => {
        const rec = dec(v, off) as { pid?: number; value?: bigint };
        if (rec.pid === -1) sink = (sink + 1) | 0;
      };
      const decoded = drainRounds(fill, () => reader.consumeRaw(decodedFn), o.rounds);
      rows.push({ impl: 'bee-ts-decoded', mode: 'consume', size, recordsPerSec: decoded.rate, drops: decoded.drops });
      o.log(`consume ${size}B bee-ts-decoded: ${(decoded.rate / 1e6).toFixed(1)} M records/s`);
      // --- consume: libbpf
      if (peer.path) {
        const res = await runPeer(peer.path, ['consume', `${pinDir}/rb`, progPin, String(size), String(o.rounds)]);
        const rate = res.rates?.length ? median(res.rates) : res.records / res.seconds;
        rows.push({ impl: 'libbpf', mode: 'consume', size, recordsPerSec: rate, drops: res.drops ?? 0 });
        o.log(`consume ${size}B libbpf: ${(rate / 1e6).toFixed(1)} M records/s`);
      }
      if (!o.stream) continue;
      for (const wake of ['no-wakeup', 'adaptive', 'sampled'] as WakeMode[]) {
        // bee-ts: the shared poller; timer-only when the producer never wakes us.
        reader.consumeRaw(discard);
        const poller = Poller.get();
        poller.timerOnly = wake === 'no-wakeup';
        if (!rss) rss = { before: process.memoryUsage().rss, after: 0 };
        let count = 0;
        reader.onRaw((v, off) => {
          sink = (sink + v.getUint32(off, true)) | 0;
          count++;
        });
        const prod = runProducer(progPin, WAKE[wake], o.seconds);
        const res = await prod.done;
        await new Promise((r) => setTimeout(r, 20));
        count += reader.consumeRaw(discard);
        poller.remove(reader);
        poller.timerOnly = false;
        rows.push({ impl: 'bee-ts', mode: 'stream', size, wakeup: wake, recordsPerSec: count / res.seconds, drops: res.dropped, producedPerSec: res.produced / res.seconds });
        o.log(`stream ${size}B ${wake} bee-ts: ${(count / res.seconds / 1e6).toFixed(1)} M records/s, ${res.dropped} drops (producer ${(res.produced / res.seconds / 1e6).toFixed(1)} M/s)`);
        if (peer.path) {
          reader.consumeRaw(discard);
          // The peer's window is only an upper bound: it stops when the producer is done.
          const [p2, c2] = await streamPeer(peer.path, ['stream', `${pinDir}/rb`, String(o.seconds + 120), wake === 'no-wakeup' ? 'sleep' : 'poll'], () => runProducer(progPin, WAKE[wake], o.seconds).done);
          rows.push({ impl: 'libbpf', mode: 'stream', size, wakeup: wake, recordsPerSec: c2.records / p2.seconds, drops: p2.dropped, producedPerSec: p2.produced / p2.seconds });
          o.log(`stream ${size}B ${wake} libbpf: ${(c2.records / p2.seconds / 1e6).toFixed(1)} M records/s, ${p2.dropped} drops`);
        }
      }
      if (rss) rss.after = process.memoryUsage().rss;
    }
    void sink;
    reader.close();
  } finally {
    fs.rmSync(pinDir, { recursive: true, force: true });
    if (peer.dir) fs.rmSync(peer.dir, { recursive: true, force: true });
    obj.close();
  }
  const ratios: Record<string, number> = {};
  for (const r of rows) {
    if (r.impl === 'libbpf') continue;
    const base = rows.find((x) => x.impl === 'libbpf' && x.mode === r.mode && x.size === r.size && x.wakeup === r.wakeup);
    if (base) ratios[`${r.impl}${r.api === 'batch' ? ' (batch)' : ''}/libbpf ${r.mode}${r.wakeup ? ` ${r.wakeup}` : ''} ${r.size}B`] = r.recordsPerSec / base.recordsPerSec;
  }
  const machine = { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, kernel: os.release(), node: process.version };
  return { rows, ratios, machine, rss, peer: peer.path ? 'libbpf' : peer.reason };
}

export function benchText(r: Awaited<ReturnType<typeof benchRingbuf>>): string {
  const lines = [`machine: ${r.machine.cpus} CPUs (${r.machine.cpu}), Linux ${r.machine.kernel}, Node ${r.machine.node}`];
  lines.push('impl                    mode     size  wakeup      M records/s  drops');
  for (const x of r.rows)
    lines.push(`${(x.impl + (x.api ? ` (${x.api})` : '')).padEnd(24)}${x.mode.padEnd(9)}${String(x.size).padStart(4)}  ${(x.wakeup ?? '-').padEnd(10)}  ${(x.recordsPerSec / 1e6).toFixed(1).padStart(11)}  ${x.drops}`);
  lines.push('ratios (bee-ts / libbpf, same run):');
  for (const [k, v] of Object.entries(r.ratios)) lines.push(`  ${k}: ${v.toFixed(2)}x`);
  if (r.rss) lines.push(`RSS before/after streaming: ${(r.rss.before / 1048576).toFixed(1)} / ${(r.rss.after / 1048576).toFixed(1)} MiB`);
  return lines.join('\n') + '\n';
}
