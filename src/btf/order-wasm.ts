// The C dumper's first phase (cdump.ts's orderType over every type, with the `referenced` marks it
// reads), and then every struct's and union's alignment and packing (layout.ts's TypeLayout), as a
// small hand-assembled WebAssembly module. On vmlinux that walk is ~200k recursive
// calls: as JavaScript in a one-shot `btf dump ... format c` it ran interpreted while TurboFan
// compiled it (~50 ms of the process's CPU here), where Liftoff compiles this module at once and
// the walk takes a few ms. It writes only the queue of ids to define, in cdump.ts's order; any
// error (a struct that contains itself, nesting past 2048, a stack overflow) traps, and the caller
// then orders in JavaScript, which throws its own error. `test/cdump-order.test.ts` holds the two walks
// to the same queue.
// For the emit phase it also keys every name the dump makes unique (one number per distinct
// string, so cdump.ts counts names in typed arrays) and finds each name's first struct and union
// (FWD targets), and it writes struct and union members (members(): a named type already written,
// a pointer to one or an array of one, with its padding), the common ~85% of vmlinux's, into its
// memory for cdump.ts to append; the test holds the header to the JavaScript's.
import type { FlatBtf } from './flat.js';
import {
  ADD, AND, BLOCK, CTZ, LT_S, MEMCOPY, BR, BR_IF, DIV_U, DROP, ELSE, END, EQ, EQZ, GE_U, GT_S, GT_U, I32, IF, LITTLE_ENDIAN, LOOP, MUL, NE, OR, REM_U, RETURN, SHL, SHR_U, SUB, UNREACHABLE, VOID, XOR, LE_U, LT_U,
  type Code, call, decBody, get, i32, load, load8, repeat, set, store, store8, tee, text, wasmApi, wasmModule, when,
} from './wasm-asm.js';
import { BtfKind, INT_BOOL } from './types.js';

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
const H_TABLE = 44;
const H_TMASK = 48;
/** The next name key (a memory word, like the queue length). */
const H_KNEXT = 52;
const H_EMIT = 56;
const H_DECLARED = 60;
// (64..83: H_REFCLASS)
const H_PATH = 84;
const H_COUNTS = 88;
const H_OUT = 92;
const H_OLIM = 96;
/** members(): the bit position reached, the bytes written, the declarator nodes left (memory words). */
const H_CUR = 100;
const H_OLEN = 104;
const H_BUDGET = 108;
/** Each keyed type's name offset, as it was before keys() replaced it by the key. */
const H_NAMEOFF = 112;
/** The first struct and the first union of each name key (0: none), for the dumper's FWD targets. */
const H_FIRSTS = 116;
const H_FIRSTU = 120;
/** Per kind (20 bytes): which of a record's words refer to types, for the `referenced` marks. */
const H_REFCLASS = 64;
/** Whole items (item(), items()): name counts by key per namespace, enumerators' last enum (id + 1) and count by key. */
const H_TAGC = 128;
const H_IDENTC = 132;
const H_LASTE = 136;
const H_LASTC = 140;
/** Enumerators' counts: per enum (its slot in H_EBASE) 1 once counted, then each enumerator's. Each name key's string offset. */
const H_ECOUNT = 144;
const H_KSTR = 148;
/** The scratch area where an item's strings are built, and the item output, its end (a memory word). */
const H_SCR = 152;
const H_IOUT = 156;
const H_OPOS = 160;
/** The next `__bee_padN` (a memory word, shared with cdump.ts's padding()). */
const H_PADC = 164;
/** Each enum's first slot in H_ECOUNT (keys() gives them). */
const H_EBASE = 168;
/** check()'s text budget for the item and its start value. */
const H_EST = 176;
const H_ESTMAX = 180;
/** items(): 1 when it stopped at an item it declined. */
const H_STOP = 184;
/** Each name key's string length (keys() finds it hashing the string). */
const H_KLEN = 188;
/** The string section's length, and (maxrun()) a bound on its longest string. */
const H_SLEN = 192;
const H_MAXLEN = 196;
const DATA = 256;
/** items() stops before an item once this much item output is used (the area has room for SCRATCH_SIZE / 2 more: twice an item's budget). */
const ITEM_SOFT = 1 << 18;
/** The scratch area; check() declines an item whose estimated text is over a quarter of it. */
const SCRATCH_SIZE = 1 << 23;
/** members() stops before a member once this much of its output area is used (the area has room for one more). */
const OUT_SOFT = 1 << 18;
const OUT_SIZE = 1 << 19;

const ORD = 0;
const REFS = 1;
const ALIGN = 3;
const SIZE = 4;
const STREQ = 6;
const KEY = 7;
const DEC = 9;
const CPY = 10;
const NAMEW = 11;
const BASEW = 12;
const PAD = 13;
const OKBASE = 14;
const TABS = 16;
const NAMEN = 17;
const NAME = 18;
const JOINW = 19;
const TOUT = 20;
const FWDT = 21;
const TAGKW = 22;
const ETAG = 23;
const ETYPEDEF = 24;
const EENUM = 25;
const ECOUNTS = 26;
const ENUMDEF = 27;
const DECL = 28;
const COMPDEF = 29;
const SZ = 30;
const CHECKD = 32;
const CHECKD2 = 33;
const CHECKC = 34;
const CHECKE = 35;
const CHECKTOP = 36;
const ITEM = 37;

/** The layout's addresses, baked into the code as constants (the module is assembled per dump). */
/** A header word (the layout's addresses are written there per dump, so the module's bytes are the same for every BTF). */
const hdr = (at: number): Code => [i32(0), load(at)];
const ret = (v: number): Code => [i32(v), RETURN];
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

// keys(): every name the C dump makes unique (structs', unions', typedefs', enums' with
// enumerators, and each enumerator's; FWDs' too) replaced, in this module's copy of the words, by a key
// numbering the distinct strings (0, 1, ...): the dumper counts a name's uses by key, with no
// string per name. An open-addressing table of (string offset + 1, key), FNV-1a over the bytes.
const FNV_OFFSET = 0x811c9dc5 | 0;
const FNV_PRIME = 0x01000193;
const [QA, QB, QC] = [0, 1, 2];
const streq = (): Code => [
  hdr(H_STR), get(QA), ADD, set(QA),
  hdr(H_STR), get(QB), ADD, set(QB),
  BLOCK, VOID, LOOP, VOID,
  get(QA), load8(), set(QC),
  when([get(QC), get(QB), load8(), NE], ret(0)),
  when([get(QC), EQZ], ret(1)),
  get(QA), i32(1), ADD, set(QA),
  get(QB), i32(1), ADD, set(QB),
  BR, 0, END, END,
  i32(0),
];
const [KW, KOFF, KH, KP, KC, KE, KT] = [0, 1, 2, 3, 4, 5, 6];
const key = (): Code => [
  get(KW), load(), set(KOFF),
  i32(FNV_OFFSET), set(KH),
  hdr(H_STR), get(KOFF), ADD, set(KP),
  // Four bytes a step (unaligned loads): up to the word with the NUL, whose bytes from it on are masked off.
  BLOCK, VOID, LOOP, VOID,
  get(KP), load(), set(KC),
  get(KC), i32(0x01010101), SUB, get(KC), i32(-1), XOR, AND, i32(0x80808080 | 0), AND, tee(KE), BR_IF, 1,
  get(KH), get(KC), XOR, i32(FNV_PRIME), MUL, set(KH),
  get(KP), i32(4), ADD, set(KP),
  BR, 0, END, END,
  get(KE), CTZ, i32(3), SHR_U, set(KE),
  get(KH), get(KC), i32(1), get(KE), i32(3), SHL, SHL, i32(1), SUB, AND, XOR, i32(FNV_PRIME), MUL, set(KH),
  get(KP), get(KE), ADD, set(KP),
  // (murmur3's finalizer: the words' high bytes reach the table index's low bits)
  get(KH), get(KH), i32(16), SHR_U, XOR, i32(0x85ebca6b | 0), MUL, set(KH),
  get(KH), get(KH), i32(13), SHR_U, XOR, i32(0xc2b2ae35 | 0), MUL, set(KH),
  get(KH), get(KH), i32(16), SHR_U, XOR, hdr(H_TMASK), AND, set(KH),
  BLOCK, VOID, LOOP, VOID,
  hdr(H_TABLE), get(KH), i32(3), SHL, ADD, set(KE),
  get(KE), load(), set(KT),
  when([get(KT), EQZ], [
    hdr(H_KLEN), hdr(H_KNEXT), i32(2), SHL, ADD, get(KP), hdr(H_STR), SUB, get(KOFF), SUB, store(),
    hdr(H_KSTR), hdr(H_KNEXT), i32(2), SHL, ADD, get(KOFF), store(),
    get(KE), get(KOFF), i32(1), ADD, store(),
    get(KE), hdr(H_KNEXT), store(4),
    get(KW), hdr(H_KNEXT), store(),
    i32(0), hdr(H_KNEXT), i32(1), ADD, store(H_KNEXT),
    RETURN,
  ]),
  get(KT), i32(1), SUB, set(KT),
  get(KT), get(KOFF), EQ, IF, I32, i32(1), ELSE, get(KT), get(KOFF), call(STREQ), END,
  IF, VOID, get(KW), get(KE), load(4), store(), RETURN, END,
  get(KH), i32(1), ADD, hdr(H_TMASK), AND, set(KH),
  BR, 0, END, END,
];
const [YID, YK, YA, YN, YQ, YE] = [0, 1, 2, 3, 4, 5];
const keysAll = (): Code => [
  // The table: twice as many slots as names to key, a power of two (its area has room for the most there can be).
  i32(0), set(YN),
  i32(1), set(YID),
  BLOCK, VOID, LOOP, VOID,
  get(YID), hdr(H_COUNT), GE_U, BR_IF, 1,
  hdr(H_KINDS), get(YID), ADD, load8(), set(YK),
  when(kindIs(YK, BtfKind.Struct, BtfKind.Union, BtfKind.Typedef, BtfKind.Fwd), [get(YN), i32(1), ADD, set(YN)]),
  when(kindIs(YK, BtfKind.Enum, BtfKind.Enum64), [
    addrOf(get(YID)), load(4), i32(0xffff), AND, set(YQ),
    when(get(YQ), [get(YN), get(YQ), i32(1), ADD, ADD, set(YN)]),
  ]),
  get(YID), i32(1), ADD, set(YID),
  BR, 0, END, END,
  i32(16), set(YQ),
  BLOCK, VOID, LOOP, VOID, get(YQ), get(YN), i32(1), SHL, GE_U, BR_IF, 1, get(YQ), i32(1), SHL, set(YQ), BR, 0, END, END,
  i32(0), get(YQ), i32(1), SUB, store(H_TMASK),
  i32(1), set(YID),
  BLOCK, VOID, LOOP, VOID,
  get(YID), hdr(H_COUNT), GE_U, BR_IF, 1,
  hdr(H_KINDS), get(YID), ADD, load8(), set(YK),
  hdr(H_WORDS), hdr(H_OFFS), get(YID), i32(2), SHL, ADD, load(), i32(2), SHL, ADD, set(YA),
  hdr(H_NAMEOFF), get(YID), i32(2), SHL, ADD, get(YA), load(), store(),
  when(kindIs(YK, BtfKind.Struct, BtfKind.Union, BtfKind.Typedef, BtfKind.Fwd), [get(YA), call(KEY)]),
  when(kindIs(YK, BtfKind.Struct, BtfKind.Union), [
    get(YK), i32(BtfKind.Struct), EQ, IF, I32, hdr(H_FIRSTS), ELSE, hdr(H_FIRSTU), END, get(YA), load(), i32(2), SHL, ADD, set(YN),
    when([get(YN), load(), EQZ], [get(YN), get(YID), store()]),
  ]),
  when(kindIs(YK, BtfKind.Enum, BtfKind.Enum64), [
    get(YA), load(4), i32(0xffff), AND, set(YN),
    when(get(YN), [
      hdr(H_EBASE), get(YID), i32(2), SHL, ADD, get(YE), store(),
      get(YE), get(YN), i32(1), ADD, ADD, set(YE),
      get(YA), call(KEY),
      get(YA), i32(12), ADD, set(YQ),
      repeat(YN, [get(YQ), call(KEY), get(YQ), get(YK), i32(BtfKind.Enum), EQ, IF, I32, i32(8), ELSE, i32(12), END, ADD, set(YQ)]),
    ]),
  ]),
  get(YID), i32(1), ADD, set(YID),
  BR, 0, END, END,
  hdr(H_KNEXT),
];

