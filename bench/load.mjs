#!/usr/bin/env node
// bench/load: whole-process `prog loadall OBJ DIR` of a CO-RE object (test/fixtures/core.bpfel.o:
// field relocations against the kernel's BTF) and a non-CO-RE one (test/fixtures/globals.bpfel.o:
// global data maps), bee-ts beside bpftool and `node -e 0` (Node's own start-up), from one run.
// Each round runs every command once, order rotated; --warmup rounds are not counted; medians of
// --runs. Wall time from this process, CPU (user+sys) from GNU time. The pins go to a directory of
// this process's own under /sys/fs/bpf and are removed after every command.
// Usage: node bench/load.mjs [--runs N] [--warmup N] [--json]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { args, median, opt, root } from './lib.mjs';

const runs = Number(opt('--runs', '5'));
const warmup = Number(opt('--warmup', '3'));
const json = args.includes('--json');
const cli = path.join(root, 'dist/cli/main.js');
if (process.getuid?.() !== 0) {
  console.error('bench/load: needs root (loading programs); skipped');
  process.exit(0);
}
if (!fs.existsSync('/usr/bin/time')) throw new Error('bench/load needs GNU time (/usr/bin/time; apt-get install time)');
const has = (c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0;
const pinRoot = `/sys/fs/bpf/bee-ts-bench-load-${process.pid}`;

const objects = [
  { kind: 'CO-RE', file: path.join(root, 'test/fixtures/core.bpfel.o') },
  { kind: 'non-CO-RE', file: path.join(root, 'test/fixtures/globals.bpfel.o') },
];
const cmds = [{ name: 'node -e 0', argv: () => [process.execPath, '-e', '0'] }];
for (const o of objects) {
  cmds.push({ name: `bee-ts ${o.kind}`, argv: (dir) => [process.execPath, cli, 'prog', 'loadall', o.file, dir], pins: true });
  if (has('bpftool')) cmds.push({ name: `bpftool ${o.kind}`, argv: (dir) => ['bpftool', 'prog', 'loadall', o.file, dir], pins: true });
}

let n = 0;
function once(c) {
  const dir = `${pinRoot}/${n++}`;
  const argv = c.argv(dir);
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '@@%U %S', ...argv], { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 24 });
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  const err = String(r.stderr);
  try {
    if (c.pins) {
      // Every pin must be there (the load worked), then goes (this process's own directory only).
      if (r.status !== 0 || fs.readdirSync(dir).length === 0) throw new Error(`${c.name} failed (exit ${r.status}): ${err.slice(0, 400)}`);
    }
  } finally {
    if (c.pins && dir.startsWith(`${pinRoot}/`)) fs.rmSync(dir, { recursive: true, force: true });
  }
  const m = /@@([\d.]+) ([\d.]+)\s*$/.exec(err);
  if (!m) throw new Error(`${c.name}: no timing (${err.slice(-300)})`);
  return { wall, cpu: (Number(m[1]) + Number(m[2])) * 1000 };
}

const samples = new Map(cmds.map((c) => [c.name, { wall: [], cpu: [] }]));
fs.mkdirSync(pinRoot, { mode: 0o700 });
try {
  for (let round = 0; round < warmup + runs; round++) {
    for (let i = 0; i < cmds.length; i++) {
      const c = cmds[(i + round) % cmds.length];
      const s = once(c);
      if (round >= warmup) {
        samples.get(c.name).wall.push(s.wall);
        samples.get(c.name).cpu.push(s.cpu);
      }
    }
  }
} finally {
  fs.rmSync(pinRoot, { recursive: true, force: true });
}
const rows = cmds.map((c) => ({ command: c.name, wallMs: median(samples.get(c.name).wall), cpuMs: median(samples.get(c.name).cpu) }));
const get = (name) => rows.find((r) => r.command === name);
if (json) process.stdout.write(JSON.stringify({ bench: 'load', runs, warmup, rows }) + '\n');
else {
  console.log(`load: whole-process prog loadall, medians of ${runs} rounds after ${warmup} warm-up rounds (order rotated per round); CPU = user+sys (GNU time, 10 ms ticks)`);
  console.log('command              wall ms   cpu ms');
  for (const r of rows) console.log(`${r.command.padEnd(20)} ${r.wallMs.toFixed(1).padStart(7)}  ${r.cpuMs.toFixed(0).padStart(7)}`);
  const node = get('node -e 0');
  for (const o of objects) {
    const a = get(`bee-ts ${o.kind}`);
    const b = get(`bpftool ${o.kind}`);
    if (a && b) console.log(`${o.kind}: bee-ts ${(a.wallMs / b.wallMs).toFixed(1)}× bpftool wall; target node -e 0 + 2× bpftool = ${(node.wallMs + 2 * b.wallMs).toFixed(1)} ms, bee-ts ${a.wallMs.toFixed(1)} ms`);
  }
}
