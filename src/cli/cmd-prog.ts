// `bee-ts prog ...`: bpftool's prog commands wired to prog.ts, loadall.ts, attach-cmds.ts, tracelog.ts.
import type { Command } from 'commander';
import type { CliContext } from './cmd-context.js';
import { globals } from './format.js';

const progCmds = () => import('./prog.js');

export function registerProg(program: Command, ctx: CliContext): void {
  const { kernel } = ctx;
  const prog = program.command('prog').description('inspect programs (like bpftool prog)');
  prog
    .command('list')
    .alias('show')
    .description('list loaded programs, or show PROG: id N | pinned PATH | name NAME | tag HEX')
    .argument('[prog...]', 'PROG selector')
    .option('-j, --json', 'print JSON (bpftool -j keys)')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await import('./show.js')).progShow(args, !!o.json)));
  // prog loadall (every program, pinned under a directory) and prog load (the first, at a path).
  for (const [name, description, pinArg, pinHelp, fn] of [
    ['loadall', 'load every program of an object and pin each at <dir>/<program name>; with --autoattach, attach them and pin the links instead (removing a pin detaches; a program that cannot attach is pinned unattached, as bpftool 7.2+ does)', '<dir>', 'bpffs directory for the pins', 'loadall'],
    ['load', "load an object's first program and pin it at <path> (bpftool prog load); its other programs are not loaded", '<path>', 'bpffs path for the pin', 'progLoad'],
  ] as const)
    prog
      .command(name)
      .description(description)
      .argument('<obj>', 'BPF object (.o)')
      .argument(pinArg, pinHelp)
      .option('--pinmaps <dir>', 'pin every map under <dir> (reusing compatible pins)')
      .option('--autoattach', 'attach by section and pin the link instead of the program')
      .option('--set <name=value>', 'set a global (const volatile) before load; repeatable', (v: string, prev: string[] = []) => [...prev, v])
      .option('-v, --verbose', 'full verifier log on failure')
      .action((obj: string, pin: string, o: { pinmaps?: string; autoattach?: boolean; set?: string[]; verbose?: boolean }) =>
        kernel(false, async () => {
          (await import('./loadall.js'))[fn](obj, pin, o);
        }),
      );
  prog
    .command('run')
    .description('run a program once (BPF_PROG_TEST_RUN): prog run PROG [data_in FILE [data_out FILE]] [ctx_in FILE [ctx_out FILE]] [repeat N]')
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await progCmds()).progRun(args, !!o.json)));
  const dump = prog.command('dump').description('dump a program: prog dump xlated|jited PROG [opcodes | linum | file FILE]');
  dump
    .command('xlated')
    .description('the instructions as the verifier left them, with BTF prototypes and source lines (like bpftool prog dump xlated)')
    .argument('<args...>', 'PROG [opcodes | linum | file FILE]')
    .option('-j, --json', 'print JSON (bpftool -j layout)')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await progCmds()).progDumpXlated(args, !!o.json)));
  dump
    .command('jited')
    .description("the JIT's machine code, disassembled by bee-ts (x86-64 and arm64, in LLVM's notation as bpftool prints it), with function names, BTF prototypes and source lines; file FILE writes the raw image")
    .argument('<args...>', 'PROG [opcodes | linum | file FILE]')
    .option('-j, --json', 'print JSON (bpftool -j layout)')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await progCmds()).progDumpJited(args, !!o.json)));
  prog
    .command('tracelog')
    .description("stream the kernel's trace_pipe (bpf_trace_printk output) until Ctrl-C (like bpftool prog tracelog; -j: a JSON array of lines)")
    .option('-j, --json', 'print JSON')
    .action((o: { json?: boolean }) =>
      kernel(o.json, async () => {
        if (o.json) globals.json = true;
        await (await import('./tracelog.js')).progTracelog();
      }),
    );
  for (const [name, what] of [
    ['attach', 'attach'],
    ['detach', 'detach'],
  ] as const)
    prog
      .command(name)
      .description(
        `${what} a program to a sockmap/sockhash or this network namespace (like bpftool): prog ${name} PROG ATTACH_TYPE [MAP]; ATTACH_TYPE: sk_msg_verdict | sk_skb_verdict | sk_skb_stream_verdict | sk_skb_stream_parser | flow_dissector (no MAP)`,
      )
      .argument('<args...>')
      .action((args: string[]) => kernel(false, async () => (await import('./attach-cmds.js')).progAttachCmd(args, name === 'detach')));
  prog
    .command('profile')
    .description(
      "count hardware events per run of PROG (like bpftool prog profile): prog profile PROG [duration D] METRIC... with up to 4 of cycles, instructions, l1d_loads, llc_misses, itlb_misses, dtlb_misses (and bee-ts's cpu_clock, a software counter in ns for machines without a PMU); attaches an fentry/fexit pair to PROG, prints run_cnt and the sums after D seconds or Ctrl-C",
    )
    .argument('<args...>', 'PROG [duration D] METRIC...')
    .option('-j, --json', 'print JSON (bpftool -j layout)')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await import('./profile.js')).progProfile(args, !!o.json)));
  prog
    .command('pin')
    .description('pin a program: prog pin PROG FILE')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await progCmds()).progPin(args)));

}
