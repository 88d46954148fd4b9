// bpftool 7.1 commands bee-ts does not have: hidden from --help, each fails as a usage mistake
// (exit 2) saying why and what to use instead, rather than commander's "unknown command".
import type { Command } from 'commander';
import { UsageError } from './errors.js';

const MISSING: [path: string[], why: string][] = [
  [['gen', 'subskeleton'], "bee-ts generates TypeScript modules instead of C skeletons: 'bee-ts gen ts OBJ'"],
];

export function registerMissing(program: Command): void {
  for (const [path, why] of MISSING) {
    let parent = program;
    for (const name of path.slice(0, -1)) parent = parent.commands.find((c) => c.name() === name) ?? parent.command(name, { hidden: true });
    parent
      .command(path[path.length - 1]!, { hidden: true })
      .argument('[args...]')
      .allowUnknownOption()
      .action(() => {
        throw new UsageError(`${path.join(' ')}: not supported by bee-ts: ${why}`);
      });
  }
}
