// .BTF decoder and type graph. Handles object BTF, kernel BTF and split (module) BTF
// layered on a base, in either byte order.
//
// The model is lazy and compact: parsing validates every record and keeps only the type section
// as host-order 32-bit words, the word offset of each type (Int32Array) and its kind (Uint8Array).
// A type's object (the BtfType of ./types.ts) is built on first use and cached, so the same id
// always gives the same object. Name lookups go through a name → ids index built on first use per
// kind (CO-RE and ksym resolution ask for a few kinds; nothing indexes all 120k kernel names).
import {
  BtfError,
  BtfKind,
  type BtfType,
  type CompositeType,
  type EnumValue,
  type Member,
  type Param,
  type VarSecinfo,
  type BtfTypeOfKind,
  isComposite,
  KIND_NAMES,
} from './types.js';
import { NameIndex } from './names.js';

export const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;
/** Typedef/qualifier chains longer than this are treated as loops (libbpf uses 32 too). */
export const MAX_RESOLVE_DEPTH = 32;
const NKINDS = 20;
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface BtfParseOptions {
  file?: string;
  /** For split BTF (kernel modules): the base it extends. */
  base?: Btf;
}

/** The fields of an already-decoded BTF (the eager form: every type object given up front). */
export interface BtfInit {
  /** Index = type id; types[0] is void; split BTF includes the base's types. */
  types: BtfType[];
  file: string;
  littleEndian: boolean;
  base?: Btf;
  firstId: number;
  strings: string;
  stringBytes: Uint8Array;
  baseStrLen: number;
}

/** The lazy form parseBtf builds: validated records as host-order words. */
/** @internal */
export interface RawTypes {
  /** The type section as 32-bit words in host order. */
  words: Uint32Array;
  /** Word offset of each own type (own index = id - firstId). */
  offs: Int32Array;
  kinds: Uint8Array;
}

const ascending = (a: number, b: number) => a - b;

export class Btf {
  readonly file: string;
  readonly littleEndian: boolean;
  readonly base?: Btf;
  /** First id that belongs to this BTF (1, or the base's type count for split BTF). */
  readonly firstId: number;
  /** Number of type ids (void and, for split BTF, the base's types included). */
  readonly count: number;
  private readonly strings: string;
  private readonly stringBytes: Uint8Array;
  private readonly baseStrLen: number;
  /** Eager form: every type object, by id. */
  private all?: BtfType[];
  private readonly raw?: RawTypes;
  /** Lazy form: own types built so far (index id - firstId). */
  private readonly cache: (BtfType | undefined)[];
  private readonly voidType: BtfType = { kind: BtfKind.Void, id: 0, name: '' };
  private readonly kindIndex: (NameIndex | undefined)[] = new Array(NKINDS);
  private kindCounts?: Uint32Array;
  /** Memoized alignments (0 = not computed): struct alignment recursion is otherwise quadratic. */
  private alignCache?: Uint8Array;
  /** Memoized isPacked of composites at their natural alignment: 0 unknown, 1 no, 2 yes. */
  private packedCache?: Uint8Array;

  constructor(init: BtfInit);
  /** parseBtf's lazy form. @internal */
  constructor(init: Omit<BtfInit, 'types'> & { raw: RawTypes });
  constructor(init: (BtfInit | (Omit<BtfInit, 'types'> & { raw: RawTypes })) & { types?: BtfType[]; raw?: RawTypes }) {
    this.file = init.file;
    this.littleEndian = init.littleEndian;
    this.base = init.base;
    this.firstId = init.firstId;
    this.strings = init.strings;
    this.stringBytes = init.stringBytes;
    this.baseStrLen = init.baseStrLen;
    if (init.types) {
      this.all = init.types;
      this.count = init.types.length;
      this.cache = [];
    } else {
      this.raw = init.raw!;
      this.count = this.firstId + this.raw.kinds.length;
      this.cache = new Array(this.raw.kinds.length);
    }
  }

  /**
   * Every type, by id (types[0] is void; split BTF includes the base's). Builds all type objects:
   * code that visits a few types should use typeById / kindOf / find instead.
   */
  get types(): BtfType[] {
    if (!this.all) {
      const all: BtfType[] = this.base ? this.base.types.slice() : [this.voidType];
      for (let id = this.firstId; id < this.count; id++) all.push(this.typeById(id));
      this.all = all;
    }
    return this.all;
  }

  /** The raw string section of this BTF (not the base's). */
  get stringSection(): Uint8Array {
    return this.stringBytes;
  }

