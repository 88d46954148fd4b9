#!/usr/bin/env node
// bench/idle-rss: resident memory of an idle `bee-ts run examples/tcpconnect.o` (a counter map read
// every second, /metrics served, few events). Per process: VmRSS from /proc/PID/status once a
// second from --from seconds after start (the load and the first scrapes are over) to --seconds;
// its largest sample. Reported: the median over --runs processes of that largest sample, and the
// range of all samples. (issue 13's target: ≤ 80 MiB; bee, the Go original, is not packaged here.)
// Usage: node bench/idle-rss.mjs [--runs N] [--from S] [--seconds S] [--json]
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { args, cliOf, median, opt, record, root } from './lib.mjs';

const runs = Number(opt('--runs', '3'));
const from = Number(opt('--from', '10'));
const seconds = Number(opt('--seconds', '30'));
const json = args.includes('--json');
if (process.getuid?.() !== 0) {
  console.error('bench/idle-rss: needs root (BPF programs); skipped');
  process.exit(0);
}
const cli = cliOf();
const probe = path.join(root, 'examples/tcpconnect.o');
const rssMiB = (pid) => {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
};

const peaks = [];
const all = [];
for (let r = 0; r < runs; r++) {
  // bee's default /metrics port (9091) may be taken on this shared host: a port of its own per process.
  const port = 20000 + ((process.pid * 7 + r * 131) % 20000);
  const child = spawn(process.execPath, [cli, 'run', probe, '--no-tty', '--prom-address', '127.0.0.1', '--prom-port', String(port)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => (err = (err + d).slice(-2000)));
  const exited = new Promise((res) => child.once('exit', res));
  const samples = [];
  const t0 = Date.now();
  while (Date.now() - t0 < seconds * 1000 && child.exitCode === null) {
    await sleep(1000);
    if (Date.now() - t0 >= from * 1000 && child.exitCode === null) samples.push(rssMiB(child.pid));
  }
  child.kill('SIGINT');
  const code = await exited;
  if (!samples.length) {
    console.error(`bench/idle-rss: bee-ts run exited (${code}) before ${from} s: ${err}`);
    process.exit(1);
  }
  peaks.push(Math.max(...samples));
  all.push(...samples);
}
const result = { bench: 'idle-rss', runs, from, seconds, loadavg: os.loadavg()[0], peakMiB: median(peaks), minMiB: Math.min(...all), maxMiB: Math.max(...all) };
record(result);
if (json) process.stdout.write(JSON.stringify(result) + '\n');
else {
  console.log(`idle-rss: bee-ts run examples/tcpconnect.o, VmRSS once a second from ${from} s to ${seconds} s; ${runs} processes; load average ${result.loadavg.toFixed(1)}`);
  console.log(`largest sample per process, median: ${result.peakMiB.toFixed(1)} MiB (all samples ${result.minMiB.toFixed(1)}–${result.maxMiB.toFixed(1)} MiB); target ≤ 80 MiB`);
}
