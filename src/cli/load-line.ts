// The loads' short path, beside the listings' (listing.ts): a command line that is exactly
// `prog load OBJ PATH` or `prog loadall OBJ DIR` (bpftool's prefixes and global flags anywhere, no
// option) runs its command without building the command tree. Its process never loads commander,
// the command modules or package.json (their chunk's code cache and top-level code, and commander
// parsing the prog part of the tree: ~3-4 ms of a CO-RE loadall's ~35 above `node -e 0` here).
// Any other word (an option such as --pinmaps, `--`, help, a third argument) goes to program.ts
// as before, so help, usage errors and their messages stay commander's. What runs is what
// cmd-prog.ts's action runs, with the same globals, failure report and exit status
// (test/cli-listing.test.ts holds the two paths to the same output and pins).
import { BPFTOOL_COMMANDS, type Flag, matchPrefix, takeFlag } from './argv.js';
import { globals } from './format.js';
import { failureStatus, kernel, startCommandLine } from './outcome.js';

/** A load command line: which command, its object and pin path, and the global flags it set. */
export interface LoadLine {
  command: 'load' | 'loadall';
  object: string;
  pin: string;
  flags: Partial<Record<Flag, boolean>>;
}

/**
 * The load a command line (the words after `bee-ts`) is, as normalizeArgv and commander would
 * read it, or undefined for anything else (which the command tree then parses).
 */
export function loadLineOf(argv: readonly string[]): LoadLine | undefined {
  const flags: Partial<Record<Flag, boolean>> = {};
  const words: string[] = [];
  let i = 0;
  // Leading flags: only bpftool's (a bee global flag, '--' or '-' is the tree's).
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) if (!takeFlag(argv[i]!, flags)) return undefined;
  if (argv[i] !== 'prog') return undefined;
  for (const a of argv.slice(i + 1)) {
    if (takeFlag(a, flags)) continue;
    // An option, '--' or '-': commander's to read (or to refuse).
    if (a.startsWith('-')) return undefined;
    words.push(a);
  }
  const command = matchPrefix(words[0], BPFTOOL_COMMANDS.prog!);
  if ((command !== 'load' && command !== 'loadall') || words.length !== 3) return undefined;
  return { command, object: words[1]!, pin: words[2]!, flags };
}

/** Runs a load as runCommandLine would, to its exit status. */
export async function runLoadLine(l: LoadLine): Promise<number> {
  startCommandLine();
  Object.assign(globals, l.flags);
  if (globals.pretty) globals.json = true;
  try {
    // cmd-prog.ts's action: kernel(false, ...) with no option given but the one normalizeArgv
    // hands it (bpftool's -d as --verbose).
    const o = globals.debug ? { verbose: true } : {};
    await kernel(false, async () => {
      const m = await import('./loadall.js');
      if (l.command === 'loadall') m.loadall(l.object, l.pin, o);
      else m.progLoad(l.object, l.pin, o);
    });
    return 0;
  } catch (e) {
    return failureStatus(e);
  }
}
