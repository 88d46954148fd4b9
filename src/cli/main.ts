#!/usr/bin/env node
// bee-ts command line. Each command lives in its own module; this file wires them to commander
// and turns every failure into one clear line on stderr (or {"error":...} with --json) and a
// non-zero exit.
import { Command } from 'commander';
import { createRequire } from 'node:module';
import { btfDump } from './btf.js';
import { describeJson, describeText, loadSpec } from './describe.js';
import { UsageError } from './errors.js';
import { writeChunks } from './format.js';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

let jsonErrors = false;

async function run(json: boolean | undefined, fn: () => Promise<void> | void): Promise<void> {
  jsonErrors = !!json;
  await fn();
}

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('bee-ts')
    .description('Pure-TypeScript eBPF toolkit: load BPF objects, inspect programs, maps and BTF, and run BumbleBee-style probes.')
    .version(pkg.version, '-V, --version')
    .showHelpAfterError();

  program
    .command('describe')
    .description('list the programs, maps (with bee roles), globals and externs of a BPF object, without loading it')
    .argument('<file.o>', 'clang-compiled BPF object')
    .option('-j, --json', 'print JSON')
    .action((file: string, opts: { json?: boolean }) =>
      run(opts.json, async () => {
        const spec = loadSpec(file);
        process.stdout.write(opts.json ? JSON.stringify(describeJson(spec)) + '\n' : describeText(spec));
      }),
    );

  const btf = program.command('btf').description('inspect BTF type information');
  btf
    .command('dump')
    .description("dump BTF from a file: 'file <path> [format raw|c]' (raw BTF such as /sys/kernel/btf/vmlinux, or a .o)")
    .argument('<args...>', "file <path> [format raw|c]")
    .option('-j, --json', 'print JSON (raw format)')
    .option('--base <path>', 'base BTF for split BTF (default: vmlinux for /sys/kernel/btf/<module>)')
    .action((args: string[], opts: { json?: boolean; base?: string }) =>
      run(opts.json, () => writeChunks((w) => btfDump(args, opts, w))),
    );

  return program;
}

function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

async function main(): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(process.argv);
  } catch (e) {
    const msg = errorMessage(e);
    if (jsonErrors) process.stdout.write(JSON.stringify({ error: msg }) + '\n');
    else process.stderr.write(`Error: ${msg}\n`);
    if (process.env.BEE_TS_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
}

await main();