// members(id, i, cur, lvl): cdump.ts's compositeDef for members i, i + 1, ... of a struct or union
// whose declarations are a named type already written or declared (or a pointer to one, or an
// array of one) with a name: each member's padding and line, as latin1 bytes at H_OUT. Returns the
// first member it did not write (the JavaScript writes that one: anything else, what must be
// emitted first, an error); the bit position reached, the bytes written and the declarator nodes
// left in memory words. The dumper's emitted/declared/on-path marks and name counts are views of
// this memory, so the two writers share them.
/** Write '\n' at local p, advancing it. */
const nl = (p: number): Code => [get(p), i32(10), store8(), get(p), i32(1), ADD, set(p)];
const addrOf = (idExpr: Code): Code => [hdr(H_WORDS), hdr(H_OFFS), idExpr, i32(2), SHL, ADD, load(), i32(2), SHL, ADD];
// cpy(p, off) -> p: the string at `off`.
const [CP, COFF, CC] = [0, 1, 2];
const cpy = (): Code => [
  hdr(H_STR), get(COFF), ADD, set(COFF),
  LOOP, VOID,
  get(COFF), load8(), set(CC),
  when([get(CC), EQZ], [get(CP), RETURN]),
  when([get(CP), hdr(H_OLIM), GE_U], [UNREACHABLE]),
  get(CP), get(CC), store8(),
  get(CP), i32(1), ADD, set(CP),
  get(COFF), i32(1), ADD, set(COFF),
  BR, 0, END,
  get(CP),
];
// namew(p, id) -> p: the C name (the string, `___N` for a count N above 1).
const [NP, NID, NC] = [0, 1, 2];
const namew = (): Code => [
  // A keyed name (an enum without enumerators is not) copied at once, its length by key.
  hdr(H_KINDS), get(NID), ADD, load8(), set(NC),
  get(NC), i32(BtfKind.Enum), EQ, get(NC), i32(BtfKind.Enum64), EQ, OR, addrOf(get(NID)), load(4), i32(0xffff), AND, EQZ, AND, IF, VOID,
  get(NP), hdr(H_NAMEOFF), get(NID), i32(2), SHL, ADD, load(), call(CPY), set(NP),
  ELSE,
  addrOf(get(NID)), load(), i32(2), SHL, hdr(H_KLEN), ADD, load(), set(NC),
  get(NP), hdr(H_STR), hdr(H_NAMEOFF), get(NID), i32(2), SHL, ADD, load(), ADD, get(NC), MEMCOPY,
  get(NP), get(NC), ADD, set(NP),
  END,
  hdr(H_COUNTS), get(NID), i32(2), SHL, ADD, load(), set(NC),
  when([get(NC), i32(1), GT_U], [text(NP, '___'), get(NP), get(NC), call(DEC), set(NP)]),
  get(NP),
];
// okbase(id) -> 1 where declInner would write `id` as a name with nothing to emit first.
const [OID, OK, OA, OT] = [0, 1, 2, 3];
const okbase = (): Code => [
  when([get(OID), hdr(H_COUNT), GE_U], ret(0)),
  when([hdr(H_PATH), get(OID), ADD, load8()], ret(0)),
  hdr(H_KINDS), get(OID), ADD, load8(), set(OK),
  when(kindIs(OK, BtfKind.Void, BtfKind.Float), ret(1)),
  addrOf(get(OID)), set(OA),
  when(kindIs(OK, BtfKind.Int), [get(OA), load(12), i32(24), SHR_U, i32(INT_BOOL), AND, EQZ, RETURN]),
  when(kindIs(OK, BtfKind.Typedef, BtfKind.Struct, BtfKind.Union, BtfKind.Enum, BtfKind.Enum64), [
    hdr(H_NAMEOFF), get(OID), i32(2), SHL, ADD, load(), set(OT),
    when([get(OT), EQZ], ret(0)),
    when([hdr(H_STR), get(OT), ADD, load8(), EQZ], ret(0)),
    when([hdr(H_COUNTS), get(OID), i32(2), SHL, ADD, load(), EQZ], ret(0)),
    when(kindIs(OK, BtfKind.Struct, BtfKind.Union), [hdr(H_DECLARED), get(OID), ADD, load8(), i32(0), NE, RETURN]),
    hdr(H_EMIT), get(OID), ADD, load8(), i32(2), EQ, RETURN,
  ]),
  i32(0),
];
// basew(p, id) -> p: what declInner writes for an okbase id.
const [BP, BID, BK] = [0, 1, 2];
const basew = (): Code => [
  hdr(H_KINDS), get(BID), ADD, load8(), set(BK),
  when(kindIs(BK, BtfKind.Void), [text(BP, 'void'), get(BP), RETURN]),
  when(kindIs(BK, BtfKind.Int, BtfKind.Float), [get(BP), addrOf(get(BID)), load(), call(CPY), RETURN]),
  when(kindIs(BK, BtfKind.Struct), text(BP, 'struct ')),
  when(kindIs(BK, BtfKind.Union), text(BP, 'union ')),
  when(kindIs(BK, BtfKind.Enum, BtfKind.Enum64), text(BP, 'enum ')),
  get(BP), get(BID), call(NAMEW),
];
// tabs(p, n) -> p
const [TBP, TBN] = [0, 1];
const tabsw = (): Code => [repeat(TBN, [get(TBP), i32(9), store8(), get(TBP), i32(1), ADD, set(TBP)]), get(TBP)];
// pad(p, from, to, ind) -> p: cdump.ts's padding() for gaps of at most 1024 bytes.
const [PP, PFROM, PTO, PIND, PCUR, PK, PU] = [0, 1, 2, 3, 4, 5, 6];
const line = (body: Code): Code => [nl(PP), get(PP), get(PIND), call(TABS), set(PP), body, text(PP, ';')];
const pad = (): Code => [
  get(PFROM), set(PCUR),
  when([get(PCUR), i32(7), AND], [
    i32(8), get(PCUR), i32(7), AND, SUB, set(PK),
    when([get(PK), get(PTO), get(PCUR), SUB, GT_U], [get(PTO), get(PCUR), SUB, set(PK)]),
    line([text(PP, 'char: '), get(PP), get(PK), call(DEC), set(PP)]),
    get(PCUR), get(PK), ADD, set(PCUR),
  ]),
  // A hole over 1024 bytes: one named array (members() declines those; items() writes them).
  when([get(PTO), get(PCUR), SUB, i32(8192), GT_U], [
    get(PTO), get(PCUR), SUB, i32(3), SHR_U, set(PK),
    line([
      text(PP, 'char __bee_pad'), get(PP), i32(0), load(H_PADC), call(DEC), set(PP),
      i32(0), i32(0), load(H_PADC), i32(1), ADD, store(H_PADC),
      text(PP, '['), get(PP), get(PK), call(DEC), set(PP), text(PP, ']'),
    ]),
    get(PCUR), get(PK), i32(3), SHL, ADD, set(PCUR),
  ]),
  BLOCK, VOID, LOOP, VOID,
  get(PTO), get(PCUR), SUB, i32(8), LT_U, BR_IF, 1,
  i32(64), set(PU),
  BLOCK, VOID, LOOP, VOID,
  get(PU), i32(8), LE_U, BR_IF, 1,
  get(PCUR), get(PU), REM_U, EQZ, get(PTO), get(PCUR), SUB, get(PU), GE_U, AND, BR_IF, 1,
  get(PU), i32(1), SHR_U, set(PU),
  BR, 0, END, END,
  line([
    get(PU), i32(64), EQ, IF, VOID, text(PP, 'long: '), ELSE,
    get(PU), i32(32), EQ, IF, VOID, text(PP, 'int: '), ELSE,
    get(PU), i32(16), EQ, IF, VOID, text(PP, 'short: '), ELSE, text(PP, 'char: '), END, END, END,
    get(PP), get(PU), call(DEC), set(PP),
  ]),
  get(PCUR), get(PU), ADD, set(PCUR),
  BR, 0, END, END,
  when([get(PTO), get(PCUR), GT_U], line([text(PP, 'char: '), get(PP), get(PTO), get(PCUR), SUB, call(DEC), set(PP)])),
  get(PP),
];
const [MID, MI, MCUR, MLVL, MA, MN, MKF, MSIZE, MUN, MPK, MQ, MOFF, MBITS, MT, MB, MFORM, MP, MAL, MX, MBUD, MNODES, MTA] = Array.from({ length: 22 }, (_, i) => i);
const membersFn = (): Code => [
  addrOf(get(MID)), set(MA),
  get(MA), load(4), i32(0xffff), AND, set(MN),
  get(MA), load(4), i32(31), SHR_U, set(MKF),
  get(MA), load(8), set(MSIZE),
  when([get(MSIZE), i32(1 << 28), GE_U], [UNREACHABLE]),
  hdr(H_KINDS), get(MID), ADD, load8(), i32(BtfKind.Union), EQ, set(MUN),
  hdr(H_PACKED), get(MID), ADD, load8(), set(MPK),
  when([get(MPK), EQZ], [get(MI), RETURN]),
  get(MPK), i32(2), EQ, set(MPK),
  hdr(H_OUT), set(MP),
  hdr(H_BUDGET), set(MBUD),
  get(MA), i32(12), ADD, get(MI), i32(12), MUL, ADD, set(MQ),
  BLOCK, VOID, LOOP, VOID,
  get(MI), get(MN), GE_U, BR_IF, 1,
  get(MP), hdr(H_OUT), SUB, i32(OUT_SOFT), GE_U, BR_IF, 1,
  get(MQ), load(8), set(MOFF),
  get(MQ), load(4), set(MT),
  i32(0), set(MBITS),
  when(get(MKF), [get(MOFF), i32(24), SHR_U, set(MBITS), get(MOFF), i32(0xffffff), AND, set(MOFF)]),
  when(get(MUN), [i32(0), set(MOFF)]),
  get(MOFF), get(MBITS), ADD, get(MSIZE), i32(3), SHL, GT_U, BR_IF, 1,
  // a name
  get(MQ), load(), set(MX),
  get(MX), EQZ, BR_IF, 1,
  hdr(H_STR), get(MX), ADD, load8(), EQZ, BR_IF, 1,
  // the declaration's shape
  i32(1), set(MNODES),
  get(MT), call(OKBASE), IF, VOID,
  get(MT), set(MB), i32(0), set(MFORM),
  ELSE,
  get(MT), hdr(H_COUNT), GE_U, BR_IF, 2,
  hdr(H_PATH), get(MT), ADD, load8(), BR_IF, 2,
  addrOf(get(MT)), set(MTA),
  hdr(H_KINDS), get(MT), ADD, load8(), set(MX),
  get(MX), i32(BtfKind.Ptr), EQ, IF, VOID,
  get(MTA), load(8), set(MB), i32(1), set(MFORM),
  ELSE,
  get(MX), i32(BtfKind.Array), NE, BR_IF, 3,
  get(MTA), load(12), set(MB), i32(2), set(MFORM),
  END,
  get(MB), call(OKBASE), EQZ, BR_IF, 2,
  i32(2), set(MNODES),
  END,
  get(MBUD), get(MNODES), LT_U, BR_IF, 1,
  // padding before it, its size
  i32(0), set(MX),
  get(MUN), EQZ, IF, VOID,
  get(MT), i32(0), call(SIZE), set(MX),
  get(MX), i32(1 << 28), GE_U, BR_IF, 2,
  get(MBITS), IF, VOID,
  i32(0), set(MAL),
  get(MOFF), get(MCUR), GT_U, set(MAL),
  ELSE,
  get(MPK), IF, I32, i32(8), ELSE, hdr(H_ALIGN), get(MT), ADD, load8(), i32(3), SHL, END, set(MAL),
  get(MAL), EQZ, BR_IF, 3,
  // natural = ceil(cur / align) * align; pad when off is neither natural nor at or before cur
  get(MCUR), get(MAL), ADD, i32(1), SUB, get(MAL), DIV_U, get(MAL), MUL, get(MOFF), NE,
  get(MOFF), get(MCUR), GT_U, AND, set(MAL),
  END,
  get(MAL), IF, VOID,
  get(MOFF), get(MCUR), SUB, i32(8192), GT_U, BR_IF, 3,
  get(MP), get(MCUR), get(MOFF), get(MLVL), i32(1), ADD, call(PAD), set(MP),
  END,
  END,
  // the line
  get(MBUD), get(MNODES), SUB, set(MBUD),
  nl(MP),
  get(MP), get(MLVL), i32(1), ADD, call(TABS), set(MP),
  get(MP), get(MB), call(BASEW), set(MP),
  get(MFORM), i32(1), EQ, IF, VOID, text(MP, ' *'), ELSE, text(MP, ' '), END,
  get(MP), get(MQ), load(), call(CPY), set(MP),
  when([get(MFORM), i32(2), EQ], [text(MP, '['), get(MP), get(MTA), load(20), call(DEC), set(MP), text(MP, ']')]),
  when(get(MBITS), [text(MP, ': '), get(MP), get(MBITS), call(DEC), set(MP)]),
  text(MP, ';'),
  when([get(MUN), EQZ], [get(MOFF), get(MBITS), IF, I32, get(MBITS), ELSE, get(MX), i32(3), SHL, END, ADD, set(MCUR)]),
  get(MI), i32(1), ADD, set(MI),
  get(MQ), i32(12), ADD, set(MQ),
  BR, 0, END, END,
  i32(0), get(MCUR), store(H_CUR),
  i32(0), get(MP), hdr(H_OUT), SUB, store(H_OLEN),
  i32(0), get(MBUD), store(H_BUDGET),
  get(MI),
];

