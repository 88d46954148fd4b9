// BTF dedup (src/btf/dedup.ts) on type graphs built here, no kernel: what libbpf's btf__dedup
// merges and what it keeps apart, the order of the surviving types, remapped ids, strings.
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { dedupBtf } from '../src/btf/dedup.js';
import { encodeBtf } from '../src/btf/encode.js';
import { BtfKind, type BtfType, FUNC_GLOBAL, VAR_GLOBAL } from '../src/btf/types.js';

/** A type record without its id (Omit distributed over the kinds). */
type Rec = BtfType extends infer T ? (T extends BtfType ? Omit<T, 'id'> : never) : never;
const VOID: BtfType = { kind: BtfKind.Void, id: 0, name: '' };
/** Types from records without ids (index + 1 = id). */
const mk = (...ts: Rec[]): BtfType[] => [VOID, ...ts.map((t, i) => ({ ...t, id: i + 1 }) as BtfType)];
const int = (name = 'int', size = 4): Rec => ({ kind: BtfKind.Int, name, size, encoding: 1, bitOffset: 0, bits: size * 8 });
const ptr = (type: number): Rec => ({ kind: BtfKind.Ptr, name: '', type });
const struct = (name: string, size: number, members: [string, number, number][]): Rec => ({
  kind: BtfKind.Struct,
  name,
  size,
  kflag: false,
  members: members.map(([n, type, off]) => ({ name: n, type, bitOffset: off, bitfieldSize: 0 })),
});
const fwd = (name: string): Rec => ({ kind: BtfKind.Fwd, name, union: false });
/** A compact text of the result, one type a line, ids as numbers. */
const show = (ts: readonly BtfType[]) =>
  ts.slice(1).map((t) => {
    switch (t.kind) {
      case BtfKind.Struct:
      case BtfKind.Union:
        return `${t.id} ${t.kind === BtfKind.Struct ? 'struct' : 'union'} ${t.name} {${t.members.map((m) => `${m.name}:${m.type}`).join(',')}}`;
      case BtfKind.FuncProto:
        return `${t.id} proto ${t.returnType}(${t.params.map((p) => p.type).join(',')})`;
      case BtfKind.Datasec:
        return `${t.id} datasec ${t.name} [${t.vars.map((v) => `${v.type}@${v.offset}`).join(',')}]`;
      case BtfKind.Array:
        return `${t.id} array ${t.type}[${t.nelems}]`;
      case BtfKind.Enum:
      case BtfKind.Enum64:
        return `${t.id} ${t.kind === BtfKind.Enum ? 'enum' : 'enum64'} ${t.name} size=${t.size} vlen=${t.values.length}`;
      default:
        return `${t.id} ${BtfKind[t.kind].toLowerCase()} ${t.name}${'type' in t ? ` -> ${t.type}` : ''}`;
    }
  });

