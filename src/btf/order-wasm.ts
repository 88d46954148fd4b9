// The C dumper's first phase (cdump.ts's orderType over every type, with the `referenced` marks it
// reads), and then every struct's and union's alignment and packing (layout.ts's TypeLayout), as a
// small hand-assembled WebAssembly module. On vmlinux that walk is ~200k recursive
// calls: as JavaScript in a one-shot `btf dump ... format c` it ran interpreted while TurboFan
// compiled it (~50 ms of the process's CPU here), where Liftoff compiles this module at once and
// the walk takes a few ms. It writes only the queue of ids to define, in cdump.ts's order; any
// error (a struct that contains itself, nesting past 2048, a stack overflow) traps, and the caller
// then orders in JavaScript, which throws its own error. `test/cdump.test.ts` holds the two walks
// to the same queue.
import type { FlatBtf } from './flat.js';
import {
  ADD, AND, BLOCK, BR, BR_IF, DIV_U, DROP, ELSE, END, EQ, EQZ, GE_U, GT_S, GT_U, I32, IF, LITTLE_ENDIAN, LOOP, MUL, NE, OR, REM_U, RETURN, SHL, SHR_U, SUB, UNREACHABLE, VOID,
  type Code, call, get, i32, load, load8, set, store, store8, wasmApi, wasmModule,
} from './wasm-asm.js';
import { BtfKind } from './types.js';

// The header at address 0: the arrays' byte addresses, the queue length and the type count.
const H_WORDS = 0;
const H_OFFS = 4;
const H_KINDS = 8;
const H_STR = 12;
const H_ORDER = 16;
const H_REF = 20;
const H_QUEUE = 24;
const H_QLEN = 28;
const H_COUNT = 32;
const H_ALIGN = 36;
const H_PACKED = 40;
/** Per kind (20 bytes): which of a record's words refer to types, for the `referenced` marks. */
const H_REFCLASS = 64;
const DATA = 128;

const ORD = 0;
const REFS = 1;
const ALIGN = 3;
const SIZE = 4;

/** The layout's addresses, baked into the code as constants (the module is assembled per dump). */
let L: number[] = [];
const hdr = (at: number): Code => (at === H_QLEN ? [i32(0), load(at)] : i32(L[at / 4]!));
const when = (cond: Code, body: Code): Code => [cond, IF, VOID, body, END];
const ret = (v: number): Code => [i32(v), RETURN];
/** Count down local `n` (clobbered), running `body` each time. */
const repeat = (n: number, body: Code): Code => [BLOCK, VOID, LOOP, VOID, get(n), EQZ, BR_IF, 1, body, get(n), i32(1), SUB, set(n), BR, 0, END, END];
const kindIs = (k: number, ...kinds: number[]): Code => kinds.map((x, i) => [get(k), i32(x), EQ, i ? OR : []]);