// ---- Whole top-level items (emitTopLevel): cdump.ts's compositeDef, enumDef, decl/declInner,
// ensureTypedef, ensureTagDeclared and name counting, case for case, writing the text into this
// memory. A string under construction is a byte range [ds, p) of the scratch area, built the way
// the JavaScript builds its strings (a declarator wrapped from the name outwards: prefixes by
// moving the range up, memory.copy), so the side effects (a typedef or an enum written first, a
// forward declaration, a name's count) happen in the JavaScript's order; what is written first goes
// to the item output (H_OPOS) at once, as the JavaScript's emit does, the item itself when it is
// complete. Before an item, check() walks every type its text can reach without changing anything
// and declines what this code does not write (type tags, 64-bit enums, members outside their
// struct, a size the layout refuses, a loop, nesting past the JavaScript's bounds, more text than
// the scratch area holds): the JavaScript then writes that item, with the same marks and counts.
const u8at = (base: number, idx: Code): Code => [hdr(base), idx, ADD, load8()];
const u32at = (base: number, idx: Code): Code => [hdr(base), idx, i32(2), SHL, ADD, load()];
const st8 = (base: number, idx: Code, v: Code): Code => [hdr(base), idx, ADD, v, store8()];
const st32 = (base: number, idx: Code, v: Code): Code => [hdr(base), idx, i32(2), SHL, ADD, v, store()];
/** 1 when the type's own name is not empty (its name offset from H_NAMEOFF: the words hold keys). */
const hasNameOf = (idExpr: Code, tmp: number): Code => [u32at(H_NAMEOFF, idExpr), tee(tmp), IF, I32, hdr(H_STR), get(tmp), ADD, load8(), i32(0), NE, ELSE, i32(0), END];
/** 1 when the string at offset local `off` is `s`. */
const isStr = (off: number, s: string): Code => [
  Array.from(s + '\0', (c, k) => [hdr(H_STR), get(off), ADD, load8(k), i32(c.charCodeAt(0)), EQ, k ? AND : []]),
];
const setVar = (at: number, v: Code): Code => [i32(0), v, store(at)];

