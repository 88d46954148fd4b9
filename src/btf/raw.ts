// `btf dump ... format raw`: one line per type in bpftool's layout, so the two diff cleanly.
import type { Btf } from './btf.js';
import { type FlatBtf, flatBtf } from './flat.js';
import { rawDumpWasm } from './raw-wasm.js';
import { type ByteSink, lit, TextOut } from './textout.js';
import { BtfKind, type BtfType, INT_BOOL, INT_CHAR, INT_SIGNED, KIND_NAMES } from './types.js';

const FUNC_LINKAGE = ['static', 'global', 'extern'];
const VAR_LINKAGE = ['static', 'global', 'extern'];

function intEncoding(enc: number): string {
  if (enc & INT_SIGNED) return 'SIGNED';
  if (enc & INT_CHAR) return 'CHAR';
  if (enc & INT_BOOL) return 'BOOL';
  return enc === 0 ? '(none)' : '(unknown)';
}

const L = {
  open: lit('['),
  close: lit('] '),
  quote: lit(" '"),
  anon: lit('(anon)'),
  size: lit("' size="),
  bitsOffset: lit(' bits_offset='),
  nrBits: lit(' nr_bits='),
  typeId: lit("' type_id="),
  indexTypeId: lit(' index_type_id='),
  nrElems: lit(' nr_elems='),
  vlen: lit(' vlen='),
  member: lit("\n\t'"),
  mTypeId: lit("' type_id="),
  bitfieldSize: lit(' bitfield_size='),
  encSigned: lit("' encoding=SIGNED size="),
  encUnsigned: lit("' encoding=UNSIGNED size="),
  val: lit("' val="),
  fwdUnion: lit("' fwd_kind=union"),
  fwdStruct: lit("' fwd_kind=struct"),
  linkage: lit(' linkage='),
  retTypeId: lit("' ret_type_id="),
  varLinkage: lit(', linkage='),
  secEntry: lit('\n\ttype_id='),
  offset: lit(' offset='),
  eSize: lit(' size='),
  unkn: lit(' (UNKN)'),
  componentIdx: lit(' component_idx='),
  sizeOnly: lit("' size="),
  anonQuoted: lit("(anon)'"),
  paren: lit(' ('),
  closeParen: lit("')"),
  ll: lit('LL'),
  ull: lit('ULL'),
};
const KIND_BYTES = Object.values(BtfKind)
  .filter((k): k is BtfKind => typeof k === 'number')
  .reduce<Uint8Array[]>((a, k) => ((a[k] = lit(KIND_NAMES[k])), a), []);
const INT_ENC = [0, INT_SIGNED, INT_CHAR, INT_BOOL].map((e) => lit(' encoding=' + intEncoding(e)));
const INT_ENC_UNKNOWN = lit(' encoding=(unknown)');
const LINKAGE_BYTES = FUNC_LINKAGE.map(lit);
const LINKAGE_UNKNOWN = lit('(unknown)');

/** `'name'` (or `'(anon)'`) of the string at `off`: the quote before is written by the caller. */
function nameAt(o: TextOut, strings: Uint8Array, off: number): void {
  if (off === 0 || o.cstr(strings, off) === 0) o.lit(L.anon);
}

/** The fields after `[id] KIND 'name`, up to the end of the type's last line (no newline). */
type KindWriter = (o: TextOut, f: FlatBtf, p: number, st: number, vlen: number, kflag: boolean) => void;

function refLine(o: TextOut, _f: FlatBtf, _p: number, st: number): void {
  o.lit(L.typeId);
  o.uint(st);
}

function members(o: TextOut, f: FlatBtf, p: number, st: number, vlen: number, kflag: boolean): void {
  const w = f.words;
  o.lit(L.size);
  o.uint(st);
  o.lit(L.vlen);
  o.uint(vlen);
  for (let k = 0; k < vlen; k++, p += 3) {
    const off = w[p + 2]!;
    o.lit(L.member);
    nameAt(o, f.strings, w[p]!);
    o.lit(L.mTypeId);
    o.uint(w[p + 1]!);
    o.lit(L.bitsOffset);
    o.uint(kflag ? off & 0xffffff : off);
    if (kflag && off >>> 24) {
      o.lit(L.bitfieldSize);
      o.uint(off >>> 24);
    }
    o.endLine();
  }
}

function params(o: TextOut, f: FlatBtf, p: number, st: number, vlen: number): void {
  const w = f.words;
  o.lit(L.retTypeId);
  o.uint(st);
  o.lit(L.vlen);
  o.uint(vlen);
  for (let k = 0; k < vlen; k++, p += 2) {
    o.lit(L.member);
    nameAt(o, f.strings, w[p]!);
    o.lit(L.mTypeId);
    o.uint(w[p + 1]!);
    o.endLine();
  }
}

