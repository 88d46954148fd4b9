// The Btf container: one parsed (or built) BTF — its raw records, the type objects built from
// them on first use, the per-kind name indexes, and the type-graph queries (resolve, sizeof,
// alignof, isPacked, members). Parsing and validation are in ./btf.ts, which re-exports this.
//
// One class on purpose (over 500 lines; LONG_FILES in test/architecture.test.ts): the accessors
// and the queries share the lazy caches (built types, name indexes), and splitting the class
// would expose them. Layout (sizeof, alignof, isPacked) is ./layout.ts, shared with the C dumper.
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
  isRefKind,
  KIND_NAMES,
} from './types.js';
import { MAX_RESOLVE_DEPTH, TypeLayout } from './layout.js';
import { essentialName, NameIndex } from './names.js';

/** Typedef/qualifier chains longer than this are treated as loops (libbpf uses 32 too). */
export { MAX_RESOLVE_DEPTH };
const NKINDS = 20;
/** Each BTF's layout queries, kept beside it (not on it: a BTF stays plain data that compares by value). */
const layouts = new WeakMap<Btf, TypeLayout>();
/** Kinds with at most this many types are indexed by decoded name (NameIndex.addString), larger ones by name bytes. */
const BY_STRING_MAX = 16384;
/** @internal nameKeys' mark of a name in the base's strings (no own name starts with 0xff 0xff: names are ASCII or UTF-8). */
export const BASE_NAME = 0xffff;
/** Lookups of one kind answered by a scan of its records before its name index is built. */
const SCAN_LOOKUPS = 64;
/**
 * Own strings read one at a time (each decoded from its bytes) before the whole string section is
 * decoded once and cut: a load reads a few hundred names of vmlinux's 2.3 MiB of strings, whose
 * decode (a string of that size: fresh pages and a copy) cost 2-4 ms of a first CO-RE load; a
 * full dump or a name index reads every name.
 */
const NAME_READS = 4096;
/** Btf.cache pages: 1024 types each (8 KiB, a regular heap object). */
const CACHE_SHIFT = 10;
const CACHE_MASK = (1 << CACHE_SHIFT) - 1;

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

/** @internal What parseKernelBtf adds to the records: the number of own types of each kind, and each type's name key (Btf.nameKeys). */
export interface KindCounts {
  kindCounts: Uint32Array;
  nameKeys: Uint32Array;
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
  /** The own string section as latin1 (byte = char), once decoded (ownStr). */
  private strings?: string;
  private readonly stringBytes: Uint8Array;
  private stringView?: Buffer;
  private nameReads = 0;
  private readonly baseStrLen: number;
  /** Eager form: every type object, by id. */
  private all?: BtfType[];
  private readonly raw?: RawTypes;
  /**
   * Lazy form: own types built so far (index id - firstId), in pages of CACHE_PAGE made on first
   * use: one array slot per type would be a 1 MiB array for vmlinux, in V8's large-object space,
   * enough old-space growth to set off the process's first full GC (10-16 ms) during a first load.
   */
  private readonly cache: (BtfType | undefined)[][] = [];
  /** Own types in the lazy form (0 for the eager form). */
  private readonly own: number;
  private readonly voidType: BtfType = { kind: BtfKind.Void, id: 0, name: '' };
  private readonly kindIndex: (NameIndex | undefined)[] = new Array(NKINDS);
  /** Lookups answered by scanning, per kind (ownIds). */
  private readonly scans = new Uint8Array(NKINDS);
  /** Own type indexes grouped by kind, ascending within each: kind k's are byKind[kindStart[k]] .. byKind[kindStart[k + 1] - 1] (groupByKind). */
  private byKind?: Int32Array;
  private kindStart?: Uint32Array;
  /** nameKeys(), once built. */
  private keys?: Uint32Array;

