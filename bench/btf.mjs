#!/usr/bin/env node
// bench/btf: `btf dump file <vmlinux> format raw|c` as whole processes, bee-ts beside bpftool from
// one run. Each round runs every command once in a rotated order (machine noise hits all of them);
// 3 warm-up rounds are not counted. CPU = user+sys and max RSS from wait4 (bench/rusage.c), wall from the parent;
// medians. In-process phase CPU times for bee-ts (parse, a first name lookup, the two dumps) are
// printed too, each from a fresh process so caches do not carry over (the dumps through the byte writers the
// CLI uses, where the tree has them).
// Usage: node bench/btf.mjs [--runs N] [--warmup N] [--file /sys/kernel/btf/vmlinux] [--json] [--before CHECKOUT]
//   --before: also time another built checkout's dist (e.g. main before a change), same rounds.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { args, cliOf, cpuNote, envNote, median, opt, record, root, timed } from './lib.mjs';

const runs = Number(opt('--runs', '5'));
const warmup = Number(opt('--warmup', '3'));
const file = opt('--file', '/sys/kernel/btf/vmlinux');
const json = args.includes('--json');
const before = opt('--before', undefined);

if (args.includes('--child')) {
  // One process: parse, first lookup, one dump, as JSON on stdout.
  const from = opt('--root', root);
  const what = opt('--what', 'raw');
  const { parseBtf } = await import(path.join(from, 'dist/btf/btf.js'));
  const { BtfKind } = await import(path.join(from, 'dist/btf/types.js'));
  const bytes = fs.readFileSync(file);
  const heap0 = process.memoryUsage().heapUsed;
  // CPU time of the process (all threads: the optimizing compiler runs beside the main thread).
  const now = () => { const u = process.cpuUsage(); return (u.user + u.system) / 1000; };
  let t = now();
  const btf = parseBtf(bytes, { file });
  const parse = now() - t;
  const heap = process.memoryUsage().heapUsed - heap0;
  t = now();
  if (!btf.find('task_struct', BtfKind.Struct)) throw new Error('no task_struct');
  const lookup = now() - t;
  t = now();
  // The byte writers the CLI uses where the tree has them (a --before tree may only have the string ones).
  const m = await import(path.join(from, what === 'c' ? 'dist/btf/cdump.js' : 'dist/btf/raw.js'));
  const toBytes = what === 'c' ? m.dumpCBytes : m.dumpRawBytes;
  if (toBytes) toBytes(btf, () => {});
  else (what === 'c' ? m.dumpC : m.dumpRaw)(btf, () => {});
  const dump = now() - t;
  process.stdout.write(JSON.stringify({ parse, lookup, dump, heapMiB: heap / 1048576 }));
  process.exit(0);
}

const hasBpftool = spawnSync('sh', ['-c', 'command -v bpftool'], { stdio: 'ignore' }).status === 0;
const cmds = [];
for (const format of ['raw', 'c']) {
  cmds.push({ name: `bee-ts ${format}`, format, argv: [process.execPath, cliOf(root), 'btf', 'dump', 'file', file, 'format', format] });
  if (before) cmds.push({ name: `before ${format}`, format, argv: [process.execPath, cliOf(path.resolve(before)), 'btf', 'dump', 'file', file, 'format', format] });
  if (hasBpftool) cmds.push({ name: `bpftool ${format}`, format, argv: ['bpftool', 'btf', 'dump', 'file', file, 'format', format] });
}

const once = (c) => timed(c.name, c.argv);
function phases(from, what) {
  const r = spawnSync(process.execPath, [path.join(root, 'bench/btf.mjs'), '--child', '--root', from, '--what', what, '--file', file], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`phase child failed: ${r.stderr}`);
  return JSON.parse(r.stdout);
}

const samples = new Map(cmds.map((c) => [c.name, { wall: [], cpu: [], rssMiB: [] }]));
const trees = [['bee-ts', root], ...(before ? [['before', path.resolve(before)]] : [])];
const inproc = new Map(trees.map(([n]) => [n, { parse: [], lookup: [], raw: [], c: [], heapMiB: [] }]));
for (let round = 0; round < warmup + runs; round++) {
  for (let i = 0; i < cmds.length; i++) {
    const c = cmds[(i + round) % cmds.length];
    const s = once(c);
    if (round >= warmup) for (const k of ['wall', 'cpu', 'rssMiB']) samples.get(c.name)[k].push(s[k]);
  }
  if (round < warmup) continue;
  for (const [n, from] of round % 2 ? [...trees].reverse() : trees) {
    const acc = inproc.get(n);
    for (const what of ['raw', 'c']) {
      const p = phases(from, what);
      acc.parse.push(p.parse);
      acc.lookup.push(p.lookup);
      acc.heapMiB.push(p.heapMiB);
      acc[what].push(p.dump);
    }
  }
}
const med = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, median(v)]));
const rows = cmds.map((c) => ({ command: c.name, format: c.format, ...med(samples.get(c.name)) }));
const result = { bench: 'btf', file, bytes: fs.statSync(file).size, runs, warmup, rows, inProcessMs: Object.fromEntries([...inproc].map(([n, a]) => [n, med(a)])) };
record(result);
if (json) process.stdout.write(JSON.stringify(result) + '\n');
else {
  console.log(`btf: btf dump file ${file} (${(result.bytes / 1048576).toFixed(1)} MiB), whole process, medians of ${runs} rounds after ${warmup} warm-up rounds (order rotated per round); ${cpuNote}${envNote}`);
  console.log('command        wall ms   cpu ms  max RSS MiB   cpu / bpftool');
  for (const r of rows) {
    const peer = rows.find((x) => x.command === `bpftool ${r.format}`);
    console.log(`${r.command.padEnd(12)} ${r.wall.toFixed(0).padStart(8)} ${r.cpu.toFixed(1).padStart(8)} ${r.rssMiB.toFixed(0).padStart(12)}   ${peer ? (r.cpu / peer.cpu).toFixed(2) + '×' : 'n/a'}`);
  }
  console.log('in-process CPU ms: parse, first find(task_struct), raw dump, C dump; heap after parse (MiB)');
  for (const [n, p] of Object.entries(result.inProcessMs))
    console.log(`${n.padEnd(8)} parse ${p.parse.toFixed(1)}  lookup ${p.lookup.toFixed(1)}  raw ${p.raw.toFixed(0)}  c ${p.c.toFixed(0)}  heap ${p.heapMiB.toFixed(1)}`);
}
