#!/usr/bin/env node
// bee-ts command line (tsc's entry; a build with rolldown replaces dist/cli/main.js with the
// bundle's loader, scripts/cli-main.mjs, which runs the same start.ts). Each command lives in its
// own module (the tree: program.ts); start.ts is the process around it.
import { main } from './start.js';

await main();
