// bpftool's command-line habits on top of commander, applied to argv before commander parses it:
// its global options (-j, -p, -d, -m, -f, -n) anywhere on the line of a bpftool object, the
// prefix matching of objects, commands and keywords (`prog sh`, `map du`, `p s i 5`), and an
// object alone meaning its first command (`prog` = `prog show`, `feature` = `feature probe`).
import type { Command } from 'commander';
import { globals } from './format.js';

export type Flag = 'json' | 'pretty' | 'debug' | 'mapcompat' | 'bpffs' | 'nomount';
const SHORT: Record<string, Flag> = { j: 'json', p: 'pretty', d: 'debug', m: 'mapcompat', f: 'bpffs', n: 'nomount' };
const LONG: Record<string, Flag> = { '--json': 'json', '--pretty': 'pretty', '--debug': 'debug', '--mapcompat': 'mapcompat', '--bpffs': 'bpffs', '--nomount': 'nomount' };

/** bpftool 7.1's command tables, in its order (the first command a prefix matches wins). */
export const BPFTOOL_COMMANDS: Record<string, readonly string[]> = {
  '': ['help', 'batch', 'prog', 'map', 'link', 'cgroup', 'perf', 'net', 'feature', 'btf', 'gen', 'struct_ops', 'iter', 'version'],
  prog: ['show', 'list', 'help', 'dump', 'pin', 'load', 'loadall', 'attach', 'detach', 'tracelog', 'run', 'profile'],
  map: ['show', 'list', 'help', 'dump', 'update', 'lookup', 'getnext', 'delete', 'pin', 'event_pipe', 'create', 'peek', 'push', 'enqueue', 'pop', 'dequeue', 'freeze'],
  link: ['show', 'list', 'help', 'pin', 'detach'],
  btf: ['show', 'list', 'help', 'dump'],
  net: ['show', 'list', 'attach', 'detach', 'help'],
  cgroup: ['show', 'list', 'tree', 'attach', 'detach', 'help'],
  perf: ['show', 'list', 'help'],
  feature: ['probe', 'list_builtins', 'help', 'extras'],
  gen: ['object', 'skeleton', 'subskeleton', 'min_core_btf', 'help'],
  struct_ops: ['show', 'list', 'register', 'unregister', 'dump', 'help'],
  iter: ['pin', 'help'],
  'prog dump': ['xlated', 'jited'],
  batch: ['file'],
};

/** bee's global options that take a value (kept in place, value and all). */
const VALUE_FLAGS = new Set(['--storage', '--config-dir', '-c', '--config', '-u', '--username', '-P', '--password']);

/** bpftool's is_prefix: the first of `choices` that `word` starts (an exact name always wins). */
export function matchPrefix(word: string | undefined, choices: readonly string[]): string | undefined {
  if (word === undefined || word === '') return undefined;
  if (choices.includes(word)) return word;
  return choices.find((c) => c.startsWith(word));
}

/** `word` as one of bpftool's keywords (id, pinned, key, value, opcodes, ...) if it abbreviates one. */
export function keyword(word: string | undefined, choices: readonly string[]): string | undefined {
  return matchPrefix(word, choices);
}

/** Take bpftool global flags out of one argument ('-jp', '--json'); false if it is something else. */
export function takeFlag(a: string, set: Partial<Record<Flag, boolean>>): boolean {
  const long = LONG[a];
  if (long) return (set[long] = true);
  if (!/^-[a-z]+$/.test(a)) return false;
  const letters = a.slice(1).split('');
  if (!letters.every((c) => SHORT[c])) return false;
  for (const c of letters) set[SHORT[c]!] = true;
  return true;
}

const findSub = (cmd: Command, name: string) => cmd.commands.find((c) => c.name() === name || c.aliases().includes(name));
const hasOption = (cmd: Command, long: string) => cmd.options.some((o) => o.long === long);

/**
 * The command word of a command line (the words after `bee-ts`): the first word after the
 * leading flags as normalizeArgv finds it, or undefined. ('--' and '-' are not command words.)
 */
export function commandWord(args: readonly string[]): string | undefined {
  let i = 0;
  for (; i < args.length && args[i]!.startsWith('-') && args[i] !== '-'; i++) {
    if (args[i] === '--') return undefined;
    if (VALUE_FLAGS.has(args[i]!) && !takeFlag(args[i]!, {})) i++;
  }
  const w = args[i];
  return w === '-' ? undefined : w;
}

