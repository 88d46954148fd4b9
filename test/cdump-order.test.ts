// The C dumper's ordering in WebAssembly (src/btf/order-wasm.ts, assembled by hand) against the
// JavaScript ordering it stands in for (CDumper.orderAll, still the path for a dump of some ids and
// where WebAssembly is missing): the same queue of definitions on the kernel's own BTF, a module's
// split BTF and every fixture object (and every struct's alignment and packing: TypeLayout's), and
// the JavaScript's errors where the graph is malformed; its name keys and struct member writer
// against the JavaScript's names and members (the same header).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { type Btf, parseBtf, parseKernelBtf } from '../src/btf/btf.js';
import { CDumper, dumpC } from '../src/btf/cdump.js';
import { encodeBtf } from '../src/btf/encode.js';
import { flatBtf } from '../src/btf/flat.js';
import { prepareCDumpWasm } from '../src/btf/order-wasm.js';
import { BtfKind, type BtfType } from '../src/btf/types.js';
import { parseElf } from '../src/elf/reader.js';
import { readBtfBytes } from '../src/loader/btf-files.js';
import { debianKernel } from './debian-kernels.js';
import { ALL_OBJECTS, hasCommand, isRoot, need, readFixture, run } from './helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** Returns the queue's length plus the number of structs and unions checked. */
function expectSameQueue(btf: Btf): number {
  const wasm = prepareCDumpWasm(flatBtf(btf));
  expect(wasm).toBeDefined();
  const js = new CDumper(btf, () => {}).orderAll();
  expect(Array.from(wasm!.queue)).toEqual(js);
  // The layout of every struct and union, and of every type whose alignment it computed: TypeLayout's.
  expect(wasm!.align).toBeDefined();
  let n = 0;
  for (let id = 1; id < btf.count; id++) {
    const k = btf.kindOf(id);
    if (k === BtfKind.Struct || k === BtfKind.Union) {
      expect(wasm!.packed![id]).toBe(btf.isPacked(btf.typeById(id) as never) ? 2 : 1);
      n++;
    }
    if (wasm!.align![id]) expect(wasm!.align![id]).toBe(btf.alignof(id));
  }
  return js.length + n;
}

