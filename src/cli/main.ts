#!/usr/bin/env node
// bee-ts command line. Each command lives in its own module; this file wires them to commander
// and turns every failure into one clear line on stderr (or {"error":...} with --json) and a
// non-zero exit.
import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from './errors.js';
import { globals, jsonText, writeChunks } from './format.js';
import { normalizeArgv } from './argv.js';

const require = createRequire(import.meta.url);
const pkg = require('../../package.json') as { version: string };

let jsonErrors = false;
/** `run` handles a closed stdout itself (it stops and detaches); other commands just exit. */
let runHandlesEpipe = false;
/** Exit once the command returned, whatever handles are still open (`run`). */
let exitWhenDone = false;

async function run(json: boolean | undefined, fn: () => Promise<void> | void): Promise<void> {
  jsonErrors = !!json || globals.json;
  await fn();
}

/** Commands that talk to the kernel load the native syscall backend (koffi) on demand. */
async function kernel(json: boolean | undefined, fn: () => Promise<void> | void): Promise<void> {
  jsonErrors = !!json || globals.json;
  await import('../syscall/native.js');
  (await import('../link/link.js')).closeLinksOnSignals();
  await fn();
}

const progCmds = () => import('./prog.js');
const mapCmds = () => import('./map.js');
const linkCmds = () => import('./link.js');

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('bee-ts')
    .description('Pure-TypeScript eBPF toolkit: load BPF objects, inspect programs, maps and BTF, and run BumbleBee-style probes.')
    .version(pkg.version, '-V, --version')
    // A usage mistake: commander's one-line error, this hint, exit 2 (see main()).
    .exitOverride()
    .showHelpAfterError("(see 'bee-ts --help', or 'bee-ts <command> --help')");
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

  const collect = (v: string, prev: string[] = []) => [...prev, v];
  withImageFlags(program.command('run'))
    .description(
      "load a probe, attach its programs, and turn its marked maps (print_/counter_/gauge_/hist_ or .maps.<role>) into JSON lines (or a TUI on a terminal) and Prometheus metrics",
    )
    .argument('<probe>', 'compiled probe (.o), or an image reference (local store first, then pulled)')
    .option('-f, --filter <map,field,regex>', 'only show records whose field matches (repeatable; RE2 regex as in bee, unanchored)', collect)
    .option('-b, --hist-buckets <map,[l1,l2,...]>', 'histogram buckets for a hist_ map (repeatable)', collect)
    .option('-k, --hist-value-key <map,field>', 'field a hist_ (or gauge_ ring buffer) map observes (default le)', collect)
    .option('--no-tty', 'JSON lines on stdout even on a terminal (the default when stdout is not a terminal)')
    .option('--poll-interval <duration>', 'how often hash maps are read', '1s')
    .option('--prom-port <port>', 'port for /metrics', '9091')
    .option('--prom-address <address>', 'address for /metrics: 0.0.0.0 (bee\'s default) is every interface, unauthenticated; 127.0.0.1 keeps it local', '0.0.0.0')
    .option('--metrics-naming <scheme>', "metric names: bee (ebpf_solo_io_<map>, bee's dashboards) or prometheus (Prometheus conventions: ebpf_<name>[_<base unit>][_total], values in base units)", 'bee')
    .option('--max-series <n>', 'most series per metric; the least recently updated are evicted (counted in bee_ts_series_evicted_total)', '10000')
    .option('--no-metrics', 'do not serve Prometheus metrics')
    .option('--filter-metrics', 'apply --filter to metrics too')
    .option('--pin-maps <dir>', 'pin every map in <dir> (reusing compatible pins)')
    .option('--pin-progs <dir>', 'pin every program in <dir>')
    .option('--set <name=value>', 'set a const volatile global before load (repeatable)', collect)
    .option('--btf <path>', 'kernel BTF for CO-RE instead of /sys/kernel/btf/vmlinux')
    .option('--duration <duration>', 'stop after this long (a Go duration: 300ms, 1.5s, 1h30m)')
    .option('--stats-interval <duration>', 'how often records dropped or lost are reported on stderr (when there were any)', '10s')
    .option('-d, --debug', 'accepted for bee compatibility (diagnostics already go to stderr)')
    .option('-v, --verbose', 'full verifier log on failure')
    .action((file: string, o: import('./run.js').RunFlags) =>
      kernel(false, async () => {
        runHandlesEpipe = true;
        exitWhenDone = true;
        const { runCommand } = await import('./run.js');
        const { resolveProbe } = await import('./images.js');
        const probe = await resolveProbe(file, imageFlags(), (m) => process.stderr.write(m + '\n'));
        await runCommand(probe.file, o, probe.program);
      }),
    );

  program
    .command('init')
    .description("write a skeleton probe, asking bee's questions (flags skip them)")
    .option('-l, --language <lang>', 'C')
    .option('--program-type <type>', 'Network or FileSystem')
    .option('-m, --map <type>', 'RingBuffer or HashMap (Network)')
    .option('-o, --output-type <type>', 'print, counter or gauge (Network)')
    .option('-f, --file <path>', 'where to write it (default bee.c)')
    .option('--hook <kind>', 'kprobe or tracepoint (default: kprobe when this kernel has kprobes)')
    .option('--force', 'overwrite an existing file')
    .action((o: import('./init.js').InitFlags) =>
      run(false, async () => {
        const { init } = await import('./init.js');
        await init(o);
      }),
    );

  withImageFlags(program.command('build'))
    .description('compile a probe with the local clang: vmlinux.h from the running kernel, bee-ts headers on the include path')
    .argument('<probe.c>')
    .argument('[ref]', 'also store the object as an image named ref in the local store (bee build INPUT REF)')
    .option('-o, --output-file <file>', 'output object (default: <probe>.o)')
    .option('--binary-only', 'accepted for bee compatibility: only write the object (the default without ref)')
    .option('--description <text>', 'image description annotation (with ref)')
    .option('--authors <text>', 'image authors annotation (with ref)')
    .option('--arch <arch>', 'target architecture: x86 or arm64 (default: this host)')
    .option('--cflags <flags>', 'extra compiler flags (repeatable)', collect)
    .option('-I, --include <dir>', 'extra include directory (repeatable)', collect)
    .option('--btf <path>', 'generate vmlinux.h from this BTF instead of /sys/kernel/btf/vmlinux')
    .option('--no-strip', 'keep DWARF debug info')
    .action((input: string, ref: string | undefined, o: { outputFile?: string; arch?: string; cflags?: string[]; include?: string[]; btf?: string; strip: boolean; binaryOnly?: boolean; description?: string; authors?: string }) =>
      run(false, async () => {
        if (ref && o.binaryOnly) throw new UsageError('build: --binary-only and an image ref exclude each other');
        const { build } = await import('./build.js');
        const out = build(input, { output: o.outputFile, arch: o.arch, cflags: o.cflags, include: o.include, btf: o.btf, noStrip: !o.strip });
        process.stderr.write(`Successfully compiled ${input} to ${out}\n`);
        if (ref) {
          const { saveBuild } = await import('./images.js');
          const name = saveBuild(out, ref, { ...imageFlags(), description: o.description, authors: o.authors });
          process.stderr.write(`Saved image ${name}\n`);
        }
      }),
    );

  withImageFlags(program.command('describe'))
    .description("list the programs, maps (with bee roles), globals and externs of a BPF object, without loading it; given an image reference, the image's description, authors and platform (bee describe REF)")
    .argument('<file.o|ref>', 'clang-compiled BPF object, or an image in the local store')
    .option('-j, --json', 'print JSON')
    .action((file: string, opts: { json?: boolean }) =>
      run(opts.json, async () => {
        const images = await import('./images.js');
        if (images.looksLikeImageRef(file)) {
          const ref = images.storedRef(file, imageFlags());
          if (!ref) throw new UsageError(`${file}: no such file, and no such image in the local store ${imageFlags().storage} (bee-ts pull ${file})`);
          process.stdout.write(images.describeImage(ref, imageFlags()));
          return;
        }
        const { describeJson, describeText, loadSpec } = await import('./describe.js');
        const spec = loadSpec(file);
        process.stdout.write(opts.json ? jsonText(describeJson(spec)) + '\n' : describeText(spec));
      }),
    );

  const btf = program.command('btf').description('inspect BTF type information');
  btf
    .command('dump')
    .description("dump BTF: 'file <path>' (raw BTF such as /sys/kernel/btf/vmlinux, or a .o), 'id <N>', 'map <MAP>' or 'prog <PROG>'; then [format raw|c]")
    .argument('<args...>', 'file <path> | id <N> | map <MAP> | prog <PROG> [format raw|c]')
    .option('-j, --json', 'print JSON (raw format)')
    .option('--base <path>', 'base BTF for split BTF (default: vmlinux for /sys/kernel/btf/<module>)')
    .action((args: string[], opts: { json?: boolean; base?: string }) =>
      args[0] === 'file'
        ? run(opts.json, async () => {
            const { btfDump } = await import('./btf.js');
            writeChunks((w) => btfDump(args, opts, w));
          })
        : kernel(opts.json, async () => {
            const { btfDump } = await import('./btf.js');
            const { kernelBtfFor } = await import('./objects.js');
            writeChunks((w) => btfDump(args, opts, w, kernelBtfFor));
          }),
    );

  const prog = program.command('prog').description('inspect programs (like bpftool prog)');
  prog
    .command('list')
    .alias('show')
    .description('list loaded programs, or show PROG: id N | pinned PATH | name NAME | tag HEX')
    .argument('[prog...]', 'PROG selector')
    .option('-j, --json', 'print JSON (bpftool -j keys)')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await progCmds()).progShow(args, !!o.json)));
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
  const dump = prog.command('dump').description('dump a program: prog dump xlated PROG [opcodes | linum | file FILE]');
  dump
    .command('xlated')
    .description('the instructions as the verifier left them, with BTF prototypes and source lines (like bpftool prog dump xlated)')
    .argument('<args...>', 'PROG [opcodes | linum | file FILE]')
    .option('-j, --json', 'print JSON (bpftool -j layout)')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await progCmds()).progDumpXlated(args, !!o.json)));
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
    .command('pin')
    .description('pin a program: prog pin PROG FILE')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await progCmds()).progPin(args)));

  const map = program.command('map').description('inspect and edit maps (like bpftool map)');
  map
    .command('create')
    .description('create a map and pin it: map create FILE type TYPE key SIZE value SIZE entries N name NAME [flags F] [inner_map MAP]')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapCreateCmd(args)));
  map
    .command('list')
    .alias('show')
    .description('list maps, or show MAP: id N | pinned PATH | name NAME')
    .argument('[map...]', 'MAP selector')
    .option('-j, --json', 'print JSON (bpftool -j keys)')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await mapCmds()).mapShow(args, !!o.json)));
  map
    .command('dump')
    .description('dump all entries: map dump MAP (formatted with BTF when the map has it)')
    .argument('<map...>')
    .option('-j, --json', 'print JSON (raw bytes plus "formatted")')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await mapCmds()).mapDump(args, !!o.json)));
  map
    .command('lookup')
    .description("map lookup MAP key DATA   (DATA: bytes '1 0 0 0', 'hex 01 00 00 00', or JSON for maps with BTF)")
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await mapCmds()).mapLookup(args, !!o.json)));
  map
    .command('update')
    .description('map update MAP key DATA value VALUE [any|exist|noexist]   (prog arrays: value id N | pinned PATH)')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapUpdate(args)));
  map
    .command('delete')
    .description('map delete MAP key DATA')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapDelete(args)));
  map
    .command('getnext')
    .description('map getnext MAP [key DATA]')
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await mapCmds()).mapGetNext(args, !!o.json)));
  map
    .command('peek')
    .description('the next value of a queue or stack without taking it: map peek MAP (like bpftool)')
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await mapCmds()).mapLookup(args, !!o.json, 'peek')));
  for (const name of ['push', 'enqueue'])
    map
      .command(name)
      .description(`add a value to a ${name === 'push' ? 'stack (or queue)' : 'queue (or stack)'}: map ${name} MAP value VALUE (like bpftool)`)
      .argument('<args...>')
      .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapUpdate(args, name)));
  for (const name of ['pop', 'dequeue'])
    map
      .command(name)
      .description(`take the next value out of a ${name === 'pop' ? 'stack (or queue)' : 'queue (or stack)'}: map ${name} MAP (like bpftool)`)
      .argument('<args...>')
      .option('-j, --json', 'print JSON')
      .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await import('./mapops.js')).mapPop(args, !!o.json, name)));
  map
    .command('freeze')
    .description('freeze a map: no more updates from user space (map freeze MAP, like bpftool)')
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await import('./mapops.js')).mapFreezeCmd(args, !!o.json)));
  map
    .command('event_pipe')
    .description("print what programs write to a perf event array (bpf_perf_event_output) until Ctrl-C, like bpftool: map event_pipe MAP [cpu N index M]; -j: a JSON array of {type, cpu, index, timestamp, data}")
    .argument('<args...>')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) =>
      kernel(o.json, async () => {
        if (o.json) globals.json = true;
        await (await import('./event-pipe.js')).mapEventPipe(args);
      }),
    );
  map
    .command('pin')
    .description('pin a map: map pin MAP FILE')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await mapCmds()).mapPin(args)));

  btf
    .command('list')
    .alias('show')
    .description('list BTF objects loaded in the kernel, or show one: btf show id N')
    .argument('[btf...]', 'id N')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await import('./btf-list.js')).btfList(args, !!o.json)));

  const net = program.command('net').description('BPF programs on network interfaces (like bpftool net)');
  net
    .command('list')
    .alias('show')
    .description('XDP, TC (clsact filters and TCX links) and flow dissector programs of this network namespace')
    .argument('[dev]', "'dev'")
    .argument('[name]', 'only this interface')
    .option('-j, --json', 'print JSON')
    .action((devKw: string | undefined, name: string | undefined, o: { json?: boolean }) =>
      kernel(o.json, async () => {
        if (devKw !== undefined && (devKw !== 'dev' || name === undefined)) throw new UsageError(`net list: expected 'dev NAME', got '${[devKw, name].filter(Boolean).join(' ')}'`);
        const n = await import('./net.js');
        const r = n.netList(name);
        process.stdout.write(o.json ? jsonText([r]) + '\n' : n.netText(r));
      }),
    );

  net
    .command('attach')
    .description('attach a program to an interface: net attach { xdp | xdpgeneric | xdpdrv | xdpoffload | tcx_ingress | tcx_egress } PROG dev NAME [overwrite] (like bpftool; tcx as newer bpftool)')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await import('./netattach.js')).netAttach(args)));
  net
    .command('detach')
    .description('detach: net detach { xdp | xdpgeneric | xdpdrv | xdpoffload | tcx_ingress | tcx_egress } dev NAME (like bpftool)')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await import('./netattach.js')).netDetach(args)));

  const gen = program.command('gen').description('generate code from a BPF object');
  gen
    .command('ts')
    .alias('skeleton')
    .description("a TypeScript module for a probe: its BTF types, maps as TypedMap<K, V>, typed ring buffer readers, globals, constants, program names and a class that opens/loads/closes it (bee-ts's bpf2go)")
    .argument('<probe.o>')
    .option('-o, --output <file>', 'write here instead of stdout')
    .option('--name <Name>', 'class name (default: from the file name)')
    .action((file: string, o: { output?: string; name?: string }) =>
      run(false, async () => {
        const text = (await import('./gen.js')).genTsCommand(file, o);
        if (!o.output) process.stdout.write(text);
      }),
    );

  const cgroup = program.command('cgroup').description('programs attached to cgroups (like bpftool cgroup)');
  cgroup
    .command('show')
    .alias('list')
    .description('programs attached to one cgroup (effective: also those inherited from its ancestors)')
    .argument('<cgroup>', 'cgroup v2 directory')
    .argument('[effective]', "'effective'")
    .option('-j, --json', 'print JSON')
    .action((dir: string, eff: string | undefined, o: { json?: boolean }) =>
      kernel(o.json, async () => {
        if (eff !== undefined && eff !== 'effective') throw new UsageError(`cgroup show: expected 'effective', got '${eff}'`);
        const c = await import('./cgroup.js');
        const progs = c.cgroupPrograms(dir, eff === 'effective');
        // bpftool prints no array at all for a cgroup without programs (-j: an empty line).
        process.stdout.write(o.json ? (progs.length ? jsonText(progs) : '') + '\n' : c.cgroupShowText(progs, eff === 'effective'));
      }),
    );
  cgroup
    .command('attach')
    .description(
      'attach a program to a cgroup (BPF_PROG_ATTACH, like bpftool; it stays attached): cgroup attach CGROUP ATTACH_TYPE PROG [multi | override]; ATTACH_TYPE: cgroup_inet_ingress | cgroup_inet_egress | cgroup_inet_sock_create | cgroup_sock_ops | cgroup_device | cgroup_inet4_bind | cgroup_inet6_bind | cgroup_inet4_post_bind | cgroup_inet6_post_bind | cgroup_inet4_connect | cgroup_inet6_connect | cgroup_inet4_getpeername | cgroup_inet6_getpeername | cgroup_inet4_getsockname | cgroup_inet6_getsockname | cgroup_udp4_sendmsg | cgroup_udp6_sendmsg | cgroup_udp4_recvmsg | cgroup_udp6_recvmsg | cgroup_sysctl | cgroup_getsockopt | cgroup_setsockopt | cgroup_inet_sock_release (or the older ingress, egress, sock_create, ... prefixes)',
    )
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await import('./attach-cmds.js')).cgroupAttachCmd(args, false)));
  cgroup
    .command('detach')
    .description('detach a program from a cgroup (like bpftool): cgroup detach CGROUP ATTACH_TYPE PROG')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await import('./attach-cmds.js')).cgroupAttachCmd(args, true)));
  cgroup
    .command('tree')
    .description('every cgroup with programs attached, under ROOT (default: the cgroup v2 mount)')
    .argument('[root]')
    .option('-j, --json', 'print JSON')
    .action((root: string | undefined, o: { json?: boolean }) =>
      kernel(o.json, async () => {
        const c = await import('./cgroup.js');
        const t = c.cgroupTree(root);
        process.stdout.write(o.json ? jsonText(t) + '\n' : c.cgroupTreeText(t, root));
      }),
    );

  const link = program.command('link').description('inspect BPF links (like bpftool link)');
  link
    .command('list')
    .alias('show')
    .description('list links, or show LINK: id N | pinned PATH')
    .argument('[link...]')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await linkCmds()).linkShow(args, !!o.json)));
  link
    .command('pin')
    .description('pin a link: link pin LINK FILE (the attachment then outlives this process)')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await linkCmds()).linkPin(args)));
  link
    .command('detach')
    .description('detach a link even while it is pinned or held: link detach LINK')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await linkCmds()).linkDetachCmd(args)));

  program
    .command('iter')
    .description('BPF iterators (like bpftool iter): iter pin OBJ PATH [map MAP]')
    .command('pin')
    .description("load OBJ, attach its first program as an iterator (over MAP: id N | pinned PATH | name NAME) and pin the link at PATH; 'cat PATH' runs it")
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await import('./iter.js')).iterPin(args)));

  const structOps = program.command('struct_ops').description('struct_ops maps: list, dump, register, unregister (like bpftool struct_ops)');
  const so = () => import('./struct-ops.js');
  structOps
    .command('list')
    .alias('show')
    .description('list struct_ops maps, or show STRUCT_OPS_MAP: id ID | name NAME')
    .argument('[map...]')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await so()).structOpsShow(args, !!o.json)));
  structOps
    .command('dump')
    .description('dump struct_ops maps (info and value through kernel BTF): struct_ops dump [STRUCT_OPS_MAP]')
    .argument('[map...]')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await so()).structOpsDump(args, !!o.json)));
  structOps
    .command('register')
    .description('register every struct_ops map of OBJ; .struct_ops.link maps get links pinned under LINK_DIR: struct_ops register OBJ [LINK_DIR]')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await so()).structOpsRegister(args)));
  structOps
    .command('unregister')
    .description('unregister a struct_ops map: struct_ops unregister STRUCT_OPS_MAP')
    .argument('<args...>')
    .action((args: string[]) => kernel(false, async () => (await so()).structOpsUnregister(args)));

  const perf = program.command('perf').description('BPF programs attached to perf events and raw tracepoints, by holding process (like bpftool perf)');
  perf
    .command('list')
    .alias('show')
    .description('pid, fd, program and event of every perf-event/raw-tracepoint attachment a process holds an fd to')
    .option('-j, --json', 'print JSON (bpftool -j keys)')
    .action((o: { json?: boolean }) =>
      kernel(o.json, async () => {
        const p = await import('./perf.js');
        const l = p.perfList();
        process.stdout.write(o.json ? jsonText(l.map(p.perfJson)) + '\n' : l.map(p.perfText).join(''));
      }),
    );

  const bench = program.command('bench').description('benchmarks against their peers, from one run');
  bench
    .command('ringbuf')
    .description('ring buffer reader vs libbpf (ring_buffer__consume/poll): consume a full ring, and stream while a producer runs')
    .option('--size <list>', 'record sizes, comma-separated (16, 64)', '16,64')
    .option('--seconds <n>', 'seconds per streaming run', '3')
    .option('--rounds <n>', 'full-ring drains per consume measurement (the median round counts)', '9')
    .option('--no-stream', 'skip the streaming runs')
    .option('-j, --json', 'one JSON object with rows and ratios')
    .action((o: { size: string; seconds: string; rounds: string; stream: boolean; json?: boolean }) =>
      kernel(o.json, async () => {
        for (const [k, v] of [['--size', o.size], ['--seconds', o.seconds], ['--rounds', o.rounds]] as const)
          if (!/^\d+(\.\d+)?(,\d+(\.\d+)?)*$/.test(v)) throw new UsageError(`bench ringbuf: ${k} '${v}' is not a number${k === '--size' ? ' list (16,64)' : ''}`);
        const b = await import('./bench.js');
        const r = await b.benchRingbuf({
          sizes: o.size.split(',').map(Number),
          seconds: Number(o.seconds),
          rounds: Number(o.rounds),
          stream: o.stream,
          log: (s) => process.stderr.write(`${s}\n`),
        });
        process.stdout.write(o.json ? jsonText(r) + '\n' : b.benchText(r));
      }),
    );

  withImageFlags(program.command('list'))
    .description('images in the local store: Name | OS | OS Version | Arch')
    .action(() =>
      run(false, async () => {
        process.stdout.write((await import('./images.js')).listImages(imageFlags()));
      }),
    );
  withImageFlags(program.command('tag'))
    .description('name a stored image by another reference (tag it as the remote ref before push)')
    .argument('<src>')
    .argument('<dst>')
    .action((src: string, dst: string) =>
      run(false, async () => {
        const name = (await import('./images.js')).tagImage(src, dst, imageFlags());
        process.stderr.write(`Tagged ${name}\n`);
      }),
    );
  for (const [name, description, fn] of [
    ['push', 'push a stored image to its registry', 'pushImage'],
    ['pull', 'pull an image from its registry into the local store', 'pullImage'],
  ] as const)
    withImageFlags(program.command(name))
      .description(description)
      .argument('<ref>')
      .action((ref: string) =>
        run(false, async () => {
          process.stderr.write(await (await import('./images.js'))[fn](ref, imageFlags()));
        }),
      );
  withImageFlags(program.command('login'))
    .description('log in to a registry and save the credentials in <config-dir>/config.json')
    .argument('<server>')
    .option('--password-stdin', 'read the password from standard input')
    .action((server: string, o: { passwordStdin?: boolean }) =>
      run(false, async () => {
        const { login } = await import('./images.js');
        process.stdout.write(await login(server, { ...imageFlags(), passwordStdin: o.passwordStdin }, promptLine));
      }),
    );
  const k8sFlags = (cmd: Command): Command =>
    cmd
      .option('--namespace <ns>', 'Kubernetes namespace of the manifests', 'bee-ts')
      .option('--name <name>', 'name of the DaemonSet, Service and monitor (default: the image repository’s last component)')
      .option('--no-privileged', `run with capabilities ${'BPF, PERFMON, SYS_ADMIN, SYS_RESOURCE, NET_ADMIN'} instead of privileged`)
      .option('--host-pid', "share the host's pid namespace (the default for uprobe/USDT probes)")
      .option('--monitor <kind>', 'prometheus-operator monitor: pod (PodMonitor), service (ServiceMonitor) or none', 'pod');
  k8sFlags(
    withImageFlags(program.command('package'))
      .description('build a container image that runs `bee-ts run` on the probe (node, bee-ts and the probe; no container daemon), and push it or write it as an archive')
      .argument('<probe>', 'compiled probe (.o), or a bee image reference (local store first, then pulled)')
      .argument('<ref>', 'the container image reference (where it is pushed, the name in archives)')
      .option('--base <ref>', 'base image from a registry that has node on its PATH (default: a minimal runtime assembled from this node and its shared libraries)')
      .option('--oci-archive <file>', 'write an OCI image layout archive (podman load -i FILE) instead of pushing')
      .option('--docker-archive <file>', 'write a docker-archive (docker save format; podman load / docker load) instead of pushing')
      .option('--push', 'push to the registry as well as writing archives')
      .option('--prom-port <port>', 'metrics port the image serves and exposes', '9091')
      .option('--label <key=value>', 'extra image label (repeatable)', collect)
      .option('--arg <arg>', 'extra `bee-ts run` argument baked into the image (repeatable), e.g. --arg=--poll-interval --arg=5s', collect)
      .option('--k8s <file>', 'also write Kubernetes manifests for the image (- for stdout)'),
  ).action((probe: string, ref: string, o: import('./package.js').PackageFlags) =>
    run(false, async () => {
      const { packageCommand } = await import('./package.js');
      await packageCommand(probe, ref, { ...o, ...imageFlags() }, (m) => process.stderr.write(m + '\n'));
    }),
  );
  k8sFlags(
    program
      .command('k8s')
      .description('write Kubernetes manifests for a packaged probe image: Namespace, DaemonSet, Service and PodMonitor/ServiceMonitor')
      .argument('<ref>', 'the container image (from bee-ts package)')
      .option('-o, --output <file>', 'where to write them (default: stdout)', '-')
      .option('--prom-port <port>', 'metrics port of the image', '9091'),
  ).action((ref: string, o: import('./package.js').PackageFlags & { output: string }) =>
    run(false, async () => {
      const p = await import('./package.js');
      p.writeK8s(o.output, p.k8sOptions(ref, o), (m) => process.stderr.write(m + '\n'));
    }),
  );
  program
    .command('version')
    .description('print the version (bare semver, like bee version; {"version":...} with -j)')
    .option('-j, --json', 'print JSON')
    .action((o: { json?: boolean }) => {
      process.stdout.write(o.json ? jsonText({ version: pkg.version }) + '\n' : `${pkg.version}\n`);
    });

  const feature = program.command('feature').description('what this kernel supports (like bpftool feature)');
  feature
    .command('probe')
    .description("bpftool's probes and sections: feature probe [kernel | dev IFACE] [full] [unprivileged] [macros [prefix P]] (helpers per program type as the verifier really allows them)")
    .argument('[words...]', 'kernel | dev IFACE | full | unprivileged | macros [prefix P]')
    .option('-j, --json', 'print JSON (bpftool -j keys)')
    .action((words: string[], o: { json?: boolean }) =>
      kernel(o.json, async () => {
        if (o.json) globals.json = true;
        (await import('./feature.js')).featureProbeCommand(words);
      }),
    );
  feature
    .command('list_builtins')
    .description("the names bee-ts knows (libbpf's spelling, newer than bpftool 7.1's libbpf 1.1) or, for helpers, the running kernel's: feature list_builtins { prog_types | map_types | attach_types | link_types | helpers }")
    .argument('[group...]', 'prog_types | map_types | attach_types | link_types | helpers')
    .option('-j, --json', 'print JSON')
    .action((words: string[], o: { json?: boolean }) =>
      run(o.json, async () => {
        if (o.json) globals.json = true;
        (await import('./builtins.js')).listBuiltinsCommand(words);
      }),
    );
  feature
    .command('extras')
    .description("bee-ts's own probes beyond bpftool's: attach mechanisms (kprobe/uprobe PMU, tracefs, BPF/perf/TCX/multi links, USDT semaphores), BTF kinds, ring buffer, memcg accounting")
    .option('-j, --json', 'print JSON')
    .action((o: { json?: boolean }) =>
      kernel(o.json, async () => {
        const f = await import('./feature.js');
        const r = f.probeExtras();
        process.stdout.write(o.json || globals.json ? jsonText(r) + '\n' : f.extrasText(r));
      }),
    );

  return program;
}

