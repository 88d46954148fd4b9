// The command tree built for one top-level command (buildProgram(name), what a command line naming
// it parses) is the same subtree as in the whole tree, and TREE_PARTS names what each part registers.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandWord } from '../src/cli/argv.js';
import { buildProgram, TREE_PARTS } from '../src/cli/program.js';

/** A command and everything under it: names, aliases, arguments, options (flags, defaults), hidden. */
function shape(c: Command): unknown {
  return {
    name: c.name(),
    aliases: c.aliases(),
    description: c.description(),
    args: c.registeredArguments.map((a) => [a.name(), a.required, a.variadic]),
    options: c.options.map((o) => [o.flags, o.description, o.defaultValue]),
    commands: c.commands.map(shape),
  };
}

describe('the command tree, whole or one part', () => {
  it("TREE_PARTS lists the whole tree's top-level commands, in --help order", () => {
    const full = buildProgram().commands.filter((c) => !(c as unknown as { _hidden: boolean })._hidden);
    expect(full.flatMap((c) => [c.name(), ...c.aliases()])).toEqual(TREE_PARTS.flatMap(([names]) => names));
  });

  it("each top-level command's subtree is the same built alone as in the whole tree, with the same program options", () => {
    const full = buildProgram();
    for (const [names] of TREE_PARTS) {
      for (const name of names) {
        const one = buildProgram(name);
        const mine = one.commands.filter((c) => !(c as unknown as { _hidden: boolean })._hidden);
        expect(mine.flatMap((c) => [c.name(), ...c.aliases()])).toEqual(names);
        const sub = (p: Command) => p.commands.find((c) => c.name() === name || c.aliases().includes(name))!;
        expect(shape(sub(one))).toEqual(shape(sub(full)));
        expect(one.options.map((o) => o.flags)).toEqual(full.options.map((o) => o.flags));
      }
    }
    // Not a command's exact name (a prefix, a typo, help): the whole tree.
    for (const w of ['p', 'frob', 'help', undefined]) expect(buildProgram(w).commands.length).toBe(full.commands.length);
  });

  it('commandWord finds the command word after the leading flags as normalizeArgv does', () => {
    expect(commandWord(['prog', 'list'])).toBe('prog');
    expect(commandWord(['-j', '-p', 'map', 'show'])).toBe('map');
    expect(commandWord(['--storage', '/x', '-c', 'cfg', 'list'])).toBe('list');
    expect(commandWord(['--insecure', 'pull', 'r'])).toBe('pull');
    expect(commandWord(['--', 'prog'])).toBeUndefined();
    expect(commandWord(['--help'])).toBeUndefined();
    expect(commandWord([])).toBeUndefined();
    expect(commandWord(['-'])).toBeUndefined();
  });
});