// ord(id, throughPtr, depth) -> strong: cdump.ts's orderType, case for case.
const [ID, TP, DEPTH, K, A, N, Q, NAMED, S, T] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const recur = (idExpr: Code, tpExpr: Code): Code => [idExpr, tpExpr, get(DEPTH), i32(1), ADD, call(ORD)];
const push = (): Code => [
  hdr(H_QUEUE), hdr(H_QLEN), i32(2), SHL, ADD, get(ID), store(),
  i32(0), hdr(H_QLEN), i32(1), ADD, store(H_QLEN),
];
// named = the name offset is not 0 and its string not empty
const named = (): Code => [
  get(A), load(), set(T),
  get(T), IF, I32, hdr(H_STR), get(T), ADD, load8(), i32(0), NE, ELSE, i32(0), END, set(NAMED),
];
const sIs = (v: number): Code => [get(S), load8(), i32(v), EQ];
const setS = (v: number): Code => [get(S), i32(v), store8()];
const ord = (): Code => [
  when([get(DEPTH), i32(2048), GT_S], [UNREACHABLE]),
  when([get(ID), hdr(H_COUNT), GE_U], ret(0)),
  hdr(H_KINDS), get(ID), ADD, load8(), set(K),
  hdr(H_WORDS), hdr(H_OFFS), get(ID), i32(2), SHL, ADD, load(), i32(2), SHL, ADD, set(A),
  hdr(H_ORDER), get(ID), ADD, set(S),
  when(kindIs(K, BtfKind.Ptr), [recur([get(A), load(8)], i32(1)), DROP, ret(0)]),
  when(kindIs(K, BtfKind.Array), [recur([get(A), load(12)], get(TP)), RETURN]),
  when(kindIs(K, BtfKind.Struct, BtfKind.Union), [
    when(sIs(2), ret(1)),
    named(),
    when([get(TP), get(NAMED), AND], ret(0)),
    when(sIs(1), [when(get(NAMED), [UNREACHABLE]), ret(1)]),
    setS(1),
    get(A), load(4), i32(0xffff), AND, set(N),
    get(A), i32(12), ADD, set(Q),
    repeat(N, [recur([get(Q), load(4)], i32(0)), DROP, get(Q), i32(12), ADD, set(Q)]),
    when(get(NAMED), push()),
    setS(2),
    ret(1),
  ]),
  when(kindIs(K, BtfKind.Enum, BtfKind.Enum64, BtfKind.Fwd), [
    when(sIs(2), ret(1)),
    named(),
    // named || (not FWD && has enumerators && nothing refers to it)
    get(NAMED), IF, I32, i32(1), ELSE,
    get(K), i32(BtfKind.Fwd), NE,
    get(A), load(4), i32(0xffff), AND, i32(0), NE, AND,
    hdr(H_REF), get(ID), ADD, load8(), EQZ, AND,
    END,
    IF, VOID, push(), END,
    setS(2),
    ret(1),
  ]),
  when(kindIs(K, BtfKind.Typedef), [
    when(sIs(2), ret(1)),
    when(sIs(1), ret(0)),
    setS(1),
    recur([get(A), load(8)], get(TP)), set(T),
    when([get(TP), get(T), EQZ, AND], [setS(0), ret(0)]),
    push(),
    setS(2),
    ret(1),
  ]),
  when(kindIs(K, BtfKind.Const, BtfKind.Volatile, BtfKind.Restrict, BtfKind.TypeTag), [recur([get(A), load(8)], get(TP)), RETURN]),
  when(kindIs(K, BtfKind.FuncProto), [
    recur([get(A), load(8)], i32(1)), DROP,
    get(A), load(4), i32(0xffff), AND, set(N),
    get(A), i32(12), ADD, set(Q),
    repeat(N, [recur([get(Q), load(4)], i32(1)), DROP, get(Q), i32(8), ADD, set(Q)]),
    ret(0),
  ]),
  i32(0),
];

// refs(): cdump.ts's `referenced` marks (a type some other type refers to), then run(): order
// every type that belongs in a header, returning the queue length.
const REF_ONE = 1; // the size/type word (2)
const REF_ARRAY = 2; // element and index types (words 3, 4)
const REF_MEMBERS = 3; // each member's type (entries of 3 words from word 3, the second)
const REF_PROTO = 4; // the return type and each parameter's (entries of 2 words, the second)
const REF_DATASEC = 5; // each variable (entries of 3 words, the first)
const REF_CLASS = new Uint8Array(20);
for (const k of [BtfKind.Ptr, BtfKind.Typedef, BtfKind.Const, BtfKind.Volatile, BtfKind.Restrict, BtfKind.TypeTag, BtfKind.Func, BtfKind.Var, BtfKind.DeclTag]) REF_CLASS[k] = REF_ONE;
REF_CLASS[BtfKind.Array] = REF_ARRAY;
REF_CLASS[BtfKind.Struct] = REF_CLASS[BtfKind.Union] = REF_MEMBERS;
REF_CLASS[BtfKind.FuncProto] = REF_PROTO;
REF_CLASS[BtfKind.Datasec] = REF_DATASEC;

