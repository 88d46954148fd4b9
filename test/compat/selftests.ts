// The kernel's own BPF CO-RE selftests, fetched at test time (Debian's linux-source-6.1, never
// committed) and built the way tools/testing/selftests/bpf/Makefile builds them: clang -O2 -target
// bpf -mcpu=v3 -g against libbpf-dev's headers. Also builds the libbpf peer (test/peers/
// core_reloc_libbpf.c with gcc -lbpf), which compiles core_reloc.c's own case table.
//
// Cache: /var/cache/bee-ts (or $BEE_TS_CACHE), a 0700 directory owned by us; every download and
// build goes to a fresh private temp dir first and is renamed into place, so a half-finished run
// never leaves a usable-looking tree and nothing predictable is written through.
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { root } from '../helpers.js';

export const CACHE = process.env.BEE_TS_CACHE ?? (process.getuid?.() === 0 ? '/var/cache/bee-ts' : path.join(os.homedir(), '.cache', 'bee-ts'));
const PKG = 'linux-source-6.1';
export const REL = 'tools/testing/selftests/bpf';

/** Our private cache dir: created 0700, refused if it is a symlink or not ours. */
function cacheDir(): string {
  fs.mkdirSync(CACHE, { recursive: true, mode: 0o700 });
  const st = fs.lstatSync(CACHE);
  if (!st.isDirectory() || st.uid !== process.getuid?.() || (st.mode & 0o022) !== 0) throw new Error(`${CACHE}: not a private directory owned by us; remove it or set BEE_TS_CACHE`);
  return CACHE;
}

function run(cmd: string, args: string[], cwd?: string): string {
  return execFileSync(cmd, args, { cwd, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Extracted selftests tree (tools/testing/selftests/bpf and friends); downloads once. */
export function selftestsSource(): string {
  const dir = cacheDir();
  const src = path.join(dir, 'linux-source-6.1');
  if (fs.existsSync(path.join(src, REL, 'prog_tests', 'core_reloc.c'))) return src;
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
  /** Directory with test_core_reloc_*.bpf.o, btf__core_reloc_*.bpf.o and the peer binary `test_progs`. */
  dir: string;
  peer: string;
}

/** Compile the CO-RE objects and the libbpf peer (cached by source, compiler and peer source). */
export function buildCoreReloc(): Build {
  const src = selftestsSource();
  const st = path.join(src, REL);
  const peerSrc = path.join(root, 'test', 'peers', 'core_reloc_libbpf.c');
  const progs = fs.readdirSync(path.join(st, 'progs')).filter((f) => /^(test_core_reloc_|btf__core_reloc_).*\.c$/.test(f) && f !== 'test_core_reloc_module.c');
  const key = crypto
    .createHash('sha256')
    .update(run('clang-16', ['--version']))
    .update(fs.readFileSync(peerSrc))
    .update(fs.readFileSync(path.join(st, 'prog_tests', 'core_reloc.c')))
    .update(progs.join(','))
    .digest('hex')
    .slice(0, 16);
  const dir = path.join(cacheDir(), `core-reloc-${key}`);
  const peer = path.join(dir, 'test_progs');
  if (fs.existsSync(peer)) return { dir, peer };
  const tmp = fs.mkdtempSync(path.join(cacheDir(), 'build-'));
  try {
    const inc = ['-I', st, '-I', path.join(st, 'progs'), '-I', '/usr/include/x86_64-linux-gnu'];
    for (const f of progs) run('clang-16', [...BPF_CFLAGS, ...inc, '-c', path.join(st, 'progs', f), '-o', path.join(tmp, f.replace(/\.c$/, '.bpf.o'))]);
    // The peer compiles core_reloc.c's case table itself (and its `struct data`): everything
    // before the runner loop, with a small test_progs.h of our own standing in for the harness.
    const table = fs.readFileSync(path.join(st, 'prog_tests', 'core_reloc.c'), 'utf8');
    const cut = table.indexOf('\nstatic void run_core_reloc_tests(');
    if (cut < 0 || !table.slice(0, cut).includes('struct data {')) throw new Error('core_reloc.c: case table layout changed (no run_core_reloc_tests after struct data)');
    fs.writeFileSync(path.join(tmp, 'core_reloc_cases.c'), table.slice(0, cut));
    fs.mkdirSync(path.join(tmp, 'inc'));
    fs.copyFileSync(path.join(root, 'test', 'peers', 'test_progs_shim.h'), path.join(tmp, 'inc', 'test_progs.h'));
    run('gcc', ['-O1', '-g', '-Wall', '-Wno-unused-function', '-Wno-unused-variable', '-I', path.join(tmp, 'inc'), '-I', tmp, '-I', st, '-o', path.join(tmp, 'test_progs'), peerSrc, '-lbpf']);
    fs.renameSync(tmp, dir);
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    const err = e as { stderr?: string; message: string };
    throw new Error(`building the CO-RE selftests failed: ${err.stderr || err.message}`);
  }
  return { dir, peer };
}