/** ENUM (4-byte values, 2 words per entry) and ENUM64 (`wide`: lo/hi words, LL/ULL suffix) values. */
function enumValues(o: TextOut, f: FlatBtf, p: number, st: number, vlen: number, kflag: boolean, wide: boolean): void {
  const w = f.words;
  o.lit(kflag ? L.encSigned : L.encUnsigned);
  o.uint(st);
  o.lit(L.vlen);
  o.uint(vlen);
  for (let k = 0; k < vlen; k++, p += wide ? 3 : 2) {
    o.lit(L.member);
    nameAt(o, f.strings, w[p]!);
    o.lit(L.val);
    if (!wide) o.int(kflag ? w[p + 1]! | 0 : w[p + 1]!);
    else {
      const lo = w[p + 1]!;
      const hi = w[p + 2]!;
      if (hi === 0) o.uint(lo);
      else {
        const v = (BigInt(hi) << 32n) | BigInt(lo);
        o.str(String(kflag ? BigInt.asIntN(64, v) : v));
      }
      o.lit(kflag ? L.ll : L.ull);
    }
    o.endLine();
  }
}

function datasecVars(o: TextOut, f: FlatBtf, p: number, st: number, vlen: number): void {
  const { words: w, offs, kinds, count } = f;
  o.lit(L.sizeOnly);
  o.uint(st);
  o.lit(L.vlen);
  o.uint(vlen);
  for (let k = 0; k < vlen; k++, p += 3) {
    const t = w[p]!;
    o.lit(L.secEntry);
    o.uint(t);
    o.lit(L.offset);
    o.uint(w[p + 1]!);
    o.lit(L.eSize);
    o.uint(w[p + 2]!);
    if (t < count) {
      o.lit(L.paren);
      o.lit(KIND_BYTES[kinds[t]!]!);
      o.lit(L.quote);
      nameAt(o, f.strings, offs[t]! < 0 ? 0 : w[offs[t]!]!);
      o.lit(L.closeParen);
    } else o.lit(L.unkn);
    o.endLine();
  }
}

const KIND_WRITERS: KindWriter[] = [];
{
  const k = KIND_WRITERS;
  k[BtfKind.Int] = (o, f, p, st) => {
    const v = f.words[p]!;
    o.lit(L.size);
    o.uint(st);
    o.lit(L.bitsOffset);
    o.uint((v >>> 16) & 0xff);
    o.lit(L.nrBits);
    o.uint(v & 0xff);
    const enc = (v >>> 24) & 0xf;
    o.lit(enc & INT_SIGNED ? INT_ENC[1]! : enc & INT_CHAR ? INT_ENC[2]! : enc & INT_BOOL ? INT_ENC[3]! : enc === 0 ? INT_ENC[0]! : INT_ENC_UNKNOWN);
  };
  for (const r of [BtfKind.Ptr, BtfKind.Typedef, BtfKind.Volatile, BtfKind.Const, BtfKind.Restrict, BtfKind.TypeTag]) k[r] = refLine;
  k[BtfKind.Array] = (o, f, p) => {
    o.lit(L.typeId);
    o.uint(f.words[p]!);
    o.lit(L.indexTypeId);
    o.uint(f.words[p + 1]!);
    o.lit(L.nrElems);
    o.uint(f.words[p + 2]!);
  };
  k[BtfKind.Struct] = members;
  k[BtfKind.Union] = members;
  k[BtfKind.Enum] = (o, f, p, st, vlen, kflag) => enumValues(o, f, p, st, vlen, kflag, false);
  k[BtfKind.Enum64] = (o, f, p, st, vlen, kflag) => enumValues(o, f, p, st, vlen, kflag, true);
  k[BtfKind.Fwd] = (o, _f, _p, _st, _vlen, kflag) => o.lit(kflag ? L.fwdUnion : L.fwdStruct);
  k[BtfKind.Func] = (o, _f, _p, st, vlen) => {
    o.lit(L.typeId);
    o.uint(st);
    o.lit(L.linkage);
    o.lit(LINKAGE_BYTES[vlen] ?? LINKAGE_UNKNOWN);
  };
  k[BtfKind.FuncProto] = params;
  k[BtfKind.Var] = (o, f, p, st) => {
    o.lit(L.typeId);
    o.uint(st);
    o.lit(L.varLinkage);
    o.lit(LINKAGE_BYTES[f.words[p]!] ?? LINKAGE_UNKNOWN);
  };
  k[BtfKind.Datasec] = datasecVars;
  k[BtfKind.Float] = (o, _f, _p, st) => {
    o.lit(L.sizeOnly);
    o.uint(st);
  };
  k[BtfKind.DeclTag] = (o, f, p, st) => {
    o.lit(L.typeId);
    o.uint(st);
    o.lit(L.componentIdx);
    o.int(f.words[p]! | 0);
  };
}