  constructor(init: BtfInit);
  /** parseBtf's lazy form (the strings decoded from stringBytes when read). @internal */
  constructor(init: Omit<BtfInit, 'types' | 'strings'> & { raw: RawTypes; strings?: string });
  constructor(init: (BtfInit | (Omit<BtfInit, 'types' | 'strings'> & { raw: RawTypes; strings?: string })) & { types?: BtfType[]; raw?: RawTypes }) {
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
      this.own = 0;
    } else {
      this.raw = init.raw!;
      this.count = this.firstId + this.raw.kinds.length;
      this.own = this.raw.kinds.length;
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
    if (o >= this.stringBytes.length) return undefined;
    const end = this.stringBytes.indexOf(0, o);
    if (end < 0) return undefined;
    const s = this.ownStr(o, end);
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
    return this.ownStr(o, this.stringBytes.indexOf(0, o));
  }

  /** Own string bytes [o, end) as latin1: decoded alone for the first NAME_READS, then cut from the whole section decoded once. */
  private ownStr(o: number, end: number): string {
    if (this.strings === undefined) {
      if (++this.nameReads <= NAME_READS) {
        const b = this.stringBytes;
        return (this.stringView ??= Buffer.from(b.buffer, b.byteOffset, b.byteLength)).toString('latin1', o, end);
      }
      const b = this.stringBytes;
      this.strings = Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('latin1');
      this.stringView = undefined;
    }
    return this.strings.substring(o, end);
  }

  private noSuchType(id: number): never {
    throw new BtfError(this.file, `type id ${id} does not exist (${this.count - 1} types)`);
  }

  typeById(id: number): BtfType {
    if (this.all) return this.all[id] ?? this.noSuchType(id);
    const i = id - this.firstId;
    if (i >= 0 && i < this.own && (i | 0) === i) return this.cache[i >> CACHE_SHIFT]?.[i & CACHE_MASK] ?? this.build(i, true);
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
    if (this.raw && i >= 0 && i < this.own && (i | 0) === i) return this.cache[i >> CACHE_SHIFT]?.[i & CACHE_MASK] ?? this.build(i, false);
    if (this.base && id >= 0 && id < this.firstId) return this.base.peek(id);
    return this.typeById(id);
  }

  /** The kind of a type, without building its object. */
  kindOf(id: number): BtfKind {
    const i = id - this.firstId;
    if (this.raw && i >= 0 && i < this.own && (i | 0) === i) return this.raw.kinds[i]!;
    if (this.base && id >= 0 && id < this.firstId) return this.base.kindOf(id);
    return this.typeById(id).kind;
  }

