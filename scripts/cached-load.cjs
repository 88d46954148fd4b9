'use strict';
// dist/cached-load.cjs (scripts/bundle-cli.mjs copies this file there): loads the build's bundled
// CommonJS files with the V8 code cache beside each one (<file>.cache: the bytecode the bundler's
// training run compiled, made with this Node and checked there), so a process neither parses nor
// compiles the code it runs. Two users: the `bee-ts` bin (dist/cli/main.cjs: start.cjs and the
// chunk-*.cjs it requires) and the library entry (dist/lib/index.js: dist/lib/bee-ts.cjs).
// A cache V8 refuses (another Node or V8 flags) is ignored and the file compiles as usual; so does
// every file when BEE_TS_CODE_CACHE=0. Nothing here writes files: the caches are part of the build
// (dist/), like the bundles.
const fs = require('node:fs');
const vm = require('node:vm');

// The CommonJS wrapper, on the file's first line so that stack traces keep its line numbers
// (the bundler makes the caches from the same text: it checks that these lines are here).
const WRAP_HEAD = '(function (exports, require, module, __filename, __dirname) {';
const WRAP_TAIL = '\n})';

/**
 * A loader for the bundled files in `dir`: `load(name)` runs `dir/name` once (later calls return
 * its exports) with a require that takes a `./name` through this loader and anything else through
 * `nodeRequire` (the caller's: Node's resolution from its folder).
 */
module.exports = function cachedLoader(dir, nodeRequire) {
  const useCache = process.env.BEE_TS_CODE_CACHE !== '0';
  /** The files loaded so far, by name: their `module` objects. */
  const loaded = new Map();
  function fileRequire(id) {
    return id.startsWith('./') ? load(id.slice(2)) : nodeRequire(id);
  }
  fileRequire.resolve = nodeRequire.resolve;
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
    script.runInThisContext().call(module.exports, module.exports, fileRequire, module, filename, dir);
    return module.exports;
  }
  return load;
};
