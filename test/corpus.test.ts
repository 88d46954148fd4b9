// A compile corpus nobody here wrote: the kernel's own BPF programs that include vmlinux.h (Debian's
// linux-source-6.1: selftests/bpf progs, perf's skeletons, runqslower, bpftool's skeletons), fetched
// at test time with apt-get. Built two ways: our vmlinux.h + include/bpf with bee-ts build's own
// command line, and bpftool's vmlinux.h + libbpf-dev's headers with plain clang. Everything the
// second way builds must build the first way, with the same `llvm-objdump -d`, except the
// differences named below.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dumpC } from '../src/btf/cdump.js';
import { buildArgs, systemIncludeDirs } from '../src/cli/build.js';
import { readBtfFile } from '../src/loader/btf-files.js';
import { CACHE, CORPUS_DIRS, linuxSource } from './debian-kernels.js';
import { hasCommand, isRoot, need, run } from './helpers.js';

const skip = need(hasCommand('bpftool') && hasCommand('clang-16') && hasCommand('llvm-objdump-16'), 'bpftool, clang-16 and llvm-objdump-16 are needed') ?? need(fs.existsSync('/usr/include/bpf/bpf_helpers.h'), 'libbpf-dev is needed (the reference headers)') ?? need(isRoot, 'the Debian source cache is root-only') ?? need(fs.existsSync('/sys/kernel/btf/vmlinux'), 'this kernel has no BTF');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bee-corpus-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function exec(cmd: string, args: string[]): Promise<{ status: number; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    p.stderr.on('data', (d: Buffer) => (stderr.length < 1 << 16 ? (stderr += d.toString()) : undefined));
    p.on('close', (code) => resolve({ status: code ?? 1, stderr }));
  });
}

async function pool<T>(items: T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: n }, async () => {
    while (next < items.length) await fn(items[next++]!);
  }));
}

const disasm = (o: string) => run('llvm-objdump-16', ['-d', '--no-show-raw-insn', o]).split('\n').slice(2).join('\n');

