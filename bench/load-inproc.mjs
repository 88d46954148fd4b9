#!/usr/bin/env node
// bench/load-inproc: in-process loads of a CO-RE object (test/fixtures/core.bpfel.o: field
// relocations against the kernel's BTF) and a non-CO-RE one (test/fixtures/globals.bpfel.o:
// global data maps), bee-ts (BpfObject.open(file).load(), then close) beside libbpf
// (bench/peers/load_libbpf.c: bpf_object__open_file + bpf_object__load, then close; built here with
// gcc -O2 -lbpf in a fresh private directory). Each process times its first load (everything the
// first load of a process pays: bee-ts's lazily loaded koffi, the kernel BTF parse and indexes,
// code run for the first time; the library import is timed apart, its own column) and then --warm more loads of
// the same object. Each round starts one process per implementation and object, order rotated;
// --warmup rounds are not counted; medians of --runs (warm: the median of each process's warm
// loads, then the median over rounds). CPU = the process CPU clock around the load, wall = the
// monotonic clock. The bee-ts process is bench/load-inproc-child.mjs, which imports only the library.
// Usage: node bench/load-inproc.mjs [--runs N] [--warmup N] [--warm N] [--json] [--before CHECKOUT]
//   --before: also time another built checkout's dist (e.g. main before a change), same rounds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { args, median, opt, record, root, rotatedRounds } from './lib.mjs';

const runs = Number(opt('--runs', '5'));
const warmup = Number(opt('--warmup', '3'));
const warm = Number(opt('--warm', '5'));
const json = args.includes('--json');
const child = path.join(path.dirname(fileURLToPath(import.meta.url)), 'load-inproc-child.mjs');

if (process.getuid?.() !== 0) {
  console.error('bench/load-inproc: needs root (loading programs); skipped');
  process.exit(0);
}
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-bench-load-'));
const peer = path.join(dir, 'load_libbpf');
const cc = spawnSync('gcc', ['-O2', '-o', peer, path.join(root, 'bench/peers/load_libbpf.c'), '-lbpf'], { encoding: 'utf8' });
if (cc.status !== 0) {
  fs.rmSync(dir, { recursive: true, force: true });
  throw new Error(`building the libbpf peer failed (apt-get install gcc libbpf-dev): ${cc.stderr}`);
}

const objects = [
  { kind: 'CO-RE', file: path.join(root, 'test/fixtures/core.bpfel.o') },
  { kind: 'non-CO-RE', file: path.join(root, 'test/fixtures/globals.bpfel.o') },
];
const before = opt('--before', undefined);
const impls = [
  { impl: 'bee-ts', argv: (file) => [process.execPath, child, root, file, String(1 + warm)] },
  { impl: 'libbpf', argv: (file) => [peer, file, String(1 + warm)] },
];
if (before) impls.push({ impl: 'bee-ts before', argv: (file) => [process.execPath, child, path.resolve(before), file, String(1 + warm)] });
const cmds = objects.flatMap((o) => impls.map((i) => ({ name: `${i.impl} ${o.kind}`, impl: i.impl, object: o.kind, argv: i.argv(o.file) })));

// rotatedRounds keeps one {wall, cpu} per command and round; each process gives a first and a warm figure.
const firsts = new Map(cmds.map((c) => [c.name, { wall: [], cpu: [] }]));
const imports = new Map(cmds.map((c) => [c.name, { wall: [], cpu: [] }]));
function once(c) {
  const r = spawnSync(c.argv[0], c.argv.slice(1), { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${c.name} exited ${r.status}: ${String(r.stderr).slice(0, 400)}`);
  const out = r.stdout.trim().split('\n');
  // bee-ts's child says first what importing the library cost (libbpf's peer has no such line).
  if (out[0]?.startsWith('import ')) {
    const [cpu, wall] = out.shift().split(' ').slice(1).map((x) => Number(x) / 1e6);
    imports.get(c.name).cpu.push(cpu);
    imports.get(c.name).wall.push(wall);
  }
  const loads = out.map((l) => l.split(' ').map((x) => Number(x) / 1e6));
  if (loads.length !== 1 + warm || loads.some((l) => l.length !== 2 || !l.every(Number.isFinite))) throw new Error(`${c.name}: unexpected output ${r.stdout.slice(0, 200)}`);
  const [first, ...rest] = loads;
  // The first load goes to its own list (pushed for warm-up rounds too; trimmed below).
  firsts.get(c.name).cpu.push(first[0]);
  firsts.get(c.name).wall.push(first[1]);
  return { cpu: rest.length ? median(rest.map((l) => l[0])) : NaN, wall: rest.length ? median(rest.map((l) => l[1])) : NaN };
}

let warmSamples;
try {
  warmSamples = rotatedRounds(cmds, warmup, runs, once);
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const counted = (xs) => xs.slice(warmup);
const rows = cmds.map((c) => ({
  impl: c.impl,
  object: c.object,
  firstCpuMs: median(counted(firsts.get(c.name).cpu)),
  firstWallMs: median(counted(firsts.get(c.name).wall)),
  warmCpuMs: warm ? median(warmSamples.get(c.name).cpu) : null,
  warmWallMs: warm ? median(warmSamples.get(c.name).wall) : null,
  importCpuMs: imports.get(c.name).cpu.length ? median(counted(imports.get(c.name).cpu)) : null,
  importWallMs: imports.get(c.name).wall.length ? median(counted(imports.get(c.name).wall)) : null,
}));
const get = (impl, object) => rows.find((r) => r.impl === impl && r.object === object);
const ratios = {};
for (const o of objects) {
  const a = get('bee-ts', o.kind);
  const b = get('libbpf', o.kind);
  ratios[`first ${o.kind} cpu`] = a.firstCpuMs / b.firstCpuMs;
  ratios[`first ${o.kind} wall`] = a.firstWallMs / b.firstWallMs;
  if (warm) {
    ratios[`warm ${o.kind} cpu`] = a.warmCpuMs / b.warmCpuMs;
    ratios[`warm ${o.kind} wall`] = a.warmWallMs / b.warmWallMs;
  }
}
const result = { bench: 'load-inproc', runs, warmup, warm, loadavg: os.loadavg()[0], rows, ratios };
record(result);
if (json) process.stdout.write(JSON.stringify(result) + '\n');
else {
  console.log(`load-inproc: open+load+close in one process, first load and ${warm} warm loads per process; medians of ${runs} rounds after ${warmup} warm-up rounds (order rotated per round); load average ${os.loadavg()[0].toFixed(1)}`);
  console.log('impl            object      first cpu ms  first wall ms   warm cpu ms  warm wall ms  import cpu ms  import wall ms');
  const f = (x) => (x === null ? '-' : x.toFixed(2)).padStart(12);
  for (const r of rows) console.log(`${r.impl.padEnd(15)} ${r.object.padEnd(10)} ${f(r.firstCpuMs)}  ${f(r.firstWallMs)}  ${f(r.warmCpuMs)}  ${f(r.warmWallMs)}  ${f(r.importCpuMs)}  ${f(r.importWallMs)}`);
  console.log("import: the dynamic import of the package entry (package.json exports: dist/lib/index.js, the bundle with its code cache) before the first load, which the first load does not include; libbpf links at exec");
  for (const [k, v] of Object.entries(ratios)) console.log(`bee-ts / libbpf ${k}: ${v.toFixed(2)}×`);
}
