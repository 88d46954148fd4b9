// `btf dump ... format raw` as a small hand-assembled WebAssembly module: raw.ts's lines, byte for
// byte, for every kind but ENUM64 (raw.ts writes those; vmlinux has a handful). A one-shot command
// runs raw.ts's JavaScript writers once over ~126k types and ~12 MB of text, mostly before TurboFan
// has compiled them (~70 ms of the process's CPU here, bpftool's whole dump being ~90 ms); Liftoff
// compiles this module at once. `test/btf-raw-wasm.test.ts` holds the two writers to the same
// bytes (vmlinux, every fixture, split BTF, hand-made types of every kind and edge).
//
// The memory holds the flat BTF (flat.ts: words, each id's record offset and kind, the string
// space) and an output area. dump(from, to) writes whole types into the output area until it holds
// OUT_SOFT bytes, and returns the next id; the caller hands the bytes on and calls again. Every
// line has room: a type's lines may run OUT_SLACK bytes past OUT_SOFT, and a type longer than that
// (a hostile name, a struct of 65535 members with long names) traps: the caller then writes from
// that call's first id in JavaScript.
import type { FlatBtf } from './flat.js';
import {
  ADD, AND, BLOCK, BR, BR_IF, ELSE, END, EQ, EQZ, GE_U, GT_U, IF, LOOP, LT_S, LT_U, MEMCOPY, OR, SHL, SHR_U, SUB, UNREACHABLE, VOID,
  type Code, call, decBody, get, i32, load, load8, repeat, set, store, store8, tee, text, wasmApi, wasmModule, when,
} from './wasm-asm.js';
import { BtfKind, KIND_NAMES } from './types.js';

// The header at address 0 (byte addresses), written per dump so the module is the same for every BTF.
const H_WORDS = 0;
const H_OFFS = 4;
const H_KINDS = 8;
const H_STR = 12;
const H_COUNT = 16;
const H_OUT = 20;
const H_SOFT = 24;
const H_HARD = 28;
/** What dump() leaves: the bytes it wrote, and 1 when it stopped before a type it declines (ENUM64). */
const H_OLEN = 32;
const H_STOP = 36;
/** Each kind's name (20 kinds, 16 bytes each: the length, then the letters). */
const KNAMES = 64;
/** The linkage names: static, global, extern, (unknown), 16 bytes each as KNAMES. */
const LINKS = KNAMES + 20 * 16;
const DATA = 512;
const LINKAGE = ['static', 'global', 'extern', '(unknown)'];
/** dump() returns once this much output is written; a type may run OUT_SLACK past it. */
const OUT_SOFT = 1 << 19;
const OUT_SLACK = 1 << 21;

const hdr = (at: number): Code => [i32(0), load(at)];

const DEC = 0;
const SDEC = 1;
const NAME = 2;

// sdec(p, v) -> p: v as a signed number.
const sdec = (): Code => [
  when([get(1), i32(0), LT_S], [get(0), i32(45), store8(), get(0), i32(1), ADD, set(0), i32(0), get(1), SUB, set(1)]),
  get(0), get(1), call(DEC),
];

// name(p, off) -> p: the string at `off` in the string space, or (anon) for none or an empty one.
const [NP, NOFF, NSTART, NA, NC, NHARD] = [0, 1, 2, 3, 4, 5];
const name = (): Code => [
  get(NP), set(NSTART),
  when(get(NOFF), [
    hdr(H_STR), get(NOFF), ADD, set(NA),
    hdr(H_HARD), set(NHARD),
    BLOCK, VOID, LOOP, VOID,
    get(NA), load8(), tee(NC), EQZ, BR_IF, 1,
    when([get(NP), get(NHARD), GE_U], [UNREACHABLE]),
    get(NP), get(NC), store8(),
    get(NP), i32(1), ADD, set(NP),
    get(NA), i32(1), ADD, set(NA),
    BR, 0,
    END, END,
  ]),
  when([get(NP), get(NSTART), EQ], text(NP, '(anon)')),
  get(NP),
];

// dump(from, to) -> the next id to write.
const [FROM, TO, ID, P, INFO, KIND, VLEN, KF, ST, O, K, A, T, SOFT, HARD, LEN] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const t = (s: string): Code => text(O, s);
/** The number `v` (unsigned), `s` signed. */
const u = (v: Code): Code => [get(O), v, call(DEC), set(O)];
const s = (v: Code): Code => [get(O), v, call(SDEC), set(O)];
const nm = (off: Code): Code => [get(O), off, call(NAME), set(O)];
/** Word `k` of the record's data (after its 3-word header) at P. */
const w = (k: number): Code => [get(P), load(4 * k)];
/** A 16-byte name table entry: its letters copied at O. */
const entry = (table: number, index: Code): Code => [
  index, i32(4), SHL, i32(table), ADD, set(A),
  get(O), get(A), i32(1), ADD, get(A), load8(), tee(LEN), MEMCOPY,
  get(O), get(LEN), ADD, set(O),
];
/** A linkage name (static, global, extern; (unknown) for anything else). */
const linkage = (v: Code): Code => [v, set(T), when([get(T), i32(2), GT_U], [i32(3), set(T)]), entry(LINKS, get(T))];
/** Every list line: trap rather than run past the output area. */
const room = (): Code => when([get(O), get(HARD), GE_U], [UNREACHABLE]);
const kindIs = (...kinds: number[]): Code => kinds.map((x, i) => [get(KIND), i32(x), EQ, i ? OR : []]);
/** A kind's lines after `[id] KIND 'name`; BR 1 leaves the dispatch block from the `when`. */
const kindCase = (kinds: number[], body: Code): Code => when(kindIs(...kinds), [body, BR, 1]);