// nameN(id) -> count: cdump.ts's nameN with keys (H_TAGC, H_IDENTC by key).
const [NNID, NNC, NNA, NNK, NNT] = [0, 1, 2, 3, 4];
const nameN = (): Code => [
  u32at(H_COUNTS, get(NNID)), tee(NNC), IF, VOID, get(NNC), RETURN, END,
  i32(1), set(NNC),
  when(hasNameOf(get(NNID), NNT), [
    u8at(H_KINDS, get(NNID)), set(NNK),
    addrOf(get(NNID)), set(NNA),
    i32(0), set(NNT),
    when(kindIs(NNK, BtfKind.Struct, BtfKind.Union), [hdr(H_TAGC), set(NNT)]),
    when(kindIs(NNK, BtfKind.Enum, BtfKind.Enum64), [when([get(NNA), load(4), i32(0xffff), AND], [hdr(H_TAGC), set(NNT)])]),
    when(kindIs(NNK, BtfKind.Typedef), [hdr(H_IDENTC), set(NNT)]),
    when(get(NNT), [
      get(NNT), get(NNA), load(), i32(2), SHL, ADD, set(NNT),
      get(NNT), get(NNT), load(), i32(1), ADD, tee(NNC), store(),
    ]),
  ]),
  st32(H_COUNTS, get(NNID), get(NNC)),
  get(NNC),
];
// name(p, id) -> p: the name, given its count first.
const nameFn = (): Code => [get(1), call(NAMEN), DROP, get(0), get(1), call(NAMEW)];
// joinw(ds, x, p) -> p: cdump.ts's join(base, declarator) with the declarator at [ds, x) and the base at [x, p).
const [JDS, JX, JP, JL, JB, JS] = [0, 1, 2, 3, 4, 5];
const joinw = (): Code => [
  get(JX), get(JDS), SUB, set(JL),
  get(JP), get(JX), SUB, set(JB),
  when([get(JL), EQZ], [get(JP), RETURN]),
  get(JDS), load8(), i32(0x5b), NE, set(JS),
  get(JP), get(JDS), get(JL), MEMCOPY,
  get(JDS), get(JX), get(JB), MEMCOPY,
  when(get(JS), [get(JDS), get(JB), ADD, i32(0x20), store8()]),
  get(JDS), get(JB), ADD, get(JS), ADD, get(JP), get(JL), MEMCOPY,
  get(JDS), get(JB), ADD, get(JS), ADD, get(JL), ADD,
];
// tout(s, e): the text at [s, e) to the item output (the JavaScript's emit).
const tout = (): Code => [
  hdr(H_OPOS), get(0), get(1), get(0), SUB, MEMCOPY,
  setVar(H_OPOS, [hdr(H_OPOS), get(1), get(0), SUB, ADD]),
];
// fwdt(id) -> the struct (union) a FWD stands for, 0 for none: cdump.ts's fwdTarget.
const fwdt = (): Code => [
  when([hasNameOf(get(0), 1), EQZ], ret(0)),
  addrOf(get(0)), set(1),
  get(1), load(4), i32(31), SHR_U, IF, I32, hdr(H_FIRSTU), ELSE, hdr(H_FIRSTS), END,
  get(1), load(), i32(2), SHL, ADD, load(),
];
// tagkw(p, id) -> p: cdump.ts's tagKeyword.
const tagkw = (): Code => [
  u8at(H_KINDS, get(1)), set(2),
  when([kindIs(2, BtfKind.Union), get(2), i32(BtfKind.Fwd), EQ, addrOf(get(1)), load(4), i32(31), SHR_U, AND, OR], [text(0, 'union'), get(0), RETURN]),
  when(kindIs(2, BtfKind.Enum, BtfKind.Enum64), [text(0, 'enum'), get(0), RETURN]),
  text(0, 'struct'), get(0),
];
// etag(id, p): cdump.ts's ensureTagDeclared (p: free scratch).
const [ETID, ETP, ETT, ETF, ETE] = [0, 1, 2, 3, 4];
const etag = (): Code => [
  get(ETID), set(ETT),
  when([u8at(H_KINDS, get(ETID)), i32(BtfKind.Fwd), EQ], [
    get(ETID), call(FWDT), tee(ETF),
    IF, VOID, get(ETF), call(NAMEN), i32(1), EQ, IF, VOID, get(ETF), set(ETT), END, END,
  ]),
  when(u8at(H_DECLARED, get(ETT)), [RETURN]),
  get(ETP), get(ETID), call(TAGKW), set(ETE), text(ETE, ' '), get(ETE), get(ETT), call(NAME), set(ETE), text(ETE, ';\n\n'),
  get(ETP), get(ETE), call(TOUT),
  st8(H_DECLARED, get(ETT), i32(1)),
  st8(H_DECLARED, get(ETID), i32(1)),
  when([u8at(H_EMIT, get(ETT)), EQZ], st8(H_EMIT, get(ETT), i32(1))),
];
// etypedef(id, p): cdump.ts's ensureTypedef.
const [TDID, TDP, TDS, TDE] = [0, 1, 2, 3];
const etypedef = (): Code => [
  when(u8at(H_EMIT, get(TDID)), [RETURN]),
  st8(H_EMIT, get(TDID), i32(3)),
  u32at(H_NAMEOFF, get(TDID)), set(TDE),
  when(isStr(TDE, '__builtin_va_list'), [st8(H_EMIT, get(TDID), i32(2)), RETURN]),
  get(TDP), set(TDS), text(TDS, 'typedef '),
  get(TDS), get(TDID), call(NAME), set(TDE),
  addrOf(get(TDID)), load(8), get(TDS), get(TDE), i32(0), i32(0), call(DECL), set(TDE),
  text(TDE, ';\n\n'),
  get(TDP), get(TDE), call(TOUT),
  st8(H_EMIT, get(TDID), i32(2)),
];
// eenum(id, p): a named enum's definition before its first use (declInner's enum case).
const eenum = (): Code => [
  when(u8at(H_EMIT, get(0)), [RETURN]),
  st8(H_EMIT, get(0), i32(3)),
  get(1), get(0), i32(0), call(ENUMDEF), set(2), text(2, ';\n\n'),
  get(1), get(2), call(TOUT),
  st8(H_EMIT, get(0), i32(2)),
];
// ecounts(id): cdump.ts's enumeratorCounts, into the enum's H_ECOUNT slots (the first: done).
const [ECID, ECA, ECN, ECQ, ECK, ECX] = [0, 1, 2, 3, 4, 5];
const ECC = 6;
const ecounts = (): Code => [
  addrOf(get(ECID)), set(ECA),
  hdr(H_ECOUNT), u32at(H_EBASE, get(ECID)), i32(2), SHL, ADD, set(ECC),
  when([get(ECC), load()], [RETURN]),
  get(ECC), i32(1), store(),
  get(ECA), load(4), i32(0xffff), AND, set(ECN),
  get(ECA), i32(12), ADD, set(ECQ),
  repeat(ECN, [
    get(ECQ), load(), set(ECK),
    hdr(H_LASTE), get(ECK), i32(2), SHL, ADD, set(ECX),
    get(ECX), load(), get(ECID), i32(1), ADD, EQ, IF, VOID,
    get(ECC), hdr(H_LASTC), get(ECK), i32(2), SHL, ADD, load(), store(4),
    ELSE,
    get(ECX), get(ECID), i32(1), ADD, store(),
    hdr(H_IDENTC), get(ECK), i32(2), SHL, ADD, set(ECX),
    get(ECX), get(ECX), load(), i32(1), ADD, store(),
    hdr(H_LASTC), get(ECK), i32(2), SHL, ADD, get(ECX), load(), store(),
    get(ECC), get(ECX), load(), store(4),
    END,
    get(ECQ), i32(8), ADD, set(ECQ),
    get(ECC), i32(4), ADD, set(ECC),
  ]),
];
// enumdef(p, id, lvl) -> p: cdump.ts's enumDef for 32-bit enums.
const [EDP, EDID, EDL, EDA, EDN, EDSG, EDQ, EDV, EDT, EDC] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
const enumdef = (): Code => [
  when([u8at(H_KINDS, get(EDID)), i32(BtfKind.Enum), NE], [UNREACHABLE]),
  addrOf(get(EDID)), set(EDA),
  get(EDA), load(4), i32(0xffff), AND, set(EDN),
  get(EDA), load(4), i32(31), SHR_U, set(EDSG),
  text(EDP, 'enum'),
  when(hasNameOf(get(EDID), EDT), [text(EDP, ' '), get(EDP), get(EDID), call(NAME), set(EDP)]),
  when([get(EDN), EQZ], [get(EDP), RETURN]),
  text(EDP, ' {'),
  get(EDID), call(ECOUNTS),
  hdr(H_ECOUNT), u32at(H_EBASE, get(EDID)), i32(2), SHL, ADD, i32(4), ADD, set(EDC),
  get(EDA), i32(12), ADD, set(EDQ),
  repeat(EDN, [
    nl(EDP), get(EDP), get(EDL), i32(1), ADD, call(TABS), set(EDP),
    get(EDQ), load(), i32(2), SHL, set(EDT),
    get(EDP), hdr(H_STR), hdr(H_KSTR), get(EDT), ADD, load(), ADD, hdr(H_KLEN), get(EDT), ADD, load(), tee(EDT), MEMCOPY,
    get(EDP), get(EDT), ADD, set(EDP),
    get(EDC), load(), set(EDT),
    get(EDC), i32(4), ADD, set(EDC),
    when([get(EDT), i32(1), NE], [text(EDP, '___'), get(EDP), get(EDT), call(DEC), set(EDP)]),
    text(EDP, ' = '),
    get(EDQ), load(4), set(EDV),
    get(EDSG), get(EDV), i32(31), SHR_U, AND, IF, VOID,
    text(EDP, '-'), get(EDP), i32(0), get(EDV), SUB, call(DEC), set(EDP),
    ELSE,
    get(EDP), get(EDV), call(DEC), set(EDP),
    END,
    text(EDP, ','),
    get(EDQ), i32(8), ADD, set(EDQ),
  ]),
  nl(EDP), get(EDP), get(EDL), call(TABS), set(EDP), text(EDP, '}'),
  when([get(EDA), load(8), i32(4), LT_U], text(EDP, ' __attribute__((packed))')),
  get(EDP),
];
// decl(id, ds, p, lvl, depth) -> p: cdump.ts's declInner, the declarator at [ds, p) made the declaration.
const [DID, DDS, DPP, DLVL, DDEP, DK, DA, DTO, DTK, DN, DQ, DX, DTMP] = Array.from({ length: 13 }, (_, i) => i);
const joinTail = (): Code => [get(DDS), get(DX), get(DPP), call(JOINW), RETURN];
const declRec = (idExpr: Code): Code => [idExpr, get(DDS), get(DPP), get(DLVL), get(DDEP), i32(1), ADD, call(DECL), RETURN];
/** Move [ds, p) up by s.length and write s at ds. */
const prepend = (s: string): Code => [get(DDS), i32(s.length), ADD, get(DDS), get(DPP), get(DDS), SUB, MEMCOPY, get(DDS), set(DX), text(DX, s), get(DPP), i32(s.length), ADD, set(DPP)];
const qual = (kind: number, kw: string): Code =>
  when(kindIs(DK, kind), [
    get(DA), load(8), set(DTO),
    u8at(H_KINDS, get(DTO)), set(DTK),
    when(kindIs(DTK, BtfKind.Ptr), [
      get(DPP), get(DDS), GT_U, IF, VOID, prepend(`${kw} `), ELSE, text(DPP, kw), END,
      declRec(get(DTO)),
    ]),
    when([kindIs(DTK, BtfKind.Array, BtfKind.FuncProto), i32(kind === BtfKind.Restrict ? 1 : 0), OR], declRec(get(DTO))),
    get(DTO), get(DDS), get(DPP), get(DLVL), get(DDEP), i32(1), ADD, call(DECL), set(DPP),
    prepend(`${kw} `),
    get(DPP), RETURN,
  ]);