  /** Total length of the string space including the base's, for offsets of new strings. */
  get stringSpaceEnd(): number {
    return this.baseStrLen + this.stringBytes.length;
  }

  /** A string by offset into the (possibly split) string section; undefined when out of range. */
  strAt(off: number): string | undefined {
    if (off < this.baseStrLen) return this.base!.strAt(off);
    const o = off - this.baseStrLen;
    if (o >= this.strings.length) return undefined;
    const end = this.strings.indexOf('\0', o);
    if (end < 0) return undefined;
    const s = this.strings.substring(o, end);
    // The string table was decoded as latin1 (byte = char); re-decode the rare non-ASCII ones as UTF-8.
    for (let i = 0; i < s.length; i++) {
      if (s.charCodeAt(i) >= 0x80) return new TextDecoder().decode(this.stringBytes.subarray(o, end));
    }
    return s;
  }

  str(off: number, what = 'string'): string {
    const s = this.strAt(off);
    if (s === undefined) throw new BtfError(this.file, `${what}: string offset ${off} is out of range`);
    return s;
  }

  /** A name of a type record (validated at parse: always in range). Own strings read as latin1, as the decoder always has. */
  private nameStr(off: number): string {
    if (off === 0) return '';
    if (off < this.baseStrLen) return this.base!.strAt(off)!;
    const o = off - this.baseStrLen;
    return this.strings.substring(o, this.strings.indexOf('\0', o));
  }

  private noSuchType(id: number): never {
    throw new BtfError(this.file, `type id ${id} does not exist (${this.count - 1} types)`);
  }

  typeById(id: number): BtfType {
    if (this.all) return this.all[id] ?? this.noSuchType(id);
    const i = id - this.firstId;
    if (i >= 0 && i < this.cache.length && (i | 0) === i) return this.cache[i] ?? this.build(i, true);
    if (id === 0 && !this.base) return this.voidType;
    if (this.base && id >= 0 && id < this.firstId) return this.base.typeById(id);
    return this.noSuchType(id);
  }

  /** The type with this id, or undefined when there is none (as `types[id]`, without building every type). */
  typeOrUndefined(id: number): BtfType | undefined {
    return Number.isInteger(id) && id >= 0 && id < this.count ? this.typeById(id) : undefined;
  }

  /**
   * The type with this id for one look: the cached object when there is one, else a fresh object
   * that is not kept (a full dump visits every type once and need not hold them all).
   */
  peek(id: number): BtfType {
    const i = id - this.firstId;
    if (this.raw && i >= 0 && i < this.cache.length && (i | 0) === i) return this.cache[i] ?? this.build(i, false);
    if (this.base && id >= 0 && id < this.firstId) return this.base.peek(id);
    return this.typeById(id);
  }

  /** The kind of a type, without building its object. */
  kindOf(id: number): BtfKind {
    const i = id - this.firstId;
    if (this.raw && i >= 0 && i < this.cache.length && (i | 0) === i) return this.raw.kinds[i]!;
    if (this.base && id >= 0 && id < this.firstId) return this.base.kindOf(id);
    return this.typeById(id).kind;
  }

  /** The name of a type ('' for anonymous), without building its object. */
  nameOf(id: number): string {
    const i = id - this.firstId;
    if (this.raw && i >= 0 && i < this.cache.length && (i | 0) === i) {
      const c = this.cache[i];
      return c ? c.name : this.nameStr(this.raw.words[this.raw.offs[i]!]!);
    }
    if (this.base && id >= 0 && id < this.firstId) return this.base.nameOf(id);
    return this.typeById(id).name;
  }

  /**
   * @internal This BTF's own records as parseBtf validated them (undefined for the eager form):
   * the words, each own type's word offset and kind, and the name at a string offset. For writers
   * that visit every type (the raw dump) without building objects.
   */
  records(): { words: Uint32Array; offs: Int32Array; kinds: Uint8Array; name: (off: number) => string } | undefined {
    if (!this.raw) return undefined;
    return { ...this.raw, name: (off) => this.nameStr(off) };
  }

