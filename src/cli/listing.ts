// The listings' short path: a command line that is exactly a prog or map listing (`prog show`,
// `map list`, `-j prog`, `map show id 5`, bpftool's global flags anywhere) runs its command without
// building the command tree, so its process never loads commander or the command modules (their
// chunk's code cache and top-level code, and commander parsing one part of the tree, were a third
// of a listing's start-up above `node -e 0`). Every other line, and any word here that commander
// would read otherwise (an option, `--`, help), goes to program.ts as before: help, usage errors
// and their messages stay commander's. What runs is what commander's action for the line runs
// (cmd-prog.ts, cmd-map.ts), with the same globals, the same failure report and exit status
// (test/cli-listing.test.ts and test/cli-inproc.test.ts hold the two paths to the same output).
import { BPFTOOL_COMMANDS, type Flag, matchPrefix, takeFlag } from './argv.js';
import { globals } from './format.js';
import { failureStatus, kernel, startCommandLine } from './outcome.js';

/** A listing command line: the object, the selector words after `show`/`list`, and the global flags it set. */
export interface Listing {
  object: 'prog' | 'map';
  args: string[];
  flags: Partial<Record<Flag, boolean>>;
}

/**
 * The listing a command line (the words after `bee-ts`) is, as normalizeArgv and commander would
 * read it, or undefined for anything else (which the command tree then parses).
 */
export function listingOf(argv: readonly string[]): Listing | undefined {
  const flags: Partial<Record<Flag, boolean>> = {};
  let i = 0;
  // Leading flags: only bpftool's (a bee global flag, '--' or '-' is the tree's).
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) if (!takeFlag(argv[i]!, flags)) return undefined;
  const object = argv[i];
  if (object !== 'prog' && object !== 'map') return undefined;
  const rest: string[] = [];
  for (const a of argv.slice(i + 1)) {
    if (takeFlag(a, flags)) continue;
    // An option, '--' or '-': commander's to read (or to refuse).
    if (a.startsWith('-')) return undefined;
    rest.push(a);
  }
  // The object alone is its first command, `show` (as bpftool's table says); prefixes as bpftool's.
  const command = rest.length === 0 ? BPFTOOL_COMMANDS[object]![0] : matchPrefix(rest[0], BPFTOOL_COMMANDS[object]!);
  if (command !== 'show' && command !== 'list') return undefined;
  return { object, args: rest.slice(1), flags };
}

/** Runs a listing as runCommandLine would, to its exit status. */
export async function runListing(l: Listing): Promise<number> {
  startCommandLine();
  Object.assign(globals, l.flags);
  if (globals.pretty) globals.json = true;
  const json = globals.json;
  try {
    if (l.object === 'prog') await kernel(json, async () => (await import('./show.js')).progShow(l.args, json));
    else await kernel(json, async () => (await import('./show.js')).mapShow(l.args, json));
    return 0;
  } catch (e) {
    return failureStatus(e);
  }
}