const [RID, RA, RC, RN, RQ, RT] = [0, 1, 2, 3, 4, 5];
const mark = (expr: Code): Code => [expr, set(RT), when([get(RT), hdr(H_COUNT), GE_U, EQZ], [hdr(H_REF), get(RT), ADD, i32(1), store8()])];
const entries = (first: number, stride: number, at: number): Code => [
  get(RA), i32(first), ADD, set(RQ),
  repeat(RN, [mark([get(RQ), load(at)]), get(RQ), i32(stride), ADD, set(RQ)]),
];
const refs = (): Code => [
  i32(1), set(RID),
  BLOCK, VOID, LOOP, VOID,
  get(RID), hdr(H_COUNT), GE_U, BR_IF, 1,
  hdr(H_KINDS), get(RID), ADD, load8(), set(RC),
  i32(H_REFCLASS), get(RC), ADD, load8(), set(RC),
  hdr(H_WORDS), hdr(H_OFFS), get(RID), i32(2), SHL, ADD, load(), i32(2), SHL, ADD, set(RA),
  get(RA), load(4), i32(0xffff), AND, set(RN),
  when(kindIs(RC, REF_ONE), mark([get(RA), load(8)])),
  when(kindIs(RC, REF_ARRAY), [mark([get(RA), load(12)]), mark([get(RA), load(16)])]),
  when(kindIs(RC, REF_MEMBERS), entries(12, 12, 4)),
  when(kindIs(RC, REF_PROTO), [mark([get(RA), load(8)]), entries(12, 8, 4)]),
  when(kindIs(RC, REF_DATASEC), entries(12, 12, 0)),
  get(RID), i32(1), ADD, set(RID),
  BR, 0, END, END,
];
const [UID, UK] = [0, 1];
const run = (): Code => [
  call(REFS),
  i32(1), set(UID),
  BLOCK, VOID, LOOP, VOID,
  get(UID), hdr(H_COUNT), GE_U, BR_IF, 1,
  hdr(H_KINDS), get(UID), ADD, load8(), set(UK),
  // Only type declarations belong in a header.
  kindIs(UK, BtfKind.Func, BtfKind.Var, BtfKind.Datasec, BtfKind.DeclTag), EQZ,
  IF, VOID, get(UID), i32(0), i32(0), call(ORD), DROP, END,
  get(UID), i32(1), ADD, set(UID),
  BR, 0, END, END,
  hdr(H_QLEN),
];

