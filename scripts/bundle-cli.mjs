#!/usr/bin/env node
// `npm run build`, after tsc: bundle the CLI (dist/cli/start.js, what tsc's main.js runs, and
// everything it imports, commander included) into CommonJS chunks beside it, give every chunk a
// V8 code cache, and write dist/cli/main.cjs (the `bee-ts` bin) as scripts/cli-main.cjs, the
// loader that runs them, and dist/cli/main.js (tsc's entry, what `node dist/cli/main.js` runs) as
// an ES module that requires main.cjs. Start-up is what a short command costs (bench/startup.mjs, bench/load.mjs), and most of
// it was Node's ES module loader and V8 parsing and compiling the code: measured at 2026-12-02
// (instructions under cachegrind, `prog loadall globals.bpfel.o`: 405 M as ES module chunks,
// 262 M as these chunks with their caches; `node -e 0` is 89 M).
// Chunks:
//   start.cjs + chunk-boot-*: what every command needs (reading argv, output, the listings' short path);
//   chunk-tree-*: the command tree (program.ts, the cmd-* modules, commander), for every line but a listing;
//   chunk-listing-*: prog/map show (show.ts) and the syscall calls, object info and native backend they use;
//   chunk-inspect-*: BTF, codecs, maps and the other prog/map/link commands' shared modules;
//   the rest per dynamic import, as the bundler splits them (run, gen, btf dump, images, ...).
// Each cache (<chunk>.cache) is made in a training run (trainCaches): most hold the bytecode of
// every function of their chunk (compiled with V8's lazy compilation off), the largest chunks'
// only what the training's kernel-free command lines compiled. A fresh Node must take every cache
// (a refused cache is a build error). The caches belong to this Node's V8: under
// another, the loader's V8 refuses them and compiles the chunks as usual (only slower to start).
// koffi stays external (a native addon).
// The library (dist/index.js and what it imports) is bundled too, into one CommonJS file,
// dist/lib/bee-ts.cjs, with a cache of every function's bytecode; dist/lib/index.js, the package's
// entry ('bee-ts' in package.json "exports"), is an ES module that loads it and exports its names
// (bundleLibrary). Both load through dist/cached-load.cjs (scripts/cached-load.cjs).
// Without rolldown (a production install) the tsc output is left as it is, with a main.cjs that
// imports tsc's main.js and a dist/lib/index.js that re-exports dist/index.js: it works the same,
// only slower to start.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';

/** dist/cli/main.cjs without a bundle: the bin runs tsc's ES module entry. */
const UNBUNDLED_MAIN = "#!/usr/bin/env node\n// The `bee-ts` bin of an unbundled build (scripts/bundle-cli.mjs): tsc's main.js.\nimport('./main.js');\n";
/** dist/cli/main.js of a bundled build: `node dist/cli/main.js` runs the bin's loader. */
const BUNDLED_MAIN_JS = "#!/usr/bin/env node\n// `node dist/cli/main.js`: the `bee-ts` bin, main.cjs (scripts/cli-main.cjs, written by scripts/bundle-cli.mjs).\nimport { createRequire } from 'node:module';\ncreateRequire(import.meta.url)('./main.cjs');\n";
/** dist/lib/index.js without a bundle: the package entry is tsc's dist/index.js. */
const UNBUNDLED_LIB = "// The library entry of an unbundled build (scripts/bundle-cli.mjs): tsc's dist/index.js.\nexport * from '../index.js';\n";
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cli = path.join(root, 'dist', 'cli');
const lib = path.join(root, 'dist', 'lib');
let rolldown;
let parseAst;
try {
  ({ rolldown } = await import('rolldown'));
  ({ parseAst } = await import('rolldown/parseAst'));
} catch {
  fs.writeFileSync(path.join(cli, 'main.cjs'), UNBUNDLED_MAIN, { mode: 0o755 });
  fs.rmSync(path.join(cli, 'help.txt'), { force: true });
  fs.rmSync(lib, { recursive: true, force: true });
  fs.mkdirSync(lib);
  fs.writeFileSync(path.join(lib, 'index.js'), UNBUNDLED_LIB, { mode: 0o644 });
  console.error('bundle-cli: rolldown is not installed; dist/cli and the library are left unbundled (main.cjs imports main.js, dist/lib/index.js re-exports dist/index.js)');
  process.exit(0);
}

