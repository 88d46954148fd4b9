// The package entry (dist/lib/index.js: the library bundled into dist/lib/bee-ts.cjs, loaded with
// its V8 code cache; scripts/bundle-cli.mjs) against tsc's unbundled dist/index.js: the same
// exports, one module instance behind them, and the same results with and without the cache.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fixture, libEntry, root } from './helpers.js';

const bundle = path.join(root, 'dist', 'lib', 'bee-ts.cjs');
const tscEntry = path.join(root, 'dist', 'index.js');

/** Runs an ES module script in a fresh Node (no flags, as users run it); its stdout as JSON. */
function child(script: string, env: Record<string, string> = {}): unknown {
  const plain = { ...process.env, ...env };
  delete plain.NODE_OPTIONS;
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: plain });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  return JSON.parse(r.stdout);
}

/** What an entry exports (name -> typeof) and what parsing a CO-RE object through it gives. */
const probe = (entry: string) => `
  const m = await import(${JSON.stringify(entry)});
  const kinds = Object.fromEntries(Object.keys(m).sort().map((k) => [k, typeof m[k]]));
  const o = m.BpfObject.open(${JSON.stringify(fixture('core.bpfel.o'))});
  const spec = { programs: [...o.programs.keys()], maps: [...o.maps.keys()], relos: o.spec.programs.map((p) => p.coreRelos?.length ?? 0) };
  o.close();
  let error;
  try { m.BpfObject.open('/nonexistent/bee-ts.o'); } catch (e) { error = { name: e.constructor.name, beeTs: e instanceof m.BeeTsError, code: e.code }; }
  console.log(JSON.stringify({ kinds, spec, error }));`;

describe('the package entry (the bundled library)', () => {
  it('is what package.json exports, and its file, cache and loader are in dist', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'));
    expect(pkg.exports['.']).toEqual({ types: './dist/index.d.ts', default: './dist/lib/index.js' });
    expect(pkg.main).toBe('dist/lib/index.js');
    expect(path.join(root, pkg.exports['.'].default)).toBe(libEntry);
    for (const f of [bundle, `${bundle}.cache`, path.join(root, 'dist', 'lib', 'load.cjs'), path.join(root, 'dist', 'cached-load.cjs')]) expect(fs.statSync(f).size, f).toBeGreaterThan(200);
    // The relay worker (a drain thread's module) is found from dist/lib as from dist/cli: '../ringbuf/'.
    expect(fs.readFileSync(bundle, 'utf8')).toMatch(/["']\.\.\/ringbuf\/relay-worker\.js["']/);
    expect(fs.existsSync(path.join(root, 'dist', 'ringbuf', 'relay-worker.js'))).toBe(true);
  });

  it("exports tsc's entry's names, and behaves as it does, with and without the code cache", () => {
    const tsc = child(probe(tscEntry)) as { kinds: Record<string, string> };
    const cached = child(probe(libEntry));
    const uncached = child(probe(libEntry), { BEE_TS_CODE_CACHE: '0' });
    expect(Object.keys(tsc.kinds).length).toBeGreaterThan(40);
    expect(cached).toEqual(tsc);
    expect(uncached).toEqual(tsc);
    expect((cached as { error: { beeTs: boolean } }).error.beeTs).toBe(true);
  });

  it('V8 takes the cache in a plain Node, and refuses it for another text', () => {
    const script = `
      const fs = await import('node:fs'), vm = await import('node:vm');
      const head = '(function (exports, require, module, __filename, __dirname) {', tail = '\\n})';
      const text = fs.readFileSync(${JSON.stringify(bundle)}, 'utf8');
      const cachedData = fs.readFileSync(${JSON.stringify(`${bundle}.cache`)});
      const taken = new vm.Script(head + text + tail, { filename: ${JSON.stringify(bundle)}, cachedData });
      const other = new vm.Script(head + text + '\\n;0' + tail, { filename: ${JSON.stringify(bundle)}, cachedData });
      console.log(JSON.stringify([taken.cachedDataRejected, other.cachedDataRejected]));`;
    expect(child(script)).toEqual([false, true]);
  });

  it('the library is one instance however the entry is imported', () => {
    const script = `
      const a = await import(${JSON.stringify(libEntry)});
      const b = await import(${JSON.stringify(libEntry)} + '?again');
      const { createRequire } = await import('node:module');
      const c = createRequire(${JSON.stringify(libEntry)})('./load.cjs');
      console.log(JSON.stringify([a.BpfObject === b.BpfObject, a.BpfObject === c.BpfObject, a.constants === c.constants]));`;
    expect(child(script)).toEqual([true, true, true]);
  });
});
