#!/usr/bin/env node
// bench/ringbuf: `bee-ts bench ringbuf` (bee-ts's reader vs libbpf's ring_buffer__consume/poll,
// same run, same producer). Arguments pass through: --size 16,64 --seconds N --json --no-stream.
// It runs the command with --json (for bench/run.mjs's target table) and prints the command's
// own text rendering of that result unless --json was asked for.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { args, record, root } from './lib.mjs';

if (process.getuid?.() !== 0) {
  console.error('bench/ringbuf: needs root (BPF programs and maps); skipped');
  process.exit(0);
}
const pass = args.filter((a) => a !== '--json');
const r = spawnSync(process.execPath, [path.join(root, 'dist/cli/main.js'), 'bench', 'ringbuf', ...pass, '--json'], { stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 });
if (r.status !== 0) process.exit(r.status ?? 1);
const result = JSON.parse(String(r.stdout));
record({ bench: 'ringbuf', ...result });
if (args.includes('--json')) process.stdout.write(String(r.stdout));
else {
  const { benchText } = await import(path.join(root, 'dist/cli/bench.js'));
  process.stdout.write(benchText(result));
}
