// The import graph ARCHITECTURE.md describes, enforced: every relative import in src/ is read
// (static `import`/`export ... from`, type-only ones included, and dynamic `import()`), and
//  - an import across folders must be allowed by MAY_IMPORT (the table in ARCHITECTURE.md),
//  - there is no cycle, neither between files nor between folders,
//  - every edge MAY_IMPORT allows is used by some import (the table is the graph, not a ceiling).
// EXCEPTIONS lists an allowed edge that breaks the table, each with its reason; it is empty and a
// test keeps ARCHITECTURE.md's table equal to MAY_IMPORT.
// And no source file under src/ is longer than MAX_LINES unless LONG_FILES gives the reason it
// stays whole (a listed file that has come under the limit fails too: its entry goes).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { root } from './helpers.js';

/** Importable from every layer: the error base (it imports nothing itself). */
const EVERYWHERE = ['errors.ts'];

/** Folder (or top-level file) under src/ → the folders it may import. Layers, bottom first. */
export const MAY_IMPORT: Record<string, string[]> = {
  'errors.ts': [],
  elf: [],
  btf: [],
  syscall: [],
  disasm: [],
  maps: ['syscall', 'btf'],
  link: ['syscall', 'elf'],
  loader: ['elf', 'btf', 'syscall', 'maps', 'link'],
  ringbuf: ['syscall', 'btf', 'maps'],
  bee: ['btf', 'syscall', 'maps', 'link', 'loader', 'ringbuf'],
  cli: ['elf', 'btf', 'syscall', 'disasm', 'maps', 'link', 'loader', 'ringbuf', 'bee'],
  'index.ts': ['elf', 'btf', 'syscall', 'maps', 'link', 'loader', 'ringbuf', 'bee'],
};

/** `from → to` edges allowed although the table forbids them, each with a written reason. */
const EXCEPTIONS: Record<string, string> = {};

const SRC = path.join(root, 'src');

/** Lines a source file under src/ may have without a written reason. */
const MAX_LINES = 500;

/** Files under src/ longer than MAX_LINES, each with the reason it is not split. */
const LONG_FILES: Record<string, string> = {
  'src/btf/cdump.ts':
    "The C dumper is one class: its two phases (ordering, emitting) share the dumper's state (what is queued, declared and written, the name tables), the emit half is one recursive declarator writer, and bpftool's output the tests compare against comes from both. Layout is already in layout.ts, the records' view in flat.ts, the output buffer in textout.ts.",
  'src/btf/order-wasm.ts':
    "One WebAssembly module for the C dump: its functions (ordering, layout, name keys, the member writer, the item writer with its check) call each other by index, recurse through each other (a declarator, an anonymous struct's members, a typedef written first) and share one memory layout (the header's words); a split would pass that layout and the function indexes between files. The opcodes and module builder are already in wasm-asm.ts.",
  'src/btf/container.ts':
    'The Btf class: its accessors, name lookups and type-graph queries share the lazy caches (built type objects, the per-kind name indexes, the kind/name-prefix keys the scans search) on hot paths (CO-RE candidate search, codecs); a split would expose those caches or add a call per lookup. Layout is already in layout.ts, the name index in names.ts, the record format in record.ts.',
  'src/syscall/bpf.ts':
    "bpf(2): the command table, the attr sizes and one short builder per command over the same attr writer; test/abi.test.ts checks every builder's offsets against union bpf_attr in the kernel's BTF from this one place. bpf_*_info layouts are in info.ts, netlink in netlink.ts, perf_event_open in perf.ts.",
};

/** Lines of a text as `wc -l` counts them (a final line without a newline counts too). */
export function lineCount(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out.sort();
}

/** Relative specifiers imported by a TypeScript source (comments stripped first). */
export function importsOf(text: string): string[] {
  const code = text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const specs: string[] = [];
  const res = [
    /^\s*(?:import|export)\b[^;'"`]*?\bfrom\s*['"]([^'"]+)['"]/gm, // import x from '..', export { y } from '..'
    /^\s*import\s*['"]([^'"]+)['"]/gm, // import '..' (side effect)
    /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g, // import('..'), also in type positions
  ];
  for (const re of res) for (const m of code.matchAll(re)) specs.push(m[1]);
  return specs.filter((s) => s.startsWith('.'));
}

/** The layer a file belongs to: its first folder under src/, or the file name for src/*.ts. */
function layerOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0];
}

function resolve(from: string, spec: string): string {
  const p = path.resolve(path.dirname(from), spec);
  const ts = p.replace(/\.js$/, '.ts');
  if (fs.existsSync(ts)) return ts;
  if (fs.existsSync(path.join(p, 'index.ts'))) return path.join(p, 'index.ts');
  throw new Error(`${path.relative(root, from)}: import '${spec}' does not resolve to a source file`);
}

export function buildGraph(): Map<string, string[]> {
  const g = new Map<string, string[]>();
  for (const f of sourceFiles(SRC)) g.set(f, [...new Set(importsOf(fs.readFileSync(f, 'utf8')).map((s) => resolve(f, s)))]);
  return g;
}

