#!/usr/bin/env node
// `npm run bench`: every benchmark, each printing bee-ts beside its peer from the same run, then
// issue 13's target table built from their results (bench/targets.mjs).
//   npm run bench -- --save FILE    also keep the results (JSON lines) in FILE, for
//                                   `node bench/targets.mjs FILE` later
// Other arguments pass through to every bench.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { readResults, targetTable } from './targets.mjs';

const dir = path.dirname(fileURLToPath(import.meta.url));
const argv = process.argv.slice(2);
const si = argv.indexOf('--save');
const save = si >= 0 ? argv.splice(si, 2)[1] : undefined;
const benches = ['startup.mjs', 'maps.mjs', 'btf.mjs', 'ringbuf.mjs', 'run-events.mjs', 'idle-rss.mjs', 'load.mjs', 'load-inproc.mjs'].filter((f) => fs.existsSync(path.join(dir, f)));
// The results go to a private folder (mkdtemp: 0700, a fresh name), never a predictable path.
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-bench-'));
const out = path.join(work, 'results.jsonl');
let failed = false;
try {
  const started = new Date().toISOString();
  for (const b of benches) {
    const r = spawnSync(process.execPath, [path.join(dir, b), ...argv], { stdio: 'inherit', env: { ...process.env, BEE_TS_BENCH_OUT: out } });
    if (r.status !== 0) failed = true;
  }
  if (fs.existsSync(out)) {
    const results = readResults(out);
    console.log(`\nissue 13 targets (this run: ${started} – ${new Date().toISOString()}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} at the end):\n`);
    process.stdout.write(targetTable(results));
    if (save) fs.copyFileSync(out, save);
  }
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
