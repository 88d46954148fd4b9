#!/usr/bin/env node
// bench/ringbuf: `bee-ts bench ringbuf` (bee-ts's reader vs libbpf's ring_buffer__consume/poll,
// same run, same producer). Arguments pass through: --size 16,64 --seconds N --json --no-stream.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
if (process.getuid?.() !== 0) {
  console.error('bench/ringbuf: needs root (BPF programs and maps); skipped');
  process.exit(0);
}
const r = spawnSync(process.execPath, [path.join(root, 'dist/cli/main.js'), 'bench', 'ringbuf', ...process.argv.slice(2)], { stdio: 'inherit' });
process.exit(r.status ?? 1);
