#!/usr/bin/env node
// dist/cli/main.cjs of a bundled build, the `bee-ts` bin: scripts/bundle-cli.mjs copies this file
// there (and makes dist/cli/main.js, tsc's ES module entry, a two-line ES module that requires it,
// for `node dist/cli/main.js`). It is CommonJS because Node starts a CommonJS entry faster than an
// ES module one (no ES module loader: ~5 ms of a ~30 ms `node -e 0`, bench/startup.mjs).
// The CLI is bundled into CommonJS chunks (start.cjs, chunk-*.cjs), each with a V8 code cache
// beside it, loaded through dist/cached-load.cjs (scripts/cached-load.cjs): a chunk's
// `./chunk-*.cjs` through that loader, anything else through this file's require.
'use strict';
require('../cached-load.cjs')(__dirname, require)('start.cjs').main();