  /** Decode own type `i` (id firstId + i) from its words. */
  private build(i: number, keep: boolean): BtfType {
    const { words: w, offs, kinds } = this.raw!;
    const id = this.firstId + i;
    let q = offs[i]!;
    const name = this.nameStr(w[q]!);
    const info = w[q + 1]!;
    const st = w[q + 2]!;
    q += 3;
    const vlen = info & 0xffff;
    const kflag = info >>> 31 !== 0;
    const kind = kinds[i]! as BtfKind;
    let t: BtfType;
    switch (kind) {
      case BtfKind.Int: {
        const v = w[q]!;
        t = { kind, id, name, size: st, encoding: (v >>> 24) & 0xf, bitOffset: (v >>> 16) & 0xff, bits: v & 0xff };
        break;
      }
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        t = { kind, id, name, type: st };
        break;
      case BtfKind.Fwd:
        t = { kind, id, name, union: kflag };
        break;
      case BtfKind.Float:
        t = { kind, id, name, size: st };
        break;
      case BtfKind.Func:
        t = { kind, id, name, type: st, linkage: vlen };
        break;
      case BtfKind.Array:
        t = { kind, id, name, type: w[q]!, indexType: w[q + 1]!, nelems: w[q + 2]! };
        break;
      case BtfKind.Struct:
      case BtfKind.Union: {
        const members: Member[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, q += 3) {
          const mOff = w[q + 2]!;
          members[k] = {
            name: this.nameStr(w[q]!),
            type: w[q + 1]!,
            bitOffset: kflag ? mOff & 0xffffff : mOff,
            bitfieldSize: kflag ? mOff >>> 24 : 0,
          };
        }
        t = { kind, id, name, size: st, kflag, members };
        break;
      }
      case BtfKind.Enum: {
        const values: EnumValue[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, q += 2) {
          const v = w[q + 1]!;
          values[k] = { name: this.nameStr(w[q]!), value: BigInt(kflag ? v | 0 : v) };
        }
        t = { kind, id, name, size: st, signed: kflag, values };
        break;
      }
      case BtfKind.Enum64: {
        const values: EnumValue[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, q += 3) {
          let v = (BigInt(w[q + 2]!) << 32n) | BigInt(w[q + 1]!);
          if (kflag) v = BigInt.asIntN(64, v);
          values[k] = { name: this.nameStr(w[q]!), value: v };
        }
        t = { kind, id, name, size: st, signed: kflag, values };
        break;
      }
      case BtfKind.FuncProto: {
        const params: Param[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, q += 2) params[k] = { name: this.nameStr(w[q]!), type: w[q + 1]! };
        t = { kind, id, name, returnType: st, params };
        break;
      }
      case BtfKind.Var:
        t = { kind, id, name, type: st, linkage: w[q]! };
        break;
      case BtfKind.Datasec: {
        const vars: VarSecinfo[] = new Array(vlen);
        for (let k = 0; k < vlen; k++, q += 3) vars[k] = { type: w[q]!, offset: w[q + 1]!, size: w[q + 2]! };
        t = { kind, id, name, size: st, vars };
        break;
      }
      case BtfKind.DeclTag:
        t = { kind, id, name, type: st, componentIdx: w[q]! | 0, attribute: kflag };
        break;
      default:
        // parseBtf rejects unknown kinds.
        throw new BtfError(this.file, `type ${id} has unknown kind ${kind}`);
    }
    if (keep) this.cache[i] = t;
    return t;
  }

  /** The name index of this BTF's own types of one kind, built on first use. */
  private indexOf(kind: BtfKind): NameIndex {
    let idx = this.kindIndex[kind];
    if (idx) return idx;
    const first = this.firstId;
    if (!this.raw) {
      idx = new NameIndex(this.stringBytes, 0);
      for (let id = first; id < this.count; id++) if (this.all![id]!.kind === kind) idx.addString(id, this.all![id]!.name);
    } else {
      const { words, offs, kinds } = this.raw;
      this.kindCounts ??= countKinds(kinds);
      idx = new NameIndex(this.stringBytes, this.kindCounts[kind]!);
      const odd = fillIndex(idx, words, offs, kinds, kind, first, this.baseStrLen);
      // Names in the base's strings or not ASCII: by their decoded string.
      for (const id of odd) idx.addString(id, this.nameOf(id));
    }
    this.kindIndex[kind] = idx;
    return idx;
  }

  /** Ids of the types with this name and kind, ascending (the base's first, for split BTF). */
  findIds(name: string, kind: BtfKind): number[] {
    const own = this.indexOf(kind).get(name);
    return this.base ? this.base.findIds(name, kind).concat(own) : own;
  }

  /**
   * This BTF's own ids (not the base's) of one kind whose essential name (the name without a
   * `___flavor` suffix) is `name`, ascending: CO-RE's candidate search (bpf_core_find_cands).
   */
  ownIdsByEssentialName(name: string, kind: BtfKind): number[] {
    return this.indexOf(kind).getEssential(name);
  }

