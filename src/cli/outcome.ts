// One command line's run, the part the command tree (program.ts) and the listings' short path
// (listing.ts) share: the wrappers a command runs in, how a failure is reported (one line on
// stderr, or {"error":...} on stdout under --json) and its exit status, and what the command asked
// of the process around it. Nothing here loads commander: a listing's process never does.
import { UsageError } from './errors.js';
import { globals, jsonText } from './format.js';

let jsonErrors = false;
/** What the last command asked of the process around it (set by `run`, read by start.ts). */
export const processWants = {
  /** `run` handles a closed stdout itself (it stops and detaches); other commands just exit. */
  runHandlesEpipe: false,
  /** Exit once the command returned, whatever handles are still open (`run`). */
  exitWhenDone: false,
};

const GLOBAL_DEFAULTS = { ...globals };

/** A command line starts from bpftool's global flags at their defaults (a batch runs many). */
export function startCommandLine(): void {
  Object.assign(globals, GLOBAL_DEFAULTS);
  jsonErrors = false;
}

/** Run a command that needs no kernel. */
export async function run(json: boolean | undefined, fn: () => Promise<void> | void): Promise<void> {
  jsonErrors = !!json || globals.json;
  await fn();
}

let signalsHooked = false;

/** Commands that talk to the kernel load the native syscall backend (koffi) on demand. */
export async function kernel(json: boolean | undefined, fn: () => Promise<void> | void): Promise<void> {
  jsonErrors = !!json || globals.json;
  await import('../syscall/native.js');
  // Once per process (a batch runs many commands).
  if (!signalsHooked) (await import('../link/link.js')).closeLinksOnSignals();
  signalsHooked = true;
  await fn();
}

export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

/**
 * A command's failure reported as main() always did, and its exit status: 2 for a usage mistake,
 * 1 for anything that failed at run time (commander's own errors are program.ts's).
 */
export function failureStatus(e: unknown): number {
  const msg = errorMessage(e);
  const exit = e as { stdout?: string };
  if (exit.stdout) process.stdout.write(exit.stdout);
  if (msg) {
    if (jsonErrors) process.stdout.write(jsonText({ error: msg }) + '\n');
    else process.stderr.write(`Error: ${msg}\n`);
  }
  if (process.env.BEE_TS_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
  return e instanceof UsageError ? 2 : 1;
}
