#!/usr/bin/env node
// Rebuild examples/*.o and examples/kprobe/*.o with `bee-ts build` (vmlinux.h from this kernel's
// BTF) and record examples/manifest.json: what each object was built from, so a test can tell
// when one is stale. Run from anywhere: node scripts/build-examples.mjs
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const sha = (b) => createHash('sha256').update(b).digest('hex');

export function exampleSources() {
  const out = [];
  for (const dir of ['examples', 'examples/kprobe']) {
    for (const f of fs.readdirSync(path.join(root, dir)).sort()) if (f.endsWith('.c')) out.push(`${dir}/${f}`);
  }
  return out;
}

export function exampleInputHash(src) {
  const h = createHash('sha256').update(fs.readFileSync(path.join(root, src)));
  for (const d of ['include', 'include/bpf']) for (const f of fs.readdirSync(path.join(root, d)).sort()) if (f.endsWith('.h')) h.update(f).update(fs.readFileSync(path.join(root, d, f)));
  return h.digest('hex');
}

export function buildExample(src, out) {
  execFileSync(process.execPath, [path.join(root, 'dist/cli/main.js'), 'build', src, '-o', out], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const manifest = { kernel: os.release(), objects: {} };
  for (const src of exampleSources()) {
    const obj = src.replace(/\.c$/, '.o');
    buildExample(src, obj);
    manifest.objects[obj] = { source: src, input: exampleInputHash(src), output: sha(fs.readFileSync(path.join(root, obj))) };
    console.log(`built ${obj}`);
  }
  fs.writeFileSync(path.join(root, 'examples/manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}
