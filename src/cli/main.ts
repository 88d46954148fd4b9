#!/usr/bin/env node
// bee-ts command line (tsc's entry; a build with rolldown writes the bundle's loader,
// scripts/cli-main.cjs, as dist/cli/main.cjs, the bin, which runs the same start.ts, and replaces
// dist/cli/main.js with an ES module that requires it). Each command lives in its
// own module (the tree: program.ts); start.ts is the process around it.
import { main } from './start.js';

await main();