  /** All type ids with this name (any kind), ascending. */
  idsByName(name: string): number[] {
    const out = this.base ? this.base.idsByName(name) : [];
    const firstOwn = out.length;
    for (let k = 1; k < NKINDS; k++) for (const id of this.indexOf(k).get(name)) out.push(id);
    return out.length - firstOwn > 1 ? out.slice(0, firstOwn).concat(out.slice(firstOwn).sort(ascending)) : out;
  }

  /** The first type with this name and kind. */
  find<K extends BtfKind>(name: string, kind: K): BtfTypeOfKind<K> | undefined {
    const t = this.base?.find(name, kind);
    if (t) return t;
    const ids = this.indexOf(kind).get(name);
    return ids.length ? (this.typeById(ids[0]!) as BtfTypeOfKind<K>) : undefined;
  }

  /** The `type` field of a PTR/TYPEDEF/qualifier/VAR/FUNC/DECL_TAG, without building its object. */
  private refOf(id: number): number {
    const i = id - this.firstId;
    if (this.raw && i >= 0 && i < this.cache.length && (i | 0) === i) return this.raw.words[this.raw.offs[i]! + 2]!;
    return (this.typeById(id) as { type: number }).type;
  }

  /** Follow typedefs and qualifiers to the underlying type id. */
  resolveId(id: number): number {
    let cur = id;
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      const k = this.kindOf(cur);
      if (k === BtfKind.Typedef || isQualifierKind(k)) cur = this.refOf(cur);
      else return cur;
    }
    throw new BtfError(this.file, `type ${id}: typedef/qualifier chain is longer than ${MAX_RESOLVE_DEPTH} (a loop?)`);
  }

  resolve(id: number): BtfType {
    return this.typeById(this.resolveId(id));
  }

  /** Skip only const/volatile/restrict/type tags, keeping typedefs (whose names carry meaning, e.g. ipv4_addr). */
  skipQualifiers(id: number): number {
    let cur = id;
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      if (isQualifierKind(this.kindOf(cur))) cur = this.refOf(cur);
      else return cur;
    }
    throw new BtfError(this.file, `type ${id}: qualifier chain is longer than ${MAX_RESOLVE_DEPTH} (a loop?)`);
  }

  /** Size in bytes of a complete type. */
  sizeof(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(this.file, `type ${id}: size depends on itself (a loop?)`);
    const t = this.typeById(id);
    switch (t.kind) {
      case BtfKind.Int:
      case BtfKind.Float:
      case BtfKind.Struct:
      case BtfKind.Union:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Datasec:
        return t.size;
      case BtfKind.Ptr:
        return 8;
      case BtfKind.Array: {
        const elem = this.sizeof(t.type, depth + 1);
        return elem * t.nelems;
      }
      case BtfKind.Typedef:
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        return this.sizeof(t.type, depth + 1);
      default:
        throw new BtfError(this.file, `type ${id} (${KIND_NAMES[t.kind]} '${t.name}') has no size`);
    }
  }

  /** Natural alignment in bytes as a C compiler would see it; packed structs give 1. */
  alignof(id: number, depth = 0): number {
    if (depth > MAX_RESOLVE_DEPTH) throw new BtfError(this.file, `type ${id}: alignment depends on itself (a loop?)`);
    const cache = (this.alignCache ??= new Uint8Array(this.count));
    const cached = cache[id];
    if (cached) return cached;
    const t = this.typeById(id);
    let result: number;
    switch (t.kind) {
      case BtfKind.Int:
      case BtfKind.Float:
      case BtfKind.Enum:
      case BtfKind.Enum64:
        result = Math.min(Math.max(t.size, 1), 8);
        break;
      case BtfKind.Ptr:
        result = 8;
        break;
      case BtfKind.Array:
      case BtfKind.Typedef:
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        result = this.alignof(t.type, depth + 1);
        break;
      case BtfKind.Struct:
      case BtfKind.Union: {
        let align = 1;
        for (const m of t.members) align = Math.max(align, this.alignof(m.type, depth + 1));
        const packed = this.isPacked(t, align, depth);
        (this.packedCache ??= new Uint8Array(this.count))[id] = packed ? 2 : 1;
        result = packed ? 1 : align;
        break;
      }
      default:
        result = 1;
    }
    cache[id] = result;
    return result;
  }

  /** A struct is packed when a member sits off its natural alignment, or the size is not a multiple of it. */
  isPacked(t: CompositeType, naturalAlign?: number, depth = 0): boolean {
    if (naturalAlign === undefined && t === this.typeOrUndefined(t.id)) {
      // Decided (and memoized) with the type's own alignment.
      this.alignof(t.id, depth);
      return this.packedCache![t.id] === 2;
    }
    const align = naturalAlign ?? t.members.reduce((a, m) => Math.max(a, this.alignof(m.type, depth + 1)), 1);
    if (t.size % align !== 0) return true;
    for (const m of t.members) {
      if (m.bitfieldSize) {
        // A bitfield that straddles its own type's storage unit only happens in packed structs.
        const unit = this.sizeof(m.type, depth + 1) * 8;
        if (unit > 0 && (m.bitOffset % unit) + m.bitfieldSize > unit) return true;
        continue;
      }
      if (m.bitOffset % (this.alignof(m.type, depth + 1) * 8) !== 0) return true;
    }
    return false;
  }

  /** Members of a struct/union type (after typedefs/qualifiers), or throw. */
  members(id: number): Member[] {
    const t = this.resolve(id);
    if (!isComposite(t)) throw new BtfError(this.file, `type ${id} is ${KIND_NAMES[t.kind]}, not a struct or union`);
    return t.members;
  }
}