/** The command tree: program.ts, the cmd-* modules that register each part, and commander (what a listing's process never loads, listing.ts). */
const TREE = /[\\/](dist[\\/]cli[\\/](program|cmd-[a-z-]+|probe-arg)\.js|node_modules[\\/]commander[\\/].*)$/;
/**
 * What `prog show` and `map show` load (show.ts and its static imports: the syscall layer's calls
 * and object info, the native backend, links for the signal handlers): a listing's process loads
 * this chunk and boot's, and BTF and the codecs (inspect) only for a program that needs them.
 */
const LISTING = /[\\/]dist[\\/](syscall[\\/](backend|errno|fd|bpf|constants|info|native|features)\.js|link[\\/](link|tracefs)\.js|btf[\\/]types\.js|cli[\\/](show|select|pins)\.js)$/;
const INSPECT = /[\\/]dist[\\/](syscall[\\/]|link[\\/](link|tracefs)\.js$|btf[\\/](btf|types|record)\.js$|maps[\\/](codec|map|map-traits)\.js$|loader[\\/]btf-files\.js$|elf[\\/]reader\.js$|cli[\\/](objects|prog|map|pins)\.js$)/;

/**
 * The dumpers' WebAssembly modules (dist/btf/order-wasm.js and raw-wasm.js assemble theirs from
 * nested arrays of bytes on first use, ~9 ms of cold JavaScript for the C dump's in a one-shot
 * `btf dump format c`) built here once and written into the bundle as base64 (their `PREBUILT`).
 */
const { cdumpWasmModule } = await import(path.join(root, 'dist', 'btf', 'order-wasm.js'));
const { rawWasmModule } = await import(path.join(root, 'dist', 'btf', 'raw-wasm.js'));
const PREBUILT_MODULES = [
  [/[\\/]dist[\\/]btf[\\/]order-wasm\.js$/, cdumpWasmModule],
  [/[\\/]dist[\\/]btf[\\/]raw-wasm\.js$/, rawWasmModule],
];
const dumpWasm = {
  name: 'dump-wasm',
  transform(code, id) {
    const hit = PREBUILT_MODULES.find(([re]) => re.test(id));
    if (!hit) return null;
    const from = 'const PREBUILT = undefined;';
    if (!code.includes(from)) throw new Error(`bundle-cli: ${id} no longer has '${from}'`);
    return code.replace(from, `const PREBUILT = ${JSON.stringify(Buffer.from(hit[1]()).toString('base64'))};`);
  },
};

/**
 * Command lines the build runs (in-process, in one child Node, output discarded) before it writes
 * the caches: what they compile is what the caches hold. Kernel-free: help texts, the version,
 * and parsing the shipped examples (ELF, BTF, the ObjectSpec, a C dump of an object's BTF).
 */
const TRAINING = [
  ['--help'], ['--version'], ['help'],
  ...['prog', 'map', 'btf', 'link', 'net', 'gen', 'feature', 'run', 'describe', 'batch'].map((c) => [c, '--help']),
  ['prog', 'list', '--help'], ['prog', 'loadall', '--help'], ['map', 'list', '--help'],
  ['describe', path.join(root, 'examples', 'tcpconnect.o')],
  ['-j', 'describe', path.join(root, 'examples', 'execsnoop.o')],
  ['btf', 'dump', 'file', path.join(root, 'examples', 'tcpconnect.o')],
  ['btf', 'dump', 'file', path.join(root, 'examples', 'tcpconnect.o'), 'format', 'c'],
];
/**
 * Which chunks get every function (eager) and which the functions the training ran: `mixed` (the
 * default) trains only the chunks of more than TRAINED_ABOVE bytes, `eager` none, `trained` all
 * (BEE_TS_CACHE_MODE, for measuring; see trainCaches).
 */
const CACHE_MODE = process.env.BEE_TS_CACHE_MODE ?? 'mixed';
if (!['mixed', 'eager', 'trained'].includes(CACHE_MODE)) throw new Error(`bundle-cli: BEE_TS_CACHE_MODE=${CACHE_MODE}: not mixed, eager or trained`);
const TRAINED_ABOVE = 256 * 1024;

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

