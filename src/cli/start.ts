// The process around one bee-ts command line: main.ts runs it (tsc's output), and so does the
// bundled dist/cli/main.cjs that scripts/bundle-cli.mjs writes (it loads this module's CommonJS
// chunk with a V8 code cache and calls main()). It runs the process's command line through the
// command tree (program.ts) and turns every failure into one clear line on stderr (or
// {"error":...} with --json) and a non-zero exit. A prog or map listing (listing.ts), a plain
// `prog load`/`prog loadall` (load-line.ts), --help off a terminal and --version run without the command tree: the tree's chunk, commander included,
// loads for every other line.
import fs from 'node:fs';
import { deferStdout, stdoutMayBeTty, writeOut } from './format.js';
import { listingOf, runListing } from './listing.js';
import { loadLineOf, runLoadLine } from './load-line.js';
import { errorMessage, processWants } from './outcome.js';

export async function main(): Promise<void> {
  // `bee-ts btf dump ... | head`: a closed pipe ends the command quietly, like any Unix tool.
  // process.stdout is made on first use (the listings and --help to a pipe or file write fd 1).
  deferStdout((stdout) =>
    stdout.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'EPIPE') throw e;
      if (!processWants.runHandlesEpipe) process.exit(0);
    }),
  );
  // A root process must not open Node's inspector on SIGUSR1 (its default): listening replaces it.
  process.on('SIGUSR1', () => {});
  // An error nobody caught ends the command like any other failure; links, tracefs events and
  // netlink attachments are removed by their 'exit' hooks.
  const fatal = (e: unknown) => {
    process.stderr.write(`Error: ${errorMessage(e)}\n`);
    if (process.env.BEE_TS_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  const args = process.argv.slice(2);
  const text = args.length === 1 ? treelessText(args[0]!) : undefined;
  if (text !== undefined) {
    writeOut(text);
    process.exitCode = 0;
  } else {
    const listing = listingOf(args);
    const load = listing ? undefined : loadLineOf(args);
    process.exitCode = listing ? await runListing(listing) : load ? await runLoadLine(load) : await (await import('./program.js')).runCommandLine(args);
  }
  // The command has returned. Once nothing would keep Node running (no pending write, timer,
  // child, socket or stdio stream handle, no 'beforeExit' listener), exit now, as Node then
  // would, minus the event loop's last turn (the V8 tasks it runs) and its teardown of the heap
  // and the environment: ~1 ms of a listing and ~3 ms of --help (bench/startup.mjs). 'exit'
  // listeners (links, tracefs events, netlink attachments) run either way; anything left pending
  // keeps the usual exit, after it.
  if (processWants.exitWhenDone || (process.getActiveResourcesInfo().length === 0 && process.listenerCount('beforeExit') === 0)) process.exit();
}

/** What a one-word command line prints without the command tree (--help, --version), if it can. */
function treelessText(arg: string): string | undefined {
  if (arg === '--help') return builtHelp();
  if (arg === '--version' || arg === '-V') return packageVersion();
  return undefined;
}

/**
 * `bee-ts --help` off a terminal, as the build wrote it (scripts/bundle-cli.mjs runs the built bin
 * once and keeps its output as dist/cli/help.txt): the same text, without building the whole
 * command tree (79 commands, 176 options) to print it. Off a terminal commander's help is 80
 * columns wide and plain, the same in every environment; on one (its width) and in an unbundled
 * build (no file) the tree prints it.
 */
function builtHelp(): string | undefined {
  if (stdoutMayBeTty()) return undefined;
  try {
    return fs.readFileSync(new URL('./help.txt', import.meta.url), 'utf8');
  } catch {
    return undefined;
  }
}

/**
 * `bee-ts --version` (or -V) alone: what commander's `.version()` prints (program.ts gives it the
 * same package.json's version), without building the command tree for one line. Undefined when
 * package.json cannot be read (the tree then says what it says).
 */
function packageVersion(): string | undefined {
  try {
    const { version } = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: unknown };
    return typeof version === 'string' ? `${version}\n` : undefined;
  } catch {
    return undefined;
  }
}
