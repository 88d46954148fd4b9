#!/usr/bin/env node
// dist/cli/main.cjs of a bundled build, the `bee-ts` bin: scripts/bundle-cli.mjs copies this file
// there (and makes dist/cli/main.js, tsc's ES module entry, a two-line ES module that requires it,
// for `node dist/cli/main.js`). It is CommonJS because Node starts a CommonJS entry faster than an
// ES module one (no ES module loader: ~5 ms of a ~30 ms `node -e 0`, bench/startup.mjs).
// The CLI is bundled into CommonJS chunks (start.cjs, chunk-*.cjs) and each chunk has a V8 code
// cache beside it (<chunk>.cache: every function's bytecode, or for the largest chunks what the
// bundler's training run compiled; made by the bundler with this Node and checked there), so a command neither parses nor compiles the code it runs. A
// cache V8 refuses (another Node or V8 flags) is ignored and the chunk compiles as usual; so does
// every chunk when BEE_TS_CODE_CACHE=0. Chunks load through `load` below, which gives each one
// its own require (a chunk's `./chunk-*.cjs` through here, anything else through Node's).
// Nothing here writes files: the caches are part of the build (dist/), like the chunks.
'use strict';
const fs = require('node:fs');
const vm = require('node:vm');

const dir = __dirname;
const nodeRequire = require;
const useCache = process.env.BEE_TS_CODE_CACHE !== '0';
/** The chunks loaded so far, by file name: their `module` objects. */
const loaded = new Map();

// The CommonJS wrapper, on the chunk's first line so that stack traces keep its line numbers
// (the bundler makes the caches from the same text: it checks that these lines are here).
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';

function chunkRequire(id) {
  return id.startsWith('./') ? load(id.slice(2)) : nodeRequire(id);
}
chunkRequire.resolve = nodeRequire.resolve;

function load(name) {
  const hit = loaded.get(name);
  if (hit) return hit.exports;
  const filename = `${dir}/${name}`;
  const source = fs.readFileSync(filename, 'utf8');
  let cachedData;
  if (useCache) {
    try {
      cachedData = fs.readFileSync(`${filename}.cache`);
    } catch {
      cachedData = undefined;
    }
  }
  const script = new vm.Script(WRAP_HEAD + source + WRAP_TAIL, {
    filename,
    cachedData,
    // `import()` of a Node builtin (what the bundle leaves as import()) as in any module.
    importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
  });
  const module = { exports: {} };
  loaded.set(name, module);
  script.runInThisContext().call(module.exports, module.exports, chunkRequire, module, filename, dir);
  return module.exports;
}

load('start.cjs').main();
