// The lazy BTF model (types built on use from the raw words, name indexes per kind built on first
// lookup) against bpftool's JSON dump of the same BTF, type by type, and against a brute-force
// scan of every type for each name lookup; the eager form (new Btf({ types })) answers the same.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Btf, parseBtf, parseKernelBtf } from '../src/btf/btf.js';
import { encodeBtf } from '../src/btf/encode.js';
import { essentialName } from '../src/btf/names.js';
import { rawTypeJson } from '../src/btf/raw.js';
import { BtfError, BtfKind, type BtfType } from '../src/btf/types.js';
import { parseElf } from '../src/elf/reader.js';
import { readBtfBytes } from '../src/loader/btf-files.js';
import { debianKernel } from './debian-kernels.js';
import { ALL_OBJECTS, hasCommand, isRoot, need, readFixture, thrown } from './helpers.js';
import { execFileSync } from 'node:child_process';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const bpftoolJson = (args: string[]) =>
  (JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', ...args], { encoding: 'utf8', maxBuffer: 1 << 30 })) as { types: Record<string, unknown>[] }).types;

/** name → ids per kind, and name → ids of any kind, by looking at every type. */
function bruteIndex(types: BtfType[], from: number) {
  const byKind = new Map<string, number[]>();
  const any = new Map<string, number[]>();
  const essential = new Map<string, number[]>();
  for (const t of types.slice(from)) {
    if (!t.name) continue;
    for (const [m, k] of [[byKind, `${t.kind}:${t.name}`], [any, t.name], [essential, `${t.kind}:${essentialName(t.name)}`]] as const) {
      const l = m.get(k);
      if (l) l.push(t.id);
      else m.set(k, [t.id]);
    }
  }
  return { byKind, any, essential };
}

/**
 * bpftool 7.1's JSON prints unsigned 32-bit enumerators above 2^31 sign-extended to 64 bits (and
 * JSON numbers lose the low digits): enumerator values are compared through the raw text dump
 * (btf.test.ts, line for line), here only their names.
 */
const comparable = (o: Record<string, unknown>) =>
  o.kind === 'ENUM' ? { ...o, values: (o.values as { name: string }[]).map((v) => v.name) } : o;

function checkAgainstBpftool(btf: Btf, theirs: Record<string, unknown>[]) {
  expect(btf.count - btf.firstId).toBe(theirs.length);
  for (let id = btf.firstId; id < btf.count; id++) {
    const t = btf.typeById(id);
    expect(comparable(rawTypeJson(t)), `type ${id}`).toEqual(comparable(theirs[id - btf.firstId]!));
    // One object per id; kind and name without building the object agree with it.
    expect(btf.typeById(id)).toBe(t);
    expect(btf.kindOf(id)).toBe(t.kind);
    expect(btf.nameOf(id)).toBe(t.name);
  }
}

function checkLookups(btf: Btf) {
  const all = btf.types;
  const own = bruteIndex(all, btf.firstId);
  const every = bruteIndex(all, 1);
  for (const [key, ids] of every.byKind) {
    const [kind, name] = [Number(key.slice(0, key.indexOf(':'))), key.slice(key.indexOf(':') + 1)];
    expect(btf.findIds(name, kind), key).toEqual(ids);
    expect(btf.find(name, kind)).toBe(all[ids[0]!]);
  }
  for (const [key, ids] of own.essential) {
    const [kind, name] = [Number(key.slice(0, key.indexOf(':'))), key.slice(key.indexOf(':') + 1)];
    expect(btf.ownIdsByEssentialName(name, kind), key).toEqual(ids);
  }
  let n = 0;
  for (const [name, ids] of every.any) if (n++ % 7 === 0) expect(btf.idsByName(name), name).toEqual(ids);
  expect(btf.findIds('no_such_type_anywhere', BtfKind.Struct)).toEqual([]);
  expect(btf.find('no_such_type_anywhere', BtfKind.Func)).toBeUndefined();
  expect(btf.idsByName('')).toEqual([]);
}

/**
 * The first lookups of each kind scan the records instead of building the kind's name index: each
 * (kind, name) of a scan of every type, asked of a Btf that has answered fewer than 4 lookups of
 * that kind (a fresh parse when it has), against that scan. `sample` keeps every n-th name, and
 * every name with a `___` flavor.
 */
function checkScans(parse: () => Btf, sample = 1) {
  let btf = parse();
  const all = btf.types;
  const { byKind } = bruteIndex(all, 1);
  const own = bruteIndex(all, btf.firstId).essential;
  btf = parse();
  let used = new Map<number, number>();
  const ask = (kind: number) => {
    if ((used.get(kind) ?? 0) >= 4) {
      btf = parse();
      used = new Map();
    }
    used.set(kind, (used.get(kind) ?? 0) + 1);
    return btf;
  };
  let n = 0;
  for (const [key, ids] of byKind) {
    const [kind, name] = [Number(key.slice(0, key.indexOf(':'))), key.slice(key.indexOf(':') + 1)];
    if (n++ % sample !== 0 && !name.includes('___')) continue;
    expect(ask(kind).findIds(name, kind), key).toEqual(ids);
  }
  for (const [key, ids] of own) {
    const [kind, name] = [Number(key.slice(0, key.indexOf(':'))), key.slice(key.indexOf(':') + 1)];
    if (n++ % sample !== 0 && ids.every((id) => all[id]!.name === name)) continue;
    expect(ask(kind).ownIdsByEssentialName(name, kind), key).toEqual(ids);
  }
  expect(ask(BtfKind.Struct).findIds('no_such_type_anywhere', BtfKind.Struct)).toEqual([]);
  expect(ask(BtfKind.Func).find('no_such_type_anywhere', BtfKind.Func)).toBeUndefined();
}

describe('lazy BTF model', () => {
  const noBpftool = need(hasCommand('bpftool'), 'bpftool is not installed (apt-get install bpftool)');

  it('vmlinux: every type equals bpftool -j, built on use; lookups equal a scan of every type', () => {
    if (noBpftool ?? need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const btf = parseBtf(fs.readFileSync(VMLINUX), { file: VMLINUX });
    // A lookup before anything else is built gives the type bpftool has under that id.
    const task = btf.find('task_struct', BtfKind.Struct)!;
    const theirs = bpftoolJson([VMLINUX]);
    expect(theirs[task.id - 1]).toMatchObject({ kind: 'STRUCT', name: 'task_struct' });
    checkAgainstBpftool(btf, theirs);
    checkLookups(btf);
    expect(btf.types[task.id]).toBe(task);
  }, 600_000);

  it("kernel BTF through parseKernelBtf (the walk only, as the kernel checked it): the records, types and lookups of parseBtf's", () => {
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const bytes = fs.readFileSync(VMLINUX);
    const checked = parseBtf(bytes, { file: VMLINUX });
    const walked = parseKernelBtf(bytes, { file: VMLINUX });
    expect(walked.count).toBe(checked.count);
    const a = checked.records()!;
    const b = walked.records()!;
    expect(Buffer.from(b.offs.buffer, b.offs.byteOffset, b.offs.byteLength).equals(Buffer.from(a.offs.buffer, a.offs.byteOffset, a.offs.byteLength))).toBe(true);
    expect(Buffer.from(b.kinds).equals(Buffer.from(a.kinds))).toBe(true);
    for (let id = 1; id < checked.count; id += 97) expect(walked.typeById(id), `type ${id}`).toEqual(checked.typeById(id));
    // The name indexes (by decoded name for the small kinds, by name bytes for FUNC and FUNC_PROTO) against a scan of every type.
    checkLookups(walked);
    checkScans(() => parseKernelBtf(bytes, { file: VMLINUX }), 1999);
  }, 600_000);

  it('split BTF through parseKernelBtf (Debian nf_conntrack.ko over its vmlinux): the types and lookups of parseBtf', () => {
    if (need(isRoot, 'the Debian kernel cache is root-only')) return;
    const k = debianKernel('6.12');
    const base = parseKernelBtf(readBtfBytes(k.vmlinux), { file: k.vmlinux });
    const checked = parseBtf(readBtfBytes(k.module), { file: k.module, base });
    const walked = parseKernelBtf(readBtfBytes(k.module), { file: k.module, base });
    expect(walked.count).toBe(checked.count);
    for (let id = walked.firstId; id < walked.count; id++) expect(walked.typeById(id), `type ${id}`).toEqual(checked.typeById(id));
    checkLookups(walked);
    checkScans(() => parseKernelBtf(readBtfBytes(k.module), { file: k.module, base }), 97);
  }, 600_000);

  it('split BTF (Debian nf_conntrack.ko over its vmlinux): own types equal bpftool -j -B, base ids are the base objects', () => {
    if (noBpftool ?? need(isRoot, 'the Debian kernel cache is root-only')) return;
    const k = debianKernel('6.12');
    const base = parseBtf(readBtfBytes(k.vmlinux), { file: k.vmlinux });
    const btf = parseBtf(readBtfBytes(k.module), { file: k.module, base });
    expect(btf.firstId).toBe(base.count);
    checkAgainstBpftool(btf, bpftoolJson([k.module, '-B', k.vmlinux]));
    for (const id of [1, 100, base.count - 1]) expect(btf.typeById(id)).toBe(base.typeById(id));
    checkLookups(btf);
  }, 600_000);

  it.each(ALL_OBJECTS.filter((f) => f.includes('bpfel')))('%s: the eager form (new Btf with the type objects) answers as the lazy one', (name) => {
    const sec = parseElf(readFixture(name), name).sectionByName('.BTF');
    if (!sec) return;
    const lazy = parseBtf(sec.data, { file: name });
    const eager = new Btf({ types: structuredClone(lazy.types), file: 'eager', littleEndian: true, firstId: 1, strings: '', stringBytes: new Uint8Array(1), baseStrLen: 0 });
    const tryIt = (f: () => unknown) => {
      try {
        return f();
      } catch (e) {
        return (e as BtfError).defect;
      }
    };
    expect(eager.count).toBe(lazy.count);
    for (let id = 0; id < lazy.count; id++) {
      expect(eager.typeById(id)).toEqual(lazy.typeById(id));
      expect(eager.kindOf(id)).toBe(lazy.kindOf(id));
      expect(eager.nameOf(id)).toBe(lazy.nameOf(id));
      expect(tryIt(() => eager.alignof(id))).toEqual(tryIt(() => lazy.alignof(id)));
    }
    checkLookups(eager);
    checkLookups(lazy);
    checkScans(() => parseBtf(sec.data, { file: name }));
  });

  it('malformed blobs are refused at parse time with the defect named, as before the model was lazy', () => {
    const int: BtfType = { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 };
    const ptr = (id: number, type: number): BtfType => ({ kind: BtfKind.Ptr, id, name: '', type });
    const err = (types: BtfType[], patch?: (b: Uint8Array) => void) => {
      const blob = encodeBtf([{ kind: BtfKind.Void, id: 0, name: '' }, ...types]);
      patch?.(blob);
      try {
        parseBtf(blob, { file: 'bad' });
      } catch (e) {
        expect(e).toBeInstanceOf(BtfError);
        return (e as BtfError).defect;
      }
      return 'parsed';
    };
    /** What parseKernelBtf says: its walk refuses records it cannot walk, with parseBtf's error. */
    const walkErr = (types: BtfType[], patch: (b: Uint8Array) => void) => {
      const blob = encodeBtf([{ kind: BtfKind.Void, id: 0, name: '' }, ...types]);
      patch(blob);
      const e = thrown(() => parseKernelBtf(blob, { file: 'bad' }));
      expect(e).toBeInstanceOf(BtfError);
      return (e as BtfError).defect;
    };
    expect(err([int, ptr(2, 1)])).toBe('parsed');
    expect(err([int, ptr(2, 7)])).toBe('type 2 (PTR) type refers to type 7, which does not exist (2 types)');
    expect(err([int, ptr(2, 2)])).toBe('type 2 (PTR) refers to itself');
    expect(err([int, { kind: BtfKind.Func, id: 2, name: 'f', type: 1, linkage: 0 }])).toBe("FUNC 2 'f' does not point at a FUNC_PROTO");
    expect(err([{ ...int, bits: 40 } as BtfType])).toBe('type 1 (INT): 40 bits at offset 0 do not fit in 4 bytes');
    expect(err([int, { kind: BtfKind.Struct, id: 2, name: 's', size: 8, kflag: false, members: [{ name: 'a', type: 2, bitOffset: 0, bitfieldSize: 0 }] }])).toBe("STRUCT 2 's' contains itself");
    expect(err([int, { kind: BtfKind.Struct, id: 2, name: 's', size: 8, kflag: false, members: [{ name: 'a', type: 9, bitOffset: 0, bitfieldSize: 0 }] }])).toBe("type 2 (STRUCT) member 'a' refers to type 9, which does not exist (2 types)");
    // The type section cut short by 4 bytes: the second type is truncated.
    const cut = (b: Uint8Array) => {
      const dv = new DataView(b.buffer, b.byteOffset);
      dv.setUint32(12, dv.getUint32(12, true) - 4, true);
    };
    expect(err([int, ptr(2, 1)], cut)).toBe('type 2 is truncated (needs 12 bytes at offset 16 of 24)');
    // The first type's name offset past the strings.
    expect(err([int], (b) => new DataView(b.buffer, b.byteOffset).setUint32(24, 9999, true))).toMatch(/^type 1 \(INT\): name offset 9999 is out of range \(\d+ bytes of strings\)$/);
    // An unknown kind.
    expect(err([int], (b) => (b[24 + 7] = 25))).toBe('type 1 has unknown kind 25');
    expect(walkErr([int, ptr(2, 1)], cut)).toBe('type 2 is truncated (needs 12 bytes at offset 16 of 24)');
    expect(walkErr([int], (b) => new DataView(b.buffer, b.byteOffset).setUint32(24, 9999, true))).toMatch(/^type 1 \(INT\): name offset 9999 is out of range/);
    expect(walkErr([int], (b) => (b[24 + 7] = 25))).toBe('type 1 has unknown kind 25');
    // A type section of 4k+2 bytes.
    expect(walkErr([int], (b) => new DataView(b.buffer, b.byteOffset).setUint32(12, new DataView(b.buffer, b.byteOffset).getUint32(12, true) - 2, true))).toMatch(/truncated/);
  });
});