const decl = (): Code => [
  u8at(H_KINDS, get(DID)), set(DK),
  addrOf(get(DID)), set(DA),
  get(DPP), set(DX),
  when(kindIs(DK, BtfKind.Void), [text(DPP, 'void'), joinTail()]),
  when(kindIs(DK, BtfKind.Int), [
    get(DA), load(), set(DTMP),
    get(DA), load(12), i32(24), SHR_U, i32(INT_BOOL), AND, i32(0), NE, isStr(DTMP, 'bool'), AND,
    IF, VOID, text(DPP, '_Bool'), ELSE, get(DPP), get(DTMP), call(CPY), set(DPP), END,
    joinTail(),
  ]),
  when(kindIs(DK, BtfKind.Float), [get(DPP), get(DA), load(), call(CPY), set(DPP), joinTail()]),
  when(kindIs(DK, BtfKind.Ptr), [
    get(DA), load(8), set(DTO),
    u8at(H_KINDS, get(DTO)), set(DTK),
    kindIs(DTK, BtfKind.Array, BtfKind.FuncProto), IF, VOID,
    prepend('(*'), text(DPP, ')'),
    ELSE, prepend('*'), END,
    declRec(get(DTO)),
  ]),
  when(kindIs(DK, BtfKind.Array), [
    text(DPP, '['), get(DPP), get(DA), load(20), call(DEC), set(DPP), text(DPP, ']'),
    declRec([get(DA), load(12)]),
  ]),
  qual(BtfKind.Const, 'const'),
  qual(BtfKind.Volatile, 'volatile'),
  qual(BtfKind.Restrict, 'restrict'),
  when(kindIs(DK, BtfKind.Typedef), [
    get(DID), get(DPP), call(ETYPEDEF),
    get(DPP), get(DID), call(NAME), set(DPP),
    joinTail(),
  ]),
  when(kindIs(DK, BtfKind.Struct, BtfKind.Union), [
    hasNameOf(get(DID), DTMP), IF, VOID,
    when([u8at(H_DECLARED, get(DID)), EQZ], [get(DID), get(DPP), call(ETAG)]),
    get(DPP), get(DID), call(TAGKW), set(DPP), text(DPP, ' '), get(DPP), get(DID), call(NAME), set(DPP),
    ELSE,
    get(DPP), get(DID), get(DLVL), call(COMPDEF), set(DPP),
    END,
    joinTail(),
  ]),
  when(kindIs(DK, BtfKind.Enum), [
    hasNameOf(get(DID), DTMP), IF, VOID,
    get(DID), get(DPP), call(EENUM),
    text(DPP, 'enum '), get(DPP), get(DID), call(NAME), set(DPP),
    ELSE,
    get(DPP), get(DID), get(DLVL), call(ENUMDEF), set(DPP),
    END,
    joinTail(),
  ]),
  when(kindIs(DK, BtfKind.Fwd), [
    get(DID), get(DPP), call(ETAG),
    get(DID), call(FWDT), set(DTMP),
    get(DA), load(4), i32(31), SHR_U, IF, VOID, text(DPP, 'union '), ELSE, text(DPP, 'struct '), END,
    get(DTMP), IF, VOID, get(DPP), get(DTMP), call(NAME), set(DPP), ELSE, get(DPP), u32at(H_NAMEOFF, get(DID)), call(CPY), set(DPP), END,
    joinTail(),
  ]),
  when(kindIs(DK, BtfKind.FuncProto), [
    get(DA), load(4), i32(0xffff), AND, set(DN),
    text(DPP, '('),
    get(DN), EQZ, IF, VOID, text(DPP, 'void'), ELSE,
    get(DA), i32(12), ADD, set(DQ),
    i32(0), set(DTMP),
    BLOCK, VOID, LOOP, VOID,
    get(DTMP), get(DN), GE_U, BR_IF, 1,
    when(get(DTMP), text(DPP, ', ')),
    get(DQ), load(4), EQZ, get(DTMP), i32(1), ADD, get(DN), EQ, AND, IF, VOID,
    text(DPP, '...'),
    ELSE,
    get(DQ), load(4), get(DPP), get(DPP), get(DLVL), get(DDEP), i32(1), ADD, call(DECL), set(DPP),
    END,
    get(DQ), i32(8), ADD, set(DQ),
    get(DTMP), i32(1), ADD, set(DTMP),
    BR, 0, END, END,
    END,
    text(DPP, ')'),
    declRec([get(DA), load(8)]),
  ]),
  UNREACHABLE,
];
// compdef(p, id, lvl) -> p: cdump.ts's compositeDef.
const [CDP, CDID, CDL, CDA, CDN, CDKF, CDSZ, CDUN, CDPK, CDQ, CDOFF, CDBITS, CDT, CDCUR, CDAL, CDDS, CDX, CDB, CDF] = Array.from({ length: 19 }, (_, i) => i);
const padTo = (to: Code): Code => [get(CDP), get(CDCUR), to, get(CDL), i32(1), ADD, call(PAD), set(CDP)];
const compdef = (): Code => [
  addrOf(get(CDID)), set(CDA),
  get(CDA), load(4), i32(0xffff), AND, set(CDN),
  get(CDA), load(4), i32(31), SHR_U, set(CDKF),
  get(CDA), load(8), set(CDSZ),
  u8at(H_KINDS, get(CDID)), i32(BtfKind.Union), EQ, set(CDUN),
  u8at(H_PACKED, get(CDID)), i32(2), EQ, set(CDPK),
  get(CDUN), IF, VOID, text(CDP, 'union'), ELSE, text(CDP, 'struct'), END,
  when(hasNameOf(get(CDID), CDX), [text(CDP, ' '), get(CDP), get(CDID), call(NAME), set(CDP)]),
  text(CDP, ' {'),
  i32(0), set(CDCUR),
  get(CDA), i32(12), ADD, set(CDQ),
  repeat(CDN, [
    get(CDQ), load(8), set(CDOFF),
    i32(0), set(CDBITS),
    when(get(CDKF), [get(CDOFF), i32(24), SHR_U, set(CDBITS), get(CDOFF), i32(0xffffff), AND, set(CDOFF)]),
    when(get(CDUN), [i32(0), set(CDOFF)]),
    get(CDQ), load(4), set(CDT),
    // The common member (a named type with nothing to write first, or a pointer to or array of one,
    // with a name) as members() writes it: what decl() gives it, without building the declarator.
    i32(-1), set(CDF),
    get(CDQ), load(), set(CDX),
    when([hdr(H_STR), get(CDX), ADD, load8()], [
      get(CDT), call(OKBASE), IF, VOID,
      get(CDT), set(CDB), i32(0), set(CDF),
      ELSE,
      u8at(H_KINDS, get(CDT)), set(CDB),
      when([get(CDB), i32(BtfKind.Ptr), EQ], [addrOf(get(CDT)), load(8), set(CDB), when([get(CDB), call(OKBASE)], [i32(1), set(CDF)])]),
      when([get(CDB), i32(BtfKind.Array), EQ], [addrOf(get(CDT)), load(12), set(CDB), when([get(CDB), call(OKBASE)], [i32(2), set(CDF)])]),
      END,
    ]),
    when([get(CDUN), EQZ], [
      get(CDBITS), IF, VOID,
      when([get(CDOFF), get(CDCUR), GT_U], padTo(get(CDOFF))),
      ELSE,
      // A packed struct's member aligns to 1 bit in compositeDef, to a byte in members(): main's
      // header has each writer's padding for the members it wrote (they differ after a bitfield).
      get(CDPK), IF, I32, get(CDF), i32(-1), NE, IF, I32, i32(8), ELSE, i32(1), END, ELSE, u8at(H_ALIGN, get(CDT)), i32(3), SHL, END, set(CDAL),
      when([get(CDCUR), get(CDAL), ADD, i32(1), SUB, get(CDAL), DIV_U, get(CDAL), MUL, get(CDOFF), NE, get(CDOFF), get(CDCUR), GT_U, AND], padTo(get(CDOFF))),
      END,
    ]),
    nl(CDP), get(CDP), get(CDL), i32(1), ADD, call(TABS), set(CDP),
    get(CDF), i32(-1), NE, IF, VOID,
    get(CDP), get(CDB), call(BASEW), set(CDP),
    get(CDF), i32(1), EQ, IF, VOID, text(CDP, ' *'), ELSE, text(CDP, ' '), END,
    get(CDP), get(CDX), call(CPY), set(CDP),
    when([get(CDF), i32(2), EQ], [text(CDP, '['), get(CDP), addrOf(get(CDT)), load(20), call(DEC), set(CDP), text(CDP, ']')]),
    ELSE,
    get(CDP), set(CDDS),
    get(CDP), get(CDX), call(CPY), set(CDP),
    get(CDT), get(CDDS), get(CDP), get(CDL), i32(1), ADD, i32(0), call(DECL), set(CDP),
    END,
    when(get(CDBITS), [text(CDP, ': '), get(CDP), get(CDBITS), call(DEC), set(CDP)]),
    text(CDP, ';'),
    when([get(CDUN), EQZ], [get(CDOFF), get(CDBITS), IF, I32, get(CDBITS), ELSE, get(CDT), i32(0), call(SZ), i32(3), SHL, END, ADD, set(CDCUR)]),
    get(CDQ), i32(12), ADD, set(CDQ),
  ]),
  when([get(CDUN), EQZ], [
    get(CDPK), IF, I32, i32(8), ELSE, u8at(H_ALIGN, get(CDID)), i32(3), SHL, END, set(CDAL),
    get(CDSZ), i32(3), SHL, set(CDX),
    when([get(CDCUR), get(CDAL), ADD, i32(1), SUB, get(CDAL), DIV_U, get(CDAL), MUL, get(CDX), NE, get(CDX), get(CDCUR), GT_U, AND], padTo(get(CDX))),
  ]),
  nl(CDP), get(CDP), get(CDL), call(TABS), set(CDP), text(CDP, '}'),
  when(get(CDPK), text(CDP, ' __attribute__((packed))')),
  get(CDP),
];
// sz(id, depth) -> size, or -1 where layout.ts's sizeof throws (size() traps there).
const sz = (): Code => [
  when([get(LID), hdr(H_COUNT), GE_U], ret(-1)),
  when([get(LDEPTH), i32(MAX_RESOLVE_DEPTH), GT_S], ret(-1)),
  hdr(H_KINDS), get(LID), ADD, load8(), set(LK),
  addrOf(get(LID)), set(LA),
  when(kindIs(LK, BtfKind.Int, BtfKind.Float, BtfKind.Struct, BtfKind.Union, BtfKind.Enum, BtfKind.Enum64, BtfKind.Datasec), [get(LA), load(8), RETURN]),
  when(kindIs(LK, BtfKind.Ptr), ret(8)),
  when(kindIs(LK, BtfKind.Array), [
    lrecur(SZ, [get(LA), load(12)]), set(LT),
    when([get(LT), i32(-1), EQ], ret(-1)),
    get(LA), load(20), set(LN),
    when(get(LN), [when([get(LT), i32(-1), get(LN), DIV_U, GT_U], ret(-1))]),
    get(LT), get(LN), MUL, RETURN,
  ]),
  when(kindIs(LK, BtfKind.Typedef, BtfKind.Const, BtfKind.Volatile, BtfKind.Restrict, BtfKind.TypeTag, BtfKind.Var), [lrecur(SZ, [get(LA), load(8)]), RETURN]),
  i32(-1),
];
// maxrun(): H_MAXLEN, a bound on the longest string: 4 bytes more than the longest run of aligned
// words with no zero byte (a word's zero bytes: (v - 0x01010101) & ~v & 0x80808080), times 4.
const [MRP, MRE, MRC, MRM] = [0, 1, 2, 3];
const maxrun = (): Code => [
  hdr(H_STR), set(MRP),
  hdr(H_STR), hdr(H_SLEN), ADD, set(MRE),
  BLOCK, VOID, LOOP, VOID,
  get(MRP), get(MRE), GE_U, BR_IF, 1,
  get(MRP), load(), set(MRM + 1),
  get(MRM + 1), i32(0x01010101), SUB, get(MRM + 1), i32(-1), XOR, AND, i32(0x80808080 | 0), AND, IF, VOID,
  when([get(MRC), get(MRM), GT_U], [get(MRC), set(MRM)]), i32(0), set(MRC),
  ELSE,
  get(MRC), i32(1), ADD, set(MRC),
  END,
  get(MRP), i32(4), ADD, set(MRP),
  BR, 0, END, END,
  when([get(MRC), get(MRM), GT_U], [get(MRC), set(MRM)]),
  // (past 4 MiB: more than any item's budget, so every item is declined)
  when([get(MRM), i32(1 << 20), GT_U], [i32(1 << 20), set(MRM)]),
  setVar(H_MAXLEN, [get(MRM), i32(2), ADD, i32(2), SHL]),
];
/** Take n bytes of the item's text budget (H_EST); decline (return 0) when it runs out. */
const spend = (n: Code): Code => [setVar(H_EST, [hdr(H_EST), n, SUB]), when([hdr(H_EST), i32(0), LT_S], ret(0))];
// check(id, depth, lvl, tot) -> 1 when decl(id) at that depth can be written here (see above).
const [KID, KDEP, KLVL, KTOT, KK, KA, KN, KQ, KRES] = Array.from({ length: 9 }, (_, i) => i);
const checkd = (): Code => [
  when([get(KDEP), i32(60), GT_S], ret(0)),
  when([get(KLVL), i32(60), GT_S], ret(0)),
  when([get(KTOT), i32(400), GT_S], ret(0)),
  when([get(KID), hdr(H_COUNT), GE_U], ret(0)),
  when(u8at(H_PATH, get(KID)), ret(0)),
  spend([i32(256), hdr(H_MAXLEN), ADD]),
  st8(H_PATH, get(KID), i32(1)),
  get(KID), get(KDEP), get(KLVL), get(KTOT), call(CHECKD2), set(KRES),
  st8(H_PATH, get(KID), i32(0)),
  get(KRES),
];
const krec = (idExpr: Code, dep: Code, lvl: Code): Code => [idExpr, dep, lvl, get(KTOT), i32(1), ADD, call(CHECKD)];
const checkd2 = (): Code => [
  u8at(H_KINDS, get(KID)), set(KK),
  addrOf(get(KID)), set(KA),
  when(kindIs(KK, BtfKind.Void, BtfKind.Int, BtfKind.Float, BtfKind.Fwd), ret(1)),
  when(kindIs(KK, BtfKind.Ptr, BtfKind.Const, BtfKind.Volatile, BtfKind.Restrict), [krec([get(KA), load(8)], [get(KDEP), i32(1), ADD], get(KLVL)), RETURN]),
  when(kindIs(KK, BtfKind.Array), [krec([get(KA), load(12)], [get(KDEP), i32(1), ADD], get(KLVL)), RETURN]),
  when(kindIs(KK, BtfKind.Typedef), [when(u8at(H_EMIT, get(KID)), ret(1)), krec([get(KA), load(8)], i32(0), i32(0)), RETURN]),
  when(kindIs(KK, BtfKind.Struct, BtfKind.Union), [when(hasNameOf(get(KID), KRES), ret(1)), get(KID), get(KLVL), get(KTOT), call(CHECKC), RETURN]),
  when(kindIs(KK, BtfKind.Enum), [when([hasNameOf(get(KID), KRES), u8at(H_EMIT, get(KID)), AND], ret(1)), get(KID), call(CHECKE), RETURN]),
  when(kindIs(KK, BtfKind.FuncProto), [
    get(KA), load(4), i32(0xffff), AND, set(KN),
    get(KA), i32(12), ADD, set(KQ),
    repeat(KN, [when([krec([get(KQ), load(4)], [get(KDEP), i32(1), ADD], get(KLVL)), EQZ], ret(0)), get(KQ), i32(8), ADD, set(KQ)]),
    krec([get(KA), load(8)], [get(KDEP), i32(1), ADD], get(KLVL)), RETURN,
  ]),
  i32(0),
];
// checkc(id, lvl, tot) -> 1 when compositeDef(id, lvl) can be written here.
const [CCID, CCLVL, CCTOT, CCA, CCN, CCQ, CCKF, CCSZ, CCOFF, CCBITS, CCT, CCUN] = Array.from({ length: 12 }, (_, i) => i);
const padLines = (): Code => [get(CCLVL), i32(16), ADD, i32(136), MUL];
const checkc = (): Code => [
  when([u8at(H_PACKED, get(CCID)), EQZ], ret(0)),
  when([u8at(H_ALIGN, get(CCID)), EQZ], ret(0)),
  addrOf(get(CCID)), set(CCA),
  get(CCA), load(8), set(CCSZ),
  when([get(CCSZ), i32(1 << 27), GE_U], ret(0)),
  get(CCSZ), i32(3), SHL, set(CCSZ),
  get(CCA), load(4), i32(0xffff), AND, set(CCN),
  get(CCA), load(4), i32(31), SHR_U, set(CCKF),
  u8at(H_KINDS, get(CCID)), i32(BtfKind.Union), EQ, set(CCUN),
  get(CCA), i32(12), ADD, set(CCQ),
  // A member's line and its padding: up to ~130 lines of lvl + 1 tabs and `long: 64;` (gaps over 1 KiB are one array).
  spend(padLines()),
  repeat(CCN, [
    spend([padLines(), hdr(H_MAXLEN), ADD, i32(256), ADD]),
    get(CCQ), load(8), set(CCOFF),
    i32(0), set(CCBITS),
    when(get(CCKF), [get(CCOFF), i32(24), SHR_U, set(CCBITS), get(CCOFF), i32(0xffffff), AND, set(CCOFF)]),
    when(get(CCUN), [i32(0), set(CCOFF)]),
    when([get(CCOFF), get(CCSZ), GT_U], ret(0)),
    when([get(CCBITS), get(CCSZ), get(CCOFF), SUB, GT_U], ret(0)),
    get(CCQ), load(4), set(CCT),
    when([get(CCUN), EQZ, get(CCBITS), EQZ, AND], [
      when([get(CCT), hdr(H_COUNT), GE_U], ret(0)),
      when([u8at(H_ALIGN, get(CCT)), EQZ], ret(0)),
      when([get(CCT), i32(0), call(SZ), i32(1 << 27), GE_U], ret(0)),
    ]),
    when([get(CCT), i32(0), get(CCLVL), i32(1), ADD, get(CCTOT), i32(1), ADD, call(CHECKD), EQZ], ret(0)),
    get(CCQ), i32(12), ADD, set(CCQ),
  ]),
  i32(1),
];
// checke(id) -> 1 for a 32-bit enum whose text fits.
const checke = (): Code => [
  when([u8at(H_KINDS, get(0)), i32(BtfKind.Enum), NE], ret(0)),
  addrOf(get(0)), set(1),
  get(1), load(4), i32(0xffff), AND, set(2),
  get(1), i32(12), ADD, set(3),
  repeat(2, spend([i32(128), hdr(H_MAXLEN), ADD])),
  i32(1),
];
// checktop(id) -> 1 when emitTopLevel(id) can be written here.
const checktop = (): Code => [
  setVar(H_EST, hdr(H_ESTMAX)),
  u8at(H_KINDS, get(0)), set(1),
  when(kindIs(1, BtfKind.Struct, BtfKind.Union), [get(0), i32(0), i32(0), call(CHECKC), RETURN]),
  when(kindIs(1, BtfKind.Enum, BtfKind.Enum64), [get(0), call(CHECKE), RETURN]),
  when(kindIs(1, BtfKind.Typedef), [when(u8at(H_EMIT, get(0)), ret(1)), addrOf(get(0)), load(8), i32(0), i32(0), i32(0), call(CHECKD), RETURN]),
  i32(1),
];
// item(id, p): cdump.ts's emitTopLevel.
const item = (): Code => [
  when([u8at(H_EMIT, get(0)), i32(2), EQ], [RETURN]),
  u8at(H_KINDS, get(0)), set(2),
  when(kindIs(2, BtfKind.Struct, BtfKind.Union), [
    st8(H_EMIT, get(0), i32(3)),
    get(1), get(0), i32(0), call(COMPDEF), set(3), text(3, ';\n\n'),
    get(1), get(3), call(TOUT),
    st8(H_EMIT, get(0), i32(2)),
    st8(H_DECLARED, get(0), i32(1)),
    RETURN,
  ]),
  when(kindIs(2, BtfKind.Enum), [
    st8(H_EMIT, get(0), i32(3)),
    get(1), get(0), i32(0), call(ENUMDEF), set(3), text(3, ';\n\n'),
    get(1), get(3), call(TOUT),
    st8(H_EMIT, get(0), i32(2)),
    RETURN,
  ]),
  when(kindIs(2, BtfKind.Fwd), [get(0), get(1), call(ETAG), RETURN]),
  when(kindIs(2, BtfKind.Typedef), [get(0), get(1), call(ETYPEDEF), RETURN]),
];
// kfunc(id, fastcall) -> 1 once it wrote cdump.ts's emitKfuncs line for FUNC `id` (its prototype a
// FUNC_PROTO), 0 when check() declines a parameter's or the return type's declaration.
const [KFID, KFFC, KFPR, KFA, KFN, KFQ, KFI, KFP, KFDS, KFX] = Array.from({ length: 10 }, (_, i) => i);
const kfunc = (): Code => [
  addrOf(get(KFID)), load(8), set(KFPR),
  addrOf(get(KFPR)), set(KFA),
  get(KFA), load(4), i32(0xffff), AND, set(KFN),
  setVar(H_EST, hdr(H_ESTMAX)),
  spend([i32(256), hdr(H_MAXLEN), ADD]),
  get(KFA), i32(12), ADD, set(KFQ),
  get(KFN), set(KFI),
  repeat(KFI, [
    spend([i32(256), hdr(H_MAXLEN), ADD]),
    when([get(KFQ), load(4), i32(0), i32(0), i32(0), call(CHECKD), EQZ], ret(0)),
    get(KFQ), i32(8), ADD, set(KFQ),
  ]),
  when([get(KFA), load(8), i32(0), i32(0), i32(0), call(CHECKD), EQZ], ret(0)),
  hdr(H_SCR), set(KFP),
  text(KFP, 'extern '),
  when(get(KFFC), text(KFP, '__bpf_fastcall ')),
  get(KFP), set(KFDS),
  get(KFP), u32at(H_NAMEOFF, get(KFID)), call(CPY), set(KFP),
  text(KFP, '('),
  get(KFN), EQZ, get(KFN), i32(1), EQ, get(KFA), load(16), EQZ, AND, OR, IF, VOID,
  text(KFP, 'void'),
  ELSE,
  get(KFA), i32(12), ADD, set(KFQ),
  i32(0), set(KFI),
  BLOCK, VOID, LOOP, VOID,
  get(KFI), get(KFN), GE_U, BR_IF, 1,
  when(get(KFI), text(KFP, ', ')),
  get(KFQ), load(4), EQZ, get(KFI), i32(1), ADD, get(KFN), EQ, AND, IF, VOID,
  text(KFP, '...'),
  ELSE,
  get(KFP), set(KFX),
  get(KFP), get(KFQ), load(), call(CPY), set(KFP),
  get(KFQ), load(4), get(KFX), get(KFP), i32(0), i32(0), call(DECL), set(KFP),
  END,
  get(KFQ), i32(8), ADD, set(KFQ),
  get(KFI), i32(1), ADD, set(KFI),
  BR, 0, END, END,
  END,
  text(KFP, ')'),
  get(KFA), load(8), get(KFDS), get(KFP), i32(0), i32(0), call(DECL), set(KFP),
  text(KFP, ' __weak __ksym;\n'),
  hdr(H_SCR), get(KFP), call(TOUT),
  i32(1),
];
// items(from, to) -> j: queue entries from..to-1 until one is declined (H_STOP 1) or the item output is full.
const itemsFn = (): Code => [
  BLOCK, VOID, LOOP, VOID,
  get(0), get(1), GE_U, BR_IF, 1,
  hdr(H_OPOS), hdr(H_IOUT), SUB, i32(ITEM_SOFT), GE_U, BR_IF, 1,
  hdr(H_QUEUE), get(0), i32(2), SHL, ADD, load(), set(2),
  when([u8at(H_EMIT, get(2)), i32(2), NE], [
    when([get(2), call(CHECKTOP), EQZ], [setVar(H_STOP, i32(1)), get(0), RETURN]),
    get(2), hdr(H_SCR), call(ITEM),
  ]),
  get(0), i32(1), ADD, set(0),
  BR, 0, END, END,
  setVar(H_STOP, i32(0)),
  get(0),
];

