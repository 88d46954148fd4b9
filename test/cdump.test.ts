import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Btf, parseBtf } from '../src/btf/btf.js';
import { CDumper, dumpC } from '../src/btf/cdump.js';
import { BtfKind } from '../src/btf/types.js';
import { encodeBtf } from '../src/btf/encode.js';
import { parseElf } from '../src/elf/reader.js';
import { CoreRelocKind } from '../src/btf/ext.js';
import { parseObject } from '../src/loader/spec.js';
import { ALL_OBJECTS, hasCommand, need, readFixture, root, run } from './helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const CLANG = 'clang-16';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-cdump-'));

function dump(btf: Btf): { text: string; dumper: CDumper } {
  const chunks: string[] = [];
  const dumper = new CDumper(btf, (s) => chunks.push(s));
  dumper.dump();
  return { text: chunks.join(''), dumper };
}

/** Static asserts for every named struct/union size and member offset, so clang checks our layout. */
function layoutAsserts(btf: Btf, d: CDumper, skip: (id: number) => boolean): string {
  const out: string[] = [];
  for (const t of btf.types) {
    if ((t.kind !== BtfKind.Struct && t.kind !== BtfKind.Union) || !t.name || skip(t.id)) continue;
    const nm = `${t.kind === BtfKind.Struct ? 'struct' : 'union'} ${d.name(t.id)}`;
    out.push(`_Static_assert(sizeof(${nm}) == ${t.size}, "size of ${nm}");`);
    for (const m of t.members)
      if (m.name && !m.bitfieldSize) out.push(`_Static_assert(__builtin_offsetof(${nm}, ${m.name}) == ${m.bitOffset / 8}, "${nm}.${m.name}");`);
  }
  return out.join('\n') + '\n';
}

/** Types whose size involves the host's va_list, which the BPF target defines differently (bpftool has the same limit). */
function vaListDependents(btf: Btf): Set<number> {
  const memo = new Map<number, boolean>();
  const dep = (id: number, depth = 0): boolean => {
    if (depth > 64) return false;
    const t = btf.types[id]!;
    if (memo.has(id)) return memo.get(id)!;
    memo.set(id, false);
    let r = false;
    if (t.kind === BtfKind.Typedef && (t.name === 'va_list' || t.name === '__builtin_va_list')) r = true;
    else if (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) r = t.members.some((m) => dep(m.type, depth + 1));
    else if (t.kind === BtfKind.Array || t.kind === BtfKind.Typedef || t.kind === BtfKind.Const || t.kind === BtfKind.Volatile) r = dep(t.type, depth + 1);
    memo.set(id, r);
    return r;
  };
  return new Set(btf.types.filter((t) => dep(t.id)).map((t) => t.id));
}

describe('BTF → C', () => {
  it('writes the vmlinux.h frame bpftool writes', () => {
    const btf = parseBtf(parseElf(readFixture('btf_kinds.bpfel.o')).sectionByName('.BTF')!.data);
    const { text } = dump(btf);
    expect(text.startsWith('#ifndef __VMLINUX_H__\n#define __VMLINUX_H__\n')).toBe(true);
    expect(text).toContain('#pragma clang attribute push (__attribute__((preserve_access_index)), apply_to = record)');
    expect(text).toContain('#pragma clang attribute pop');
    expect(text).toMatch(/struct packed_t \{[^}]*\} __attribute__\(\(packed\)\);/);
    expect(text).toMatch(/unsigned int a: 3;/);
    expect(text).toContain('BIG_B = 4294967296ULL');
    expect(text).toMatch(/int \(\*callback_t\)\(const char \*restrict, volatile int \*\)/);
    expect(text).toContain('struct never_defined;');
    expect(text).toContain('union never_defined_union;');
  });

  it.each(ALL_OBJECTS.filter((f) => f.includes('bpfel')))('dump of %s compiles with exact layout', (name) => {
    if (need(hasCommand(CLANG), `${CLANG} is not installed`)) return;
    const btf = parseBtf(parseElf(readFixture(name)).sectionByName('.BTF')!.data);
    const { text, dumper } = dump(btf);
    const file = path.join(tmp, `${name}.h`);
    fs.writeFileSync(file, text + layoutAsserts(btf, dumper, () => false));
    // An object without structs leaves the pragma unused: a warning bpftool's output triggers too.
    run(CLANG, ['-target', 'bpf', '-fsyntax-only', '-Werror', '-Wno-pragma-clang-attribute', '-x', 'c', file]);
  });

  it('vmlinux.h from the running kernel compiles and every layout matches', () => {
    if (need(hasCommand(CLANG), `${CLANG} is not installed`)) return;
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const btf = parseBtf(fs.readFileSync(VMLINUX));
    const { text, dumper } = dump(btf);
    const skip = vaListDependents(btf);
    expect(skip.size).toBeLessThan(20);
    const file = path.join(tmp, 'vmlinux_asserts.c');
    const asserts = layoutAsserts(btf, dumper, (id) => skip.has(id));
    expect(asserts.split('\n').length).toBeGreaterThan(50000);
    fs.writeFileSync(file, text + asserts);
    run(CLANG, ['-target', 'bpf', '-fsyntax-only', '-x', 'c', file]);
  });

  it('a CO-RE probe reading task_struct compiles against our vmlinux.h', () => {
    if (need(hasCommand(CLANG), `${CLANG} is not installed`)) return;
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const btf = parseBtf(fs.readFileSync(VMLINUX));
    let text = '';
    dumpC(btf, (s) => (text += s));
    fs.writeFileSync(path.join(tmp, 'vmlinux.h'), text);
    const out = path.join(tmp, 'task_core.o');
    run(CLANG, ['-O2', '-g', '-target', 'bpf', '-D__TARGET_ARCH_x86', '-Wall', '-Werror', '-I', tmp, '-I', path.join(root, 'include'), '-c', path.join(root, 'test/probes/task_core.c'), '-o', out]);
    const spec = parseObject(fs.readFileSync(out), { file: out });
    const prog = spec.programs.find((p) => p.name === 'read_task')!;
    expect(prog.progType).toBe(17);
    const fields = prog.coreRelos.filter((r) => r.kind === CoreRelocKind.FieldByteOffset).map((r) => spec.btf!.typeById(r.typeId).name);
    expect(fields).toContain('task_struct');
  });
});