/**
 * The chunks run as vm.Script code, where `import()` has no loader to call (Node 20 has one only
 * under --experimental-vm-modules): the bundler turns the imports of our own chunks into
 * require(), and this turns what it leaves, a Node builtin's `import('node:x')`, into the same
 * namespace from require. Any other import() left in the output fails the build.
 */
const requireDynamicImports = {
  name: 'require-dynamic-imports',
  renderChunk(code, chunk) {
    const found = [];
    const walk = (n) => {
      if (!n || typeof n !== 'object') return;
      if (Array.isArray(n)) return n.forEach(walk);
      if (n.type === 'ImportExpression') found.push(n);
      for (const k in n) if (k !== 'type' && typeof n[k] === 'object') walk(n[k]);
    };
    walk(parseAst(code));
    if (!found.length) return null;
    let out = '';
    let at = 0;
    for (const n of found.sort((a, b) => a.start - b.start)) {
      const spec = n.source.type === 'Literal' && typeof n.source.value === 'string' ? n.source.value : undefined;
      if (!spec?.startsWith('node:') || n.options) throw new Error(`bundle-cli: ${chunk.fileName}: an import() the chunks cannot run: ${code.slice(n.start, n.end)}`);
      const req = `require(${JSON.stringify(spec)})`;
      out += code.slice(at, n.start) + `Promise.resolve().then(() => ({ ...${req}, default: ${req} }))`;
      at = n.end;
    }
    return out + code.slice(at);
  },
};

/**
 * A Node builtin's default import (`import fs from 'node:fs'`) as `{ default: fs }`: rolldown's
 * interop (`__toESM(mod, 1)`) copies every property of the module onto a new object as a getter
 * (104 for node:fs; 0.1-0.2 ms of a listing's start-up per chunk that does it), though the chunk
 * reads only `.default`. Done only where every other use of the variable is `.default` (else the
 * interop stays).
 */
const builtinDefaults = {
  name: 'builtin-defaults',
  renderChunk(code) {
    let out = code;
    for (const m of code.matchAll(/^(?:let|var) (node_\w+) = require\("node:[\w/]+"\);\n\1 = require_rolldown_runtime\.__toESM\(\1, 1\);$/gm)) {
      const v = m[1];
      const uses = code.match(new RegExp(`\\b${v}\\b(\\.\\w+)?`, 'g')) ?? [];
      // The declaration line's one use and the interop line's two, then only `.default`.
      if (uses.filter((u) => u !== `${v}.default`).length !== 3) continue;
      out = out.replace(`${v} = require_rolldown_runtime.__toESM(${v}, 1);`, `${v} = { default: ${v} };`);
    }
    return out === code ? null : out;
  },
};

/**
 * Every character past ASCII as a \u escape (in the chunks that is comments, help text and
 * messages): an all-ASCII source is a one-byte string in V8, read with a plain copy; one non-ASCII
 * character made the whole chunk UTF-8-decoded into a two-byte string (boot and inspect chunks,
 * 350 KB: twice the memory, and a scavenge sooner). The same text in a comment, the same value in
 * a string, template or regular expression literal, and the same identifier; a tagged template
 * (whose raw text would change) or a backslash before the character fails the build.
 */
function asciiOnly(code, fileName) {
  if (!/[^\x00-\x7f]/.test(code)) return code;
  const walk = (n) => {
    if (!n || typeof n !== 'object') return;
    if (Array.isArray(n)) return n.forEach(walk);
    if (n.type === 'TaggedTemplateExpression' && /[^\x00-\x7f]/.test(code.slice(n.start, n.end))) throw new Error(`bundle-cli: ${fileName}: a tagged template with a non-ASCII character: ${code.slice(n.start, n.end).slice(0, 200)}`);
    for (const k in n) if (k !== 'type' && typeof n[k] === 'object') walk(n[k]);
  };
  walk(parseAst(code));
  return code.replace(/(\\*)([^\x00-\x7f])/gu, (all, slashes, ch) => {
    if (slashes.length % 2) throw new Error(`bundle-cli: ${fileName}: a backslash before '${ch}'`);
    let esc = '';
    for (let i = 0; i < ch.length; i++) esc += `\\u${ch.charCodeAt(i).toString(16).padStart(4, '0')}`;
    return slashes + esc;
  });
}