/** What the WebAssembly prepares for a dump of every type. */
export interface CDumpPrep {
  /** The ids to define, in the ordering's order. */
  queue: Uint32Array;
  /** Every struct's and union's (and their members' types') alignment (0: not computed) and packing (0 unknown, 1 no, 2 yes), as TypeLayout's memo; undefined where the layout trapped (TypeLayout then computes, and throws its errors). */
  align?: Uint8Array;
  packed?: Uint8Array;
  /**
   * The records' words with each name the dump makes unique (a struct's, union's, typedef's,
   * enum's with enumerators, each enumerator's; a FWD's) replaced by a key numbering the distinct strings,
   * and how many keys there are; undefined where that pass trapped. A view of the module's memory.
   */
  keys?: Uint32Array;
  keyCount?: number;
  /** By name key (FWDs' names keyed too): the first struct, and the first union, of that name (0: none). */
  firstStruct?: Int32Array;
  firstUnion?: Int32Array;
  /** The struct member writer (see membersFn) and the memory it shares with the dumper; undefined where the layout is. */
  members?: CDumpMembers;
  /** The writer of whole items (see item()), with the members'. */
  items?: CDumpItems;
}

/** members() and its memory: the marks and counts the dumper keeps there, its output and results. */
export interface CDumpMembers {
  run: (id: number, i: number, cur: number, lvl: number) => number;
  emitState: Uint8Array;
  declared: Uint8Array;
  onPath: Uint8Array;
  counts: Int32Array;
  /** The memory as a Buffer (latin1 slices of the output) and its words (results). */
  bytes: Buffer;
  words: Int32Array;
  out: number;
}