const intLine = (): Code => [
  t("' size="), u(get(ST)),
  t(' bits_offset='), u([w(0), i32(16), SHR_U, i32(0xff), AND]),
  t(' nr_bits='), u([w(0), i32(0xff), AND]),
  w(0), i32(24), SHR_U, i32(0xf), AND, set(T),
  get(T), i32(1), AND, IF, VOID, t(' encoding=SIGNED'),
  ELSE, get(T), i32(2), AND, IF, VOID, t(' encoding=CHAR'),
  ELSE, get(T), i32(4), AND, IF, VOID, t(' encoding=BOOL'),
  ELSE, get(T), EQZ, IF, VOID, t(' encoding=(none)'),
  ELSE, t(' encoding=(unknown)'),
  END, END, END, END,
];
const membersLines = (): Code => [
  t("' size="), u(get(ST)), t(' vlen='), u(get(VLEN)),
  get(VLEN), set(K),
  repeat(K, [
    room(),
    t("\n\t'"), nm(w(0)), t("' type_id="), u(w(1)), t(' bits_offset='),
    w(2), set(T),
    get(KF), IF, VOID,
    u([get(T), i32(0xffffff), AND]),
    when([get(T), i32(24), SHR_U], [t(' bitfield_size='), u([get(T), i32(24), SHR_U])]),
    ELSE, u(get(T)), END,
    get(P), i32(12), ADD, set(P),
  ]),
];
const enumLines = (): Code => [
  get(KF), IF, VOID, t("' encoding=SIGNED size="), ELSE, t("' encoding=UNSIGNED size="), END,
  u(get(ST)), t(' vlen='), u(get(VLEN)),
  get(VLEN), set(K),
  repeat(K, [
    room(),
    t("\n\t'"), nm(w(0)), t("' val="),
    get(KF), IF, VOID, s(w(1)), ELSE, u(w(1)), END,
    get(P), i32(8), ADD, set(P),
  ]),
];
const paramLines = (): Code => [
  t("' ret_type_id="), u(get(ST)), t(' vlen='), u(get(VLEN)),
  get(VLEN), set(K),
  repeat(K, [room(), t("\n\t'"), nm(w(0)), t("' type_id="), u(w(1)), get(P), i32(8), ADD, set(P)]),
];
const datasecLines = (): Code => [
  t("' size="), u(get(ST)), t(' vlen='), u(get(VLEN)),
  get(VLEN), set(K),
  repeat(K, [
    room(),
    t('\n\ttype_id='), w(0), set(T), u(get(T)), t(' offset='), u(w(1)), t(' size='), u(w(2)),
    get(T), hdr(H_COUNT), LT_U, IF, VOID,
    t(' ('), entry(KNAMES, [hdr(H_KINDS), get(T), ADD, load8()]), t(" '"),
    hdr(H_OFFS), get(T), i32(2), SHL, ADD, load(), tee(A), i32(0), LT_S, IF, VOID, nm(i32(0)),
    ELSE, nm([hdr(H_WORDS), get(A), i32(2), SHL, ADD, load()]), END,
    t("')"),
    ELSE, t(' (UNKN)'), END,
    get(P), i32(12), ADD, set(P),
  ]),
];