/** Ask on the terminal; hidden input for passwords (nothing is echoed). */
async function promptLine(question: string, hidden: boolean): Promise<string> {
  const readline = await import('node:readline');
  if (!process.stdin.isTTY) throw new UsageError(`login: no terminal to ask '${question.trim()}' on (use -u and --password-stdin)`);
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  if (hidden) {
    const out = rl as unknown as { _writeToOutput: (s: string) => void };
    let asked = false;
    out._writeToOutput = (s: string) => {
      if (!asked) {
        asked = true;
        process.stderr.write(s);
      }
    };
  }
  try {
    return await new Promise<string>((res) => rl.question(question, res));
  } finally {
    if (hidden) process.stderr.write('\n');
    rl.close();
  }
}

function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}

async function main(): Promise<void> {
  // `bee-ts btf dump ... | head`: a closed pipe ends the command quietly, like any Unix tool.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code !== 'EPIPE') throw e;
    if (!runHandlesEpipe) process.exit(0);
  });
  // A root process must not open Node's inspector on SIGUSR1 (its default): listening replaces it.
  process.on('SIGUSR1', () => {});
  // An error nobody caught ends the command like any other failure; links, tracefs events and
  // netlink attachments are removed by their 'exit' hooks.
  const fatal = (e: unknown) => {
    process.stderr.write(`Error: ${errorMessage(e)}\n`);
    if (process.env.BEE_TS_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    process.exit(1);
  };
  process.on('uncaughtException', fatal);
  process.on('unhandledRejection', fatal);
  const program = buildProgram();
  try {
    await program.parseAsync(normalizeArgv(program, process.argv));
  } catch (e) {
    if (e instanceof CommanderError) {
      // commander has printed the message (and the hint); --help and --version are not mistakes.
      process.exitCode = e.exitCode === 0 ? 0 : 2;
      return;
    }
    const msg = errorMessage(e);
    const exit = e as { stdout?: string };
    if (exit.stdout) process.stdout.write(exit.stdout);
    if (msg) {
      if (jsonErrors) process.stdout.write(jsonText({ error: msg }) + '\n');
      else process.stderr.write(`Error: ${msg}\n`);
    }
    if (process.env.BEE_TS_DEBUG && e instanceof Error) process.stderr.write(`${e.stack}\n`);
    // One rule for every command: 2 for a usage mistake, 1 for anything that failed at run time.
    process.exitCode = e instanceof UsageError ? 2 : 1;
  }
  if (exitWhenDone) process.exit();
}

await main();
