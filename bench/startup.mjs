#!/usr/bin/env node
// bench/startup: how long a short CLI command takes as a whole process, bee-ts beside `node -e 0`
// (the floor any Node CLI pays) and bpftool, from one run. Each round runs every command once, in
// a rotated order so machine noise hits all of them; 3 warm-up rounds are not counted. Wall time
// from the parent, CPU time (user+sys) from wait4 (bench/rusage.c). Prints medians and ratios; issue 13's target
// is bee-ts ≤ 1.5× `node -e 0` wall for --help and the prog/map listings.
// Usage: node bench/startup.mjs [--runs N] [--warmup N] [--json]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { args, cliOf, cpuNote, envNote, median, opt, record, root, rotatedRounds, timed } from './lib.mjs';

const runs = Number(opt('--runs', '9'));
const warmup = Number(opt('--warmup', '3'));
const json = args.includes('--json');
// The installed `bee-ts` bin (package.json "bin", what `npm install -g` links), run as its shebang runs it.
const cli = cliOf();
const has = (c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0;
const root0 = process.getuid?.() === 0;

const cmds = [
  { name: 'node -e 0', argv: [process.execPath, '-e', '0'] },
  { name: 'bee-ts --help', argv: [process.execPath, cli, '--help'] },
  { name: 'bee-ts --version', argv: [process.execPath, cli, '--version'] },
  ...(root0 ? ['prog list', 'prog show', 'map list'].map((c) => ({ name: `bee-ts ${c}`, argv: [process.execPath, cli, ...c.split(' ')] })) : []),
  ...(has('bpftool') ? [{ name: 'bpftool help', argv: ['bpftool', 'help'], ok: [0, 255] }, ...(root0 ? ['prog list', 'prog show', 'map list'].map((c) => ({ name: `bpftool ${c}`, argv: ['bpftool', ...c.split(' ')] })) : [])] : []),
];

const once = (c) => timed(c.name, c.argv, c.ok);
const samples = rotatedRounds(cmds, warmup, runs, once);
const rows = cmds.map((c) => ({ command: c.name, wallMs: median(samples.get(c.name).wall), cpuMs: median(samples.get(c.name).cpu) }));
const nodeFloor = rows[0];
const result = { bench: 'startup', runs, warmup, loadavg: os.loadavg()[0], rows };
record(result);
if (json) {
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  console.log(`startup: whole process, medians of ${runs} rounds after ${warmup} warm-up rounds (order rotated per round); ${cpuNote}${envNote}`);
  console.log('command              wall ms   cpu ms   wall / node -e 0   cpu / node -e 0');
  for (const r of rows) console.log(`${r.command.padEnd(20)} ${r.wallMs.toFixed(1).padStart(7)}  ${r.cpuMs.toFixed(1).padStart(7)}   ${(r.wallMs / nodeFloor.wallMs).toFixed(2).padStart(8)}×  ${(r.cpuMs / Math.max(nodeFloor.cpuMs, 1)).toFixed(2).padStart(14)}×`);
  const pairs = [['bee-ts --help', 'bpftool help'], ['bee-ts prog list', 'bpftool prog list'], ['bee-ts prog show', 'bpftool prog show'], ['bee-ts map list', 'bpftool map list']];
  for (const [a, b] of pairs) {
    const x = rows.find((r) => r.command === a);
    const y = rows.find((r) => r.command === b);
    if (x && y) console.log(`${a} / ${b}: ${(x.wallMs / y.wallMs).toFixed(1)}× wall`);
  }
}
