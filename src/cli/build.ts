// `bee-ts build <probe.c> [-o probe.o]`: compile a probe with the local clang. vmlinux.h comes from
// the running kernel's BTF through bee-ts's own C dump (written fresh into a private temp dir for
// each build, never cached at a shared path); bee-ts's headers (bpf_helpers.h,
// bpf_core_read.h, bpf_tracing.h, solo_types.h, and libbpf-compatible <bpf/...>) come first on the
// include path, the host compiler's system directories last (-idirafter, as libbpf-bootstrap
// does); memcpy & co. map to the builtins (include/bee_build_compat.h); the target arch comes
// from the host (or --arch). The ELF is stripped of DWARF but keeps .BTF (like bee's builder).
import { BeeTsError } from '../errors.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { readBtfFile } from '../loader/btf-files.js';
import { dumpC } from '../btf/cdump.js';
import { UsageError } from './errors.js';
import { INCLUDE_DIR } from './paths.js';

/** `bee-ts build` cannot compile here (no clang, no kernel BTF, a compile error): exit 1. */
export class BuildError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('BUILD', message, options);
  }
}


const ARCHES: Record<string, string> = { x64: 'x86', x86: 'x86', x86_64: 'x86', amd64: 'x86', arm64: 'arm64', aarch64: 'arm64' };

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** clang, or the newest clang-N on $PATH. */
export function findClang(): string | undefined {
  if (process.env.BEE_CLANG) return process.env.BEE_CLANG;
  if (has('clang')) return 'clang';
  for (let v = 25; v >= 11; v--) if (has(`clang-${v}`)) return `clang-${v}`;
  return undefined;
}

function findStrip(clang: string): string | undefined {
  const v = /clang-(\d+)$/.exec(clang)?.[1];
  for (const c of [v ? `llvm-strip-${v}` : '', 'llvm-strip'].filter(Boolean)) if (has(c)) return c;
  return undefined;
}

/**
 * Writes vmlinux.h for `btfPath` (default: the running kernel) into a fresh private directory and
 * returns that directory; the caller removes it. Nothing is cached: a predictable shared path
 * (like the old `$TMPDIR/bee-ts-vmlinux-<release>-<uid>`) lets any local user who creates it first
 * choose the code root compiles, or plant a symlink that the write follows. mkdtemp makes a new
 * directory with a random name and mode 0700 (it fails rather than reuse one that exists), and
 * the header is created with O_EXCL | O_NOFOLLOW inside it.
 */
export function vmlinuxHeader(btfPath = '/sys/kernel/btf/vmlinux'): string {
  if (!fs.existsSync(btfPath)) throw new BuildError(`${btfPath} is missing: this kernel has no BTF (CONFIG_DEBUG_INFO_BTF); pass a vmlinux.h directory with --include`);
  const btf = readBtfFile(btfPath);
  const chunks: string[] = [];
  dumpC(btf, (s) => chunks.push(s));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-build-'));
  try {
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || (st.mode & 0o077) !== 0 || (process.getuid && st.uid !== process.getuid()))
      throw new BuildError(`${dir}: the new build directory is not a private directory of this user`);
    const fd = fs.openSync(path.join(dir, 'vmlinux.h'), fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    try {
      fs.writeSync(fd, chunks.join(''));
    } finally {
      fs.closeSync(fd);
    }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  return dir;
}

export interface BuildOptions {
  output?: string;
  arch?: string;
  cflags?: string[];
  include?: string[];
  btf?: string;
  noStrip?: boolean;
}

export function build(input: string, o: BuildOptions): string {
  if (!fs.existsSync(input)) throw new UsageError(`${input}: no such file`);
  const clang = findClang();
  if (!clang) throw new BuildError('no clang found: install it (Debian/Ubuntu: apt-get install clang-16 llvm-16), or set BEE_CLANG');
  const arch = ARCHES[o.arch ?? process.arch];
  if (!arch) throw new UsageError(`--arch ${o.arch}: use x86 or arm64`);
  const out = o.output ?? input.replace(/\.c$/, '') + '.o';
  const vmlinux = vmlinuxHeader(o.btf);
  try {
    return compile(clang, arch, input, out, vmlinux, o);
  } finally {
    fs.rmSync(vmlinux, { recursive: true, force: true });
  }
}

let sysIncludes: string[] | undefined;

/**
 * The host compiler's own system include directories (`clang -v -E` of an empty file, for the host
 * target), passed to the BPF compile with -idirafter the way libbpf-bootstrap does: `-target bpf`
 * alone does not search the arch directory, so <linux/errno.h> could not find <asm/errno.h>.
 * They come after every -I, so bee-ts's <bpf/...> headers win over a system libbpf-dev's.
 */
export function systemIncludeDirs(clang: string): string[] {
  if (sysIncludes) return sysIncludes;
  const r = spawnSync(clang, ['-v', '-E', '-x', 'c', '/dev/null', '-o', '/dev/null'], { encoding: 'utf8', timeout: 30_000 });
  const lines = (r.stderr ?? '').split('\n');
  const start = lines.findIndex((l) => l.startsWith('#include <...> search starts here:'));
  const end = lines.findIndex((l, i) => i > start && l.startsWith('End of search list.'));
  sysIncludes = start < 0 || end < 0 ? [] : lines.slice(start + 1, end).map((l) => l.trim().replace(/ \(framework directory\)$/, '')).filter(Boolean);
  return sysIncludes;
}

/** The compiler command line of a probe build (without the compiler itself). */
export function buildArgs(clang: string, arch: string, input: string, out: string, vmlinux: string, o: BuildOptions): string[] {
  return [
    '-g',
    '-O2',
    '-target',
    'bpf',
    `-D__TARGET_ARCH_${arch}`,
    '-Wall',
    '-Wno-unused-function',
    '-fdebug-compilation-dir=.',
    // bee-ts's headers first: <bpf/bpf_helpers.h> etc. (and the flat "bpf_helpers.h" bee probes use).
    '-I',
    INCLUDE_DIR,
    ...(o.include ?? []).flatMap((i) => ['-I', i]),
    '-I',
    path.dirname(path.resolve(input)),
    '-I',
    vmlinux,
    ...systemIncludeDirs(clang).flatMap((d) => ['-idirafter', d]),
    '-include',
    path.join(INCLUDE_DIR, 'bee_build_compat.h'),
    ...(o.cflags ?? []).flatMap((c) => c.split(/\s+/).filter(Boolean)),
    '-c',
    input,
    '-o',
    out,
  ];
}

function compile(clang: string, arch: string, input: string, out: string, vmlinux: string, o: BuildOptions): string {
  const args = buildArgs(clang, arch, input, out, vmlinux, o);
  const r = spawnSync(clang, args, { stdio: ['ignore', 'inherit', 'pipe'], encoding: 'utf8' });
  if (r.error) throw new BuildError(`cannot run ${clang}: ${(r.error as NodeJS.ErrnoException).code} (install clang: apt-get install clang-16 llvm-16)`);
  if (r.status !== 0) throw new BuildError(`${clang} failed to compile ${input}:\n${r.stderr.trimEnd()}`);
  // clang's warnings, as clang printed them.
  if (r.stderr) process.stderr.write(r.stderr);
  const strip = o.noStrip ? undefined : findStrip(clang);
  if (strip) execFileSync(strip, ['-g', out]);
  return out;
}
