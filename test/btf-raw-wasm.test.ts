// `btf dump ... format raw` in WebAssembly (src/btf/raw-wasm.ts, assembled by hand) against the
// JavaScript writers it stands in for (raw.ts, still the path without WebAssembly and for what the
// module declines): the same bytes on the kernel's BTF, every fixture, a Debian module's split BTF
// and hand-made records of every kind and edge (negative values, unknown encodings and linkages, a
// DATASEC entry past the last id, ENUM64 between other types, a name too long for the output
// area). bpftool's side is test/btf.test.ts's ("raw dump matches bpftool").
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Btf, parseBtf, parseKernelBtf } from '../src/btf/btf.js';
import { flatBtf } from '../src/btf/flat.js';
import { dumpRawBytes } from '../src/btf/raw.js';
import { rawDumpWasm } from '../src/btf/raw-wasm.js';
import { BtfKind } from '../src/btf/types.js';
import { parseElf } from '../src/elf/reader.js';
import { readBtfBytes } from '../src/loader/btf-files.js';
import { debianKernel } from './debian-kernels.js';
import { ALL_OBJECTS, isRoot, need, readFixture } from './helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** Both writers' bytes, and every chunk the WebAssembly path handed on (each must end a line). */
function both(btf: Btf): { wasm: Buffer; js: Buffer; chunks: Buffer[] } {
  const chunks: Buffer[] = [];
  dumpRawBytes(btf, (b) => chunks.push(Buffer.from(b)), btf.firstId, true);
  const js: Buffer[] = [];
  dumpRawBytes(btf, (b) => js.push(Buffer.from(b)), btf.firstId, false);
  return { wasm: Buffer.concat(chunks), js: Buffer.concat(js), chunks };
}

function expectSame(btf: Btf): Buffer {
  const { wasm, js, chunks } = both(btf);
  expect(wasm.length).toBe(js.length);
  expect(wasm.equals(js)).toBe(true);
  for (const c of chunks) expect(c[c.length - 1]).toBe(10);
  return wasm;
}

/** A little-endian BTF blob from raw type words (each record as BTF lays it out) and its strings. */
function blob(words: number[], strings: string): Uint8Array {
  const str = Buffer.from(strings, 'latin1');
  const out = Buffer.alloc(24 + 4 * words.length + str.length);
  out.writeUInt16LE(0xeb9f, 0);
  out[2] = 1;
  out.writeUInt32LE(24, 4);
  out.writeUInt32LE(0, 8);
  out.writeUInt32LE(4 * words.length, 12);
  out.writeUInt32LE(4 * words.length, 16);
  out.writeUInt32LE(str.length, 20);
  words.forEach((w, i) => out.writeUInt32LE(w >>> 0, 24 + 4 * i));
  str.copy(out, 24 + 4 * words.length);
  return out;
}

/** info: kind, vlen, kflag. */
const info = (kind: number, vlen = 0, kflag = false) => ((kflag ? 1 << 31 : 0) | (kind << 24) | vlen) >>> 0;

/** The strings the records name, at the offsets S gives. */
const STR = '\0int\0a\0b\0val\0.data\0';
const S = { int: 1, a: 5, b: 7, val: 9, data: 13 };