/**
 * argv (node, script, ...) rewritten for commander; sets `globals` from bpftool's flags. For the
 * bpftool objects the flags may come anywhere (bpftool's getopt permutes), for bee's own commands
 * only before the command name (after it they are that command's own: `run -f` is --filter).
 */
export function normalizeArgv(program: Command, argv: string[]): string[] {
  const args = argv.slice(2);
  const set: Partial<Record<Flag, boolean>> = {};
  const lead: string[] = [];
  const leadFlags: string[] = [];
  let i = 0;
  for (; i < args.length && args[i]!.startsWith('-') && args[i] !== '-'; i++) {
    const a = args[i]!;
    if (a === '--') break;
    if (takeFlag(a, set)) leadFlags.push(a);
    else {
      lead.push(a);
      if (VALUE_FLAGS.has(a) && i + 1 < args.length) lead.push(args[++i]!);
    }
  }
  const names = program.commands.flatMap((c) => [c.name(), ...c.aliases()]);
  const word = args[i];
  let obj = word !== undefined && names.includes(word) ? word : matchPrefix(word, BPFTOOL_COMMANDS['']!.filter((c) => c === 'help' || names.includes(c)));
  if (obj === undefined) {
    // Not a command we know: leave it for commander to report (bpftool flags before it included).
    return [...argv.slice(0, 2), ...lead, ...leadFlags, ...args.slice(i)];
  }
  const cmd = findSub(program, obj);
  const bpftoolObject = obj in BPFTOOL_COMMANDS && cmd !== undefined;
  let rest = args.slice(i + 1);
  if (bpftoolObject) {
    const kept: string[] = [];
    for (let k = 0; k < rest.length; k++) {
      if (rest[k] === '--') {
        kept.push(...rest.slice(k));
        break;
      }
      if (!takeFlag(rest[k]!, set)) kept.push(rest[k]!);
    }
    rest = kept;
  } else if (!cmd) {
    return [...argv.slice(0, 2), ...lead, ...leadFlags, obj, ...rest];
  }
  Object.assign(globals, set);
  if (globals.pretty) globals.json = true;
  const path: Command[] = [cmd!];
  if (bpftoolObject) {
    // The command word: bpftool's prefixes, and the object's first command when there is none.
    const table = BPFTOOL_COMMANDS[obj]!;
    const first = rest[0];
    // `prog --help` is the object's help, not its first command's.
    const help = rest.includes('--help') || rest.includes('-h');
    const resolved = first === undefined || first.startsWith('-') ? (help ? undefined : table[0]) : matchPrefix(first, table);
    if (resolved !== undefined) {
      if (first === undefined || first.startsWith('-')) rest.unshift(resolved);
      else rest[0] = resolved;
      const sub = findSub(cmd!, resolved);
      if (sub) path.push(sub);
      const inner = BPFTOOL_COMMANDS[`${obj} ${resolved}`];
      if (inner && sub) {
        const w = matchPrefix(rest[1], inner);
        if (w) {
          rest[1] = w;
          const s2 = findSub(sub, w);
          if (s2) path.push(s2);
        }
      }
    }
  }
  // Hand the flags to the command when it declares them (-j as --json, -d as --verbose).
  const leaf = path[path.length - 1]!;
  const extra: string[] = [];
  if (globals.json && hasOption(leaf, '--json')) extra.push('--json');
  if (globals.debug && hasOption(leaf, '--verbose')) extra.push('--verbose');
  else if (globals.debug && hasOption(leaf, '--debug')) extra.push('--debug');
  if (!bpftoolObject) {
    // A bee command: bpftool flags before it that it does not take are reported by commander.
    const takes = (f: string) => {
      const one: Partial<Record<Flag, boolean>> = {};
      takeFlag(f, one);
      return Object.keys(one).every((k) => ((k === 'json' || k === 'pretty') && hasOption(leaf, '--json')) || (k === 'debug' && (hasOption(leaf, '--verbose') || hasOption(leaf, '--debug'))));
    };
    const unknown = leadFlags.filter((f) => !takes(f));
    return [...argv.slice(0, 2), ...lead, ...unknown, obj, ...rest, ...extra];
  }
  const dash = rest.indexOf('--');
  if (dash >= 0) rest.splice(dash, 0, ...extra);
  else rest.push(...extra);
  return [...argv.slice(0, 2), ...lead, obj, ...rest];
}