function countKinds(kinds: Uint8Array): Uint32Array {
  const c = new Uint32Array(32);
  for (let i = 0; i < kinds.length; i++) c[kinds[i]!]++;
  return c;
}

/** Add the own types of one kind to idx by their name bytes; returns the ids it could not add that way. */
function fillIndex(idx: NameIndex, words: Uint32Array, offs: Int32Array, kinds: Uint8Array, kind: number, firstId: number, baseStrLen: number): number[] {
  const odd: number[] = [];
  for (let i = 0; i < kinds.length; i++) {
    if (kinds[i] !== kind) continue;
    const off = words[offs[i]!]!;
    if (off !== 0 && (off < baseStrLen || !idx.addBytes(firstId + i, off - baseStrLen))) odd.push(firstId + i);
  }
  return odd;
}

const isQualifierKind = (k: BtfKind) => k === BtfKind.Const || k === BtfKind.Volatile || k === BtfKind.Restrict || k === BtfKind.TypeTag;

/** Words after the 12-byte header of a type record (vlen entries for the kinds that have them), or -1 for an unknown kind. */
function extraWords(kind: number, vlen: number): number {
  switch (kind) {
    case BtfKind.Int:
    case BtfKind.Var:
    case BtfKind.DeclTag:
      return 1;
    case BtfKind.Ptr:
    case BtfKind.Typedef:
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
    case BtfKind.TypeTag:
    case BtfKind.Fwd:
    case BtfKind.Float:
    case BtfKind.Func:
      return 0;
    case BtfKind.Array:
      return 3;
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Enum64:
    case BtfKind.Datasec:
      return 3 * vlen;
    case BtfKind.Enum:
    case BtfKind.FuncProto:
      return 2 * vlen;
    default:
      return -1;
  }
}

/**
 * Parse a .BTF blob: every record is validated here; type objects are built on use.
 * @throws {@link BtfError} when the bytes are not well-formed BTF (every record is checked).
 */
