// BTF sanitizing without a kernel: the object's BTF is loaded through the fake backend, which
// records the blob BPF_BTF_LOAD is given; the blob is parsed back and each kind the "kernel"
// lacks must have been rewritten as libbpf's bpf_object__sanitize_btf does (VAR → INT, DATASEC →
// STRUCT, FUNC → TYPEDEF, FUNC_PROTO → ENUM, FLOAT → empty STRUCT, DECL_TAG → INT, TYPE_TAG →
// CONST, ENUM64 → empty UNION, global FUNCs → static), and nothing else changed.
import { afterEach, describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { encodeBtf } from '../src/btf/encode.js';
import { BtfKind, type BtfType, FUNC_GLOBAL, FUNC_STATIC, VAR_GLOBAL } from '../src/btf/types.js';
import { type BtfSupport, loadObjectBtf } from '../src/loader/btf-load.js';
import { useBackend } from '../src/syscall/backend.js';
import { FakeBackend } from '../src/syscall/fake.js';

const TYPES: BtfType[] = [
  { kind: BtfKind.Void, id: 0, name: '' },
  { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 },
  { kind: BtfKind.Var, id: 2, name: 'counter', type: 1, linkage: VAR_GLOBAL },
  { kind: BtfKind.Datasec, id: 3, name: '.bss', size: 4, vars: [{ type: 2, offset: 0, size: 4 }] },
  { kind: BtfKind.FuncProto, id: 4, name: '', returnType: 1, params: [{ name: 'ctx', type: 1 }] },
  { kind: BtfKind.Func, id: 5, name: 'prog', type: 4, linkage: FUNC_GLOBAL },
  { kind: BtfKind.Float, id: 6, name: 'double', size: 8 },
  { kind: BtfKind.DeclTag, id: 7, name: 'tag', type: 5, componentIdx: -1, attribute: false },
  { kind: BtfKind.TypeTag, id: 8, name: 'user', type: 1 },
  { kind: BtfKind.Enum64, id: 9, name: 'big', size: 8, signed: false, values: [{ name: 'B', value: 1n << 40n }] },
];
const ALL: BtfSupport = { datasec: true, func: true, funcGlobal: true, float: true, declTag: true, typeTag: true, enum64: true };
const NONE: BtfSupport = { datasec: false, func: false, funcGlobal: false, float: false, declTag: false, typeTag: false, enum64: false };

let restore: (() => void) | undefined;
afterEach(() => {
  restore?.();
  restore = undefined;
});

/** Load TYPES for a "kernel" with `support`; returns the BTF the fake was given, parsed back. */
function loaded(support: BtfSupport) {
  const fake = new FakeBackend();
  restore = useBackend(fake);
  const btf = parseBtf(encodeBtf(TYPES), { file: 'sanitize.o' });
  const fd = loadObjectBtf(btf, support, 'sanitize.o');
  fd.close();
  expect(fake.btfLoads).toHaveLength(1);
  return parseBtf(fake.btfLoads[0]!, { file: 'loaded' });
}

describe('BTF sanitizing through the fake backend (the BPF_BTF_LOAD blob)', () => {
  it('a kernel with every kind gets the types unchanged', () => {
    const got = loaded(ALL);
    expect(got.types.map((t) => t.kind)).toEqual(TYPES.map((t) => t.kind));
    expect(got.typeById(5)).toMatchObject({ kind: BtfKind.Func, name: 'prog', linkage: FUNC_GLOBAL });
    expect(got.typeById(9)).toMatchObject({ kind: BtfKind.Enum64, values: [{ name: 'B', value: 1n << 40n }] });
  });

  it('a kernel with none of them gets each rewritten as libbpf does, ids and sizes kept', () => {
    const got = loaded(NONE);
    expect(got.types.map((t) => BtfKind[t.kind])).toEqual(['Void', 'Int', 'Int', 'Struct', 'Enum', 'Typedef', 'Struct', 'Int', 'Const', 'Union']);
    expect(got.typeById(2)).toMatchObject({ name: 'counter', size: 1, bits: 8 });
    expect(got.typeById(3)).toMatchObject({ kind: BtfKind.Struct, size: 4, members: [{ name: 'counter', type: 2, bitOffset: 0 }] });
    expect(got.typeById(4)).toMatchObject({ kind: BtfKind.Enum, size: 4, values: [{ name: 'ctx', value: 0n }] });
    expect(got.typeById(5)).toMatchObject({ kind: BtfKind.Typedef, name: 'prog', type: 4 });
    expect(got.typeById(6)).toMatchObject({ kind: BtfKind.Struct, size: 8, members: [] });
    expect(got.typeById(8)).toMatchObject({ kind: BtfKind.Const, type: 1 });
    expect(got.typeById(9)).toMatchObject({ kind: BtfKind.Union, name: 'big', size: 8, members: [] });
  });

  it('only global functions missing: FUNCs become static, everything else stays', () => {
    const got = loaded({ ...ALL, funcGlobal: false });
    expect(got.types.map((t) => t.kind)).toEqual(TYPES.map((t) => t.kind));
    expect(got.typeById(5)).toMatchObject({ kind: BtfKind.Func, linkage: FUNC_STATIC });
  });
});