  /** The name of a type ('' for anonymous), without building its object. */
  nameOf(id: number): string {
    const i = id - this.firstId;
    if (this.raw && i >= 0 && i < this.own && (i | 0) === i) {
      const c = this.cache[i >> CACHE_SHIFT]?.[i & CACHE_MASK];
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
        if (!isRefKind(kind)) throw new BtfError(this.file, `type ${id} has unknown kind ${kind}`);
        t = { kind, id, name, type: st };
    }
    if (keep) (this.cache[i >> CACHE_SHIFT] ??= new Array<BtfType | undefined>(CACHE_MASK + 1))[i & CACHE_MASK] = t;
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
      const { words, offs } = this.raw;
      const { byKind, kindStart } = this.groupByKind();
      const from = kindStart[kind]!;
      const to = kindStart[kind + 1]!;
      if (to - from <= BY_STRING_MAX) {
        // A few thousand names: V8's own string hashing (substring, Map) costs less than compiling
        // the byte-hashing loop below.
        idx = new NameIndex(this.stringBytes, 0);
        for (let j = from; j < to; j++) {
          const i = byKind[j]!;
          const off = words[offs[i]!]!;
          if (off !== 0) idx.addString(first + i, this.nameStr(off));
        }
        this.kindIndex[kind] = idx;
        return idx;
      }
      idx = new NameIndex(this.stringBytes, to - from);
      const odd = fillIndex(idx, words, offs, byKind.subarray(from, to), first, this.baseStrLen);
      // Names in the base's strings or not ASCII: by their decoded string.
      for (const id of odd) idx.addString(id, this.nameOf(id));
    }
    this.kindIndex[kind] = idx;
    return idx;
  }

  /**
   * Own type indexes grouped by kind (a counting sort of the kinds, once): a scan or an index of one
   * kind visits only that kind's types, in a loop V8 optimizes early, instead of a typed-array
   * indexOf call per type (a builtin call each: ~0.3 us, 2-8 ms per scan of vmlinux's 10k structs).
   */
  private groupByKind(): { byKind: Int32Array; kindStart: Uint32Array } {
    if (!this.byKind) {
      const kinds = this.raw!.kinds;
      const counts = (this.raw as RawTypes & Partial<KindCounts>).kindCounts ?? countKinds(kinds);
      const start = new Uint32Array(33);
      for (let k = 0; k < 32; k++) start[k + 1] = start[k]! + counts[k]!;
      const at = start.slice(0, 32);
      const list = new Int32Array(kinds.length);
      for (let i = 0; i < kinds.length; i++) list[at[kinds[i]!]!++] = i;
      this.byKind = list;
      this.kindStart = start;
    }
    return { byKind: this.byKind, kindStart: this.kindStart! };
  }

  /** Ids of the types with this name and kind, ascending (the base's first, for split BTF). */
  findIds(name: string, kind: BtfKind): number[] {
    const own = this.ownIds(name, kind, false);
    return this.base ? this.base.findIds(name, kind).concat(own) : own;
  }

  /**
   * This BTF's own ids (not the base's) of one kind whose essential name (the name without a
   * `___flavor` suffix) is `name`, ascending: CO-RE's candidate search (bpf_core_find_cands).
   */
  ownIdsByEssentialName(name: string, kind: BtfKind): number[] {
    return this.ownIds(name, kind, true);
  }

  /**
   * Own ids of one kind named `name` (essential: whose essential name is `name`), ascending. The
   * first few lookups of a kind scan that kind's records (what libbpf does for every lookup); the
   * name index is built only for a kind looked up more often than that: a load asks for a handful
   * of names, and building an index of 10k-50k kernel names costs several scans.
   */
  private ownIds(name: string, kind: BtfKind, essential: boolean): number[] {
    if (this.raw && !this.kindIndex[kind] && this.scans[kind]! < SCAN_LOOKUPS) {
      this.scans[kind]++;
      return this.scanNames(name, kind, essential);
    }
    const idx = this.indexOf(kind);
    return essential ? idx.getEssential(name) : idx.get(name);
  }

  /**
   * ownIds by looking at every own type of the kind: the names as NameIndex compares them (own
   * strings as latin1). Each type's kind and first two name bytes are one u32 (nameKeys), found
   * with the typed array's indexOf (native code from the first call): only the few types of the
   * kind whose name starts the same are looked at in JS.
   */
  private scanNames(name: string, kind: BtfKind, essential: boolean): number[] {
    const out: number[] = [];
    if (!name) return out;
    const keys = this.nameKeys();
    const c0 = name.charCodeAt(0);
    const c1 = name.length > 1 ? name.charCodeAt(1) : 0;
    // Own names are latin1 here: a name with a wider character matches none of them.
    if (c0 !== 0 && c0 <= 0xff && c1 <= 0xff) {
      const want = (kind << 16) | c0 | (c1 << 8);
      for (let i = keys.indexOf(want); i >= 0; i = keys.indexOf(want, i + 1)) this.scanMatch(name, essential, i, out);
    }
    if (this.baseStrLen > 0) {
      // Split BTF: names in the base's strings.
      const odd = (kind << 16) | BASE_NAME;
      let more = false;
      for (let i = keys.indexOf(odd); i >= 0; i = keys.indexOf(odd, i + 1)) more = this.scanMatch(name, essential, i, out) || more;
      if (more) out.sort(ascending);
    }
    return out;
  }

  /** scanNames' test of own type `i`: its name is `name` (essential: or its essential name is); pushes its id and returns true if so. */
  private scanMatch(name: string, essential: boolean, i: number, out: number[]): boolean {
    const off = this.raw!.words[this.raw!.offs[i]!]!;
    let ok: boolean;
    if (off < this.baseStrLen) {
      const n = this.nameStr(off);
      ok = n === name ? !essential || essentialName(name) === name : essential && essentialName(n) === name;
    } else {
      const o = off - this.baseStrLen;
      // The name's bytes as latin1 chars (what NameIndex compares), without decoding them.
      const b = this.stringBytes;
      if (o + name.length > b.length) return false;
      for (let k = 0; k < name.length; k++) if (b[o + k] !== name.charCodeAt(k)) return false;
      const after = b[o + name.length];
      ok = after === 0 ? !essential || essentialName(name) === name : essential && after === 0x5f && essentialName(this.nameStr(off)) === name;
    }
    if (ok) out.push(this.firstId + i);
    return ok;
  }

  /**
   * Per own type: its kind in bits 16-23, the first two bytes of its name (little-endian; 0 when
   * anonymous, BASE_NAME for a name in the base's strings): parseKernelBtf's walk fills them,
   * other BTF builds them on the first scan. (A name's second byte is its NUL when it has one
   * character; no name starts with NUL, so an empty one at a nonzero offset matches no lookup.)
   */
  private nameKeys(): Uint32Array {
    if (this.keys) return this.keys;
    const walked = (this.raw as RawTypes & Partial<KindCounts>).nameKeys;
    if (walked) return (this.keys = walked);
    const { words, offs, kinds } = this.raw!;
    const bytes = this.stringBytes;
    const baseLen = this.baseStrLen;
    const keys = new Uint32Array(kinds.length);
    for (let i = 0; i < keys.length; i++) {
      const off = words[offs[i]!]!;
      const o = off - baseLen;
      keys[i] = (kinds[i]! << 16) | (off === 0 ? 0 : o < 0 ? BASE_NAME : bytes[o]! | (bytes[o + 1]! << 8));
    }
    return (this.keys = keys);
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
    const ids = this.ownIds(name, kind, false);
    return ids.length ? (this.typeById(ids[0]!) as BtfTypeOfKind<K>) : undefined;
  }

  /** The `type` field of a PTR/TYPEDEF/qualifier/VAR/FUNC/DECL_TAG, without building its object. */
  private refOf(id: number): number {
    const i = id - this.firstId;
    if (this.raw && i >= 0 && i < this.own && (i | 0) === i) return this.raw.words[this.raw.offs[i]! + 2]!;
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
    return this.layout().sizeof(id, depth);
  }

  /** Natural alignment in bytes as a C compiler would see it; packed structs give 1. */
  alignof(id: number, depth = 0): number {
    return this.layout().alignof(id, depth);
  }

  /** A struct is packed when a member sits off its natural alignment, or the size is not a multiple of it. */
  isPacked(t: CompositeType): boolean {
    return this.layout().isPacked(t.id);
  }

  /** The layout queries (./layout.ts), reading this BTF's type objects; memoized for the ids that exist when first asked. */
  private layout(): TypeLayout {
    let layout = layouts.get(this);
    if (!layout) layouts.set(this, (layout = new TypeLayout(
      {
        kind: (id) => this.typeById(id).kind,
        size: (id) => (this.typeById(id) as { size: number }).size,
        ref: (id) => (this.typeById(id) as { type: number }).type,
        arrayLen: (id) => (this.typeById(id) as { nelems: number }).nelems,
        memberCount: (id) => (this.typeById(id) as CompositeType).members.length,
        memberType: (id, i) => (this.typeById(id) as CompositeType).members[i]!.type,
        memberBitOffset: (id, i) => (this.typeById(id) as CompositeType).members[i]!.bitOffset,
        memberBitfieldSize: (id, i) => (this.typeById(id) as CompositeType).members[i]!.bitfieldSize,
        name: (id) => this.typeById(id).name,
      },
      this.file,
      this.count,
    )));
    return layout;
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

/** Add the own types `ofKind` (own indexes, all of one kind) to idx by their name bytes; returns the ids it could not add that way. */
function fillIndex(idx: NameIndex, words: Uint32Array, offs: Int32Array, ofKind: Int32Array, firstId: number, baseStrLen: number): number[] {
  const odd: number[] = [];
  for (let j = 0; j < ofKind.length; j++) {
    const i = ofKind[j]!;
    const off = words[offs[i]!]!;
    if (off !== 0 && (off < baseStrLen || !idx.addBytes(firstId + i, off - baseStrLen))) odd.push(firstId + i);
  }
  return odd;
}

const isQualifierKind = (k: BtfKind) => k === BtfKind.Const || k === BtfKind.Volatile || k === BtfKind.Restrict || k === BtfKind.TypeTag;