describe('raw dump: WebAssembly against JavaScript', () => {
  it('hand-made records of every kind, with the edges each writer has a branch for', () => {
    const w: number[] = [];
    const rec = (name: number, i: number, sizeOrType: number, ...rest: number[]) => w.push(name, i, sizeOrType, ...rest);
    // 1-5: INT with each encoding (signed, char, bool, none, unknown), bit offsets and sizes.
    for (const [enc, off, bits] of [[1, 0, 32], [2, 0, 8], [4, 0, 1], [0, 3, 5], [8, 255, 255]] as const) rec(S.int, info(BtfKind.Int), 4, (enc << 24) | (off << 16) | bits);
    // 6-11: the reference kinds.
    for (const k of [BtfKind.Ptr, BtfKind.Typedef, BtfKind.Volatile, BtfKind.Const, BtfKind.Restrict, BtfKind.TypeTag]) rec(k === BtfKind.Ptr ? 0 : S.a, info(k), 1);
    // 12: ARRAY; 13: STRUCT with kflag (a bitfield and a plain member); 14: UNION without kflag, an anonymous member.
    rec(0, info(BtfKind.Array), 0, 1, 1, 4294967295);
    rec(S.a, info(BtfKind.Struct, 2, true), 8, S.a, 1, (3 << 24) | 5, S.b, 1, 32);
    rec(0, info(BtfKind.Union, 2), 4, 0, 1, 0, S.b, 2, 0xffffffff);
    // 15: ENUM signed (negative values, INT_MIN); 16: ENUM unsigned (values past 2^31).
    rec(S.val, info(BtfKind.Enum, 3, true), 4, S.a, -1, S.b, -2147483648, S.val, 7);
    rec(S.val, info(BtfKind.Enum, 2), 4, S.a, 0x80000000, S.b, 0xffffffff);
    // 17: ENUM64 (the JavaScript's) between other kinds, a value over 32 bits; 18-19: FWD struct / union.
    rec(S.val, info(BtfKind.Enum64, 2, true), 8, S.a, 1, 0xffffffff, S.b, 5, 0);
    rec(S.a, info(BtfKind.Fwd), 0);
    rec(S.b, info(BtfKind.Fwd, 0, true), 0);
    // 20: FUNC_PROTO with an anonymous parameter; 21-24: FUNC of each linkage and an unknown one.
    rec(0, info(BtfKind.FuncProto, 2), 1, S.a, 1, 0, 0);
    for (const l of [0, 1, 2, 9]) rec(S.b, info(BtfKind.Func, l), 20);
    // 25-26: VAR global and an unknown linkage; 27: FLOAT; 28-29: DECL_TAG on the type and on component 1.
    rec(S.a, info(BtfKind.Var), 1, 1);
    rec(S.b, info(BtfKind.Var), 1, 7);
    rec(S.int, info(BtfKind.Float), 8);
    rec(S.val, info(BtfKind.DeclTag), 13, 0xffffffff);
    rec(S.val, info(BtfKind.DeclTag), 13, 1);
    // 30: DATASEC: a VAR, void, and an id past the last one (UNKN).
    rec(S.data, info(BtfKind.Datasec, 3), 16, 25, 0, 4, 0, 4, 4, 9999, 8, 8);
    // 31: ENUM64 last.
    rec(0, info(BtfKind.Enum64, 1), 8, S.a, 0, 1);
    // parseKernelBtf walks the records only (parseBtf would refuse the id past the last one).
    const btf = parseKernelBtf(blob(w, STR), { file: 'kinds.btf' });
    expect(btf.count).toBe(32);
    const text = expectSame(btf).toString('latin1');
    // A few lines, as bpftool writes them.
    expect(text).toContain("[4] INT 'int' size=4 bits_offset=3 nr_bits=5 encoding=(none)\n");
    expect(text).toContain("[5] INT 'int' size=4 bits_offset=255 nr_bits=255 encoding=(unknown)\n");
    expect(text).toContain("[13] STRUCT 'a' size=8 vlen=2\n\t'a' type_id=1 bits_offset=5 bitfield_size=3\n\t'b' type_id=1 bits_offset=32\n");
    expect(text).toContain("[15] ENUM 'val' encoding=SIGNED size=4 vlen=3\n\t'a' val=-1\n\t'b' val=-2147483648\n");
    expect(text).toContain("\t'b' val=4294967295\n");
    expect(text).toContain("[17] ENUM64 'val' encoding=SIGNED size=8 vlen=2\n\t'a' val=-4294967295LL\n");
    expect(text).toContain("[24] FUNC 'b' type_id=20 linkage=(unknown)\n");
    expect(text).toContain("[26] VAR 'b' type_id=1, linkage=(unknown)\n");
    expect(text).toContain("[28] DECL_TAG 'val' type_id=13 component_idx=-1\n");
    expect(text).toContain("[30] DATASEC '.data' size=16 vlen=3\n\ttype_id=25 offset=0 size=4 (VAR 'a')\n\ttype_id=0 offset=4 size=4 (UNKN '(anon)')\n\ttype_id=9999 offset=8 size=8 (UNKN)\n");
    expect(text.endsWith("[31] ENUM64 '(anon)' encoding=UNSIGNED size=8 vlen=1\n\t'a' val=4294967296ULL\n")).toBe(true);
  });

  it('a name longer than the output area: the module traps, and the JavaScript writes from that call on', () => {
    const long = 'n'.repeat(3 << 20);
    const w = [1, info(BtfKind.Int), 4, (1 << 24) | 32, 0, info(BtfKind.Ptr), 1, 1 + long.length + 1, info(BtfKind.Typedef), 2];
    const btf = parseKernelBtf(blob(w, `\0${long}\0t\0`), { file: 'long.btf' });
    const fast = rawDumpWasm(flatBtf(btf))!;
    expect(fast).toBeDefined();
    expect(() => fast.dump(1, btf.count)).toThrow();
    const text = expectSame(btf).toString('latin1');
    expect(text.endsWith("[3] TYPEDEF 't' type_id=2\n")).toBe(true);
  });

  it('every fixture', () => {
    for (const name of ALL_OBJECTS) {
      const sec = parseElf(readFixture(name), name).sectionByName('.BTF');
      if (sec) expectSame(parseBtf(sec.data, { file: name }));
    }
    expect(ALL_OBJECTS.length).toBeGreaterThan(10);
  });

  it('the kernel BTF, in chunks of whole lines', () => {
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const btf = parseKernelBtf(fs.readFileSync(VMLINUX), { file: VMLINUX });
    const { chunks } = both(btf);
    expect(chunks.length).toBeGreaterThan(4);
    expect(expectSame(btf).length).toBeGreaterThan(1 << 20);
  });

  it("a module's split BTF (Debian 6.12 nf_conntrack.ko): only its own types, over the base's strings", () => {
    if (need(isRoot, 'the Debian kernel cache is root-only')) return;
    const k = debianKernel('6.12');
    const base = parseKernelBtf(readBtfBytes(k.vmlinux), { file: k.vmlinux });
    const mod = parseKernelBtf(readBtfBytes(k.module), { file: k.module, base });
    const text = expectSame(mod).toString('latin1');
    expect(text.startsWith(`[${mod.firstId}] `)).toBe(true);
  }, 600_000);
});