describe('C dump ordering: WebAssembly and JavaScript', () => {
  it("the running kernel's BTF: the same queue", () => {
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const btf = parseKernelBtf(fs.readFileSync(VMLINUX), { file: VMLINUX });
    expect(expectSameQueue(btf)).toBeGreaterThan(15000);
  });

  it('every fixture object with BTF: the same queue', () => {
    let n = 0;
    let checked = 0;
    for (const f of ALL_OBJECTS) {
      const sec = parseElf(readFixture(f)).sectionByName('.BTF');
      if (!sec) continue;
      checked += expectSameQueue(parseBtf(sec.data, { file: f }));
      n++;
    }
    expect(n).toBeGreaterThan(10);
    expect(checked).toBeGreaterThan(100);
  });

  it("a module's split BTF (Debian 6.12 nf_conntrack.ko): the same queue over base and module ids", () => {
    if (need(isRoot, 'the Debian kernel cache is root-only')) return;
    const k = debianKernel('6.12');
    const base = parseKernelBtf(readBtfBytes(k.vmlinux), { file: k.vmlinux });
    const mod = parseKernelBtf(readBtfBytes(k.module), { file: k.module, base });
    expect(mod.firstId).toBeGreaterThan(1000);
    expectSameQueue(mod);
    // Names keyed over base and module strings, and the module's members in WebAssembly: the JavaScript's header.
    let keyed = '';
    dumpC(mod, (s) => (keyed += s));
    let byStrings = '';
    dumpC(mod, (s) => (byStrings += s), { ids: Array.from({ length: mod.count - 1 }, (_, i) => i + 1), kfuncs: true });
    expect(keyed).toBe(byStrings);
  }, 600_000);

  it('a malformed graph: no queue (or no layout) from WebAssembly, and the dump throws the JavaScript error', () => {
    const int: BtfType = { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 };
    const self = (id: number, name: string): BtfType =>
      ({ kind: BtfKind.Struct, id, name, size: 8, kflag: false, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'me', type: id, bitOffset: 32, bitfieldSize: 0 }] }) as BtfType;
    // parseKernelBtf does not check the graph (parseBtf refuses both).
    const btf = parseKernelBtf(encodeBtf([{ kind: BtfKind.Void, id: 0, name: '' }, int, self(2, 'loop')]), { file: 'self.btf' });
    expect(prepareCDumpWasm(flatBtf(btf))).toBeUndefined();
    expect(() => dumpC(btf, () => {})).toThrow("struct 'loop' (id 2) contains itself by value");
    // Nesting past the JavaScript's bound (2048) through arrays of arrays.
    const deep: BtfType[] = [{ kind: BtfKind.Void, id: 0, name: '' }, int];
    for (let id = 2; id < 2200; id++) deep.push({ kind: BtfKind.Array, id, name: '', type: id - 1, indexType: 1, nelems: 1 });
    deep.push({ kind: BtfKind.Typedef, id: 2200, name: 'deep', type: 2199 });
    const d = parseKernelBtf(encodeBtf(deep), { file: 'deep.btf' });
    expect(prepareCDumpWasm(flatBtf(d))).toBeUndefined();
    expect(() => dumpC(d, () => {})).toThrow('nests too deeply');
    // A layout TypeLayout refuses (a bitfield of a type with no size): the queue, but no layout
    // from WebAssembly, and the dump throws TypeLayout's error.
    const bad = parseKernelBtf(
      encodeBtf([
        { kind: BtfKind.Void, id: 0, name: '' },
        int,
        { kind: BtfKind.FuncProto, id: 2, name: '', returnType: 1, params: [] },
        { kind: BtfKind.Struct, id: 3, name: 'odd', size: 4, kflag: true, members: [{ name: 'f', type: 2, bitOffset: 0, bitfieldSize: 3 }] },
      ] as BtfType[]),
      { file: 'odd.btf' },
    );
    const prep = prepareCDumpWasm(flatBtf(bad));
    expect(Array.from(prep!.queue)).toEqual([3]);
    expect(prep!.align).toBeUndefined();
    expect(() => dumpC(bad, () => {})).toThrow('has no size');
  });

  // Names made unique by the WebAssembly's keys (a dump of every type) against names counted by
  // their strings (a dump of ids, the JavaScript path): the same header.
  const byStrings = (btf: Btf): string => {
    const ids = Array.from({ length: btf.count - 1 }, (_, i) => i + 1);
    let text = '';
    dumpC(btf, (s) => (text += s), { ids, kfuncs: true });
    return text;
  };
  const byKeys = (btf: Btf): string => {
    let text = '';
    dumpC(btf, (s) => (text += s));
    return text;
  };

  it('names by key and members written in WebAssembly give the JavaScript header (the kernel BTF)', () => {
    if (need(fs.existsSync(VMLINUX), 'no kernel BTF')) return;
    const btf = parseKernelBtf(fs.readFileSync(VMLINUX), { file: VMLINUX });
    const prep = prepareCDumpWasm(flatBtf(btf))!;
    expect(prep.keys).toBeDefined();
    expect(prep.members).toBeDefined();
    expect(byKeys(btf)).toBe(byStrings(btf));
  });

  it('names by key and members written in WebAssembly give the JavaScript header (every fixture object)', () => {
    let n = 0;
    for (const f of ALL_OBJECTS) {
      const sec = parseElf(readFixture(f)).sectionByName('.BTF');
      if (!sec) continue;
      const btf = parseBtf(sec.data, { file: f });
      expect(byKeys(btf), f).toBe(byStrings(btf));
      n++;
    }
    expect(n).toBeGreaterThan(10);
  });

  it('whole items in WebAssembly beside the ones it declines (a 64-bit enum inside a struct, a type tag): the JavaScript header', () => {
    // What the items writer declines (the JavaScript writes those items) between items it writes,
    // sharing their name counts and the __bee_padN counter; holes over 1 KiB; function pointers
    // with varargs; qualifiers; nested anonymous members; a bool; a FWD of a defined struct.
    const types = [
      { kind: BtfKind.Void, id: 0, name: '' },
      { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      { kind: BtfKind.Struct, id: 2, name: 'big', size: 4096, kflag: false, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'b', type: 1, bitOffset: 3000 * 8, bitfieldSize: 0 }] },
      { kind: BtfKind.Enum64, id: 3, name: 'e64', size: 8, signed: false, values: [{ name: 'A', value: 1n }, { name: 'B', value: 0xffffffff00000000n }] },
      { kind: BtfKind.Struct, id: 4, name: 's', size: 4096, kflag: false, members: [{ name: 'x', type: 3, bitOffset: 0, bitfieldSize: 0 }, { name: 'y', type: 6, bitOffset: 64, bitfieldSize: 0 }, { name: 'z', type: 1, bitOffset: 2000 * 8, bitfieldSize: 0 }] },
      { kind: BtfKind.TypeTag, id: 5, name: 'user', type: 1 },
      { kind: BtfKind.Ptr, id: 6, name: '', type: 5 },
      { kind: BtfKind.Struct, id: 7, name: 'big', size: 4096, kflag: false, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'c', type: 1, bitOffset: 2048 * 8, bitfieldSize: 0 }] },
      { kind: BtfKind.FuncProto, id: 8, name: '', returnType: 10, params: [{ name: 'p', type: 11 }, { name: '', type: 0 }] },
      { kind: BtfKind.Ptr, id: 9, name: '', type: 8 },
      { kind: BtfKind.Typedef, id: 10, name: 'ret_t', type: 1 },
      { kind: BtfKind.Const, id: 11, name: '', type: 12 },
      { kind: BtfKind.Ptr, id: 12, name: '', type: 13 },
      { kind: BtfKind.Volatile, id: 13, name: '', type: 14 },
      { kind: BtfKind.Fwd, id: 14, name: 'later', union: false },
      { kind: BtfKind.Struct, id: 15, name: 'fp', size: 24, kflag: true, members: [
        { name: 'f', type: 9, bitOffset: 0, bitfieldSize: 0 },
        { name: '', type: 16, bitOffset: 64, bitfieldSize: 0 },
        { name: 'flag', type: 18, bitOffset: 128, bitfieldSize: 1 },
        { name: 'bits', type: 1, bitOffset: 131, bitfieldSize: 5 },
      ] },
      { kind: BtfKind.Union, id: 16, name: '', size: 8, kflag: false, members: [{ name: 'u', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'arr', type: 17, bitOffset: 0, bitfieldSize: 0 }] },
      { kind: BtfKind.Array, id: 17, name: '', type: 9, indexType: 1, nelems: 1 },
      { kind: BtfKind.Int, id: 18, name: 'bool', size: 1, encoding: 4, bitOffset: 0, bits: 8 },
      { kind: BtfKind.Struct, id: 19, name: 'later', size: 4, kflag: false, members: [{ name: 'v', type: 1, bitOffset: 0, bitfieldSize: 0 }] },
    ] as BtfType[];
    const btf = parseBtf(encodeBtf(types), { file: 'items.btf' });
    const prep = prepareCDumpWasm(flatBtf(btf))!;
    expect(prep.items).toBeDefined();
    const text = byKeys(btf);
    expect(text).toBe(byStrings(btf));
    for (const pad of ['__bee_pad0[', '__bee_pad1[', '__bee_pad2[']) expect(text.split(pad).length, pad).toBe(2);
    expect(text).toContain('struct big___2 {');
    expect(text).toContain('\tret_t (*f)(volatile struct later *const, ...);');
    expect(text).toContain('\t\tret_t (*arr[1])(volatile struct later *const, ...);');
    expect(text).toContain('\t_Bool flag: 1;');
    expect(text).toContain('B = 18446744069414584320ULL,');
  });

  it("a packed struct's member after a bitfield: no padding before it, in the full dump and in a dump of ids (libbpf's btf_dump: a packed member aligns to a byte)", () => {
    // The compiler puts a packed struct's non-bitfield member on the next byte after a bitfield;
    // a dump of ids wrote a needless 'char: 7;' there (compositeDef aligned packed members to a bit).
    const raw = encodeBtf([
      { kind: BtfKind.Void, id: 0, name: '' },
      { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
      { kind: BtfKind.Int, id: 2, name: 'char', size: 1, encoding: 1, bitOffset: 0, bits: 8 },
      { kind: BtfKind.Struct, id: 3, name: 'p', size: 2, kflag: true, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 1 }, { name: 'b', type: 2, bitOffset: 8, bitfieldSize: 0 }] },
    ] as BtfType[]);
    const btf = parseBtf(raw, { file: 'packed.btf' });
    const ours = 'struct p {\n\tint a: 1;\n\tchar b;\n} __attribute__((packed));';
    expect(byKeys(btf)).toContain(ours);
    expect(byStrings(btf)).toBe(byKeys(btf));
    // The reference: bpftool's header for the same BTF has the same struct.
    if (need(hasCommand('bpftool'), 'bpftool is not installed')) return;
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-ts-packed-'));
    try {
      fs.writeFileSync(path.join(dir, 'p.btf'), raw);
      expect(run('bpftool', ['btf', 'dump', 'file', path.join(dir, 'p.btf'), 'format', 'c'])).toContain(ours);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('keys name equal strings at different offsets alike, and an enumerator named twice in one enum once', () => {
    // A string section that repeats names (not deduplicated), built by hand.
    const strs = ['', 'int', 'dup', 'dup', 'a', 'X', 'X', 'e', 'X', 'dup', 'f'];
    const at: number[] = [];
    let len = 0;
    for (const x of strs) {
      at.push(len);
      len += x.length + 1;
    }
    const info = (kind: number, vlen: number): number => ((kind << 24) | vlen) >>> 0;
    const words = [
      at[1]!, info(BtfKind.Int, 0), 4, (1 << 24) | 32, // 1: int
      at[2]!, info(BtfKind.Struct, 1), 4, at[4]!, 1, 0, // 2: struct dup { int a; }
      at[3]!, info(BtfKind.Struct, 1), 4, at[4]!, 1, 0, // 3: struct dup (another copy of the string)
      at[7]!, info(BtfKind.Enum, 2), 4, at[5]!, 1, at[6]!, 2, // 4: enum e { X = 1, X = 2 } (two copies)
      0, info(BtfKind.Enum, 1), 4, at[8]!, 3, // 5: enum { X = 3 }
      at[9]!, info(BtfKind.Typedef, 0), 2, // 6: typedef struct dup dup (the identifier namespace)
      at[10]!, info(BtfKind.Struct, 2), 8, at[4]!, 3, 0, at[4]!, 6, 32, // 7: struct f { struct dup a; dup a; }
    ];
    const types = Buffer.from(new Uint32Array(words).buffer);
    const strings = Buffer.from(strs.map((x) => x + '\0').join(''), 'latin1');
    const hdr = Buffer.alloc(24);
    hdr.writeUInt16LE(0xeb9f, 0);
    hdr.writeUInt8(1, 2);
    hdr.writeUInt32LE(24, 4);
    hdr.writeUInt32LE(0, 8);
    hdr.writeUInt32LE(types.length, 12);
    hdr.writeUInt32LE(types.length, 16);
    hdr.writeUInt32LE(strings.length, 20);
    const btf = parseBtf(Buffer.concat([hdr, types, strings]), { file: 'dups.btf' });
    const prep = prepareCDumpWasm(flatBtf(btf))!;
    expect(prep.keys).toBeDefined();
    const f = flatBtf(btf);
    // Both structs' names one key, both X's of enum e and the anonymous enum's X one key.
    expect(prep.keys![f.offs[2]!]).toBe(prep.keys![f.offs[3]!]);
    expect(prep.keys![f.offs[4]! + 3]).toBe(prep.keys![f.offs[4]! + 5]);
    const text = byKeys(btf);
    expect(text).toBe(byStrings(btf));
    expect(text).toContain('struct dup___2 {');
    expect(text).toContain('enum e {\n\tX = 1,\n\tX = 2,\n};');
    expect(text).toContain('\tX___2 = 3,');
  });
});