describe.skipIf(skip)('compile corpus: the kernel\'s BPF programs build with our headers as with bpftool\'s + libbpf-dev', () => {
  it('everything that builds the reference way builds our way, with the same disassembly', async () => {
    const src = linuxSource();
    const progDirs = CORPUS_DIRS.map((d) => (d === 'tools/testing/selftests/bpf' ? `${d}/progs` : d));
    const files = progDirs.flatMap((d) =>
      fs.existsSync(path.join(src, d)) ? fs.readdirSync(path.join(src, d)).filter((f) => f.endsWith('.c')).sort().map((f) => path.join(src, d, f)) : [],
    ).filter((f) => /#include\s*[<"]vmlinux\.h[">]/.test(fs.readFileSync(f, 'utf8')));
    expect(files.length).toBeGreaterThan(100);

    const oursDir = path.join(tmp, 'ours');
    const refDir = path.join(tmp, 'ref');
    fs.mkdirSync(oursDir);
    fs.mkdirSync(refDir);
    let text = '';
    dumpC(readBtfFile('/sys/kernel/btf/vmlinux'), (s) => (text += s));
    fs.writeFileSync(path.join(oursDir, 'vmlinux.h'), text);
    fs.writeFileSync(path.join(refDir, 'vmlinux.h'), run('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c']));
    const selftests = path.join(src, 'tools/testing/selftests/bpf');
    const sys = systemIncludeDirs('clang-16').flatMap((d) => ['-idirafter', d]);

    // Everything the reference build depends on besides the program: compiler, bpftool's header
    // for this kernel, libbpf-dev's headers and the local headers of the corpus.
    const refKey = createHash('sha256').update(run('clang-16', ['--version'])).update(fs.readFileSync(path.join(refDir, 'vmlinux.h')));
    for (const f of fs.readdirSync('/usr/include/bpf').sort()) refKey.update(f).update(fs.readFileSync(path.join('/usr/include/bpf', f)));
    refKey.update(JSON.stringify(sys));
    const refKeyHex = refKey.digest('hex');
    const refCache = path.join(CACHE, `corpus-ref-${refKeyHex.slice(0, 16)}`);
    fs.mkdirSync(refCache, { recursive: true, mode: 0o700 });
    const kfuncs = new Set([...text.matchAll(/^extern .*?(\w+)\(.* __weak __ksym;$/gm)].map((m) => m[1]!));
    expect(kfuncs.size).toBeGreaterThan(100);
    const results: { file: string; ref: boolean; ours: boolean; same?: boolean; err?: string; note?: string; explained?: string }[] = [];
    await pool(files, Math.max(1, Math.min(4, os.cpus().length)), async (file) => {
      const base = path.relative(src, file).replace(/[/]/g, '_').replace(/\.c$/, '');
      const refOut = path.join(refDir, `${base}.o`);
      const oursOut = path.join(oursDir, `${base}.o`);
      const extra = ['-I', selftests];
      const refArgs = ['-g', '-O2', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-Wall', '-Wno-unused-function', '-fdebug-compilation-dir=.', '-I', path.dirname(file), ...extra, '-I', refDir, ...sys, '-c', file, '-o', refOut];
      // The reference build depends only on its inputs: cached by their hash across runs.
      const key = createHash('sha256').update(refKeyHex).update(file).update(fs.readFileSync(file)).digest('hex').slice(0, 24);
      const cached = path.join(refCache, `${key}.json`);
      let ref: { status: number; disasm?: string };
      if (fs.existsSync(cached)) ref = JSON.parse(fs.readFileSync(cached, 'utf8')) as typeof ref;
      else {
        const res = await exec('clang-16', refArgs);
        ref = { status: res.status, disasm: res.status === 0 ? disasm(refOut) : undefined };
        fs.writeFileSync(cached, JSON.stringify(ref));
      }
      const r = { file: path.relative(src, file), ref: ref.status === 0, ours: false } as (typeof results)[number];
      results.push(r);
      if (!r.ref) return;
      let ours = await exec('clang-16', buildArgs('clang-16', 'x86', file, oursOut, oursDir, { include: [selftests] }));
      // Deliberate difference 1: our vmlinux.h declares the kernel's kfuncs (as bpftool 7.3+ does);
      // a program declaring one with other types must say -DBPF_NO_KFUNC_PROTOTYPES, the switch
      // bpftool's header has for this. Retried that way, it must build and match.
      const conflict = [...ours.stderr.matchAll(/conflicting types for '(\w+)'/g)].map((m) => m[1]!);
      if (ours.status !== 0 && conflict.length && conflict.every((k) => kfuncs.has(k))) {
        r.note = 'kfunc prototypes';
        ours = await exec('clang-16', buildArgs('clang-16', 'x86', file, oursOut, oursDir, { include: [selftests], cflags: ['-DBPF_NO_KFUNC_PROTOTYPES'] }));
      }
      r.ours = ours.status === 0;
      if (!r.ours) {
        r.err = ours.stderr.split('\n').find((l) => l.includes('error:'));
        return;
      }
      const a = ref.disasm!;
      const b = disasm(oursOut);
      r.same = a === b;
      if (r.same) return;
      // Deliberate difference 2: BPF_PROBE_READ* call bpf_probe_read_kernel (helper 113) in libbpf
      // 1.2+ and here; libbpf-dev 1.1 calls the legacy bpf_probe_read (4). Nothing else may differ.
      if (a.replace(/\tcall 0x4$/gm, '\tcall 0x71') === b) r.explained = 'BPF_PROBE_READ uses bpf_probe_read_kernel (libbpf 1.2+)';
      // Deliberate difference 3: bpf_usdt_arg & co. are static inline here, __weak __hidden global
      // subprograms in libbpf: the same code, inlined instead of called.
      else if (/#include\s*[<"](bpf\/)?usdt\.bpf\.h[">]/.test(fs.readFileSync(file, 'utf8'))) r.explained = 'usdt.bpf.h functions inlined';
    });

    const built = results.filter((r) => r.ref);
    const failed = built.filter((r) => !r.ours);
    const differ = built.filter((r) => r.ours && !r.same);
    const summary = `${files.length} programs; the reference way builds ${built.length}; ours builds ${built.length - failed.length} of them (${built.filter((r) => r.note).length} with -DBPF_NO_KFUNC_PROTOTYPES), identical disassembly in ${built.length - failed.length - differ.length}, ${differ.filter((r) => r.explained).length} explained differences`;
    console.log(summary);
    for (const r of failed) console.log(`  ours fails: ${r.file}: ${r.err}`);
    for (const r of differ) console.log(`  disassembly differs: ${r.file}${r.explained ? ` (${r.explained})` : ''}`);
    for (const r of built.filter((x) => x.note)) console.log(`  needs -DBPF_NO_KFUNC_PROTOTYPES: ${r.file}`);
    expect(built.length).toBeGreaterThan(100);
    expect(failed.map((r) => `${r.file}: ${r.err}`)).toEqual([]);
    expect(differ.filter((r) => !r.explained).map((r) => r.file)).toEqual([]);
    expect(differ.length).toBeLessThan(built.length / 10);
  }, 1_800_000);
});