export function parseBtf(bytes: Uint8Array, opts: BtfParseOptions = {}): Btf {
  const file = opts.file ?? '<btf>';
  const fail = (defect: string): never => {
    throw new BtfError(file, defect);
  };
  if (bytes.length < HEADER_MIN) fail(`blob is ${bytes.length} bytes, shorter than the BTF header`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let le: boolean;
  if (dv.getUint16(0, true) === BTF_MAGIC) le = true;
  else if (dv.getUint16(0, false) === BTF_MAGIC) le = false;
  else return fail(`bad magic 0x${dv.getUint16(0, true).toString(16)} (expected 0xeb9f)`);
  const version = bytes[2];
  if (version !== 1) fail(`unsupported BTF version ${version}`);
  const hdrLen = dv.getUint32(4, le);
  if (hdrLen < HEADER_MIN || hdrLen > bytes.length) fail(`header length ${hdrLen} is invalid`);
  const typeOff = dv.getUint32(8, le);
  const typeLen = dv.getUint32(12, le);
  const strOff = dv.getUint32(16, le);
  const strLen = dv.getUint32(20, le);
  const dataLen = bytes.length - hdrLen;
  if (typeOff > dataLen || typeLen > dataLen - typeOff) fail(`type section [${typeOff}, +${typeLen}) is outside the blob`);
  if (strOff > dataLen || strLen > dataLen - strOff) fail(`string section [${strOff}, +${strLen}) is outside the blob`);
  if (typeOff % 4 !== 0) fail(`type section offset ${typeOff} is not 4-byte aligned`);

  const base = opts.base;
  const strBytes = bytes.subarray(hdrLen + strOff, hdrLen + strOff + strLen);
  if (!base && (strLen === 0 || strBytes[0] !== 0)) fail('string section must start with an empty string');
  if (strLen > 0 && strBytes[strLen - 1] !== 0) fail('string section is not NUL-terminated');
  const strings = Buffer.from(strBytes.buffer, strBytes.byteOffset, strBytes.byteLength).toString('latin1');
  const baseStrLen = base ? base.stringSpaceEnd : 0;
  const firstId = base ? base.count : 1;

  // The type section as host-order words: a view when it is aligned and in host order, else a copy.
  const nWords = typeLen >>> 2;
  const start = bytes.byteOffset + hdrLen + typeOff;
  let w: Uint32Array;
  if (le === HOST_LE && start % 4 === 0) w = new Uint32Array(bytes.buffer, start, nWords);
  else {
    w = new Uint32Array(nWords);
    for (let i = 0; i < nWords; i++) w[i] = dv.getUint32(hdrLen + typeOff + 4 * i, le);
  }

  // Names must lie in the string space: own strings are NUL-terminated, so any offset inside reads a string.
  const strEnd = baseStrLen + strLen;
  // A numeric pass records each type's word offset and kind; when it finds anything wrong, the
  // explaining pass (explainTypes) runs instead and names the first defect, as a BtfError.
  const cap = Math.ceil(nWords / 3) + 1;
  const offs = new Int32Array(cap);
  const kinds = new Uint8Array(cap);
  const n = scanTypes(w, typeLen, strEnd, firstId, offs, kinds);
  const ok = n >= 0 && kindChecks(w, offs, kinds, n, firstId, base);
  const raw: RawTypes = ok ? { words: w, offs: offs.slice(0, n), kinds: kinds.slice(0, n) } : explainTypes(w, typeLen, strEnd, firstId, fail);
  const btf = new Btf({ raw, file, littleEndian: le, base, firstId, strings, stringBytes: strBytes, baseStrLen });
  if (!ok) validateRefs(btf, raw);
  return btf;
}

/** After scanTypes: every INT fits its size, every FUNC points at a FUNC_PROTO (which may be in the base). */
function kindChecks(w: Uint32Array, offs: Int32Array, kinds: Uint8Array, n: number, firstId: number, base: Btf | undefined): boolean {
  for (let i = 0; i < n; i++) {
    const k = kinds[i]!;
    if (k === BtfKind.Int) {
      const v = w[offs[i]! + 3]!;
      if ((v & 0xff) > 128 || (v & 0xff) + ((v >>> 16) & 0xff) > w[offs[i]! + 2]! * 8) return false;
    } else if (k === BtfKind.Func) {
      const to = w[offs[i]! + 2]!;
      if ((to >= firstId ? kinds[to - firstId] : base ? base.kindOf(to) : BtfKind.Void) !== BtfKind.FuncProto) return false;
    }
  }
  return true;
}

// Per-kind layout for the fast scan, so that every kind runs the same code (a branch first taken
// late, e.g. the DATASEC at the end of vmlinux, would throw away the optimized code).
const K_VALID = 1;
/** The third header word is a type id. */
const K_REF = 2;
/** ... that must not be the type itself. */
const K_NOSELF = 4;
/** vlen entries start with a name. */
const K_ENTRY_NAME = 8;
/** vlen entries hold a type id (at word ENTRY_TYPE_AT), which must not be the type itself. */
const K_ENTRY_TYPE = 16;
const K_ENTRY_NOSELF = 32;
const KIND_FLAGS = new Uint8Array(32);
/** Words after the header before the vlen entries, and words per entry. */
const KIND_FIXED = new Uint8Array(32);
const KIND_STRIDE = new Uint8Array(32);
const ENTRY_TYPE_AT = new Uint8Array(32);
{
  const ref = K_VALID | K_REF | K_NOSELF;
  const layout: [BtfKind, number, number, number, number][] = [
    // kind, flags, fixed words, entry words, entry type word
    [BtfKind.Int, K_VALID, 1, 0, 0],
    [BtfKind.Ptr, ref, 0, 0, 0],
    [BtfKind.Array, K_VALID, 3, 0, 0],
    [BtfKind.Struct, K_VALID | K_ENTRY_NAME | K_ENTRY_TYPE | K_ENTRY_NOSELF, 0, 3, 1],
    [BtfKind.Union, K_VALID | K_ENTRY_NAME | K_ENTRY_TYPE | K_ENTRY_NOSELF, 0, 3, 1],
    [BtfKind.Enum, K_VALID | K_ENTRY_NAME, 0, 2, 0],
    [BtfKind.Fwd, K_VALID, 0, 0, 0],
    [BtfKind.Typedef, ref, 0, 0, 0],
    [BtfKind.Volatile, ref, 0, 0, 0],
    [BtfKind.Const, ref, 0, 0, 0],
    [BtfKind.Restrict, ref, 0, 0, 0],
    [BtfKind.Func, ref, 0, 0, 0],
    [BtfKind.FuncProto, K_VALID | K_REF | K_ENTRY_NAME | K_ENTRY_TYPE, 0, 2, 1],
    [BtfKind.Var, ref, 1, 0, 0],
    [BtfKind.Datasec, K_VALID | K_ENTRY_TYPE, 0, 3, 0],
    [BtfKind.Float, K_VALID, 0, 0, 0],
    [BtfKind.DeclTag, ref, 1, 0, 0],
    [BtfKind.TypeTag, ref, 0, 0, 0],
    [BtfKind.Enum64, K_VALID | K_ENTRY_NAME, 0, 3, 0],
  ];
  for (const [k, f, fixed, stride, at] of layout) {
    KIND_FLAGS[k] = f;
    KIND_FIXED[k] = fixed;
    KIND_STRIDE[k] = stride;
    ENTRY_TYPE_AT[k] = at;
  }
}

/**
 * The fast pass over the type section: fills offs/kinds and returns the type count, or -1 when any
 * record is truncated, of an unknown kind, names a string outside the string space, or refers to
 * itself or to a type id past the last one (INT sizes and FUNC targets: kindChecks). Numbers only, one
 * loop and table-driven, so that it is compiled once, quickly.
 */
function scanTypes(w: Uint32Array, typeLen: number, strEnd: number, firstId: number, offs: Int32Array, kinds: Uint8Array): number {
  const nWords = w.length;
  let n = 0;
  let p = 0;
  let maxRef = 0;
  let id = 0;
  let flags = 0;
  let typeAt = 0;
  /** Words of vlen entries left in the current record, and the size of one. */
  let left = 0;
  let stride = 0;
  while (4 * p < typeLen) {
    if (left > 0) {
      if (flags & K_ENTRY_NAME && w[p]! >= strEnd) return -1;
      if (flags & K_ENTRY_TYPE) {
        const t = w[p + typeAt]!;
        if (t > maxRef) maxRef = t;
        if (flags & K_ENTRY_NOSELF && t === id) return -1;
      }
      p += stride;
      left -= stride;
      continue;
    }
    if (p + 3 > nWords) return -1;
    const info = w[p + 1]!;
    const st = w[p + 2]!;
    const kind = (info >>> 24) & 0x1f;
    flags = KIND_FLAGS[kind]!;
    if (flags === 0 || w[p]! >= strEnd) return -1;
    id = firstId + n;
    offs[n] = p;
    kinds[n++] = kind;
    p += 3;
    if (flags & K_REF) {
      if (st > maxRef) maxRef = st;
      if (flags & K_NOSELF && st === id) return -1;
    }
    const fixed = KIND_FIXED[kind]!;
    stride = KIND_STRIDE[kind]!;
    typeAt = ENTRY_TYPE_AT[kind]!;
    left = stride * (info & 0xffff);
    if (p + fixed + left > nWords) return -1;
    if (kind === BtfKind.Array) {
      const elem = w[p]!;
      const index = w[p + 1]!;
      if (elem === id) return -1;
      if (elem > maxRef) maxRef = elem;
      if (index > maxRef) maxRef = index;
    }
    p += fixed;
  }
  return maxRef < firstId + n ? n : -1;
}

/**
 * The explaining pass, for a type section scanTypes refused: the same walk with every check
 * spelled out, throwing a BtfError for the first defect (or returning the types when only a
 * reference looked wrong, for validateRefs to name).
 */
function explainTypes(w: Uint32Array, typeLen: number, strEnd: number, firstId: number, fail: (defect: string) => never): RawTypes {
  const nWords = w.length;
  const what = (id: number, kind: number) => `type ${id} (${KIND_NAMES[kind as BtfKind] ?? `kind ${kind}`})`;
  const badName = (id: number, kind: number, part: string, off: number): never =>
    fail(`${what(id, kind)}${part}: name offset ${off} is out of range (${strEnd} bytes of strings)`);
  const truncated = (id: number, words: number, at: number): never =>
    fail(`type ${id} is truncated (needs ${4 * words} bytes at offset ${4 * at} of ${typeLen})`);
  const offs: number[] = [];
  const kinds: number[] = [];
  let p = 0;
  while (4 * p < typeLen) {
    const id = firstId + offs.length;
    if (p + 3 > nWords) truncated(id, 3, p);
    const info = w[p + 1]!;
    const st = w[p + 2]!;
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    if (w[p]! >= strEnd) badName(id, kind, '', w[p]!);
    offs.push(p);
    kinds.push(kind);
    p += 3;
    const extra = extraWords(kind, vlen);
    if (extra < 0) fail(`type ${id} has unknown kind ${kind}`);
    if (p + extra > nWords) truncated(id, extra, p);
    const names = (stride: number, part: string) => {
      for (let i = 0; i < vlen; i++) if (w[p + stride * i]! >= strEnd) badName(id, kind, ` ${part} ${i}`, w[p + stride * i]!);
    };
    if (kind === BtfKind.Int) {
      const bits = w[p]! & 0xff;
      const bitOffset = (w[p]! >>> 16) & 0xff;
      if (bits > 128 || bits + bitOffset > st * 8) fail(`${what(id, kind)}: ${bits} bits at offset ${bitOffset} do not fit in ${st} bytes`);
    } else if (kind === BtfKind.Struct || kind === BtfKind.Union) names(3, 'member');
    else if (kind === BtfKind.Enum) names(2, 'value');
    else if (kind === BtfKind.Enum64) names(3, 'value');
    else if (kind === BtfKind.FuncProto) names(2, 'param');
    p += extra;
  }
  return { words: w, offs: Int32Array.from(offs), kinds: Uint8Array.from(kinds) };
}

/** Every type id a type refers to must exist; BTF_KIND_VAR/DATASEC/FUNC must point at the right kinds. */
function validateRefs(btf: Btf, raw: RawTypes): void {
  const { words: w, offs, kinds } = raw;
  const n = btf.count;
  const file = btf.file;
  const first = btf.firstId;
  const check = (from: number, to: number, what: () => string) => {
    if (to >= n) throw new BtfError(file, `type ${from} (${KIND_NAMES[btf.kindOf(from)]}) ${what()} refers to type ${to}, which does not exist (${n - 1} types)`);
  };
  const typeWhat = () => 'type';
  for (let i = 0; i < kinds.length; i++) {
    const id = first + i;
    const q = offs[i]!;
    const kind = kinds[i]! as BtfKind;
    const vlen = w[q + 1]! & 0xffff;
    const st = w[q + 2]!;
    switch (kind) {
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
      case BtfKind.DeclTag:
        check(id, st, typeWhat);
        if (st === id) throw new BtfError(file, `type ${id} (${KIND_NAMES[kind]}) refers to itself`);
        break;
      case BtfKind.Func:
        check(id, st, () => 'prototype');
        if (btf.kindOf(st) !== BtfKind.FuncProto) throw new BtfError(file, `FUNC ${id} '${btf.nameOf(id)}' does not point at a FUNC_PROTO`);
        break;
      case BtfKind.Array:
        check(id, w[q + 3]!, () => 'element type');
        check(id, w[q + 4]!, () => 'index type');
        if (w[q + 3] === id) throw new BtfError(file, `ARRAY ${id} contains itself`);
        break;
      case BtfKind.Struct:
      case BtfKind.Union:
        for (let k = 0, m = q + 3; k < vlen; k++, m += 3) {
          const to = w[m + 1]!;
          if (to < n && to !== id) continue;
          const t = btf.typeById(id) as CompositeType;
          check(id, to, () => `member '${t.members[k]!.name}'`);
          throw new BtfError(file, `${KIND_NAMES[kind]} ${id} '${t.name}' contains itself`);
        }
        break;
      case BtfKind.FuncProto:
        check(id, st, () => 'return type');
        for (let k = 0, m = q + 3; k < vlen; k++, m += 2) {
          if (w[m + 1]! < n) continue;
          const t = btf.typeById(id) as { params: Param[] };
          check(id, w[m + 1]!, () => `parameter '${t.params[k]!.name}'`);
        }
        break;
      case BtfKind.Datasec:
        for (let k = 0, m = q + 3; k < vlen; k++, m += 3) check(id, w[m]!, () => 'variable');
        break;
      default:
        break;
    }
  }
}
