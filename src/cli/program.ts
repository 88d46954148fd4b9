// The bee-ts command tree and one command line run to its exit status, without touching the
// process: main.ts adds the process-wide parts (a closed stdout, signals, uncaught errors, the
// exit). The batch command and the VM tests (test/cli-inproc.ts) run command lines through here
// in a process that keeps running.
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { stdoutMayBeTty, writeOut } from './format.js';
import { commandWord, normalizeArgv } from './argv.js';
import { registerBeeCommands, registerImageCommands } from './cmd-bee.js';
import type { CliContext } from './cmd-context.js';
import { registerMap } from './cmd-map.js';
import { registerMissing } from './cmd-missing.js';
import { registerBtf, registerFeature, registerObjects } from './cmd-objects.js';
import { registerProg } from './cmd-prog.js';
import { errorMessage, failureStatus, kernel, processWants, run, startCommandLine } from './outcome.js';

export { errorMessage, processWants };

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

type Part = (program: Command, ctx: CliContext) => void;

const registerBatch: Part = (program, ctx) => {
  program
    .command('batch')
    .description("bpftool's batch mode: batch file FILE (or - for stdin) runs one bpftool command per line ('#' comments, '\\' continuations, quotes) and stops at the first that fails; -j puts every output in one JSON array")
    .argument('[args...]', 'file FILE')
    .action((args: string[]) =>
      ctx.run(undefined, async () => {
        await (await import('./batch.js')).batchCommand(args, runBatchLine);
      }),
    );
};

/**
 * The parts of the command tree, in the order --help lists them, with the top-level commands
 * (names and aliases) each registers (test/cli.test.ts checks these against the parts).
 */
export const TREE_PARTS: readonly (readonly [names: readonly string[], register: Part])[] = [
  [['run', 'init', 'build', 'describe'], registerBeeCommands],
  [['btf'], registerBtf],
  [['prog'], registerProg],
  [['map'], registerMap],
  [['net', 'gen', 'cgroup', 'link', 'iter', 'struct_ops', 'perf'], registerObjects],
  [['bench', 'list', 'tag', 'push', 'pull', 'login', 'package', 'k8s', 'version'], registerImageCommands],
  [['feature'], registerFeature],
  [['batch'], registerBatch],
];

/**
 * The command tree; with `command` (a top-level command's exact name), only the part that
 * registers it: what a command line naming it parses the same way, at a fraction of the cost
 * (commander makes every option and command as it is registered: 79 commands and 176 options in
 * all). A tree without `command`, or for a word no part registers, has every command (--help,
 * prefixes, suggestions for unknown commands).
 */
export function buildProgram(command?: string): Command {
  const part = command === undefined ? undefined : TREE_PARTS.find(([names]) => names.includes(command));
  const program = new Command();
  program
    .name('bee-ts')
    .description('Pure-TypeScript eBPF toolkit: load BPF objects, inspect programs, maps and BTF, and run BumbleBee-style probes.')
    .version(pkg.version, '-V, --version')
    // A usage mistake: commander's one-line error, this hint, exit 2 (see main()).
    .exitOverride()
    .showHelpAfterError("(see 'bee-ts --help', or 'bee-ts <command> --help')");
  // Help and --version through writeOut; process.stdout (width, colours) only for a terminal.
  // Set before the subcommands are made: they share this configuration. (bee-ts's help has no
  // colours to strip, so "no colours" off a terminal changes nothing.)
  const output = { ...program.configureOutput() };
  program.configureOutput({
    writeOut,
    // commander's own default is undefined off a terminal (its type says number).
    getOutHelpWidth: () => (stdoutMayBeTty() ? output.getOutHelpWidth?.() : undefined) as number,
    getOutHasColors: () => (stdoutMayBeTty() ? !!output.getOutHasColors?.() : false),
  });
  // bee's global flags for the image store and registries (used by build REF, run REF, list,
  // describe, tag, push, pull, login): before the subcommand, with defaults, and after it too
  // (`bee-ts pull REF --plain-http`), as bee's persistent flags.
  const IMAGE_FLAGS: [flags: string, description: string, programDefault?: string][] = [
    ['--storage <dir>', 'local image store (an OCI image layout)', '~/.bumblebee/store'],
    ['--config-dir <dir>', 'directory of config.json (registry credentials)', '~/.bumblebee'],
    ['-c, --config <file>', 'registry auth file (default: <config-dir>/config.json, then ~/.docker/config.json)'],
    ['-u, --username <user>', 'registry username'],
    ['-P, --password <password>', 'registry password (-p is bpftool\'s --pretty)'],
    ['--insecure', 'accept any TLS certificate from the registry'],
    ['--plain-http', 'talk plain HTTP to the registry'],
  ];
  for (const [flags, description, dflt] of IMAGE_FLAGS) program.option(flags, description, dflt);
  const withImageFlags = (cmd: Command): Command => {
    for (const [flags, description] of IMAGE_FLAGS) cmd.option(flags, description);
    return cmd;
  };
  let sub: Command | undefined;
  program.hook('preAction', (_p, action) => {
    sub = action;
  });
  const imageFlags = (): import('./images.js').ImageFlags => {
    const local = (sub?.opts() ?? {}) as import('./images.js').ImageFlags;
    const g = { ...(program.opts() as import('./images.js').ImageFlags) };
    for (const [k, v] of Object.entries(local)) if (v !== undefined && k in { storage: 1, configDir: 1, config: 1, username: 1, password: 1, insecure: 1, plainHttp: 1 }) (g as Record<string, unknown>)[k] = v;
    const home = (p?: string) => (p?.startsWith('~/') ? path.join(os.homedir(), p.slice(2)) : p);
    return { ...g, storage: home(g.storage), configDir: home(g.configDir), config: home(g.config) };
  };

  const ctx: CliContext = {
    run,
    kernel,
    longRunning: () => {
      processWants.runHandlesEpipe = true;
      processWants.exitWhenDone = true;
    },
    imageFlags,
    withImageFlags,
    version: pkg.version,
  };
  for (const [, register] of part ? [part] : TREE_PARTS) register(program, ctx);
  registerMissing(program);
  return program;
}

/** One line of `batch file`: a fresh command tree, parsed as if it were bee-ts's command line. */
async function runBatchLine(args: string[]): Promise<void> {
  const program = buildProgram(commandWord(args));
  try {
    await program.parseAsync(normalizeArgv(program, ['node', 'bee-ts', ...args]));
  } catch (e) {
    // `help` inside a batch is not a failure.
    if (e instanceof CommanderError && e.exitCode === 0) return;
    throw e;
  }
}

/**
 * Runs one command line (the words after `bee-ts`) and returns its exit status: 0, 1 for a
 * run-time failure, 2 for a usage mistake, with the failure reported as main() always did (one
 * line on stderr, or {"error"} on stdout under --json). bpftool's global flags start from their
 * defaults each time (normalizeArgv only sets the ones given).
 */
export async function runCommandLine(args: readonly string[]): Promise<number> {
  startCommandLine();
  const program = buildProgram(commandWord(args));
  try {
    await program.parseAsync(normalizeArgv(program, ['node', 'bee-ts', ...args]));
    return 0;
  } catch (e) {
    // commander has printed the message (and the hint); --help and --version are not mistakes.
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 2;
    return failureStatus(e);
  }
}