// align(id, depth) and size(id, depth): layout.ts's TypeLayout.alignof and sizeof, case for case
// (its memo of alignments and packing filled for every struct and union by layout()); where
// TypeLayout throws (a loop, a type with no size, nesting past 32), these trap, and also on sizes
// past 32 bits, which TypeLayout computes as doubles.
const MAX_RESOLVE_DEPTH = 32;
const [LID, LDEPTH, LK, LA, LN, LQ, LAL, LR, LT, LOFF, LBITS, LPACKED, LKFLAG] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
const lrecur = (f: number, idExpr: Code): Code => [idExpr, get(LDEPTH), i32(1), ADD, call(f)];
const lhead = (): Code => [
  when([get(LDEPTH), i32(MAX_RESOLVE_DEPTH), GT_S], [UNREACHABLE]),
  hdr(H_KINDS), get(LID), ADD, load8(), set(LK),
  hdr(H_WORDS), hdr(H_OFFS), get(LID), i32(2), SHL, ADD, load(), i32(2), SHL, ADD, set(LA),
];
const align = (): Code => [
  when([get(LDEPTH), i32(MAX_RESOLVE_DEPTH), GT_S], [UNREACHABLE]),
  when([get(LID), hdr(H_COUNT), GE_U], ret(1)),
  hdr(H_ALIGN), get(LID), ADD, load8(), set(LT),
  when(get(LT), [get(LT), RETURN]),
  lhead(),
  i32(1), set(LR),
  when(kindIs(LK, BtfKind.Int, BtfKind.Float, BtfKind.Enum, BtfKind.Enum64), [
    get(LA), load(8), set(LT),
    get(LT), i32(8), GT_U, IF, I32, i32(8), ELSE, get(LT), EQZ, IF, I32, i32(1), ELSE, get(LT), END, END, set(LR),
  ]),
  when(kindIs(LK, BtfKind.Ptr), [i32(8), set(LR)]),
  when(kindIs(LK, BtfKind.Array), [lrecur(ALIGN, [get(LA), load(12)]), set(LR)]),
  when(kindIs(LK, BtfKind.Typedef, BtfKind.Const, BtfKind.Volatile, BtfKind.Restrict, BtfKind.TypeTag, BtfKind.Var), [lrecur(ALIGN, [get(LA), load(8)]), set(LR)]),
  when(kindIs(LK, BtfKind.Struct, BtfKind.Union), [
    // memberAlign: the largest member alignment
    i32(1), set(LAL),
    get(LA), load(4), i32(0xffff), AND, set(LN),
    get(LA), i32(12), ADD, set(LQ),
    repeat(LN, [
      lrecur(ALIGN, [get(LQ), load(4)]), set(LT),
      when([get(LT), get(LAL), GT_U], [get(LT), set(LAL)]),
      get(LQ), i32(12), ADD, set(LQ),
    ]),
    // packedWith: the size not a multiple of it, or a member off its alignment (a bitfield across its unit)
    get(LA), load(8), get(LAL), REM_U, i32(0), NE, set(LPACKED),
    get(LPACKED), IF, I32, i32(0), ELSE, get(LA), load(4), i32(0xffff), AND, END, set(LN),
    get(LA), load(4), i32(31), SHR_U, set(LKFLAG),
    get(LA), i32(12), ADD, set(LQ),
    repeat(LN, [
      get(LQ), load(8), set(LOFF),
      i32(0), set(LBITS),
      when(get(LKFLAG), [get(LOFF), i32(24), SHR_U, set(LBITS), get(LOFF), i32(0xffffff), AND, set(LOFF)]),
      get(LBITS), IF, VOID,
      lrecur(SIZE, [get(LQ), load(4)]), set(LT),
      when([get(LT), i32(1 << 28), GE_U], [UNREACHABLE]),
      get(LT), i32(8), MUL, set(LT),
      when(get(LT), [when([get(LOFF), get(LT), REM_U, get(LBITS), ADD, get(LT), GT_U], [i32(1), set(LPACKED), i32(1), set(LN)])]),
      ELSE,
      lrecur(ALIGN, [get(LQ), load(4)]), i32(8), MUL, set(LT),
      when([get(LOFF), get(LT), REM_U], [i32(1), set(LPACKED), i32(1), set(LN)]),
      END,
      get(LQ), i32(12), ADD, set(LQ),
    ]),
    hdr(H_PACKED), get(LID), ADD, get(LPACKED), IF, I32, i32(2), ELSE, i32(1), END, store8(),
    get(LPACKED), IF, I32, i32(1), ELSE, get(LAL), END, set(LR),
  ]),
  hdr(H_ALIGN), get(LID), ADD, get(LR), store8(),
  get(LR),
];
const size = (): Code => [
  when([get(LID), hdr(H_COUNT), GE_U], [UNREACHABLE]),
  lhead(),
  when(kindIs(LK, BtfKind.Int, BtfKind.Float, BtfKind.Struct, BtfKind.Union, BtfKind.Enum, BtfKind.Enum64, BtfKind.Datasec), [get(LA), load(8), RETURN]),
  when(kindIs(LK, BtfKind.Ptr), ret(8)),
  when(kindIs(LK, BtfKind.Array), [
    lrecur(SIZE, [get(LA), load(12)]), set(LT),
    get(LA), load(20), set(LN),
    when(get(LN), [when([get(LT), i32(-1), get(LN), DIV_U, GT_U], [UNREACHABLE])]),
    get(LT), get(LN), MUL, RETURN,
  ]),
  when(kindIs(LK, BtfKind.Typedef, BtfKind.Const, BtfKind.Volatile, BtfKind.Restrict, BtfKind.TypeTag, BtfKind.Var), [lrecur(SIZE, [get(LA), load(8)]), RETURN]),
  UNREACHABLE,
];
const layoutAll = (): Code => [
  i32(1), set(UID),
  BLOCK, VOID, LOOP, VOID,
  get(UID), hdr(H_COUNT), GE_U, BR_IF, 1,
  hdr(H_KINDS), get(UID), ADD, load8(), set(UK),
  kindIs(UK, BtfKind.Struct, BtfKind.Union), IF, VOID, get(UID), i32(0), call(ALIGN), DROP, END,
  get(UID), i32(1), ADD, set(UID),
  BR, 0, END, END,
];