const bundle = await rolldown({
  input: path.join(cli, 'start.js'),
  platform: 'node',
  external: ['koffi'],
  plugins: [lazyChildProcess, requireDynamicImports, builtinDefaults, dumpWasm],
  logLevel: 'silent',
});
const out = await bundle.generate({
  format: 'cjs',
  entryFileNames: 'start.cjs',
  chunkFileNames: 'chunk-[name]-[hash].cjs',
  codeSplitting: {
    includeDependenciesRecursively: false,
    groups: [
      { name: 'boot', tags: ['$initial'], test: (id) => !/[\\/]dist[\\/]cli[\\/]start\.js$/.test(id), priority: 2 },
      { name: 'tree', test: TREE, priority: 2 },
      { name: 'listing', test: LISTING, priority: 2 },
      { name: 'inspect', test: INSPECT, priority: 1 },
    ],
  },
});
await bundle.close();
const cachedLoad = fs.readFileSync(path.join(root, 'scripts', 'cached-load.cjs'), 'utf8');
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';
for (const line of [`const WRAP_HEAD = '${WRAP_HEAD}';`, `const WRAP_TAIL = '${WRAP_TAIL.replace('\n', '\\n')}';`]) {
  if (!cachedLoad.includes(line)) throw new Error(`bundle-cli: scripts/cached-load.cjs no longer has ${line}`);
}
fs.writeFileSync(path.join(root, 'dist', 'cached-load.cjs'), cachedLoad, { mode: 0o644 });
// (rolldown prints string literals again after renderChunk, so the escaping is done here.)
const files = out.output.filter((o) => o.type === 'chunk').map((c) => ({ fileName: c.fileName, code: asciiOnly(c.code, c.fileName) }));
// Replace the previous build's chunks and caches (the ES module chunks of older builds too), then
// write this one's and main.cjs and main.js last: a failed bundle leaves tsc's main.js (and the
// previous main.cjs), which work unbundled.
for (const f of fs.readdirSync(cli)) if (/^(chunk-.*\.(js|cjs)|start\.cjs)(\.cache)?$|^help\.txt$/.test(f)) fs.rmSync(path.join(cli, f));
for (const c of files) fs.writeFileSync(path.join(cli, c.fileName), c.code, { mode: 0o644 });
trainCaches(cli, files.map((c) => c.fileName), TRAINING, CACHE_MODE);
checkCaches(files.map((c) => path.join(cli, c.fileName)));
fs.writeFileSync(path.join(cli, 'main.cjs'), fs.readFileSync(path.join(root, 'scripts', 'cli-main.cjs')), { mode: 0o755 });
fs.writeFileSync(path.join(cli, 'main.js'), BUNDLED_MAIN_JS, { mode: 0o755 });
fs.rmSync(path.join(cli, 'main.js.map'), { force: true });
writeHelp();
console.error(`bundle-cli: dist/cli/main.cjs (the loader; main.js requires it) + start.cjs + ${files.length - 1} chunks, each with its code cache`);
await bundleLibrary();

/**
 * The library: dist/index.js and everything it imports (koffi aside) as one CommonJS file,
 * dist/lib/bee-ts.cjs, whose cache holds every function's bytecode (compiled with lazy compilation
 * off: kernel-free, nothing runs), and dist/lib/index.js, the package entry, an ES module that
 * loads it (through dist/lib/load.cjs and dist/cached-load.cjs) and exports the names the bundle exports. dist/index.js
 * stays tsc's unbundled entry (the same library; test/lib-bundle.test.ts holds the two to one
 * list of exports). Measured 2026-12-03 (CPU, CO-RE object, medians of 8 alternated processes):
 * the import 80 -> 13 ms, the first load in the process after it 24.6 -> 16.3 ms (the bundle
 * without its cache: 20 and 23.4 ms). One file, not chunks: a program that imports the library
 * uses most of it (ELF, BTF, the spec, the loader, the syscall layer), and a cache trained by a
 * real load (which the build cannot do: no kernel) was no faster than the eager one (13.5 / 16-18
 * ms).
 */
