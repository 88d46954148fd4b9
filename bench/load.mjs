#!/usr/bin/env node
// bench/load: whole-process `prog loadall OBJ DIR` of a CO-RE object (test/fixtures/core.bpfel.o:
// field relocations against the kernel's BTF) and a non-CO-RE one (test/fixtures/globals.bpfel.o:
// global data maps), bee-ts beside bpftool and `node -e 0` (Node's own start-up), from one run.
// Each round runs every command once, order rotated; --warmup rounds are not counted; medians of
// --runs. Wall time from this process, CPU (user+sys) from wait4 (bench/rusage.c). The pins go to a directory of
// this process's own under /sys/fs/bpf and are removed after every command.
// Usage: node bench/load.mjs [--runs N] [--warmup N] [--json]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { args, cliOf, cpuNote, envNote, median, opt, record, root, rotatedRounds, timed } from './lib.mjs';

const runs = Number(opt('--runs', '5'));
const warmup = Number(opt('--warmup', '3'));
const json = args.includes('--json');
// The installed `bee-ts` bin (package.json "bin", what `npm install -g` links), as bench/startup.mjs times it.
const cli = cliOf();
if (process.getuid?.() !== 0) {
  console.error('bench/load: needs root (loading programs); skipped');
  process.exit(0);
}
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
  let made = false;
  let r;
  try {
    r = timed(c.name, c.argv(dir));
  } finally {
    // Every pin must have been made (the load worked), then goes (this process's own directory only).
    if (c.pins && dir.startsWith(`${pinRoot}/`)) {
      made = fs.existsSync(dir) && fs.readdirSync(dir).length > 0;
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  if (c.pins && !made) throw new Error(`${c.name}: no pins under ${dir}`);
  return r;
}

fs.mkdirSync(pinRoot, { mode: 0o700 });
let samples;
try {
  samples = rotatedRounds(cmds, warmup, runs, once);
} finally {
  fs.rmSync(pinRoot, { recursive: true, force: true });
}
const rows = cmds.map((c) => ({ command: c.name, wallMs: median(samples.get(c.name).wall), cpuMs: median(samples.get(c.name).cpu) }));
const get = (name) => rows.find((r) => r.command === name);
const result = { bench: 'load', runs, warmup, loadavg: os.loadavg()[0], rows };
record(result);
if (json) process.stdout.write(JSON.stringify(result) + '\n');
else {
  console.log(`load: whole-process prog loadall, medians of ${runs} rounds after ${warmup} warm-up rounds (order rotated per round); ${cpuNote}${envNote}`);
  console.log('command              wall ms   cpu ms');
  for (const r of rows) console.log(`${r.command.padEnd(20)} ${r.wallMs.toFixed(1).padStart(7)}  ${r.cpuMs.toFixed(1).padStart(7)}`);
  const node = get('node -e 0');
  for (const o of objects) {
    const a = get(`bee-ts ${o.kind}`);
    const b = get(`bpftool ${o.kind}`);
    if (a && b) console.log(`${o.kind}: bee-ts ${(a.wallMs / b.wallMs).toFixed(1)}× bpftool wall; target node -e 0 + 2× bpftool = ${(node.wallMs + 2 * b.wallMs).toFixed(1)} ms, bee-ts ${a.wallMs.toFixed(1)} ms`);
  }
}
