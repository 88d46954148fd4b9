// bee's own commands: run, init, build, describe, bench, and the image store and registry commands
// (list, tag, push, pull, login, package, k8s, version).
import type { Command } from 'commander';
import { collect, type CliContext } from './cmd-context.js';
import { UsageError } from './errors.js';
import { jsonText } from './format.js';
import { isProbeFile } from './probe-arg.js';

/** run, init, build, describe (before the bpftool objects in --help, as always). */
export function registerBeeCommands(program: Command, ctx: CliContext): void {
  const { run, kernel, imageFlags, withImageFlags } = ctx;
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
    .option('--drain-thread', 'drain each ring buffer (up to 4 MiB) on a thread of its own into a queue of 4 rings\' worth, read by the main thread (the ring is emptied while the main thread is off the CPU; about 0.5 µs more CPU per record)')
    .option('-d, --debug', 'accepted for bee compatibility (diagnostics already go to stderr)')
    .option('-v, --verbose', 'full verifier log on failure')
    .action((file: string, o: import('./run.js').RunFlags) =>
      kernel(false, async () => {
        ctx.longRunning();
        const { runCommand } = await import('./run.js');
        // A probe file on disk needs none of the image code (registry client, store, tar: a 1 MB
        // chunk that an idle run would keep resident); resolveProbe says what is wrong otherwise.
        const probe = isProbeFile(file) ? { file, program: undefined } : await (await import('./images.js')).resolveProbe(file, imageFlags(), (m) => process.stderr.write(m + '\n'));
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

}

/** bench, list, tag, push, pull, login, package, k8s, version. */
export function registerImageCommands(program: Command, ctx: CliContext): void {
  const { run, kernel, imageFlags, withImageFlags } = ctx;
  const bench = program.command('bench').description('benchmarks against their peers, from one run');
  bench
    .command('ringbuf')
    .description('ring buffer reader vs libbpf (ring_buffer__consume/poll): consume a full ring, and stream while a producer runs')
    .option('--size <list>', 'record sizes, comma-separated (16, 64, mixed)', '16,64,mixed')
    .option('--seconds <n>', 'seconds per streaming run', '1')
    .option('--rounds <n>', 'measured rounds (the median counts); each runs every consumer once, the peer too', '9')
    .option('--warmup <n>', 'untimed rounds before them (consume and each streaming mode)', '3')
    .option('--cycles <n>', 'consume: fill+drain cycles per round, the drains\' CPU and wall time summed', '8')
    .option('--stream-rounds <n>', 'measured streaming rounds per wake-up mode, bee-ts and the peer alternated', '5')
    .option('--no-stream', 'skip the streaming runs')
    .option('-j, --json', 'one JSON object with rows and ratios')
    .action((o: { size: string; seconds: string; rounds: string; warmup: string; cycles: string; streamRounds: string; stream: boolean; json?: boolean }) =>
      kernel(o.json, async () => {
        if (!/^(16|64|mixed)(,(16|64|mixed))*$/.test(o.size)) throw new UsageError(`bench ringbuf: --size '${o.size}' is not a list of 16, 64 and mixed`);
        for (const [k, v] of [['--seconds', o.seconds], ['--rounds', o.rounds], ['--warmup', o.warmup], ['--cycles', o.cycles], ['--stream-rounds', o.streamRounds]] as const)
          if (!/^\d+(\.\d+)?$/.test(v)) throw new UsageError(`bench ringbuf: ${k} '${v}' is not a number`);
        const b = await import('./bench.js');
        const r = await b.benchRingbuf({
          sizes: o.size.split(',').map((x) => (x === 'mixed' ? 'mixed' : (Number(x) as 16 | 64))),
          seconds: Number(o.seconds),
          rounds: Math.max(1, Number(o.rounds)),
          warmup: Number(o.warmup),
          cycles: Math.max(1, Number(o.cycles)),
          streamRounds: Math.max(1, Number(o.streamRounds)),
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
      process.stdout.write(o.json ? jsonText({ version: ctx.version }) + '\n' : `${ctx.version}\n`);
    });

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
    // Ctrl-D (or a closed terminal) closes the interface without an answer: without the 'close'
    // listener the await never settled and Node exited 13 (unsettled top-level await).
    return await new Promise<string>((res, rej) => {
      rl.once('close', () => rej(new UsageError(`login: input ended before '${question.trim()}' was answered (use -u and --password-stdin)`)));
      rl.question(question, res);
    });
  } finally {
    if (hidden) process.stderr.write('\n');
    rl.close();
  }
}