describe('BTF → C: forward declarations (FWD)', () => {
  it('a FWD stands for the first struct (union, for a union FWD) of its name; a FWD with none stays a declaration', () => {
    const int = { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 };
    const m = (name: string, type: number, bitOffset = 0) => ({ name, type, bitOffset, bitfieldSize: 0 });
    const types = [
      { kind: BtfKind.Void, id: 0, name: '' },
      int,
      { kind: BtfKind.Fwd, id: 2, name: 'foo', union: false },
      { kind: BtfKind.Ptr, id: 3, name: '', type: 2 },
      { kind: BtfKind.Fwd, id: 4, name: 'bar', union: true },
      { kind: BtfKind.Ptr, id: 5, name: '', type: 4 },
      { kind: BtfKind.Struct, id: 6, name: 'user', size: 16, kflag: false, members: [m('f', 3), m('b', 5, 64)] },
      { kind: BtfKind.Struct, id: 7, name: 'foo', size: 4, kflag: false, members: [m('x', 1)] },
      { kind: BtfKind.Union, id: 8, name: 'bar', size: 4, kflag: false, members: [m('y', 1)] },
      // A struct of the union FWD's name is not its definition (and takes the second name).
      { kind: BtfKind.Struct, id: 9, name: 'bar', size: 4, kflag: false, members: [m('z', 1)] },
      { kind: BtfKind.Fwd, id: 10, name: 'lone', union: false },
      { kind: BtfKind.Ptr, id: 11, name: '', type: 10 },
      { kind: BtfKind.Typedef, id: 12, name: 'lone_t', type: 11 },
    ] as unknown as Parameters<typeof encodeBtf>[0];
    const chunks: string[] = [];
    dumpC(parseBtf(encodeBtf(types)), (s) => chunks.push(s), { header: false });
    expect(chunks.join('')).toBe(
      'struct foo;\n\nunion bar;\n\nstruct user {\n\tstruct foo *f;\n\tunion bar *b;\n};\n\n' +
        'struct foo {\n\tint x;\n};\n\nunion bar {\n\tint y;\n};\n\nstruct bar___2 {\n\tint z;\n};\n\n' +
        'struct lone;\n\ntypedef struct lone *lone_t;\n\n',
    );
  });
});

