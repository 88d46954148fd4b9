import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { CoreRelocKind, parseBtfExt } from '../src/btf/ext.js';
import { dumpRaw } from '../src/btf/raw.js';
import { BtfError, BtfKind, type CompositeType, type EnumType, INT_BOOL, INT_SIGNED, KIND_NAMES } from '../src/btf/types.js';
import { parseElf } from '../src/elf/reader.js';
import { ALL_OBJECTS, fixture, hasCommand, need, readFixture, run } from './helpers.js';

const objBtf = (name: string) => {
  const elf = parseElf(readFixture(name), name);
  const btf = parseBtf(elf.sectionByName('.BTF')!.data, { file: name });
  return { elf, btf };
};
const VMLINUX = '/sys/kernel/btf/vmlinux';

describe('BTF decoder', () => {
  it('decodes every BTF kind from btf_kinds.o, in both byte orders', () => {
    for (const f of ['btf_kinds.bpfel.o', 'btf_kinds.bpfeb.o']) {
      const { btf } = objBtf(f);
      const kinds = new Set(btf.types.slice(1).map((t) => KIND_NAMES[t.kind]));
      for (const k of Object.values(KIND_NAMES).filter((k) => k !== 'UNKN')) expect(kinds, `${f} lacks ${k}`).toContain(k);
    }
  });

  it('gives the same types for both byte orders', () => {
    const le = objBtf('btf_kinds.bpfel.o').btf;
    const be = objBtf('btf_kinds.bpfeb.o').btf;
    expect(be.types).toEqual(le.types);
    expect(be.littleEndian).toBe(false);
  });

  it('reads members, bitfields, sizes and alignment', () => {
    const { btf } = objBtf('btf_kinds.bpfel.o');
    const flags = btf.find('flags_t', BtfKind.Struct)!;
    const m = Object.fromEntries(flags.members.map((x) => [x.name, x]));
    expect(m.a).toMatchObject({ bitOffset: 0, bitfieldSize: 3 });
    expect(m.b).toMatchObject({ bitOffset: 3, bitfieldSize: 5 });
    expect(m.c).toMatchObject({ bitOffset: 8, bitfieldSize: 7 });
    expect(m.d!.bitfieldSize).toBe(40);
    expect(m.e!.bitfieldSize).toBe(0);
    const packed = btf.find('packed_t', BtfKind.Struct)!;
    expect(packed.size).toBe(7);
    expect(btf.isPacked(packed)).toBe(true);
    expect(btf.alignof(packed.id)).toBe(1);
    const nested = btf.find('nested', BtfKind.Struct)!;
    expect(btf.sizeof(nested.id)).toBe(nested.size);
    expect(btf.alignof(nested.id)).toBe(8);
    const matrix = nested.members.find((x) => x.name === 'matrix')!;
    expect(btf.sizeof(matrix.type)).toBe(24);
    // typedef u8 → __u8 → unsigned char, skipped by resolve()
    const u8 = btf.find('u8', BtfKind.Typedef)!;
    expect(btf.resolve(u8.id)).toMatchObject({ kind: BtfKind.Int, name: 'unsigned char', size: 1 });
    const boolT = btf.resolve(btf.find('bool', BtfKind.Typedef)!.id);
    expect(boolT.kind === BtfKind.Int && boolT.encoding & INT_BOOL).toBeTruthy();
    const intT = btf.find('int', BtfKind.Int)!;
    expect(intT.encoding & INT_SIGNED).toBeTruthy();
  });

  it('reads signed enums and 64-bit enums', () => {
    const { btf } = objBtf('btf_kinds.bpfel.o');
    const colour = btf.find('colour', BtfKind.Enum) as EnumType;
    expect(colour.signed).toBe(true);
    expect(colour.values.map((v) => [v.name, v.value])).toEqual([
      ['RED', 0n],
      ['GREEN', 5n],
      ['BLUE', -1n],
    ]);
    const big = btf.find('big', BtfKind.Enum64) as EnumType;
    expect(big.values.find((v) => v.name === 'BIG_B')!.value).toBe(0x100000000n);
  });

  it('reads func_info, line_info with source text, and CO-RE records from .BTF.ext', () => {
    const { elf, btf } = objBtf('core.bpfel.o');
    const ext = parseBtfExt(elf.sectionByName('.BTF.ext')!.data, btf, 'core.o');
    const sec = 'raw_tp/sys_enter';
    expect(ext.funcInfo.get(sec)![0]).toMatchObject({ insnOff: 0 });
    expect(btf.typeById(ext.funcInfo.get(sec)![0]!.typeId)).toMatchObject({ kind: BtfKind.Func, name: 'core_reads' });
    const lines = ext.lineInfo.get(sec)!;
    expect(lines.length).toBeGreaterThan(5);
    expect(lines.some((l) => l.fileName.endsWith('core.c') && l.line.includes('BPF_CORE_READ(t, pid)'))).toBe(true);
    expect(lines.filter((l) => l.lineNum > 0).length).toBeGreaterThan(lines.length / 2);
    expect(lines.every((l) => !l.fileName.startsWith('/'))).toBe(true);
    const kinds = new Set(ext.coreRelos.get(sec)!.map((r) => r.kind));
    for (const k of [
      CoreRelocKind.FieldByteOffset,
      CoreRelocKind.FieldByteSize,
      CoreRelocKind.FieldExists,
      CoreRelocKind.FieldSigned,
      CoreRelocKind.FieldLShiftU64,
      CoreRelocKind.FieldRShiftU64,
      CoreRelocKind.TypeIdLocal,
      CoreRelocKind.TypeIdTarget,
      CoreRelocKind.TypeExists,
      CoreRelocKind.TypeSize,
      CoreRelocKind.EnumvalExists,
      CoreRelocKind.EnumvalValue,
      CoreRelocKind.TypeMatches,
    ])
      expect(kinds, `missing CO-RE kind ${k}`).toContain(k);
    const ppid = ext.coreRelos.get(sec)!.find((r) => r.kind === CoreRelocKind.FieldByteOffset && btf.typeById(r.typeId).name === 'task_struct');
    expect(ppid?.accessStr).toMatch(/^0:\d+$/);
  });

  it.each([
    ['a truncated header', (b: Buffer) => b.subarray(0, 10), /shorter than the BTF header/],
    ['bad magic', (b: Buffer) => (b.writeUInt16LE(0x1234, 0), b), /bad magic/],
    ['a type section past the end', (b: Buffer) => (b.writeUInt32LE(0xffffff, 12), b), /outside the blob/],
    ['an unknown kind', (b: Buffer) => (b.writeUInt32LE((31 << 24) >>> 0, 24 + b.readUInt32LE(8) + 4), b), /unknown kind 31/],
    ['a dangling type reference', (b: Buffer) => {
      // first type of btf_kinds is a PTR: point it at a type that does not exist
      b.writeUInt32LE(0x7ffffff, 24 + b.readUInt32LE(8) + 8);
      return b;
    }, /does not exist/],
  ])('rejects %s with a BtfError', (_w, mutate, re) => {
    const sec = parseElf(readFixture('btf_kinds.bpfel.o')).sectionByName('.BTF')!;
    const bytes = mutate(Buffer.from(sec.data));
    expect(() => parseBtf(bytes, { file: 'x.btf' })).toThrow(BtfError);
    expect(() => parseBtf(bytes, { file: 'x.btf' })).toThrow(re);
  });

  it('parses the running kernel BTF with its well-known types', () => {
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const btf = parseBtf(fs.readFileSync(VMLINUX), { file: VMLINUX });
    expect(btf.count).toBeGreaterThan(10000);
    const task = btf.find('task_struct', BtfKind.Struct) as CompositeType;
    expect(task.members.some((m) => m.name === 'pid')).toBe(true);
    expect(btf.sizeof(task.id)).toBe(task.size);
    const pid = task.members.find((m) => m.name === 'pid')!;
    expect(btf.resolve(pid.type)).toMatchObject({ kind: BtfKind.Int, size: 4 });
    expect(btf.find('bpf_prog_type', BtfKind.Enum)).toBeDefined();
  });
});

describe('raw dump matches bpftool', () => {
  const hasBpftool = hasCommand('bpftool');
  it.each(ALL_OBJECTS)('%s', (name) => {
    if (need(hasBpftool, 'bpftool is not installed (apt-get install bpftool)')) return;
    const { btf } = objBtf(name);
    let ours = '';
    dumpRaw(btf, (s) => (ours += s));
    expect(ours).toBe(run('bpftool', ['btf', 'dump', 'file', fixture(name)]));
  });

  it('vmlinux, line for line', () => {
    if (need(hasBpftool, 'bpftool is not installed')) return;
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const btf = parseBtf(fs.readFileSync(VMLINUX));
    const chunks: string[] = [];
    dumpRaw(btf, (s) => chunks.push(s));
    const theirs = run('bpftool', ['btf', 'dump', 'file', VMLINUX]);
    const ours = chunks.join('');
    expect(ours.length).toBe(theirs.length);
    expect(ours === theirs).toBe(true);
  });
});
