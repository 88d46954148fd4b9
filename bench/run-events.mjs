#!/usr/bin/env node
// bench/run-events: `bee-ts run examples/opensnoop.o` end to end beside a bpftrace one-liner of the
// same tracepoint (sys_enter_openat, printing pid, comm and the file name), from one run. A
// workload process opens a file of a name unique to the round at a fixed rate (--rate per
// second, for --seconds); each tool's process CPU (utime+stime from /proc/PID/stat) is read just
// before and after the workload. Reported per tool: CPU per event (its CPU over every line it
// printed meanwhile: other processes open files too) and drops (workload opens not printed).
// Rounds alternate the tools (order rotated), --warmup rounds are not counted, medians of --runs.
// Usage: node bench/run-events.mjs [--rate N] [--seconds S] [--runs N] [--warmup N] [--json]
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { args, median, opt, root } from './lib.mjs';

const rate = Number(opt('--rate', '100000'));
const seconds = Number(opt('--seconds', '2'));
const runs = Number(opt('--runs', '5'));
const warmup = Number(opt('--warmup', '3'));
const json = args.includes('--json');
const cli = path.join(root, 'dist/cli/main.js');
const probe = path.join(root, 'examples/opensnoop.o');
if (process.getuid?.() !== 0) {
  console.error('bench/run-events: needs root (BPF programs); skipped');
  process.exit(0);
}
const has = (c) => spawnSync('sh', ['-c', `command -v ${c}`], { stdio: 'ignore' }).status === 0;
// Short paths: bpftrace's str() keeps 64 bytes of the name.
const dir = fs.mkdtempSync('/tmp/bbr-');
const ticks = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/** utime+stime of a process, in ms. */
function cpuMs(pid) {
  const st = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / ticks;
}

/** The workload: `rate` opens per second of `file` for `seconds`, paced in 1 ms steps. */
const WORKLOAD = `
const fs = require('fs'); const [file, rate, secs] = process.argv.slice(1); const total = Math.round(rate * secs);
const t0 = process.hrtime.bigint(); let n = 0;
while (n < total) {
  const due = Math.min(total, Math.floor(Number(process.hrtime.bigint() - t0) / 1e9 * rate) + 1);
  for (; n < due; n++) { try { fs.closeSync(fs.openSync(file, 'r')); } catch {} }
}
process.stdout.write(String(n));`;

function startTool(tool, tag) {
  const argv =
    tool === 'bee-ts'
      ? [process.execPath, cli, 'run', probe, '--no-metrics', '--no-tty']
      : ['bpftrace', '-B', 'full', '-e', 'tracepoint:syscalls:sys_enter_openat { printf("%d %s %s\\n", pid, comm, str(args->filename)); }'];
  const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let lines = 0;
  let mine = 0;
  let tail = '';
  let stderr = '';
  let counting = false;
  let started = () => {};
  p.stdout.on('data', (d) => {
    const s = tail + d.toString('latin1');
    // bpftrace says "Attaching N probe(s)..." on stdout, just before it attaches.
    if (tool === 'bpftrace' && /Attaching \d+ probe/.test(s)) started();
    const parts = s.split('\n');
    tail = parts.pop();
    if (!counting) return;
    lines += parts.length;
    for (const l of parts) if (l.includes(tag)) mine++;
  });
  const ready = new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`${tool} did not start in 120 s: ${stderr}`)), 120_000);
    started = () => {
      clearTimeout(t);
      setTimeout(res, tool === 'bpftrace' ? 500 : 100);
      started = () => {};
    };
    p.stderr.on('data', (d) => {
      stderr += d;
      if (tool === 'bee-ts' && /bee-ts: running /.test(stderr)) started();
    });
    p.on('exit', (c) => rej(new Error(`${tool} exited ${c}: ${stderr}`)));
  });
  return {
    p,
    ready,
    count(on) {
      counting = on;
    },
    get lines() {
      return lines;
    },
    get mine() {
      return mine;
    },
    get stderr() {
      return stderr;
    },
  };
}

async function round(tool, i) {
  const file = path.join(dir, `${tool[1]}${i}`);
  const tag = file;
  fs.writeFileSync(file, '');
  const t = startTool(tool, tag);
  try {
    await t.ready;
    t.count(true);
    const c0 = cpuMs(t.p.pid);
    const w = spawnSync(process.execPath, ['-e', WORKLOAD, file, String(rate), String(seconds)], { encoding: 'utf8' });
    const made = Number(w.stdout);
    // Let the tool drain what is in flight (its ring, its stdout).
    let last = -1;
    for (let k = 0; k < 50 && t.lines !== last; k++) {
      last = t.lines;
      await new Promise((r) => setTimeout(r, 100));
    }
    const cpu = cpuMs(t.p.pid) - c0;
    return { tool, made, seen: t.mine, lines: t.lines, cpuMs: cpu, usPerEvent: (cpu * 1000) / Math.max(1, t.lines), drops: Math.max(0, made - t.mine) };
  } finally {
    t.p.kill('SIGINT');
    await new Promise((r) => (t.p.exitCode !== null ? r() : t.p.once('exit', r)));
    fs.rmSync(file, { force: true });
  }
}

const tools = ['bee-ts', ...(has('bpftrace') ? ['bpftrace'] : [])];
if (tools.length === 1) console.error('bench/run-events: bpftrace is not installed (apt-get install bpftrace): bee-ts only');
const samples = new Map(tools.map((t) => [t, []]));
try {
  for (let r = 0; r < warmup + runs; r++) {
    for (let k = 0; k < tools.length; k++) {
      const tool = tools[(k + r) % tools.length];
      const s = await round(tool, r);
      if (r >= warmup) samples.get(tool).push(s);
    }
  }
} finally {
  fs.rmSync(dir, { recursive: true, force: true });
}
const rows = tools.map((tool) => {
  const s = samples.get(tool);
  return { tool, usPerEvent: median(s.map((x) => x.usPerEvent)), drops: median(s.map((x) => x.drops)), made: median(s.map((x) => x.made)), lines: median(s.map((x) => x.lines)), cpuMs: median(s.map((x) => x.cpuMs)) };
});
if (json) process.stdout.write(JSON.stringify({ bench: 'run-events', rate, seconds, runs, warmup, rows }) + '\n');
else {
  console.log(`run-events: opensnoop, ${rate} opens/s for ${seconds} s per round; medians of ${runs} rounds after ${warmup} warm-up rounds (tools alternated); CPU = the tool's process utime+stime`);
  console.log('tool        µs CPU/event   drops (of opens)   lines printed');
  for (const r of rows) console.log(`${r.tool.padEnd(10)} ${r.usPerEvent.toFixed(2).padStart(13)}   ${String(r.drops).padStart(8)} (of ${r.made})   ${String(r.lines).padStart(8)}`);
  if (rows.length === 2) console.log(`bee-ts / bpftrace: ${(rows[0].usPerEvent / rows[1].usPerEvent).toFixed(2)}× CPU per event`);
}
