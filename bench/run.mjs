#!/usr/bin/env node
// `npm run bench`: every benchmark, each printing bee-ts beside its peer from the same run.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
const benches = ['startup.mjs', 'maps.mjs', 'btf.mjs', 'ringbuf.mjs', 'run-events.mjs', 'load.mjs', 'load-inproc.mjs'].filter((f) => fs.existsSync(path.join(dir, f)));
let failed = false;
for (const b of benches) {
  const r = spawnSync(process.execPath, [path.join(dir, b), ...process.argv.slice(2)], { stdio: 'inherit' });
  if (r.status !== 0) failed = true;
}
process.exit(failed ? 1 : 0);
