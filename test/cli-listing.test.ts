// The short paths (src/cli/listing.ts and load-line.ts: start.ts runs a prog/map listing, and a
// plain `prog load`/`prog loadall`, without the command tree) take exactly the command lines that
// the tree would run as `prog list`, `map list`, `prog load` or `prog loadall`, with the same
// words, no option and the same global flags (a line they leave, the tree parses as before). Kernel-free: each line is parsed by the tree with every action replaced by one
// that records which command ran and with what.
import type { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { commandWord, normalizeArgv } from '../src/cli/argv.js';
import { globals } from '../src/cli/format.js';
import { listingOf } from '../src/cli/listing.js';
import { loadLineOf } from '../src/cli/load-line.js';
import { startCommandLine } from '../src/cli/outcome.js';
import { buildProgram } from '../src/cli/program.js';

type Ran = { command: string; args: unknown[]; options: string[]; globals: typeof globals } | 'none';

/** What the command tree does with a command line: the command whose action ran (or 'none': help, an error). */
async function treeRuns(line: string[]): Promise<Ran> {
  startCommandLine();
  const program = buildProgram(commandWord(line));
  let ran: Ran = 'none';
  const walk = (c: Command, names: string[]) => {
    c.configureOutput({ writeOut: () => {}, writeErr: () => {}, outputError: () => {} });
    c.action((...a: unknown[]) => {
      // commander's action arguments: the declared arguments, then the options, then the command.
      const args = a.slice(0, -2);
      const opts = a[a.length - 2] as Record<string, unknown>;
      // The options the line set, besides -j (which the listings read).
      const options = Object.keys(opts).filter((k) => k !== 'json' && opts[k] !== undefined);
      ran = { command: names.join(' '), args: [...args, { json: !!opts.json }], options, globals: { ...globals } };
    });
    for (const s of c.commands) walk(s, [...names, s.name()]);
  };
  walk(program, []);
  try {
    await program.parseAsync(normalizeArgv(program, ['node', 'bee-ts', ...line]));
  } catch {
    return 'none';
  }
  return ran;
}

/** What the short path does with it. */
function listingRuns(line: string[]): Ran {
  startCommandLine();
  const l = listingOf(line);
  if (!l) return 'none';
  Object.assign(globals, l.flags);
  if (globals.pretty) globals.json = true;
  return { command: `${l.object} list`, args: [l.args, { json: globals.json }], options: [], globals: { ...globals } };
}

/** What the loads' short path does with it (cmd-prog.ts's action has no -j; -d is its --verbose, as runLoadLine passes it). */
function loadRuns(line: string[]): Ran {
  startCommandLine();
  const l = loadLineOf(line);
  if (!l) return 'none';
  Object.assign(globals, l.flags);
  if (globals.pretty) globals.json = true;
  return { command: `prog ${l.command}`, args: [l.object, l.pin, { json: false }], options: globals.debug ? ['verbose'] : [], globals: { ...globals } };
}

/** The lines `short` takes, each checked against what the tree runs for it ('""' is an empty word). */
async function takenLines(lines: readonly string[], short: (line: string[]) => Ran): Promise<string[]> {
  const taken: string[] = [];
  for (const text of lines) {
    const line = text.split(' ').map((w) => (w === '""' ? '' : w));
    const ran = short(line);
    if (ran === 'none') continue;
    taken.push(text);
    expect(ran, text).toEqual(await treeRuns(line));
  }
  startCommandLine();
  return taken;
}

const LINES = [
  'prog', 'prog list', 'prog show', 'map', 'map list', 'map show', 'p', 'm', 'prog l', 'prog s', 'prog li', 'prog sh', 'map lis', 'map sho',
  '-j prog', '-p prog show', '-j map list', 'map list -j', 'map -j list', '--json prog show', 'prog show --pretty', '-jp map', '-f prog list', '-d map list', '-m -n prog show', '-jfd map show',
  'prog show id 5', 'prog show -j id 5', 'prog show id 5 -j', 'map show pinned /sys/fs/bpf/x', 'map show name foo', 'prog show tag abc', 'prog show bogus', 'prog show id', 'map show id x',
  'prog show help', 'prog help', 'map help', 'prog --help', 'prog show --help', 'prog -h', 'map list -h', '--help prog', 'prog show -V', '--version',
  'prog show --', '-- prog show', 'prog show -', '- prog', 'prog show -x', 'prog show --json=1', 'prog show id -1', 'prog show ""', '"" prog',
  'prog dump xlated id 1', 'prog pin id 1 /x', 'map dump id 1', 'map lookup id 1 key 0', 'map event_pipe id 1', 'prog loadall x.o /d', 'map create x',
  'prog show --storage /x', '--storage /x prog show', '--insecure map list', 'link show', 'btf list', 'net list', 'list', 'prog  show', 'map listx', 'prog showw', 'map sh id 1',
  '-J prog', '-jx prog', '-j', 'prog -j -p -d -m -f -n show id 9',
];

/** Lines the short path must take (the rest it may leave to the tree: a prefix of the object, say). */
const TAKEN = ['prog', 'prog list', 'prog show', 'map', 'map list', 'map show', '-j prog', '-p prog show', '-j map list', 'map list -j', 'prog show id 5', '-f prog list', 'map show pinned /sys/fs/bpf/x'];

describe('the listings short path', () => {
  it('runs what the command tree runs for each line it takes (a prog or map listing); a line it leaves (help, errors, other commands, prefixes of the object) is the tree\'s as before', async () => {
    const taken = await takenLines(LINES, listingRuns);
    for (const t of TAKEN) expect(taken, t).toContain(t);
  });
});

const LOAD_LINES = [
  'prog loadall x.o /d', 'prog load x.o /d', 'prog loada x.o /d', 'prog l x.o /d', 'prog lo x.o /d', 'p loadall x.o /d', 'prog loadall', 'prog loadall x.o', 'prog loadall x.o /d extra',
  '-j prog loadall x.o /d', 'prog loadall x.o /d -p', '-d prog load x.o /d', 'prog -m loadall x.o /d', '-jfdmn prog loadall x.o /d',
  'prog loadall x.o /d --pinmaps /m', 'prog loadall x.o /d --autoattach', 'prog loadall --set a=1 x.o /d', 'prog loadall x.o /d -v', 'prog load x.o /d --verbose',
  'prog loadall x.o /d --help', 'prog loadall -h', 'prog loadall -- x.o /d', 'prog loadall x.o -', 'prog loadall "" /d', '--storage /s prog loadall x.o /d', 'prog loadall x.o /d pinmaps /m',
  'prog show', 'map loadall x.o /d', 'prog loadalll x.o /d', 'prog attach x y', 'prog loadall x.o /d -x',
];
const LOAD_TAKEN = ['prog loadall x.o /d', 'prog lo x.o /d', 'prog -m loadall x.o /d', 'prog load x.o /d', 'prog loada x.o /d', '-j prog loadall x.o /d', 'prog loadall x.o /d -p', '-d prog load x.o /d', '-jfdmn prog loadall x.o /d', 'prog loadall "" /d'];

describe('the loads short path', () => {
  it("runs what the command tree runs for each line it takes (prog load/loadall OBJ PATH, bpftool's flags anywhere, no option); options, help, errors and other commands are the tree's", async () => {
    const taken = await takenLines(LOAD_LINES, loadRuns);
    expect(taken.sort()).toEqual([...LOAD_TAKEN].sort());
  });
});
