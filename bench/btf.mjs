#!/usr/bin/env node
// bench/btf: parse + dump the kernel's BTF with bee-ts and with bpftool, in the same run.
// Whole commands are timed as processes (what a user waits for), alternating bee-ts and bpftool
// so machine noise hits both; in-process phase times for bee-ts are printed too.
// Usage: node bench/btf.mjs [--runs N] [--file /sys/kernel/btf/vmlinux] [--json]
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { args, median, opt, root } from './lib.mjs';

const runs = Number(opt('--runs', '5'));
const file = opt('--file', '/sys/kernel/btf/vmlinux');
const json = args.includes('--json');
const cli = path.join(root, 'dist/cli/main.js');
const hasBpftool = spawnSync('sh', ['-c', 'command -v bpftool'], { stdio: 'ignore' }).status === 0;

function timeCmd(cmd, cmdArgs) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, cmdArgs, { stdio: ['ignore', 'ignore', 'pipe'], maxBuffer: 1 << 28 });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`${cmd} ${cmdArgs.join(' ')} failed: ${r.stderr}`);
  return ms;
}

const { parseBtf } = await import(path.join(root, 'dist/btf/btf.js'));
const { dumpC } = await import(path.join(root, 'dist/btf/cdump.js'));
const { dumpRaw } = await import(path.join(root, 'dist/btf/raw.js'));
const bytes = fs.readFileSync(file);
const inproc = { parse: [], c: [], raw: [] };
for (let i = 0; i < runs; i++) {
  let t = performance.now();
  const btf = parseBtf(bytes, { file });
  inproc.parse.push(performance.now() - t);
  t = performance.now();
  dumpC(btf, () => {});
  inproc.c.push(performance.now() - t);
  t = performance.now();
  dumpRaw(btf, () => {});
  inproc.raw.push(performance.now() - t);
}

const rows = [];
for (const format of ['raw', 'c']) {
  const ours = [];
  const theirs = [];
  for (let i = 0; i < runs; i++) {
    ours.push(timeCmd(process.execPath, [cli, 'btf', 'dump', 'file', file, 'format', format]));
    if (hasBpftool) theirs.push(timeCmd('bpftool', ['btf', 'dump', 'file', file, 'format', format]));
  }
  rows.push({
    format,
    beeTsMs: median(ours),
    bpftoolMs: hasBpftool ? median(theirs) : null,
    ratio: hasBpftool ? median(ours) / median(theirs) : null,
  });
}
const result = {
  file,
  bytes: bytes.length,
  runs,
  inProcessMs: { parse: median(inproc.parse), dumpC: median(inproc.c), dumpRaw: median(inproc.raw) },
  rows,
};
if (json) console.log(JSON.stringify(result));
else {
  console.log(`bench/btf: ${file} (${(bytes.length / 1048576).toFixed(1)} MiB), median of ${runs} runs, whole commands`);
  console.log(`  bee-ts in-process: parse ${result.inProcessMs.parse.toFixed(0)} ms, C dump ${result.inProcessMs.dumpC.toFixed(0)} ms, raw dump ${result.inProcessMs.dumpRaw.toFixed(0)} ms`);
  console.log('  format  bee-ts (ms)  bpftool (ms)  bee-ts/bpftool');
  for (const r of rows)
    console.log(`  ${r.format.padEnd(6)}  ${r.beeTsMs.toFixed(0).padStart(11)}  ${r.bpftoolMs === null ? 'n/a'.padStart(12) : r.bpftoolMs.toFixed(0).padStart(12)}  ${r.ratio === null ? 'bpftool missing' : r.ratio.toFixed(2) + 'x'}`);
}
