import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Btf, parseBtf } from '../src/btf/btf.js';
import { CDumper, dumpC } from '../src/btf/cdump.js';
import { BtfKind } from '../src/btf/types.js';
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