/** items() and the name counts it keeps in its memory (cdump.ts counts there too). */
export interface CDumpItems {
  /** Writes queue entries from..to-1 (at ITEMS_POS, from `out`), returning the first not written: the item output is full, or it declined that one (ITEMS_STOP 1). */
  run: (from: number, to: number) => number;
  /** Writes the `extern ... __weak __ksym;` line of kfunc `id` (its type a FUNC_PROTO; fastcall 1 for `__bpf_fastcall`) at ITEMS_POS: 1, or 0 where it declines. */
  kfunc: (id: number, fastcall: number) => number;
  queue: Uint32Array;
  /** Each name key's count in the tag and the identifier namespaces. */
  tagCount: Int32Array;
  identCount: Int32Array;
  /** By key: the last enum (its id + 1) that counted the enumerator name, and that count. */
  lastEnum: Int32Array;
  lastCount: Int32Array;
  /** Enumerators' counts: from an enum's slot (ebase[id]), 1 once counted, then each enumerator's. */
  ecount: Int32Array;
  ebase: Int32Array;
  /** The memory (the item output at `out`) and its header words (ITEMS_POS, ITEMS_STOP, PAD_COUNTER), as members'. */
  bytes: Buffer;
  words: Int32Array;
  out: number;
}

/** Word indexes (CDumpMembers.words) of items()'s output position, stop flag, and the `__bee_padN` counter. */
export const ITEMS_POS = H_OPOS / 4;
export const ITEMS_STOP = H_STOP / 4;
export const PAD_COUNTER = H_PADC / 4;