/** One type's lines, `[id] KIND 'name' ...` up to and including its last newline. */
function writeType(o: TextOut, f: FlatBtf, id: number): void {
  const p = f.offs[id]!;
  const kind = f.kinds[id]!;
  const w = f.words;
  o.lit(L.open);
  o.uint(id);
  o.lit(L.close);
  o.lit(KIND_BYTES[kind]!);
  o.lit(L.quote);
  if (p < 0) o.lit(L.anonQuoted);
  else {
    nameAt(o, f.strings, w[p]!);
    const info = w[p + 1]!;
    // parseBtf rejects unknown kinds.
    KIND_WRITERS[kind]!(o, f, p + 3, w[p + 2]!, info & 0xffff, info >>> 31 !== 0);
  }
  o.byte(10);
}

/**
 * The whole raw dump, types from `fromId` (split BTF prints only its own types, as bpftool does),
 * as UTF-8 text in chunks of whole lines. ./raw-wasm.ts writes the types where WebAssembly runs
 * (the same bytes); the JavaScript writes what it declines (ENUM64), what it has no room for, and
 * everything without WebAssembly (`wasm` false: the tests' comparison). Each kind's lines come
 * from a small function of its own (one large loop would be recompiled whenever a kind first seen
 * late, such as the DATASEC at the end of vmlinux, turned up).
 */
export function dumpRawBytes(btf: Btf, sink: ByteSink, fromId = btf.firstId, wasm = true): void {
  const f = flatBtf(btf);
  const o = new TextOut(sink);
  let id = fromId;
  const fast = wasm && id < f.count ? rawDumpWasm(f) : undefined;
  while (fast && id < f.count) {
    let next: number;
    try {
      next = fast.dump(id, f.count);
    } catch {
      // A type longer than the output area: this call's bytes are dropped, the JavaScript goes on from its first id.
      break;
    }
    const bytes = fast.output();
    if (bytes.length) sink(bytes);
    id = next;
    if (fast.declined()) {
      writeType(o, f, id++);
      o.flush();
    }
  }
  for (; id < f.count; id++) {
    writeType(o, f, id);
    o.endLine();
  }
  o.flush();
}

/** The whole raw dump as bpftool prints it, types from `fromId` (split BTF: only its own types, as bpftool does), in chunks of whole lines. */
export function dumpRaw(btf: Btf, write: (chunk: string) => void, fromId = btf.firstId): void {
  dumpRawBytes(btf, (b) => write(Buffer.from(b.buffer, b.byteOffset, b.length).toString('utf8')), fromId);
}

/** JSON form of one type, with keys as in `bpftool btf dump -j`. */
export function rawTypeJson(t: BtfType): Record<string, unknown> {
  const o: Record<string, unknown> = { id: t.id, kind: KIND_NAMES[t.kind], name: t.name || '(anon)' };
  switch (t.kind) {
    case BtfKind.Int:
      Object.assign(o, { size: t.size, bits_offset: t.bitOffset, nr_bits: t.bits, encoding: intEncoding(t.encoding) });
      break;
    case BtfKind.Array:
      Object.assign(o, { type_id: t.type, index_type_id: t.indexType, nr_elems: t.nelems });
      break;
    case BtfKind.Struct:
    case BtfKind.Union:
      o.size = t.size;
      o.vlen = t.members.length;
      o.members = t.members.map((m) => ({
        name: m.name || '(anon)',
        type_id: m.type,
        bits_offset: m.bitOffset,
        ...(m.bitfieldSize ? { bitfield_size: m.bitfieldSize } : {}),
      }));
      break;
    case BtfKind.Enum:
    case BtfKind.Enum64:
      o.encoding = t.signed ? 'SIGNED' : 'UNSIGNED';
      o.size = t.size;
      o.vlen = t.values.length;
      o.values = t.values.map((v) => ({ name: v.name, val: Number(v.value) }));
      break;
    case BtfKind.Fwd:
      o.fwd_kind = t.union ? 'union' : 'struct';
      break;
    case BtfKind.Func:
    case BtfKind.Var:
      Object.assign(o, { type_id: t.type, linkage: (t.kind === BtfKind.Func ? FUNC_LINKAGE : VAR_LINKAGE)[t.linkage] ?? '(unknown)' });
      break;
    case BtfKind.FuncProto:
      o.ret_type_id = t.returnType;
      o.vlen = t.params.length;
      o.params = t.params.map((p) => ({ name: p.name || '(anon)', type_id: p.type }));
      break;
    case BtfKind.Datasec:
      o.size = t.size;
      o.vlen = t.vars.length;
      o.vars = t.vars.map((v) => ({ type_id: v.type, offset: v.offset, size: v.size }));
      break;
    case BtfKind.Float:
      o.size = t.size;
      break;
    case BtfKind.DeclTag:
      Object.assign(o, { type_id: t.type, component_idx: t.componentIdx });
      break;
    default:
      // PTR, TYPEDEF, the qualifiers, TYPE_TAG (void has no type id).
      if ('type' in t) o.type_id = t.type;
      break;
  }
  return o;
}
