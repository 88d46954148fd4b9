// bench/load-inproc's bee-ts process: `node bench/load-inproc-child.mjs CHECKOUT OBJ LOADS` prints one
// "cpu_ns wall_ns" line per load (the libbpf peer's format), after an "import" line. It imports nothing but the library:
// with the bench's own modules loaded as well (child_process, os, its helpers: ~1.5 MB more heap),
// V8's first full GC of the process (6-8 ms on the main thread, more on its helper threads) fell
// inside the first load, whichever code happened to allocate then.
import fs from 'node:fs';

const [from, file, loads] = process.argv.slice(2);
// What `import 'bee-ts'` loads from that checkout (its package.json "exports"; since 2026-12-03
// dist/lib/index.js, the bundle with its code cache; before, tsc's dist/index.js).
const dot = JSON.parse(fs.readFileSync(`${from}/package.json`, 'utf8')).exports['.'];
const entry = `${from}/${typeof dot === 'string' ? dot : dot.default}`;
// The import is timed too (its own first line, "import cpu_ns wall_ns"): the library's modules
// load and compile there, which libbpf's peer pays at exec (the dynamic linker), not in a load.
const i0 = process.cpuUsage();
const iw0 = process.hrtime.bigint();
const { BpfObject } = await import(entry);
const iw1 = process.hrtime.bigint();
const ic = process.cpuUsage(i0);
const lines = [`import ${(ic.user + ic.system) * 1000} ${iw1 - iw0}`];
for (let i = 0; i < Number(loads); i++) {
  const c0 = process.cpuUsage();
  const w0 = process.hrtime.bigint();
  BpfObject.open(file).load().close();
  const w1 = process.hrtime.bigint();
  const c = process.cpuUsage(c0);
  lines.push(`${(c.user + c.system) * 1000} ${w1 - w0}`);
}
process.stdout.write(lines.join('\n') + '\n');
process.exit(0);