async function bundleLibrary() {
  const entry = path.join(root, 'dist', 'index.js');
  const bundle = await rolldown({ input: entry, platform: 'node', external: ['koffi'], plugins: [requireDynamicImports, builtinDefaults, dumpWasm], logLevel: 'silent' });
  const out = await bundle.generate({ format: 'cjs', codeSplitting: false });
  await bundle.close();
  const chunks = out.output.filter((o) => o.type === 'chunk');
  if (chunks.length !== 1) throw new Error(`bundle-cli: the library bundled into ${chunks.length} files, not one`);
  const [chunk] = chunks;
  // The names tsc's entry exports, as the bundle's: the entry's export list (a relative path
  // there would fail in dist/lib).
  const names = chunk.exports;
  if (!names.length || names.some((n) => !/^[A-Za-z_$][\w$]*$/.test(n) || n === 'default')) throw new Error(`bundle-cli: the library bundle's exports are not plain names: ${names.join(', ')}`);
  fs.rmSync(lib, { recursive: true, force: true });
  fs.mkdirSync(lib);
  fs.writeFileSync(path.join(lib, 'bee-ts.cjs'), asciiOnly(chunk.code, 'bee-ts.cjs'), { mode: 0o644 });
  trainCaches(lib, ['bee-ts.cjs'], null, 'eager');
  checkCaches([path.join(lib, 'bee-ts.cjs')]);
  // Through a CommonJS file, so that Node's require cache makes every import of the entry (a
  // second URL for it, a ?query) one instance of the library, as tsc's modules are.
  fs.writeFileSync(
    path.join(lib, 'load.cjs'),
    [
      "'use strict';",
      '// The library bundle (bee-ts.cjs) with its code cache, once per process: dist/lib/index.js requires',
      '// this file (written by scripts/bundle-cli.mjs), and Node caches what it exports.',
      "module.exports = require('../cached-load.cjs')(__dirname, require)('bee-ts.cjs');",
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  fs.writeFileSync(
    path.join(lib, 'index.js'),
    [
      "// The library's entry ('bee-ts' in package.json \"exports\"), written by scripts/bundle-cli.mjs: the",
      '// library bundled into one CommonJS file (bee-ts.cjs) with a V8 code cache of its bytecode, loaded',
      "// by load.cjs. dist/index.js is the same library as tsc's ES modules.",
      "import { createRequire } from 'node:module';",
      `export const { ${names.join(', ')} } = createRequire(import.meta.url)('./load.cjs');`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  console.error(`bundle-cli: dist/lib/index.js (the package entry) + bee-ts.cjs (the library, ${names.length} exports) with its code cache`);
}

/**
 * Writes every chunk's cache from one child Node with no flags (the flag hash a cache carries
 * must be a plain Node's): it loads the chunks as the loader does, the eager ones compiled with
 * V8's lazy compilation off, runs `lines` (TRAINING; null for the library, whose one file is eager:
 * nothing runs) through the boot chunk's runCommandLine, then asks each
 * chunk's script for its cache. An eager chunk's holds every function; a trained chunk's holds
 * what was compiled so far (its top-level code and the functions the training ran; a trained
 * chunk the training never loaded gets its top-level code); any other function compiles on its
 * first call. Measured 2026-12-02 (process CPU, medians of 11-15 alternated runs, load 5-7):
 * trained caches for every chunk deserialize 0.5-2 ms less (`--help` 1.4 -> 0.9 ms, a CO-RE
 * `prog loadall` 6.5 -> 4.4 ms) but the commands the training cannot run (it must not touch the
 * kernel: the listings, loads) then compile what they call, and cost more in all (`prog show`
 * 34.6 -> 35.9 ms, loadall 58.1 -> 61.1 ms; `--help` 31.2 -> 31.6 ms); the two large chunks, the
 * images commands' and run's (1 MB and 0.5 MB of source, mostly undici and prom-client, of which
 * a command runs little), pay trained: `bee-ts list` 67.3 -> 63.8 ms, their caches 2.0 MB -> 0.5 MB.
 */
function trainCaches(dir, names, lines, mode) {
  const train = `
    const fs = require('node:fs'), path = require('node:path'), vm = require('node:vm');
    const [dir, names, lines, mode] = JSON.parse(process.argv[1]);
    const scripts = new Map(), loaded = new Map();
    const compile = (name, eager) => {
      if (eager) require('node:v8').setFlagsFromString('--no-lazy');
      try {
        return new vm.Script(${JSON.stringify(WRAP_HEAD)} + fs.readFileSync(path.join(dir, name), 'utf8') + ${JSON.stringify(WRAP_TAIL)}, { filename: path.join(dir, name), importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
      } finally { if (eager) require('node:v8').setFlagsFromString('--lazy'); }
    };
    const eagerFor = (name) => mode === 'eager' || (mode === 'mixed' && fs.statSync(path.join(dir, name)).size <= ${TRAINED_ABOVE});
    const chunkRequire = (id) => id.startsWith('./') ? load(id.slice(2)) : require(id);
    chunkRequire.resolve = require.resolve;
    function load(name) {
      const hit = loaded.get(name);
      if (hit) return hit.exports;
      const script = compile(name, eagerFor(name));
      scripts.set(name, script);
      const module = { exports: {} };
      loaded.set(name, module);
      script.runInThisContext().call(module.exports, module.exports, chunkRequire, module, path.join(dir, name), dir);
      return module.exports;
    }
    (async () => {
      if (lines) {
        load('start.cjs');
        // The command tree's chunk (start.cjs imports it on demand): program.ts's exports, as a namespace.
        const tree = load(names.find((n) => /^chunk-tree-/.test(n)));
        const runCommandLine = tree.program_exports?.runCommandLine;
        if (typeof runCommandLine !== 'function') throw new Error('the tree chunk exports no program_exports.runCommandLine');
        if (mode !== 'eager') for (const line of lines) await runCommandLine(line);
      }
      for (const name of names) {
        const script = scripts.get(name) ?? compile(name, eagerFor(name));
        fs.writeFileSync(path.join(dir, name + '.cache'), script.createCachedData(), { mode: 0o644 });
      }
      process.exit(0);
    })().catch((e) => { process.stderr.write(String(e && e.stack || e) + '\\n'); process.exit(1); });`;
  const env = plainNodeEnv();
  const r = spawnSync(process.execPath, ['-e', train, JSON.stringify([dir, names, lines, mode])], { stdio: ['ignore', 'ignore', 'pipe'], env, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`bundle-cli: the training run that makes the code caches failed (status ${r.status}):\n${r.stderr}`);
}

/** A fresh Node with no flags, as the CLI runs, must take every cache. */
function checkCaches(chunks) {
  const check = `
    const fs = require('node:fs'), vm = require('node:vm');
    const refused = [];
    for (const f of JSON.parse(process.argv[1])) {
      const s = new vm.Script(${JSON.stringify(WRAP_HEAD)} + fs.readFileSync(f, 'utf8') + ${JSON.stringify(WRAP_TAIL)}, { filename: f, cachedData: fs.readFileSync(f + '.cache'), importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER });
      if (s.cachedDataRejected !== false) refused.push(f);
    }
    if (refused.length) { console.error('refused: ' + refused.join(', ')); process.exit(1); }`;
  const env = plainNodeEnv();
  const r = spawnSync(process.execPath, ['-e', check, JSON.stringify(chunks)], { stdio: ['ignore', 'inherit', 'inherit'], env });
  if (r.status !== 0) throw new Error('bundle-cli: V8 refused the code caches it was just given (see above)');
}

/** This process's environment without NODE_OPTIONS: the children that make and check the caches and the help text run a Node with no flags, as the bin runs (a cache carries its V8 flags' hash). */
function plainNodeEnv() {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

/**
 * dist/cli/help.txt: what the built bin prints for `--help` off a terminal (start.ts prints this
 * file for that one command line, without building the command tree); written from the bin
 * itself, after every chunk, so the file and the tree are one build's.
 */
function writeHelp() {
  const env = plainNodeEnv();
  const r = spawnSync(process.execPath, [path.join(cli, 'main.cjs'), '--help'], { stdio: ['ignore', 'pipe', 'pipe'], env, encoding: 'utf8' });
  if (r.status !== 0 || r.stderr || !r.stdout.startsWith('Usage: bee-ts ')) throw new Error(`bundle-cli: bee-ts --help of the new build failed (status ${r.status}):\n${r.stderr}`);
  fs.writeFileSync(path.join(cli, 'help.txt'), r.stdout, { mode: 0o644 });
}
