// The kernel's own BPF CO-RE selftests, fetched at test time (Debian's linux-source-6.1, never
// committed) and built the way tools/testing/selftests/bpf/Makefile builds them: clang -O2 -target
// bpf -mcpu=v3 -g against libbpf-dev's headers. Also builds the libbpf peer (test/peers/
// core_reloc_libbpf.c with gcc -lbpf), which compiles core_reloc.c's own case table.
//
// Cache: test/build-cache.ts's private root-only directory; the source is downloaded into a fresh
// private temp dir and renamed into place, so a half-finished run never leaves a usable-looking
// tree. The builds go through cachedBuild (prebuilt on the host for the VMs).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type BuildStep, CACHE, cachedBuild, privateDir } from '../build-cache.js';
import { root } from '../helpers.js';

const PKG = 'linux-source-6.1';
export const REL = 'tools/testing/selftests/bpf';

/** Our private cache dir (the host's, read-only in the VM). */
function cacheDir(): string {
  const dir = privateDir(CACHE);
  if (!dir) throw new Error(`${CACHE}: missing in the VM (the host fetches ${PKG} before the boot: scripts/vm-test.mjs)`);
  return dir;
}

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Extracted selftests tree (tools/testing/selftests/bpf and friends); downloads once. */
export function selftestsSource(): string {
  const dir = cacheDir();
  const src = path.join(dir, 'linux-source-6.1');
  if (fs.existsSync(path.join(src, REL, 'prog_tests', 'core_reloc.c'))) return src;
  if (process.env.BEE_IN_VM === '1') throw new Error(`${src}: not fetched (the host fetches it before the boot: scripts/vm-test.mjs, test/vm-prebuild.ts)`);
  const tmp = fs.mkdtempSync(path.join(dir, 'fetch-'));
  try {
    run('apt-get', ['download', PKG], tmp);
    const deb = fs.readdirSync(tmp).find((f) => f.startsWith(`${PKG}_`) && f.endsWith('.deb'));
    if (!deb) throw new Error(`apt-get download ${PKG} produced no .deb (run apt-get update)`);
    run('dpkg-deb', ['-x', deb, 'x'], tmp);
    const tarball = path.join(tmp, 'x', 'usr', 'src', `${PKG}.tar.xz`);
    run('tar', ['-xJf', tarball, '-C', tmp, '--no-same-owner', `${PKG}/${REL}`, `${PKG}/tools/lib/bpf`]);
    fs.rmSync(src, { recursive: true, force: true });
    fs.renameSync(path.join(tmp, PKG), src);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  return src;
}

const BPF_CFLAGS = ['-g', '-Werror', '-D__TARGET_ARCH_x86', '-mlittle-endian', '-Wno-compare-distinct-pointer-types', '-O2', '-target', 'bpf', '-mcpu=v3'];

export interface Build {
  /** A private temp dir with test_core_reloc_*.bpf.o, btf__core_reloc_*.bpf.o and the peer binary `test_progs` (the caller removes it). */
  dir: string;
  peer: string;
}

/** The build steps: each CO-RE object with clang-16, and the libbpf peer with gcc. */
function coreRelocSteps(): BuildStep[] {
  const src = selftestsSource();
  const st = path.join(src, REL);
  const peerSrc = path.join(root, 'test', 'peers', 'core_reloc_libbpf.c');
  const progs = fs.readdirSync(path.join(st, 'progs')).filter((f) => /^(test_core_reloc_|btf__core_reloc_).*\.c$/.test(f) && f !== 'test_core_reloc_module.c').sort();
  const inc = ['-I', st, '-I', path.join(st, 'progs'), '-I', '/usr/include/x86_64-linux-gnu'];
  const steps: BuildStep[] = progs.map((f) => {
    const o = f.replace(/\.c$/, '.bpf.o');
    return { what: `core_reloc: ${o}`, tool: 'clang-16', args: [...BPF_CFLAGS, ...inc, '-c', path.join(st, 'progs', f), '-o', o], outputs: [o] };
  });
  // The peer compiles core_reloc.c's case table itself (and its `struct data`): everything
  // before the runner loop, with a small test_progs.h of our own standing in for the harness.
  const table = fs.readFileSync(path.join(st, 'prog_tests', 'core_reloc.c'), 'utf8');
  const cut = table.indexOf('\nstatic void run_core_reloc_tests(');
  if (cut < 0 || !table.slice(0, cut).includes('struct data {')) throw new Error('core_reloc.c: case table layout changed (no run_core_reloc_tests after struct data)');
  steps.push({
    what: 'core_reloc: the libbpf peer',
    tool: 'gcc',
    files: { 'core_reloc_cases.c': table.slice(0, cut), 'inc/test_progs.h': fs.readFileSync(path.join(root, 'test', 'peers', 'test_progs_shim.h')) },
    args: ['-O1', '-g', '-Wall', '-Wno-unused-function', '-Wno-unused-variable', '-I', 'inc', '-I', '.', '-I', st, '-o', 'test_progs', peerSrc, '-lbpf'],
    outputs: ['test_progs'],
  });
  return steps;
}

/** Compile (or find in the build cache) the CO-RE objects and the libbpf peer, copied into a private temp dir. */
export function buildCoreReloc(): Build {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-core-reloc-'));
  try {
    for (const step of coreRelocSteps()) {
      const b = cachedBuild(step);
      for (const o of step.outputs) fs.copyFileSync(path.join(b.dir, o), path.join(dir, o));
    }
  } catch (e) {
    fs.rmSync(dir, { recursive: true, force: true });
    throw new Error(`building the CO-RE selftests failed: ${(e as Error).message}`);
  }
  fs.chmodSync(path.join(dir, 'test_progs'), 0o755);
  return { dir, peer: path.join(dir, 'test_progs') };
}

/** For test/vm-prebuild.ts: every build buildCoreReloc needs, into the cache. */
export function prebuildCoreReloc(): void {
  for (const step of coreRelocSteps()) cachedBuild(step);
}

/**
 * One selftest program (progs/<name>.c) built as gen-object's tests build it: clang-16 -g -O2
 * against `vmlinuxH` (a kernel's `bpftool btf dump ... format c`, a generated input), to <name>.o.
 */
export function selftestObjectStep(name: string, vmlinuxH: Uint8Array): BuildStep {
  const st = path.join(selftestsSource(), REL);
  return {
    what: `selftest ${name}.o`,
    tool: 'clang-16',
    files: { 'vmlinux.h': vmlinuxH },
    args: ['-g', '-O2', '-target', 'bpf', '-mcpu=v3', '-D__TARGET_ARCH_x86', '-I', '.', '-I', st, '-I', path.join(st, 'progs'), '-c', path.join(st, 'progs', `${name}.c`), '-o', `${name}.o`],
    outputs: [`${name}.o`],
  };
}

/** The linker selftests' inputs (linked_funcs1.c ... linked_maps2.c), by name. */
export const LINKED = ['funcs', 'vars', 'maps'].flatMap((t) => [1, 2].map((n) => `linked_${t}${n}`));
