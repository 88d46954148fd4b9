// `bee-ts gen ts`: every fixture and example gives a module that type-checks under strict settings
// (noUnusedLocals too), and generated classes drive real objects with values of the declared types.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_OBJECTS, fixture, needKernel, root, runCli } from '../helpers.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-gen-'));
const tsc = path.join(root, 'node_modules', 'typescript', 'bin', 'tsc');

/** The fields of a generated interface: name → TS type text. */
function fields(src: string, iface: string): Record<string, string> {
  const m = new RegExp(`export interface ${iface} \\{\\n([\\s\\S]*?)\\n\\}`).exec(src);
  if (!m) throw new Error(`no interface ${iface}`);
  return Object.fromEntries([...m[1]!.matchAll(/^ {2}(\w+): (.+);$/gm)].map((x) => [x[1]!, x[2]!]));
}

/** Does a decoded value have the generated type (the primitive and array rules)? */
function conforms(v: unknown, t: string): boolean {
  if (t === 'number' || t === 'bigint' || t === 'string' || t === 'boolean') return typeof v === t;
  if (t.endsWith('[]')) return Array.isArray(v) && v.every((x) => conforms(x, t.slice(0, -2)));
  if (t === 'Uint8Array') return v instanceof Uint8Array;
  return typeof v === 'object' && v !== null; // a named struct: checked field by field elsewhere
}

describe('gen ts', () => {
  beforeAll(() => {
    fs.mkdirSync(path.join(dir, 'node_modules'));
    fs.symlinkSync(root, path.join(dir, 'node_modules', 'bee-ts'));
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    fs.writeFileSync(
      path.join(dir, 'tsconfig.json'),
      JSON.stringify({ compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noUnusedLocals: true, noUnusedParameters: true, lib: ['ES2023', 'ESNext.Disposable'], types: ['node'], typeRoots: [path.join(root, 'node_modules', '@types')], skipLibCheck: true, outDir: 'out' }, include: ['*.ts'] }),
    );
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('every fixture and example: a module that compiles with strict, noUnusedLocals', () => {
    const objects = [...ALL_OBJECTS.filter((f) => f.endsWith('.bpfel.o')).map((f) => fixture(f)), ...fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.o')).map((f) => path.join(root, 'examples', f))];
    for (const o of objects) {
      const r = runCli(['gen', 'ts', o, '-o', path.join(dir, `${path.basename(o).replace(/\W/g, '_')}.ts`)]);
      // bad_role.o (a bee prefix that disagrees with its section) generates: refusing it is bee's (run, describe), not gen's.
      if (o.includes('legacy_options')) expect(r.stderr).toMatch(/map 'numa_hash' \(legacy maps section\): has non-zero bytes at offset 24/);
      else if (o.includes('extern_plain')) expect(r.stderr).toMatch(/extern 'bpf_task_from_pid': is declared without __ksym/);
      else expect(r.status, `${o}: ${r.stderr}`).toBe(0);
    }
    const c = spawnSync(process.execPath, [tsc, '-p', dir, '--noEmit'], { encoding: 'utf8' });
    expect(c.stdout + c.stderr).toBe('');
    expect(c.status).toBe(0);
    expect(runCli(['gen', 'ts', '/no/such.o']).status).not.toBe(0);
    // One CLI run per object (40+ of them) plus a strict tsc: minutes on a loaded 2-CPU box.
  }, 240_000);

  it("the generated module is the same whatever the user's locale", () => {
    // node's ICU collates by LANG/LC_ALL even when glibc has no such locale: under da_DK the
    // imports once came out in another order (TypedMap before its factory, then named typedMap).
    const out = (lc: string) => runCli(['gen', 'ts', fixture('maps.bpfel.o')], { env: { LC_ALL: lc, LANG: lc } });
    const c = out('C.UTF-8');
    expect(c.status).toBe(0);
    expect(c.stdout).toContain('import { asTypedMap, type BpfMap, BpfObject, ');
    for (const lc of ['da_DK.UTF-8', 'en_US.UTF-8', 'et_EE.UTF-8']) expect(out(lc).stdout, lc).toBe(c.stdout);
  });

  it.skipIf(!!needKernel())('generated classes load real objects; decoded values have the declared types', () => {
    const gen = (o: string, name: string) => runCli(['gen', 'ts', fixture(o), '--name', name, '-o', path.join(dir, `${name}.ts`)]);
    expect(gen('ringbuf.bpfel.o', 'Rb').status).toBe(0);
    expect(gen('globals.bpfel.o', 'Glob').status).toBe(0);
    const rb = fs.readFileSync(path.join(dir, 'Rb.ts'), 'utf8');
    const gl = fs.readFileSync(path.join(dir, 'Glob.ts'), 'utf8');
    // A program written against the generated types (it would not compile if they were wrong for its use).
    fs.writeFileSync(
      path.join(dir, 'use.ts'),
      `import { Rb, type event } from './Rb.js';
import { Glob } from './Glob.js';
const out: Record<string, unknown> = {};
{
  using g = new Glob(${JSON.stringify(fixture('globals.bpfel.o'))});
  g.setConstant('filter_pid', 77).setConstant('threshold_ns', 5n).setConstant('label', 'typed');
  g.load();
  g.setGlobal('counter', 123n);
  const hist: number[] = g.global('histogram');
  out.globals = { filter_pid: g.global('filter_pid'), threshold_ns: g.global('threshold_ns'), label: g.global('label'), counter: g.global('counter'), hist, greeting: g.global('greeting') };
}
{
  using r = new Rb(${JSON.stringify(fixture('ringbuf.bpfel.o'))}).load();
  const req = Buffer.alloc(48);
  req.writeUInt32LE(2, 0);
  r.program('produce_events').testRun({ ctxIn: req });
  using reader = r.eventsReader();
  const got: event[] = [];
  reader.consume((e) => got.push(e));
  out.events = got;
}
console.log(JSON.stringify(out, (_k, v) => (typeof v === 'bigint' ? { bigint: v.toString() } : v)));
`,
    );
    execFileSync(process.execPath, [tsc, '-p', dir], { encoding: 'utf8' });
    const out = JSON.parse(execFileSync(process.execPath, [path.join(dir, 'out', 'use.js')], { encoding: 'utf8' }), (_k, v) => (v && typeof v === 'object' && 'bigint' in v ? BigInt(v.bigint) : v));
    expect(out.globals).toMatchObject({ filter_pid: 77, threshold_ns: 5n, label: 'typed', counter: 123n, hist: [1, 2, 3, 4, 5, 6, 7, 8], greeting: 'hello' });
    const g = fields(gl, 'GlobGlobals');
    for (const [k, v] of Object.entries(out.globals as Record<string, unknown>)) expect(conforms(v, g[k === 'hist' ? 'histogram' : k]!), `${k}: ${g[k]}`).toBe(true);
    expect(out.events).toHaveLength(2);
    const ev = fields(rb, 'event');
    for (const e of out.events as Record<string, unknown>[]) {
      expect(Object.keys(e).sort()).toEqual(Object.keys(ev).sort());
      for (const [k, t] of Object.entries(ev)) expect(conforms(e[k], t), `event.${k}: ${t} got ${typeof e[k]}`).toBe(true);
    }
  });
});