/** Word indexes of members()'s results in CDumpMembers.words. */
export const MEMBERS_CUR = H_CUR / 4;
export const MEMBERS_LEN = H_OLEN / 4;
export const MEMBERS_BUDGET = H_BUDGET / 4;

/**
 * The module, base64: written here by scripts/bundle-cli.mjs in the CLI's bundle (its assembly,
 * nested arrays of bytes flattened, cost a one-shot `btf dump format c` ~9 ms of cold JavaScript);
 * elsewhere assembled on first use.
 */
const PREBUILT: string | undefined = undefined;
let moduleBytes: Uint8Array | undefined;

/** @internal The module's bytes (the same for every BTF: the layout is in the memory's header). */
export function cdumpWasmModule(): Uint8Array {
  if (moduleBytes) return moduleBytes;
  if (PREBUILT !== undefined) return (moduleBytes = new Uint8Array(Buffer.from(PREBUILT, 'base64')));
  return (moduleBytes = wasmModule([
  { params: 3, results: 1, locals: 7, body: ord() },
  { params: 0, results: 0, locals: 6, body: refs() },
  { name: 'run', params: 0, results: 1, locals: 2, body: run() },
  { params: 2, results: 1, locals: 11, body: align() },
  { params: 2, results: 1, locals: 11, body: size() },
  { name: 'layout', params: 0, results: 0, locals: 2, body: layoutAll() },
  { params: 2, results: 1, locals: 1, body: streq() },
  { params: 1, results: 0, locals: 6, body: key() },
  { name: 'keys', params: 0, results: 1, locals: 6, body: keysAll() },
  { params: 2, results: 1, locals: 2, body: decBody() },
  { params: 2, results: 1, locals: 1, body: cpy() },
  { params: 2, results: 1, locals: 1, body: namew() },
  { params: 2, results: 1, locals: 1, body: basew() },
  { params: 4, results: 1, locals: 3, body: pad() },
  { params: 1, results: 1, locals: 3, body: okbase() },
  { name: 'members', params: 4, results: 1, locals: 18, body: membersFn() },
  { params: 2, results: 1, locals: 0, body: tabsw() },
  { params: 1, results: 1, locals: 4, body: nameN() },
  { params: 2, results: 1, locals: 0, body: nameFn() },
  { params: 3, results: 1, locals: 3, body: joinw() },
  { params: 2, results: 0, locals: 0, body: tout() },
  { params: 1, results: 1, locals: 1, body: fwdt() },
  { params: 2, results: 1, locals: 1, body: tagkw() },
  { params: 2, results: 0, locals: 3, body: etag() },
  { params: 2, results: 0, locals: 2, body: etypedef() },
  { params: 2, results: 0, locals: 1, body: eenum() },
  { params: 1, results: 0, locals: 6, body: ecounts() },
  { params: 3, results: 1, locals: 7, body: enumdef() },
  { params: 5, results: 1, locals: 8, body: decl() },
  { params: 3, results: 1, locals: 16, body: compdef() },
  { params: 2, results: 1, locals: 9, body: sz() },
  { name: 'maxrun', params: 0, results: 0, locals: 5, body: maxrun() },
  { params: 4, results: 1, locals: 5, body: checkd() },
  { params: 4, results: 1, locals: 5, body: checkd2() },
  { params: 3, results: 1, locals: 9, body: checkc() },
  { params: 1, results: 1, locals: 3, body: checke() },
  { params: 1, results: 1, locals: 1, body: checktop() },
  { params: 2, results: 0, locals: 2, body: item() },
  { name: 'items', params: 2, results: 1, locals: 1, body: itemsFn() },
  { name: 'kfunc', params: 2, results: 1, locals: 8, body: kfunc() },
]));
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
  // The name table: twice as many slots as names to key (a power of two).
  let names = n;
  for (const k of [BtfKind.Enum, BtfKind.Enum64]) for (let id = f.kinds.indexOf(k, 1); id !== -1; id = f.kinds.indexOf(k, id + 1)) names += f.words[f.offs[id]! + 1]! & 0xffff;
  let slots = 16;
  while (slots < 2 * names) slots *= 2;
  const table = at(packedAt + n);
  const emitAt = table + 8 * slots;
  const declAt = emitAt + n;
  const pathAt = declAt + n;
  const countsAt = at(pathAt + n);
  const nameOffAt = countsAt + 4 * n;
  const firstsAt = nameOffAt + 4 * n;
  const firstuAt = firstsAt + 4 * names;
  const tagcAt = firstuAt + 4 * names;
  const identcAt = tagcAt + 4 * names;
  const lasteAt = identcAt + 4 * names;
  const lastcAt = lasteAt + 4 * names;
  const ecountAt = lastcAt + 4 * names;
  const kstrAt = ecountAt + 4 * (names + 1);
  const ebaseAt = kstrAt + 4 * names;
  const klenAt = ebaseAt + 4 * n;
  const scrAt = klenAt + 4 * names;
  const ioutAt = scrAt + SCRATCH_SIZE;
  const outAt = ioutAt + ITEM_SOFT + SCRATCH_SIZE / 2;
  const end = outAt + OUT_SIZE;
  try {
    const L = [words, offs, kinds, str, order, ref, queue, 0, n, alignAt, packedAt, table, slots - 1, 0, emitAt, declAt, 0, 0, 0, 0, 0, pathAt, countsAt, outAt, outAt + OUT_SIZE - 64, 0, 0, 0, nameOffAt, firstsAt, firstuAt, 0,
      tagcAt, identcAt, lasteAt, lastcAt, ecountAt, kstrAt, scrAt, ioutAt, 0, 0, ebaseAt, 0, 0, SCRATCH_SIZE / 4, 0, klenAt, f.strings.length, 0];
    const mod = new wasmApi.Module(cdumpWasmModule());
    const mem = new wasmApi.Memory({ initial: Math.ceil(end / 65536) });
    const { run: runWasm, layout, keys, members, items, kfunc: kfuncWasm, maxrun: maxRun } = new wasmApi.Instance(mod, { m: { mem } }).exports as {
      kfunc: CDumpItems['kfunc'];
      maxrun: () => void;
      run: () => number;
      layout: () => void;
      keys: () => number;
      members: CDumpMembers['run'];
      items: CDumpItems['run'];
    };
    const b = mem.buffer;
    new Int32Array(b, 0, L.length).set(L);
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
    try {
      prep.keyCount = keys();
      prep.keys = new Uint32Array(b, words, f.words.length);
      prep.firstStruct = new Int32Array(b, firstsAt, prep.keyCount);
      prep.firstUnion = new Int32Array(b, firstuAt, prep.keyCount);
      if (prep.align) {
        prep.members = {
          run: members,
          emitState: new Uint8Array(b, emitAt, n),
          declared: new Uint8Array(b, declAt, n),
          onPath: new Uint8Array(b, pathAt, n),
          counts: new Int32Array(b, countsAt, n),
          bytes: Buffer.from(b),
          words: new Int32Array(b, 0, DATA / 4),
          out: outAt,
        };
        const w32 = (at: number, len: number): Int32Array => new Int32Array(b, at, len);
        prep.items = {
          run: items,
          kfunc: kfuncWasm,
          queue: new Uint32Array(b, queue, prep.queue.length),
          tagCount: w32(tagcAt, names),
          identCount: w32(identcAt, names),
          lastEnum: w32(lasteAt, names),
          lastCount: w32(lastcAt, names),
          ecount: w32(ecountAt, names + 1),
          ebase: w32(ebaseAt, n),
          bytes: prep.members.bytes,
          words: prep.members.words,
          out: ioutAt,
        };
        prep.members.words[H_OPOS / 4] = ioutAt;
        maxRun();
      }
    } catch {
      // The dumper counts names by their strings.
    }
    return prep;
  } catch {
    // A trap (an error the JavaScript walk reports), a stack overflow, or no room for a memory.
    return undefined;
  }
}