/** What the WebAssembly prepares for a dump of every type. */
export interface CDumpPrep {
  /** The ids to define, in the ordering's order. */
  queue: Uint32Array;
  /** Every struct's and union's (and their members' types') alignment (0: not computed) and packing (0 unknown, 1 no, 2 yes), as TypeLayout's memo; undefined where the layout trapped (TypeLayout then computes, and throws its errors). */
  align?: Uint8Array;
  packed?: Uint8Array;
}

/**
 * @internal The ids cdump.ts's ordering queues for a dump of every type, in its order; undefined when
 * WebAssembly is not available (or the host is big-endian) or the walk trapped on an error: the
 * caller then orders in JavaScript (and throws its error). The module is assembled for this BTF's
 * layout (its arrays' addresses are constants in the code; Liftoff compiles it in about a millisecond).
 */
export function prepareCDumpWasm(f: FlatBtf): CDumpPrep | undefined {
  if (!wasmApi || !LITTLE_ENDIAN) return undefined;
  const n = f.count;
  const at = (x: number): number => (x + 3) & ~3;
  const words = DATA;
  const offs = at(words + 4 * f.words.length);
  const kinds = offs + 4 * n;
  const str = at(kinds + n);
  const order = at(str + f.strings.length + 1);
  const ref = at(order + n);
  const queue = at(ref + n);
  const alignAt = queue + 4 * n;
  const packedAt = alignAt + n;
  const end = packedAt + n;
  try {
    L = [words, offs, kinds, str, order, ref, queue, 0, n, alignAt, packedAt];
    const mod = new wasmApi.Module(wasmModule([
      { params: 3, results: 1, locals: 7, body: ord() },
      { params: 0, results: 0, locals: 6, body: refs() },
      { name: 'run', params: 0, results: 1, locals: 2, body: run() },
      { params: 2, results: 1, locals: 11, body: align() },
      { params: 2, results: 1, locals: 11, body: size() },
      { name: 'layout', params: 0, results: 0, locals: 2, body: layoutAll() },
    ]));
    const mem = new wasmApi.Memory({ initial: Math.ceil(end / 65536) });
    const { run: runWasm, layout } = new wasmApi.Instance(mod, { m: { mem } }).exports as { run: () => number; layout: () => void };
    const b = mem.buffer;
    new Uint8Array(b, H_REFCLASS, 20).set(REF_CLASS);
    new Uint32Array(b, words, f.words.length).set(f.words);
    new Int32Array(b, offs, n).set(f.offs);
    new Uint8Array(b, kinds, n).set(f.kinds);
    new Uint8Array(b, str, f.strings.length).set(f.strings);
    const prep: CDumpPrep = { queue: new Uint32Array(b, queue, runWasm()).slice() };
    try {
      layout();
      // Copies: a view would keep the whole memory (~9 MiB for vmlinux) alive through the dump.
      prep.align = new Uint8Array(b, alignAt, n).slice();
      prep.packed = new Uint8Array(b, packedAt, n).slice();
    } catch {
      // TypeLayout computes every layout (and throws its error where it has one).
    }
    return prep;
  } catch {
    // A trap (an error the JavaScript walk reports), a stack overflow, or no room for a memory.
    return undefined;
  } finally {
    L = [];
  }
}