/** Strongly connected components with more than one node (or a self-edge): the cycles. */
export function cycles(g: Map<string, string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of g.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v)!, idx.get(w)!));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || (g.get(v) ?? []).includes(v)) out.push(comp.sort());
    }
  };
  for (const v of g.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const rel = (f: string) => path.relative(root, f);

describe('architecture: the import graph', () => {
  const graph = buildGraph();

  it('reads imports of every form (self-check of the scanner)', () => {
    const text = [
      "import a from './a.js';",
      "import type { B } from '../b/b.js';",
      'import {\n  c,\n  type D,\n} from "./c.js";',
      "export { e } from './e.js';",
      "export * from './f.js';",
      "import './g.js';",
      "const h = await import('./h.js');",
      "type I = import('./i.js').I;",
      "// import x from './commented.js';",
      "/* import y from './block.js'; */",
      "import fs from 'node:fs';",
    ].join('\n');
    expect(importsOf(text)).toEqual(['./a.js', '../b/b.js', './c.js', './e.js', './f.js', './g.js', './h.js', './i.js']);
    expect(graph.size).toBeGreaterThan(50);
  });

  it('every layer under src/ is in the table', () => {
    const layers = new Set([...graph.keys()].map(layerOf));
    expect([...layers].filter((l) => !(l in MAY_IMPORT))).toEqual([]);
  });

  it('imports across folders follow the may-import table', () => {
    const bad: string[] = [];
    for (const [from, tos] of graph) {
      for (const to of tos) {
        const a = layerOf(from);
        const b = layerOf(to);
        if (a === b || MAY_IMPORT[a]?.includes(b) || (EVERYWHERE.includes(b) && a !== b)) continue;
        const key = `${rel(from)} -> ${rel(to)}`;
        if (!(key in EXCEPTIONS)) bad.push(key);
      }
    }
    expect(bad).toEqual([]);
  });

  it('every edge the table allows is used by an import', () => {
    const used = new Set<string>();
    for (const [from, tos] of graph) for (const to of tos) if (layerOf(from) !== layerOf(to)) used.add(`${layerOf(from)} -> ${layerOf(to)}`);
    const unused = Object.entries(MAY_IMPORT).flatMap(([a, bs]) => bs.filter((b) => !used.has(`${a} -> ${b}`)).map((b) => `${a} -> ${b}`));
    expect(unused, 'remove these from MAY_IMPORT and ARCHITECTURE.md').toEqual([]);
  });

  it('the library entry reaches into src/bee for its map roles only, and they import no other bee file', () => {
    const seen = new Set<string>();
    const walk = (f: string) => {
      for (const to of graph.get(f) ?? []) {
        if (seen.has(to)) continue;
        seen.add(to);
        walk(to);
      }
    };
    walk(path.join(SRC, 'index.ts'));
    expect([...seen].filter((f) => layerOf(f) === 'bee').map(rel)).toEqual(['src/bee/roles.ts']);
  });

  it('every listed exception is still needed and has a reason', () => {
    for (const [key, reason] of Object.entries(EXCEPTIONS)) {
      const [from, to] = key.split(' -> ').map((p) => path.join(root, p));
      expect(graph.get(from) ?? [], key).toContain(to);
      expect(reason.length, key).toBeGreaterThan(20);
    }
  });

  it('no cycle between files', () => {
    expect(cycles(graph).map((c) => c.map(rel))).toEqual([]);
  });

  it('no cycle between folders', () => {
    const fg = new Map<string, string[]>();
    for (const [from, tos] of graph) {
      const a = layerOf(from);
      const set = new Set(fg.get(a) ?? []);
      for (const to of tos) if (layerOf(to) !== a) set.add(layerOf(to));
      fg.set(a, [...set]);
    }
    expect(cycles(fg)).toEqual([]);
  });

  it('the cycle finder finds a cycle (self-check)', () => {
    const g = new Map([
      ['a', ['b']],
      ['b', ['c']],
      ['c', ['a']],
      ['d', ['a']],
    ]);
    expect(cycles(g)).toEqual([['a', 'b', 'c']]);
  });

  it("ARCHITECTURE.md's may-import column is this table", () => {
    const md = fs.readFileSync(path.join(root, 'ARCHITECTURE.md'), 'utf8');
    const rows = new Map<string, string[]>();
    for (const m of md.matchAll(/^\| `src\/([\w.]+)` \|[^\n]*\| ([^|\n]*) \|$/gm)) {
      const cell = m[2].replace(/\([^)]*\)/g, '').trim(); // a reason in parentheses is prose
      rows.set(m[1], cell === 'nothing' || cell.startsWith('nothing') ? [] : [...cell.matchAll(/`(\w+)`/g)].map((x) => x[1]));
    }
    expect(md, 'ARCHITECTURE.md says which files every layer may import').toContain('Every layer may also import `src/errors.ts`');
    for (const [layer, allowed] of Object.entries(MAY_IMPORT)) {
      expect(rows.get(layer)?.slice().sort(), `ARCHITECTURE.md row for src/${layer}`).toEqual(allowed.slice().sort());
    }
  });
});

describe('architecture: file sizes', () => {
  const sizes = new Map(sourceFiles(SRC).map((f) => [rel(f), lineCount(fs.readFileSync(f, 'utf8'))]));

  it(`no file under src/ is over ${MAX_LINES} lines without a reason in LONG_FILES`, () => {
    const over = [...sizes].filter(([f, n]) => n > MAX_LINES && !(f in LONG_FILES)).map(([f, n]) => `${f}: ${n} lines`);
    expect(over).toEqual([]);
  });

  it('every file in LONG_FILES exists, is still over the limit and has a reason', () => {
    for (const [f, reason] of Object.entries(LONG_FILES)) {
      expect(sizes.get(f), `${f} is not a source file under src/`).toBeDefined();
      expect(sizes.get(f)!, `${f} is no longer over ${MAX_LINES} lines: remove its LONG_FILES entry`).toBeGreaterThan(MAX_LINES);
      expect(reason.length, f).toBeGreaterThan(80);
    }
  });

  it('counts lines as wc -l does (self-check)', () => {
    expect([lineCount(''), lineCount('a'), lineCount('a\n'), lineCount('a\nb'), lineCount('a\nb\n'), lineCount('\n\n')]).toEqual([0, 1, 1, 2, 2, 2]);
  });
});
