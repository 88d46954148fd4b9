#!/usr/bin/env node
// `npm run build`, after tsc: bundle the CLI (dist/cli/main.js and everything it imports,
// commander included) into a few ESM chunks beside it, so a short command reads 3-5 files instead
// of 15-35 through Node's module loader (which costs more than the code's own work:
// bench/startup.mjs measures it). Chunks:
//   main.js + chunk-boot-*: what every command needs (argument parsing, --help, the command tables);
//   chunk-inspect-*: the syscall layer, BTF, codecs and the prog/map/link listing modules;
//   the rest per dynamic import, as the bundler splits them (run, gen, btf dump, images, ...).
// koffi stays external (a native addon). dist/index.js (the library) is not bundled.
// Without rolldown (a production install) the tsc output is left as it is: it works the same,
// only slower to start.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli');
let rolldown;
try {
  ({ rolldown } = await import('rolldown'));
} catch {
  console.error('bundle-cli: rolldown is not installed; dist/cli is left unbundled');
  process.exit(0);
}

const INSPECT = /[\\/]dist[\\/](syscall[\\/]|link[\\/](link|tracefs)\.js$|btf[\\/](btf|types|record)\.js$|maps[\\/](codec|map|map-traits)\.js$|loader[\\/]btf-files\.js$|elf[\\/]reader\.js$|cli[\\/](objects|prog|map|pins)\.js$)/;

/** commander loads child_process (and with it net and stream, ~5 ms) only to spawn `git-style` executable subcommands, which bee-ts has none of: load it when first used. */
const lazyChildProcess = {
  name: 'lazy-child-process',
  transform(code, id) {
    if (!/[\\/]commander[\\/]lib[\\/]command\.js$/.test(id)) return null;
    const from = "const childProcess = require('node:child_process');";
    if (!code.includes(from)) throw new Error(`bundle-cli: ${id} no longer has '${from}'`);
    return code.replace(from, "const childProcess = { spawn: (...a) => require('node:child_process').spawn(...a) };");
  },
};

const bundle = await rolldown({
  input: path.join(cli, 'main.js'),
  platform: 'node',
  external: ['koffi'],
  plugins: [lazyChildProcess],
  logLevel: 'silent',
});
const out = await bundle.generate({
  format: 'esm',
  entryFileNames: 'main.js',
  chunkFileNames: 'chunk-[name]-[hash].js',
  codeSplitting: {
    includeDependenciesRecursively: false,
    groups: [
      // main.js itself stays the entry: its top-level await must not sit in a chunk that the
      // dynamically imported chunks import back (that waits forever: exit 13).
      { name: 'boot', tags: ['$initial'], test: (id) => !/[\\/]dist[\\/]cli[\\/]main\.js$/.test(id), priority: 2 },
      { name: 'inspect', test: INSPECT, priority: 1 },
    ],
  },
});
await bundle.close();
// Replace the previous build's chunks, then write this one's (main.js last: a failed bundle leaves tsc's).
for (const f of fs.readdirSync(cli)) if (/^chunk-.*\.js$/.test(f)) fs.rmSync(path.join(cli, f));
const files = out.output.filter((o) => o.type === 'chunk');
files.sort((a, b) => (a.fileName === 'main.js' ? 1 : b.fileName === 'main.js' ? -1 : 0));
for (const c of files) fs.writeFileSync(path.join(cli, c.fileName), c.code, { mode: c.fileName === 'main.js' ? 0o755 : 0o644 });
fs.rmSync(path.join(cli, 'main.js.map'), { force: true });
console.error(`bundle-cli: dist/cli/main.js + ${files.length - 1} chunks`);
