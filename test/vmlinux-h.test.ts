// Our vmlinux.h declares what bpftool's does, for this kernel and for the Debian 6.1 and 6.12
// kernels the VM tests boot (vmlinux BTF and a module's split BTF): compared name by name with
// bpftool 7.1 (Debian bookworm's) and 7.5 (bookworm-backports, writes kfunc prototypes).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dumpC } from '../src/btf/cdump.js';
import { readBtfFile } from '../src/loader/btf-files.js';
import { headerNames, type HeaderNames, missingNames } from './cheader-names.js';
import { bpftool75, debianKernel } from './debian-kernels.js';
import { hasCommand, isRoot, need, run } from './helpers.js';

const skip = need(hasCommand('bpftool') && hasCommand('clang-16'), 'bpftool and clang-16 are needed') ?? need(isRoot, 'the Debian kernel cache is root-only') ?? need(fs.existsSync('/sys/kernel/btf/vmlinux'), 'this kernel has no BTF');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bee-vmlinuxh-${process.pid}-`));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Case {
  name: string;
  btf: () => { file: string; base?: string };
}
const cases: Case[] = [
  { name: `this kernel (${os.release()})`, btf: () => ({ file: '/sys/kernel/btf/vmlinux' }) },
  ...(['6.1', '6.12'] as const).flatMap((v): Case[] => [
    { name: `Debian ${v} vmlinux`, btf: () => ({ file: debianKernel(v).vmlinux }) },
    { name: `Debian ${v} nf_conntrack.ko (split BTF)`, btf: () => ({ file: debianKernel(v).module, base: debianKernel(v).vmlinux }) },
  ]),
];

function ours(file: string, base?: string): string {
  const btf = readBtfFile(file, base ? readBtfFile(base) : undefined);
  const chunks: string[] = [];
  dumpC(btf, (s) => chunks.push(s));
  return chunks.join('');
}

function bpftool(bin: string, file: string, base?: string): string {
  return run(bin, ['btf', 'dump', 'file', file, ...(base ? ['-B', base] : []), 'format', 'c']);
}

/** Names with libbpf's `___N` duplicate suffix removed, counted (bpftool 7.5 numbers duplicates in another order). */
function bag(names: Iterable<string>): Map<string, number> {
  const m = new Map<string, number>();
  for (const n of names) {
    const k = n.replace(/___\d+$/, '');
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}
const enumBag = (h: HeaderNames) => bag([...h.enumerators].map(([k, v]) => `${k.replace(/___\d+$/, '')}=${v}`));
function lacking(a: Map<string, number>, b: Map<string, number>): string[] {
  return [...b].filter(([k, n]) => (a.get(k) ?? 0) < n).map(([k]) => k);
}

describe.skipIf(skip)('vmlinux.h declares what bpftool declares', () => {
  it.each(cases)('$name', ({ btf }) => {
    const { file, base } = btf();
    const text = ours(file, base);
    const mine = headerNames(text);
    // bpftool 7.1: the same tags, typedefs and enumerators (with the same ___N suffixes), both ways.
    const v71 = headerNames(bpftool('bpftool', file, base));
    expect(missingNames(mine, v71)).toEqual({ defined: [], forward: [], typedefs: [], enumerators: [], kfuncs: [] });
    expect(missingNames(v71, mine)).toMatchObject({ defined: [], forward: [], typedefs: [], enumerators: [] });
    expect(mine.anonEnums).toBe(v71.anonEnums);
    expect(mine.anonEnums).toBeGreaterThan(500);
    // bpftool 7.5: the same kfunc prototypes, character for character; every name it declares.
    // Deliberate differences: its ___N suffixes follow its own (different) order, so names are
    // compared without them; and where 7.5 leaves out an anonymous enum 7.1 writes, we follow 7.1.
    const v75 = headerNames(bpftool(bpftool75(), file, base));
    expect(mine.kfuncs).toEqual(v75.kfuncs);
    expect(lacking(bag([...mine.defined, ...mine.forward]), bag([...v75.defined, ...v75.forward]))).toEqual([]);
    expect(lacking(bag(mine.typedefs), bag(v75.typedefs))).toEqual([]);
    expect(lacking(enumBag(mine), enumBag(v75))).toEqual([]);
    const extra = lacking(enumBag(v75), enumBag(mine));
    expect(lacking(enumBag(v71), bag(extra))).toEqual([]);
    // ... and it compiles.
    const h = path.join(tmp, 'vmlinux.h');
    fs.writeFileSync(h, text);
    const r = spawnSync('clang-16', ['-target', 'bpf', '-fsyntax-only', '-x', 'c', h], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 600_000);

  it('this kernel: 1-byte enums keep their size where bpftool 7.1 drops it', () => {
    const text = ours('/sys/kernel/btf/vmlinux');
    const packed = text.match(/^\} __attribute__\(\(packed\)\);$/gm)?.length ?? 0;
    const theirs = bpftool('bpftool', '/sys/kernel/btf/vmlinux').match(/^\} __attribute__\(\(packed\)\);$/gm)?.length ?? 0;
    expect(packed).toBeGreaterThan(theirs);
  });
});