const dump = (): Code => [
  hdr(H_OUT), set(O), hdr(H_SOFT), set(SOFT), hdr(H_HARD), set(HARD),
  i32(0), i32(0), store(H_STOP),
  get(FROM), set(ID),
  BLOCK, VOID, LOOP, VOID,
  get(ID), get(TO), GE_U, BR_IF, 1,
  get(O), get(SOFT), GE_U, BR_IF, 1,
  // ENUM64 (and any kind past it, which parsing refuses) is the caller's.
  hdr(H_KINDS), get(ID), ADD, load8(), tee(KIND), i32(BtfKind.Enum64), GE_U, IF, VOID, i32(0), i32(1), store(H_STOP), BR, 2, END,
  t('['), u(get(ID)), t('] '), entry(KNAMES, get(KIND)), t(" '"),
  hdr(H_OFFS), get(ID), i32(2), SHL, ADD, load(), tee(P), i32(0), LT_S, IF, VOID,
  t("(anon)'"),
  ELSE,
  hdr(H_WORDS), get(P), i32(2), SHL, ADD, set(P),
  nm(w(0)),
  w(1), tee(INFO), i32(0xffff), AND, set(VLEN),
  get(INFO), i32(31), SHR_U, set(KF),
  w(2), set(ST),
  get(P), i32(12), ADD, set(P),
  BLOCK, VOID,
  kindCase([BtfKind.Ptr, BtfKind.Const, BtfKind.Typedef, BtfKind.Volatile, BtfKind.Restrict, BtfKind.TypeTag], [t("' type_id="), u(get(ST))]),
  kindCase([BtfKind.FuncProto], paramLines()),
  kindCase([BtfKind.Struct, BtfKind.Union], membersLines()),
  kindCase([BtfKind.Func], [t("' type_id="), u(get(ST)), t(' linkage='), linkage(get(VLEN))]),
  kindCase([BtfKind.Array], [t("' type_id="), u(w(0)), t(' index_type_id='), u(w(1)), t(' nr_elems='), u(w(2))]),
  kindCase([BtfKind.Enum], enumLines()),
  kindCase([BtfKind.Int], intLine()),
  kindCase([BtfKind.Fwd], [get(KF), IF, VOID, t("' fwd_kind=union"), ELSE, t("' fwd_kind=struct"), END]),
  kindCase([BtfKind.Var], [t("' type_id="), u(get(ST)), t(', linkage='), linkage(w(0))]),
  kindCase([BtfKind.Datasec], datasecLines()),
  kindCase([BtfKind.Float], [t("' size="), u(get(ST))]),
  kindCase([BtfKind.DeclTag], [t("' type_id="), u(get(ST)), t(' component_idx='), s(w(0))]),
  END,
  END,
  t('\n'),
  get(ID), i32(1), ADD, set(ID),
  BR, 0,
  END, END,
  i32(0), get(O), hdr(H_OUT), SUB, store(H_OLEN),
  get(ID),
];

/**
 * The module's bytes: scripts/bundle-cli.mjs writes them into the bundle here (base64), so a
 * one-shot command does not assemble them (cold JavaScript); elsewhere assembled on first use.
 */
const PREBUILT: string | undefined = undefined;
let moduleBytes: Uint8Array | undefined;

/** @internal The module's bytes (the same for every BTF: the layout is in the memory's header). */
export function rawWasmModule(): Uint8Array {
  if (moduleBytes) return moduleBytes;
  if (PREBUILT !== undefined) return (moduleBytes = new Uint8Array(Buffer.from(PREBUILT, 'base64')));
  return (moduleBytes = wasmModule([
    { params: 2, results: 1, locals: 2, body: decBody() },
    { params: 2, results: 1, locals: 0, body: sdec() },
    { params: 2, results: 1, locals: 4, body: name() },
    { name: 'dump', params: 2, results: 1, locals: 14, body: dump() },
  ]));
}

/** The module over one BTF's memory. */
export interface RawDumpWasm {
  /** Writes types from `from` (below `to`) into the output; returns the next id. Throws (a trap) on a type it has no room for. */
  dump(from: number, to: number): number;
  /** The bytes the last dump() wrote (a view of the memory, valid until the next call). */
  output(): Uint8Array;
  /** Whether the last dump() stopped before a type it leaves to the caller (ENUM64). */
  declined(): boolean;
}

/** The writer for `f`, or undefined where WebAssembly is missing (--jitless) or refuses the memory. */
export function rawDumpWasm(f: FlatBtf): RawDumpWasm | undefined {
  if (!wasmApi) return undefined;
  const n = f.count;
  const words = DATA;
  const offs = words + 4 * f.words.length;
  const kinds = offs + 4 * n;
  const str = (kinds + n + 3) & ~3;
  // Two zero bytes after the strings: a name that runs to the end of the space still ends.
  const out = (str + f.strings.length + 2 + 7) & ~7;
  const hard = out + OUT_SOFT + OUT_SLACK;
  const end = hard + 256;
  try {
    const mem = new wasmApi.Memory({ initial: Math.ceil(end / 65536) });
    const ex = new wasmApi.Instance(new wasmApi.Module(rawWasmModule()), { m: { mem } }).exports as { dump: (from: number, to: number) => number };
    const b = mem.buffer;
    const h = new Int32Array(b, 0, DATA / 4);
    h.set([words, offs, kinds, str, n, out, out + OUT_SOFT, hard]);
    const bytes = new Uint8Array(b);
    const entry = (at: number, name: string): void => {
      bytes[at] = name.length;
      for (let c = 0; c < name.length; c++) bytes[at + 1 + c] = name.charCodeAt(c);
    };
    for (let k = 0; k <= BtfKind.Enum64; k++) entry(KNAMES + 16 * k, KIND_NAMES[k as BtfKind]);
    LINKAGE.forEach((name, i) => entry(LINKS + 16 * i, name));
    new Uint32Array(b, words, f.words.length).set(f.words);
    new Int32Array(b, offs, n).set(f.offs);
    bytes.set(f.kinds, kinds);
    bytes.set(f.strings, str);
    return {
      dump: ex.dump,
      output: () => bytes.subarray(out, out + h[H_OLEN / 4]!),
      declined: () => h[H_STOP / 4] === 1,
    };
  } catch {
    // No room for the memory (a low `ulimit -v`), or a module this V8 refuses: the JavaScript writes.
    return undefined;
  }
}
