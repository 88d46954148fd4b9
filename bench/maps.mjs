#!/usr/bin/env node
// bench/maps: single-element hash map update/lookup/delete and a batch dump, bee-ts (BpfMap,
// number keys and Uint8Array keys) beside libbpf (bench/peers/maps_libbpf.c, built here with
// gcc -lbpf). Each round runs one process of each, alternating which goes first; every process
// does 3 warm-up passes, then 5 timed ones. CPU time per element (process CPU clock; wall beside it), the median
// of a process's timed passes, then the median of the processes; ratios as ops/s.
// Lookups write the value into the caller's buffer (lookupInto), as libbpf's bpf_map_lookup_elem
// does; "lookup, a copy" is map.lookup(k), which returns a fresh Uint8Array per call.
// The batch dump is dumpFlat() (keys and values in two flat buffers, as the peer's
// bpf_map_lookup_batch fills them); "pairs" is dumpRaw() ([key, value] views per entry).
// Usage: node bench/maps.mjs [--runs N] [--n ELEMENTS] [--json] [--before CHECKOUT]
//   --before: also time another built checkout's dist (e.g. main before a change), same rounds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, median, opt, record, root } from './lib.mjs';

const runs = Number(opt('--runs', '5'));
const n = Number(opt('--n', '20000'));
const json = args.includes('--json');
const warmup = 3;
// Timed passes per process (bee-ts and the peer alike), after the warm-up passes.
const timed = 5;

