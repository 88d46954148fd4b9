// Shared by scripts/build-fixtures.mjs and test/fixtures.test.ts: what each fixture object is built
// from and how, so a test can tell when a committed object no longer matches its source.
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const fixturesDir = path.join(root, 'test', 'fixtures');
export const CLANG = process.env.BEE_CLANG ?? 'clang-16';
export const STRIP = process.env.BEE_STRIP ?? 'llvm-strip-16';

/** Sources compiled for both byte orders (the rest little-endian only). */
const BOTH_ENDIAN = new Set(['btf_kinds', 'maps', 'globals', 'bee_suffix']);

export function fixtureTargets() {
  const out = [];
  for (const f of fs.readdirSync(fixturesDir).sort()) {
    if (!f.endsWith('.c')) continue;
    const name = f.slice(0, -2);
    out.push({ name, source: f, target: 'bpfel', object: `${name}.bpfel.o` });
    if (BOTH_ENDIAN.has(name)) out.push({ name, source: f, target: 'bpfeb', object: `${name}.bpfeb.o` });
  }
  return out;
}

export function compileArgs(t, outPath) {
  return ['-O2', '-g', '-fdebug-compilation-dir=.', '-target', t.target, '-Wall', '-Werror', '-Wno-unused-function', '-Iinclude', '-I../../include', '-c', t.source, '-o', outPath];
}

/** Hash of everything that determines an object: its source, every header, and the flags. */
export function inputHash(t) {
  const h = createHash('sha256');
  h.update(JSON.stringify(compileArgs(t, 'OUT')));
  h.update(fs.readFileSync(path.join(fixturesDir, t.source)));
  for (const dir of [path.join(fixturesDir, 'include'), path.join(root, 'include'), path.join(root, 'include', 'bpf')]) {
    for (const f of fs.readdirSync(dir).sort()) if (f.endsWith('.h')) h.update(f).update(fs.readFileSync(path.join(dir, f)));
  }
  return h.digest('hex');
}

export function fileHash(p) {
  return createHash('sha256').update(fs.readFileSync(p)).digest('hex');
}

/** Compile one fixture into outPath (deterministic: relative paths, DWARF stripped, .BTF kept). */
export function buildFixture(t, outPath) {
  execFileSync(CLANG, compileArgs(t, outPath), { cwd: fixturesDir, stdio: ['ignore', 'inherit', 'inherit'] });
  execFileSync(STRIP, ['-g', outPath], { cwd: fixturesDir });
}

export const manifestPath = path.join(fixturesDir, 'manifest.json');
