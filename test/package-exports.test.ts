// The package's `exports` as a consumer sees them: bee-ts installed (symlinked) into a fresh
// node_modules, then resolved by name from there, with require and with ESM import.meta.resolve.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { root } from './helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), `bee-ts-exports-${process.pid}-`));
fs.mkdirSync(path.join(dir, 'node_modules'));
fs.symlinkSync(root, path.join(dir, 'node_modules', 'bee-ts'), 'dir');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function resolveIn(spec: string): { cjs: string; esm: string } {
  const script = `
    import { createRequire } from 'node:module';
    const out = {};
    try { out.cjs = createRequire(process.cwd() + '/x.js').resolve(${JSON.stringify(spec)}); } catch (e) { out.cjs = e.code; }
    try { out.esm = new URL(import.meta.resolve(${JSON.stringify(spec)})).pathname; } catch (e) { out.esm = e.code; }
    console.log(JSON.stringify(out));`;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: dir, encoding: 'utf8' });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout);
}

const kprobeExample = fs.readdirSync(path.join(root, 'examples', 'kprobe')).find((f) => f.endsWith('.c'))!;

describe('package.json exports resolve by name', () => {
  it.each([
    ['bee-ts', 'dist/lib/index.js'],
    ['bee-ts/package.json', 'package.json'],
    ['bee-ts/include/bpf_helpers.h', 'include/bpf_helpers.h'],
    ['bee-ts/include/solo_types.h', 'include/solo_types.h'],
    ['bee-ts/examples/opensnoop.c', 'examples/opensnoop.c'],
    ['bee-ts/examples/opensnoop.o', 'examples/opensnoop.o'],
    [`bee-ts/examples/kprobe/${kprobeExample}`, `examples/kprobe/${kprobeExample}`],
  ])('%s', (spec, file) => {
    const want = fs.realpathSync(path.join(root, file));
    const got = resolveIn(spec);
    expect(fs.realpathSync(got.cjs)).toBe(want);
    expect(fs.realpathSync(got.esm)).toBe(want);
  });

  it('what is not exported stays private', () => {
    expect(resolveIn('bee-ts/src/index.ts')).toEqual({ cjs: 'ERR_PACKAGE_PATH_NOT_EXPORTED', esm: 'ERR_PACKAGE_PATH_NOT_EXPORTED' });
    expect(resolveIn('bee-ts/dist/loader/object.js').cjs).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
  });

  it('the license file is the Apache-2.0 text package.json names', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.license).toBe('Apache-2.0');
    const text = fs.readFileSync(path.join(root, 'LICENSE'), 'utf8');
    expect(text).toMatch(/Apache License\s+Version 2\.0, January 2004/);
    expect(text).toContain('END OF TERMS AND CONDITIONS');
    expect(pkg.files).toEqual(expect.arrayContaining(['LICENSE', 'CHANGELOG.md']));
  });
});