describe('BTF dedup', () => {
  it('two copies of one compilation unit (a self-referencing list, a typedef, a func) become one, in first-seen order', () => {
    // CU: int; struct node { int v; struct node *next; }; typedef struct node node_t; int f(node_t *)
    const cu = (b: number) => [int(), struct('node', 16, [['v', b + 1, 0], ['next', b + 3, 64]]), ptr(b + 2), { kind: BtfKind.Typedef, name: 'node_t', type: b + 2 }, ptr(b + 4), { kind: BtfKind.FuncProto, name: '', returnType: b + 1, params: [{ name: 'n', type: b + 5 }] }, { kind: BtfKind.Func, name: 'f', type: b + 6, linkage: FUNC_GLOBAL }] as Rec[];
    const ts = mk(...cu(0), ...cu(7));
    const d = dedupBtf(ts);
    expect(show(d.types)).toEqual(['1 int int', '2 struct node {v:1,next:3}', '3 ptr  -> 2', '4 typedef node_t -> 2', '5 ptr  -> 4', '6 proto 1(5)', '7 func f -> 6']);
    for (let i = 1; i <= 7; i++) expect(d.typeId(i + 7), `${i + 7}`).toBe(i);
  });

  it('a FWD in one unit resolves to the other unit\'s STRUCT when the graphs agree; an unrelated FWD stays (linux-6.1), or resolves by name (libbpf-1.1)', () => {
    // CU1: struct s { struct t *p; } with t only declared; CU2: the same s, t defined; and a
    // pointer to a declared u beside a defined u that no struct graph links to it.
    const ts = mk(
      struct('s', 8, [['p', 2, 0]]), // 1
      ptr(3), // 2
      fwd('t'), // 3
      struct('s', 8, [['p', 5, 0]]), // 4
      ptr(6), // 5
      struct('t', 4, [['x', 7, 0]]), // 6
      int(), // 7
      fwd('u'), // 8
      ptr(8), // 9
      struct('u', 4, [['y', 7, 0]]), // 10
    );
    const a = dedupBtf(ts);
    expect(show(a.types)).toEqual(['1 struct s {p:2}', '2 ptr  -> 3', '3 struct t {x:4}', '4 int int', '5 fwd u', '6 ptr  -> 5', '7 struct u {y:4}']);
    expect(a.typeId(3)).toBe(a.typeId(6));
    expect(a.typeId(8)).not.toBe(a.typeId(10));
    const b = dedupBtf(ts, { flavor: 'libbpf-1.1' });
    expect(b.typeId(8)).toBe(b.typeId(10));
    expect(b.types.some((t) => t.kind === BtfKind.Fwd)).toBe(false);
  });

  it('structs of one name but different members, and ints of different size, stay apart', () => {
    const ts = mk(int(), int('int', 8), struct('s', 4, [['a', 1, 0]]), struct('s', 4, [['b', 1, 0]]), struct('s', 8, [['a', 2, 0]]), int());
    const d = dedupBtf(ts);
    expect(d.types.length - 1).toBe(5);
    expect(d.typeId(6)).toBe(d.typeId(1));
  });

  it('an enum forward takes the full enum; ENUM and ENUM64 dedup apart in linux-6.1 and meet in libbpf-1.1', () => {
    const e = (kind: BtfKind.Enum | BtfKind.Enum64, size: number, n: number): Rec => ({ kind, name: 'e', size, signed: false, values: Array.from({ length: n }, (_, i) => ({ name: `E${i}`, value: BigInt(i) })) });
    const ts = mk(e(BtfKind.Enum, 4, 0), e(BtfKind.Enum, 4, 2), e(BtfKind.Enum64, 8, 2), e(BtfKind.Enum, 4, 2));
    const k = dedupBtf(ts);
    expect(show(k.types)).toEqual(['1 enum e size=4 vlen=2', '2 enum64 e size=8 vlen=2']);
    expect([1, 2, 3, 4].map((i) => k.typeId(i))).toEqual([1, 1, 2, 1]);
    // libbpf 1.1: a canonical forward is re-pointed at each later full enum of its name, whatever
    // its kind and size, so it ends at the ENUM64 (type 3) while type 4 still meets type 2.
    const l = dedupBtf(ts, { flavor: 'libbpf-1.1' });
    expect(l.types.length - 1).toBe(2);
    expect([1, 2, 3, 4].map((i) => l.typeId(i))).toEqual([2, 1, 2, 1]);
  });

  it('VAR and DATASEC are never merged; their ids, and .BTF.ext ids, follow the surviving types', () => {
    const ts = mk(int(), { kind: BtfKind.Var, name: 'a', type: 1, linkage: VAR_GLOBAL }, int(), { kind: BtfKind.Var, name: 'a', type: 3, linkage: VAR_GLOBAL }, { kind: BtfKind.Datasec, name: '.bss', size: 8, vars: [{ type: 2, offset: 0, size: 4 }, { type: 4, offset: 4, size: 4 }] });
    const d = dedupBtf(ts);
    expect(show(d.types)).toEqual(['1 int int', '2 var a -> 1', '3 var a -> 1', '4 datasec .bss [2@0,3@4]']);
    expect(d.typeId(3)).toBe(1);
    expect(d.typeId(5)).toBe(4);
  });

  it('arrays and structs the compiler emitted twice within one struct graph are accepted as identical', () => {
    // struct w { int a[2]; int b[2]; } in CU1 uses two identical ARRAY types; CU2 uses one.
    const arr = (t: number): Rec => ({ kind: BtfKind.Array, name: '', type: t, indexType: t, nelems: 2 });
    const ts = mk(int(), arr(1), arr(1), struct('w', 16, [['a', 2, 0], ['b', 3, 64]]), int(), arr(5), struct('w', 16, [['a', 6, 0], ['b', 6, 64]]));
    const d = dedupBtf(ts);
    expect(d.typeId(7)).toBe(d.typeId(4));
    expect(show(d.types)).toEqual(['1 int int', '2 array 1[2]', '3 struct w {a:2,b:2}']);
  });

  it('strings: without a given table each used string once in first-use order, .BTF.ext strings after the types; with one, that table as given', () => {
    const ts = mk(int(), struct('s', 4, [['x', 1, 0]]), int(), struct('s', 4, [['x', 3, 0]]));
    const d = dedupBtf(ts, { extStrings: ['.text', 'file.c', 'x'] });
    expect(Buffer.from(d.strings).toString('latin1')).toBe('\0int\0s\0x\0.text\0file.c\0');
    expect(d.stringOffset('.text')).toBe(9);
    const g = dedupBtf(ts, { strings: ['unused', 'int', 's', 'x'] });
    expect(Buffer.from(g.strings).toString('latin1')).toBe('\0unused\0int\0s\0x\0');
    // The result encodes and parses back to the same types.
    const back = parseBtf(encodeBtf(d.types, true, d.strings)).types;
    expect(show(back)).toEqual(show(d.types));
  });

  it('a reference loop without a STRUCT is refused with a typed error', () => {
    const ts = mk({ kind: BtfKind.Ptr, name: '', type: 2 }, { kind: BtfKind.Const, name: '', type: 1 });
    expect(() => dedupBtf(ts)).toThrow(/reference loop/);
  });
});