describe('BTF → C: enums, names and kfuncs the way bpftool writes them', () => {
  const I = (id: number, name: string, size = 4, encoding = 1) => ({ kind: BtfKind.Int, id, name, size, encoding, bitOffset: 0, bits: size * 8 }) as const;
  const E = (id: number, name: string, values: [string, number][], size = 4) => ({ kind: BtfKind.Enum, id, name, size, signed: false, values: values.map(([n, v]) => ({ name: n, value: BigInt(v) })) }) as const;
  const types = [
    { kind: BtfKind.Void, id: 0, name: '' },
    I(1, 'int'),
    E(2, '', [['BPF_ANY', 0], ['BPF_NOEXIST', 1]]), // top level: nothing refers to it
    E(3, '', [['IN_STRUCT', 7]]), // used by a member: written inline only
    { kind: BtfKind.Struct, id: 4, name: 'holder', size: 4, kflag: false, members: [{ name: 'e', type: 3, bitOffset: 0, bitfieldSize: 0 }] },
    E(5, 'fwd_only', []), // no enumerators: a declaration
    E(6, 'dup', [['X', 1]]),
    E(7, 'dup', [['X', 2]]),
    E(8, 'tiny', [['T0', 0], ['T1', 1]], 1),
    { kind: BtfKind.Struct, id: 9, name: 'with_tiny', size: 2, kflag: false, members: [{ name: 'a', type: 8, bitOffset: 0, bitfieldSize: 0 }, { name: 'b', type: 8, bitOffset: 8, bitfieldSize: 0 }] },
    { kind: BtfKind.FuncProto, id: 10, name: '', returnType: 1, params: [{ name: 'pid', type: 1 }, { name: 'h', type: 11 }] },
    { kind: BtfKind.Ptr, id: 11, name: '', type: 4 },
    { kind: BtfKind.Func, id: 12, name: 'bpf_zz_kfunc', type: 10, linkage: 1 },
    { kind: BtfKind.Func, id: 13, name: 'bpf_aa_kfunc', type: 14, linkage: 1 },
    { kind: BtfKind.FuncProto, id: 14, name: '', returnType: 11, params: [] },
    { kind: BtfKind.Func, id: 15, name: 'not_a_kfunc', type: 10, linkage: 1 },
    { kind: BtfKind.DeclTag, id: 16, name: 'bpf_kfunc', type: 12, componentIdx: -1, attribute: false },
    { kind: BtfKind.DeclTag, id: 17, name: 'bpf_kfunc', type: 13, componentIdx: -1, attribute: false },
    { kind: BtfKind.DeclTag, id: 18, name: 'bpf_fastcall', type: 13, componentIdx: -1, attribute: false },
    { kind: BtfKind.DeclTag, id: 19, name: 'bpf_kfunc', type: 15, componentIdx: 0, attribute: false }, // a parameter's tag
  ] as unknown as Parameters<typeof encodeBtf>[0];
  const btf = parseBtf(encodeBtf(types));
  const { text } = dump(btf);

  it('writes top-level anonymous enums, and referenced ones only inline', () => {
    expect(text).toContain('enum {\n\tBPF_ANY = 0,\n\tBPF_NOEXIST = 1,\n};\n');
    expect(text.match(/IN_STRUCT/g)).toHaveLength(1);
    expect(text).toMatch(/struct holder \{\n\tenum \{\n\t\tIN_STRUCT = 7,\n\t\} e;\n\};/);
  });

  it('declares an enum without enumerators as `enum X;`, and dedups names in header order', () => {
    expect(text).toContain('\nenum fwd_only;\n');
    expect(text).not.toMatch(/enum fwd_only \{/);
    expect(text).toContain('enum dup {\n\tX = 1,\n};');
    expect(text).toContain('enum dup___2 {\n\tX___2 = 2,\n};');
  });

  it('keeps 1-byte enums 1 byte wide (packed), where bpftool 7.1 drops the attribute and mis-sizes the struct', () => {
    expect(text).toContain('enum tiny {\n\tT0 = 0,\n\tT1 = 1,\n} __attribute__((packed));');
    if (need(hasCommand(CLANG), `${CLANG} is not installed`)) return;
    const file = path.join(tmp, 'tiny.c');
    fs.writeFileSync(file, `${text}\n_Static_assert(sizeof(struct with_tiny) == 2, "with_tiny");\n_Static_assert(__builtin_offsetof(struct with_tiny, b) == 1, "b");\n`);
    run(CLANG, ['-target', 'bpf', '-fsyntax-only', '-Werror', '-x', 'c', file]);
    // The deliberate difference: bpftool 7.1's header for the same BTF gets this layout wrong.
    if (need(hasCommand('bpftool'), 'bpftool is not installed')) return;
    const raw = path.join(tmp, 'tiny.btf');
    fs.writeFileSync(raw, encodeBtf(types));
    const theirs = path.join(tmp, 'tiny-bpftool.c');
    fs.writeFileSync(theirs, `${run('bpftool', ['btf', 'dump', 'file', raw, 'format', 'c'])}\n_Static_assert(sizeof(struct with_tiny) == 2, "with_tiny");\n`);
    const version = run('bpftool', ['version']);
    const r = spawnSync(CLANG, ['-target', 'bpf', '-fsyntax-only', '-x', 'c', theirs], { encoding: 'utf8' });
    if (/v7\.[012]\./.test(version)) expect(r.stderr).toContain('static assertion failed');
  });

  it('declares kfuncs (FUNCs tagged bpf_kfunc) as bpftool 7.3+ does, sorted, with parameter names', () => {
    const sec = text.slice(text.indexOf('/* BPF kfuncs */'));
    expect(sec).toBe(
      '/* BPF kfuncs */\n#ifndef BPF_NO_KFUNC_PROTOTYPES\n' +
        'extern __bpf_fastcall struct holder *bpf_aa_kfunc(void) __weak __ksym;\n' +
        'extern int bpf_zz_kfunc(int pid, struct holder *h) __weak __ksym;\n' +
        '#endif\n\n#ifndef BPF_NO_PRESERVE_ACCESS_INDEX\n#pragma clang attribute pop\n#endif\n\n#endif /* __VMLINUX_H__ */\n',
    );
    expect(text).toContain('#ifndef __ksym\n#define __ksym __attribute__((section(".ksyms")))\n#endif');
    if (need(hasCommand(CLANG), `${CLANG} is not installed`)) return;
    const file = path.join(tmp, 'kf.c');
    fs.writeFileSync(file, text);
    run(CLANG, ['-target', 'bpf', '-fsyntax-only', '-Werror', '-Wno-pragma-clang-attribute', '-x', 'c', file]);
  });
});
