// `bee-ts btf | net | gen | cgroup | link | iter | struct_ops | perf | feature ...`: bpftool's other
// objects, each wired to its module.
import type { Command } from 'commander';
import type { CliContext } from './cmd-context.js';
import { UsageError } from './errors.js';
import { globals, jsonText, writeBytesOut, writeChunks } from './format.js';

const linkCmds = () => import('./link.js');

export function registerBtf(program: Command, ctx: CliContext): void {
  const { run, kernel } = ctx;
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
            writeChunks((w) => btfDump(args, opts, w, undefined, writeBytesOut));
          })
        : kernel(opts.json, async () => {
            const { btfDump } = await import('./btf.js');
            const { kernelBtfFor } = await import('./objects.js');
            writeChunks((w) => btfDump(args, opts, w, kernelBtfFor, writeBytesOut));
          }),
    );

  btf
    .command('list')
    .alias('show')
    .description('list BTF objects loaded in the kernel, or show one: btf show id N')
    .argument('[btf...]', 'id N')
    .option('-j, --json', 'print JSON')
    .action((args: string[], o: { json?: boolean }) => kernel(o.json, async () => (await import('./btf-list.js')).btfList(args, !!o.json)));

}

/** net, gen, cgroup, link, iter, struct_ops, perf. */
export function registerObjects(program: Command, ctx: CliContext): void {
  const { run, kernel } = ctx;
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

  gen
    .command('object')
    .description("static linking (like bpftool, libbpf's linker): gen object OUTPUT INPUT... merges the objects' sections, symbols (weak, extern), relocations, BTF and .BTF.ext into one object (BTF not deduplicated)")
    .argument('<args...>', 'OUTPUT INPUT...')
    .action((args: string[]) => run(false, async () => (await import('./gen-object.js')).genObjectCommand(args)));
  gen
    .command('min_core_btf')
    .description("BTFgen (like bpftool): INPUT's BTF with only the types and members the objects' CO-RE relocations use, for shipping with them: gen min_core_btf INPUT OUTPUT OBJECT...")
    .argument('<args...>', 'INPUT OUTPUT OBJECT...')
    .action((args: string[]) => run(false, async () => (await import('./min-core-btf.js')).minCoreBtfCommand(args)));

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

}

export function registerFeature(program: Command, ctx: CliContext): void {
  const { run, kernel } = ctx;
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
}