if (process.argv.includes('--child')) {
  // One bee-ts process: warm-up passes then the timed ones, each row's median printed as JSON.
  const from = opt('--root', root);
  await import(path.join(from, 'dist/syscall/native.js'));
  const { BpfMap } = await import(path.join(from, 'dist/maps/map.js'));
  // A checkout before dumpFlat existed (--before) times dumpRaw in both dump rows.
  if (!BpfMap.prototype.dumpFlat) BpfMap.prototype.dumpFlat = function () { const d = this.dumpRaw(); return { count: d.length }; };
  const m = BpfMap.create({ type: 1 /* HASH */, keySize: 4, valueSize: 8, maxEntries: n, name: 'bench_maps' });
  const kb = new Uint8Array(4);
  const kdv = new DataView(kb.buffer);
  const vb = new Uint8Array(8);
  const vdv = new DataView(vb.buffer);
  const out = new Uint8Array(8);
  const cpu = () => { const u = process.cpuUsage(); return (u.user + u.system) * 1000; };
  const wall = () => Number(process.hrtime.bigint());
  // Each row's CPU (t[row]) and wall (t[row + 'Wall']) ns per element.
  let t, c0, w0;
  const start = () => { c0 = cpu(); w0 = wall(); };
  const stop = (row) => { t[row] = (cpu() - c0) / n; t[row + 'Wall'] = (wall() - w0) / n; };
  let numberInto = true;
  try {
    m.update(0, out);
    m.lookupInto(0, out);
    m.delete(0);
  } catch {
    numberInto = false;
  }
  const pass = () => {
    t = {};
    start();
    for (let k = 0; k < n; k++) { kdv.setUint32(0, k, true); vdv.setUint32(0, k * 3, true); m.updateRaw(kb, vb); }
    stop('updateRaw');
    start();
    let sum = 0;
    for (let k = 0; k < n; k++) { kdv.setUint32(0, k, true); if (!m.lookupInto(kb, out)) throw new Error('lookup'); sum += out[0]; }
    stop('lookupRaw');
    start();
    for (let k = 0; k < n; k++) { kdv.setUint32(0, k, true); if (!m.delete(kb)) throw new Error('delete'); }
    stop('deleteRaw');
    // Number keys (the encodeInto fast path) with raw values.
    start();
    for (let k = 0; k < n; k++) m.update(k, vb);
    stop('updateNum');
    // lookupInto(k, out) is libbpf's call (the value into the caller's buffer); lookup(k) also
    // returns a fresh copy of the value, an allocation the peer does not make: its own row.
    // (A checkout before number keys in lookupInto times lookup(k) in both.)
    start();
    if (numberInto) for (let k = 0; k < n; k++) { if (!m.lookupInto(k, out)) throw new Error('lookup'); sum += out[0]; }
    else for (let k = 0; k < n; k++) if (m.lookup(k) === undefined) throw new Error('lookup');
    stop('lookupNum');
    // The number-key deletes before anything that allocates: process CPU counts V8's concurrent
    // GC threads, and the garbage of the copies and pairs below (20 000-40 000 objects) was being
    // marked while these ran, charging them for it (deletes after dumpRaw: 370 -> 395-700 ns).
    start();
    for (let k = 0; k < n; k++) if (!m.delete(k)) throw new Error('delete');
    stop('deleteNum');
    for (let k = 0; k < n; k++) m.update(k, vb);
    // The dumps and the copying lookups last (the map is full here), the batch dump first: what
    // they return stays referenced until the pass ends, and 60 000 live pairs would slow the
    // scavenges of whatever allocates after them.
    start();
    const f = m.dumpFlat();
    stop('dump');
    if (f.count !== n) throw new Error(`dumped ${f.count} of ${n}`);
    start();
    for (let k = 0; k < n; k++) if (m.lookup(k) === undefined) throw new Error('lookup');
    stop('lookupCopy');
    start();
    const d = m.dumpRaw();
    stop('dumpPairs');
    if (d.length !== n) throw new Error(`dumped ${d.length} of ${n}`);
    for (let k = 0; k < n; k++) m.delete(k);
    return sum >= 0 ? t : t;
  };
  for (let i = 0; i < warmup; i++) pass();
  // Each row is the median of its timed passes: process CPU counts V8's helper threads too, and
  // in about one process in five their work on an earlier pass's garbage (concurrent marking)
  // fell into the first rows of the one timed pass (raw lookup 335 -> 740 ns CPU, wall unchanged).
  const passes = Array.from({ length: timed }, () => pass());
  const med = {};
  for (const k of Object.keys(passes[0])) med[k] = median(passes.map((p) => p[k]));
  process.stdout.write(JSON.stringify(med) + '\n');
  m.close();
  process.exit(0);
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-bench-maps-'));
const peer = path.join(dir, 'maps_libbpf');
const cc = spawnSync('gcc', ['-O2', '-o', peer, path.join(root, 'bench/peers/maps_libbpf.c'), '-lbpf'], { encoding: 'utf8' });
if (cc.status !== 0) throw new Error(`building the libbpf peer failed (apt-get install gcc libbpf-dev): ${cc.stderr}`);

const ours = [];
const theirs = [];
const runPeer = () => {
  const r = spawnSync(peer, [String(n), String(warmup + timed)], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`libbpf peer failed: ${r.stderr}`);
  const lines = r.stdout.trim().split('\n').slice(-timed).map((l) => l.split(' ').map(Number));
  const col = (i) => median(lines.map((l) => l[i]));
  theirs.push({ update: col(0), lookup: col(1), delete: col(2), dump: col(3), updateWall: col(4), lookupWall: col(5), deleteWall: col(6), dumpWall: col(7) });
};
const before = opt('--before', undefined);
const old = [];
const child = (from, into) => {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--child', '--n', String(n), '--root', from], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bee-ts child failed: ${r.stderr}`);
  into.push(JSON.parse(r.stdout));
};
const runOurs = () => child(root, ours);
for (let i = 0; i < runs; i++) {
  if (i % 2) { runPeer(); runOurs(); } else { runOurs(); runPeer(); }
  if (before) child(path.resolve(before), old);
}
fs.rmSync(dir, { recursive: true, force: true });
const m = (xs, k) => median(xs.map((x) => x[k]));
// lookup, a copy: map.lookup(k) with a number key, which also returns the value as a fresh
// Uint8Array (no target: libbpf's lookup writes into the caller's buffer, as lookupInto does).
const rows = [
  ['update', 'updateRaw', 'updateNum'],
  ['lookup', 'lookupRaw', 'lookupNum'],
  ['delete', 'deleteRaw', 'deleteNum'],
  ['lookup', 'lookupCopy', null, 'lookup, a copy'],
  ['dump', 'dump', null],
  ['dump', 'dumpPairs', null, 'batch dump, pairs'],
].map(([op, raw, num, label]) => ({
  op: label ?? op,
  libbpfNs: m(theirs, op),
  beeTsNs: m(ours, raw),
  beeTsNumberKeyNs: num ? m(ours, num) : null,
  libbpfWallNs: m(theirs, op + 'Wall'),
  beeTsWallNs: m(ours, raw + 'Wall'),
  beeTsNumberKeyWallNs: num ? m(ours, num + 'Wall') : null,
  ...(before ? { beforeNs: m(old, raw), beforeNumberKeyNs: num ? m(old, num) : null } : {}),
}));
const result = { bench: 'maps', n, runs, loadavg: os.loadavg()[0], rows };
record(result);
if (json) {
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  console.log(`maps: hash map, 4-byte keys, 8-byte values, ${n} elements; CPU (and wall) ns per element, medians of ${runs} process pairs (alternated), each the median of ${timed} passes after ${warmup} warm-up passes`);
  console.log('op                libbpf ns   bee-ts ns (ops/s vs libbpf)   bee-ts number keys   wall ns: libbpf   bee-ts   number keys');
  for (const r of rows) {
    const ratio = (x) => `${x.toFixed(0).padStart(6)} (${(r.libbpfNs / x).toFixed(2)}×)`;
    const ns = (x, w) => (x == null ? '' : x.toFixed(0)).padStart(w);
    const walls = `   ${ns(r.libbpfWallNs, 15)} ${ns(r.beeTsWallNs, 8)} ${ns(r.beeTsNumberKeyWallNs, 13)}`;
    console.log(`${(r.op === 'dump' ? 'batch dump' : r.op).padEnd(17)} ${r.libbpfNs.toFixed(0).padStart(6)}   ${ratio(r.beeTsNs)}             ${r.beeTsNumberKeyNs ? ratio(r.beeTsNumberKeyNs) : '              '}${walls}${before ? `   before: ${ratio(r.beforeNs)}${r.beforeNumberKeyNs ? ' / ' + ratio(r.beforeNumberKeyNs) : ''}` : ''}`);
  }
}
