// BTF deduplication with the semantics of libbpf 1.1's btf__dedup (pure; no kernel): strings
// first (one copy of each string, in the order types and then .BTF.ext records name them),
// then primitive types (INT, FLOAT, FWD, ENUM with enum-forward resolution), STRUCT/UNION by
// type-graph equivalence under a hypothetical canonical→candidate map (FWD ↔ STRUCT/UNION
// resolved in the canonical graph; identical arrays/structs the compiler emitted twice
// accepted), unambiguous FWDs resolved by name, then reference types (PTR, TYPEDEF, qualifiers,
// FUNC, ARRAY, FUNC_PROTO, DECL_TAG) once what they refer to is canonical, and finally
// compaction (canonical types keep their relative order) and remapping of every type id.
// VAR and DATASEC are never merged. Two flavors: 'linux-6.1' is the libbpf in Linux 6.1.192's
// tools/lib/bpf, which bpftool 7.1 (Debian's 7.1.0+6.1.192) links and `gen object` matches:
// ENUM and ENUM64 deduplicate apart (kind, signedness and size must agree, also for enum
// forwards) and identical PTRs the compiler emitted twice are accepted; 'libbpf-1.1' is the
// libbpf v1.1 release (libbpf-dev 1.1): an enum forward matches either enum kind of any size,
// no PTR exception, and a pass after struct dedup resolves each FWD still unresolved to the one
// canonical STRUCT/UNION of its name. Where several canonical candidates share a signature, they
// are tried in the order libbpf's hashmap yields them (newest first, reversed on each growth),
// so the chosen representative, and with it the output bytes, are libbpf's.
//
// One file on purpose: the passes share one state (the canonical map, the hypothetical map of
// the equivalence check, the per-signature candidate tables), and each pass reads what the one
// before it decided, in libbpf's order.
import { infoKflag, recordInfo, recordSizeType } from './record.js';
import { BtfError, BtfKind, type BtfType, isComposite, isEnum, withTypeIds } from './types.js';

const UNPROCESSED = -1;
const IN_PROGRESS = -2;

/** The result: compacted types (index = new id, 0 is void), the string section and the id map. */
export interface DedupResult {
  types: BtfType[];
  /** The deduplicated string section ("" first, then each string once in first-use order). */
  strings: Uint8Array;
  /** Offset of `s` in `strings` (every string the types or the extra strings use is present). */
  stringOffset(s: string): number;
  /** The final id of an input type id (for .BTF.ext func_info and CO-RE records). */
  typeId(oldId: number): number;
}

/** String set in libbpf's strset order: first use wins, no tail merging. */
class StringSet {
  private readonly offs = new Map<string, number>([['', 0]]);
  private readonly parts: Buffer[] = [Buffer.from([0])];
  private len = 1;
  add(s: string): void {
    if (this.offs.has(s)) return;
    const b = Buffer.from(`${s}\0`, 'utf8');
    this.offs.set(s, this.len);
    this.parts.push(b);
    this.len += b.length;
  }
  offset(s: string): number {
    const o = this.offs.get(s);
    if (o === undefined) throw new BtfError('BTF dedup', `string "${s}" is not in the deduplicated string section`);
    return o;
  }
  bytes(): Uint8Array {
    return new Uint8Array(Buffer.concat(this.parts));
  }
}

/**
 * Candidate table with the iteration order of libbpf's hashmap for one key: entries go to the
 * head of their bucket, and every growth (capacity 4, then doubling when more than 3/4 full)
 * re-links each bucket head-first, which reverses the order of the entries sharing a key.
 */
class CandTable {
  private readonly lists = new Map<string, number[]>();
  private size = 0;
  private cap = 0;
  add(key: string, id: number): void {
    if (this.cap === 0 || Math.floor(((this.size + 1) * 4) / 3) > this.cap) {
      this.cap = this.cap === 0 ? 4 : this.cap * 2;
      for (const l of this.lists.values()) l.reverse();
    }
    const l = this.lists.get(key);
    if (l) l.unshift(id);
    else this.lists.set(key, [id]);
    this.size++;
  }
  get(key: string): readonly number[] {
    return this.lists.get(key) ?? [];
  }
}

/** name, info (kind, kind_flag, vlen) and size/type: what btf_hash_common hashes and btf_equal_common compares. */
const common = (t: BtfType): string => `${recordInfo(t)}.${recordSizeType(t)}.${t.name}`;

/** The word after an INT's or DECL_TAG's header. */
const intTagWord = (t: BtfType): string => (t.kind === BtfKind.Int ? `${t.encoding}.${t.bitOffset}.${t.bits}` : t.kind === BtfKind.DeclTag ? `${t.componentIdx}` : '');

const memberOffset = (t: BtfType & { kind: BtfKind.Struct | BtfKind.Union }, i: number): number => {
  const m = t.members[i]!;
  return t.kflag ? ((m.bitfieldSize << 24) | m.bitOffset) >>> 0 : m.bitOffset;
};

// Signatures (the table's keys). Each holds exactly what libbpf's hash of that kind covers, and
// each equality check below implies equal signatures, so a key match stands for a hash match.
const keyIntTag = (t: BtfType) => `I|${common(t)}|${intTagWord(t)}`;
const keyEnum = (t: BtfType, f: DedupFlavor) => (f === 'linux-6.1' ? `E|${t.kind}.${infoKflag(recordInfo(t))}.${recordSizeType(t)}.${t.name}` : `E|${t.name}`);
const keyCommon = (t: BtfType) => `C|${common(t)}`;
const keyStruct = (t: BtfType) => {
  if (t.kind !== BtfKind.Struct && t.kind !== BtfKind.Union) return keyCommon(t);
  let k = `S|${common(t)}`;
  for (let i = 0; i < t.members.length; i++) k += `|${t.members[i]!.name}@${memberOffset(t, i)}`;
  return k;
};
const keyArray = (t: BtfType) => (t.kind === BtfKind.Array ? `A|${common(t)}|${t.type}|${t.indexType}|${t.nelems}` : keyCommon(t));
const keyProto = (t: BtfType) => {
  if (t.kind !== BtfKind.FuncProto) return keyCommon(t);
  let k = `P|${common(t)}`;
  for (const p of t.params) k += `|${p.name}:${p.type}`;
  return k;
};

const equalCommon = (a: BtfType, b: BtfType) => common(a) === common(b);
const equalIntTag = (a: BtfType, b: BtfType) => equalCommon(a, b) && intTagWord(a) === intTagWord(b);
const isEnumFwd = (t: BtfType) => isEnum(t) && t.values.length === 0;
const equalEnum = (a: BtfType, b: BtfType) => {
  if (!equalCommon(a, b) || !isEnum(a) || !isEnum(b)) return false;
  return a.values.every((v, i) => v.name === b.values[i]!.name && v.value === b.values[i]!.value);
};
const compatEnum = (a: BtfType, b: BtfType, f: DedupFlavor) => {
  if (!isEnumFwd(a) && !isEnumFwd(b)) return equalEnum(a, b);
  if (!isEnum(a) || !isEnum(b) || a.name !== b.name) return false;
  return f === 'libbpf-1.1' || (a.kind === b.kind && a.signed === b.signed && a.size === b.size);
};
const shallowEqualStruct = (a: BtfType, b: BtfType) => {
  if (!equalCommon(a, b)) return false;
  if ((a.kind !== BtfKind.Struct && a.kind !== BtfKind.Union) || (b.kind !== BtfKind.Struct && b.kind !== BtfKind.Union)) return true;
  for (let i = 0; i < a.members.length; i++) if (a.members[i]!.name !== b.members[i]!.name || memberOffset(a, i) !== memberOffset(b, i)) return false;
  return true;
};
const equalArray = (a: BtfType, b: BtfType) => equalCommon(a, b) && a.kind === BtfKind.Array && b.kind === BtfKind.Array && a.type === b.type && a.indexType === b.indexType && a.nelems === b.nelems;
const compatArray = (a: BtfType, b: BtfType) => equalCommon(a, b) && a.kind === BtfKind.Array && b.kind === BtfKind.Array && a.nelems === b.nelems;
const equalProto = (a: BtfType, b: BtfType) => equalCommon(a, b) && a.kind === BtfKind.FuncProto && b.kind === BtfKind.FuncProto && a.params.every((p, i) => p.name === b.params[i]!.name && p.type === b.params[i]!.type);
const compatProto = (a: BtfType, b: BtfType) => a.name === b.name && recordInfo(a) === recordInfo(b) && a.kind === BtfKind.FuncProto && b.kind === BtfKind.FuncProto && a.params.every((p, i) => p.name === b.params[i]!.name);
const fwdKind = (t: BtfType) => (t.kind === BtfKind.Fwd && t.union ? BtfKind.Union : BtfKind.Struct);

class Dedup {
  readonly t: BtfType[];
  readonly map: Int32Array;
  readonly hypot: Int32Array;
  private hypotList: number[] = [];
  private readonly table = new CandTable();

  constructor(
    types: readonly BtfType[],
    private readonly flavor: DedupFlavor,
  ) {
    this.t = types.map((x) => withTypeIds(x, (id) => id));
    const n = this.t.length;
    this.map = new Int32Array(n).fill(UNPROCESSED);
    this.hypot = new Int32Array(n).fill(UNPROCESSED);
    this.map[0] = 0;
    for (let i = 1; i < n; i++) {
      const k = this.t[i]!.kind;
      if (k === BtfKind.Var || k === BtfKind.Datasec) this.map[i] = i;
    }
  }

  private type(id: number): BtfType {
    const t = this.t[id];
    if (!t) throw new BtfError('BTF dedup', `type id ${id} is out of range (${this.t.length - 1} types)`);
    return t;
  }

  private mapped(id: number): boolean {
    return this.map[id]! >= 0;
  }

  resolve(id: number): number {
    while (this.mapped(id) && this.map[id] !== id) id = this.map[id]!;
    return id;
  }

  private resolveFwd(id: number): number {
    if (this.type(id).kind !== BtfKind.Fwd) return id;
    const r = this.resolve(id);
    return this.type(r).kind !== BtfKind.Fwd ? r : id;
  }

  /** The first candidate under `key` that `eq` finds equal to `t` (libbpf's walk of a hash bucket), else `id` itself. */
  private firstEqual(t: BtfType, id: number, key: string, eq: (a: BtfType, b: BtfType) => boolean): number {
    for (const c of this.table.get(key)) if (eq(t, this.type(c))) return c;
    return id;
  }

  /** btf_dedup_prim_type */
  prim(id: number): void {
    const t = this.type(id);
    let newId = id;
    let key: string;
    switch (t.kind) {
      case BtfKind.Int:
        key = keyIntTag(t);
        newId = this.firstEqual(t, id, key, equalIntTag);
        break;
      case BtfKind.Enum:
      case BtfKind.Enum64:
        key = keyEnum(t, this.flavor);
        for (const c of this.table.get(key)) {
          const ct = this.type(c);
          if (equalEnum(t, ct)) {
            newId = c;
            break;
          }
          if (compatEnum(t, ct, this.flavor)) {
            if (isEnumFwd(t)) {
              newId = c;
              break;
            }
            this.map[c] = id;
          }
        }
        break;
      case BtfKind.Fwd:
      case BtfKind.Float:
        key = keyCommon(t);
        newId = this.firstEqual(t, id, key, equalCommon);
        break;
      default:
        return;
    }
    this.map[id] = newId;
    if (newId === id) this.table.add(key, id);
  }

  private clearHypot(): void {
    for (const id of this.hypotList) this.hypot[id] = UNPROCESSED;
    this.hypotList = [];
  }

  private identicalArrays(a: number, b: number): boolean {
    const x = this.type(a);
    const y = this.type(b);
    return x.kind === BtfKind.Array && y.kind === BtfKind.Array && equalArray(x, y);
  }

  private identicalStructs(a: number, b: number): boolean {
    const x = this.type(a);
    const y = this.type(b);
    if (!isComposite(x) || x.kind !== y.kind || !shallowEqualStruct(x, y)) return false;
    if (!isComposite(y) || (x.kind !== BtfKind.Struct && x.kind !== BtfKind.Union) || (y.kind !== BtfKind.Struct && y.kind !== BtfKind.Union)) return false;
    for (let i = 0; i < x.members.length; i++) {
      const ma = x.members[i]!.type;
      const mb = y.members[i]!.type;
      if (ma !== mb && !this.identicalArrays(ma, mb) && !this.identicalStructs(ma, mb)) return false;
    }
    return true;
  }

  private identicalPtrs(a: number, b: number): boolean {
    const x = this.type(a);
    const y = this.type(b);
    return x.kind === BtfKind.Ptr && y.kind === BtfKind.Ptr && x.type === y.type;
  }

  /** btf_dedup_is_equiv: is the graph from `candId` equivalent to the one from `canonId`? */
  private isEquiv(candId: number, canonId: number): boolean {
    if (this.resolve(candId) === this.resolve(canonId)) return true;
    canonId = this.resolveFwd(canonId);
    const h = this.hypot[canonId]!;
    if (h >= 0) {
      if (h === candId) return true;
      return this.identicalArrays(h, candId) || this.identicalStructs(h, candId) || (this.flavor === 'linux-6.1' && this.identicalPtrs(h, candId));
    }
    this.hypotList.push(canonId);
    this.hypot[canonId] = candId;
    const cand = this.type(candId);
    const canon = this.type(canonId);
    if (cand.name !== canon.name) return false;
    if ((cand.kind === BtfKind.Fwd || canon.kind === BtfKind.Fwd) && cand.kind !== canon.kind) {
      return cand.kind === BtfKind.Fwd ? fwdKind(cand) === canon.kind : fwdKind(canon) === cand.kind;
    }
    if (cand.kind !== canon.kind) return false;
    switch (cand.kind) {
      case BtfKind.Int:
        return equalIntTag(cand, canon);
      case BtfKind.Enum:
      case BtfKind.Enum64:
        return compatEnum(cand, canon, this.flavor);
      case BtfKind.Fwd:
      case BtfKind.Float:
        return equalCommon(cand, canon);
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Func:
      case BtfKind.TypeTag:
        if (recordInfo(cand) !== recordInfo(canon)) return false;
        return this.isEquiv(cand.type, (canon as { type: number }).type);
      case BtfKind.Array: {
        if (canon.kind !== BtfKind.Array || !compatArray(cand, canon)) return false;
        return this.isEquiv(cand.indexType, canon.indexType) && this.isEquiv(cand.type, canon.type);
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        if ((canon.kind !== BtfKind.Struct && canon.kind !== BtfKind.Union) || !shallowEqualStruct(cand, canon)) return false;
        for (let i = 0; i < cand.members.length; i++) if (!this.isEquiv(cand.members[i]!.type, canon.members[i]!.type)) return false;
        return true;
      }
      case BtfKind.FuncProto: {
        if (canon.kind !== BtfKind.FuncProto || !compatProto(cand, canon)) return false;
        if (!this.isEquiv(cand.returnType, canon.returnType)) return false;
        for (let i = 0; i < cand.params.length; i++) if (!this.isEquiv(cand.params[i]!.type, canon.params[i]!.type)) return false;
        return true;
      }
      default:
        throw new BtfError('BTF dedup', `type [${candId}] of kind ${cand.kind} cannot take part in a struct equivalence check`);
    }
  }

  /** btf_dedup_merge_hypot_map (no base BTF, so no canonical adjustment). */
  private mergeHypot(): void {
    for (const canonId of this.hypotList) {
      const tId = this.resolve(this.hypot[canonId]!);
      const cId = this.resolve(canonId);
      const tKind = this.type(tId).kind;
      const cKind = this.type(cId).kind;
      if (tKind !== BtfKind.Fwd && cKind === BtfKind.Fwd) this.map[cId] = tId;
      if (tKind === BtfKind.Fwd && cKind !== BtfKind.Fwd) this.map[tId] = cId;
      if ((tKind === BtfKind.Struct || tKind === BtfKind.Union) && cKind !== BtfKind.Fwd && this.mapped(cId) && !this.mapped(tId)) this.map[tId] = cId;
    }
  }

  /** btf_dedup_struct_type */
  struct(id: number): void {
    if (this.mapped(id)) return;
    const t = this.type(id);
    if (!isComposite(t)) return;
    const key = keyStruct(t);
    let newId = id;
    for (const c of this.table.get(key)) {
      if (!shallowEqualStruct(t, this.type(c))) continue;
      this.clearHypot();
      if (!this.isEquiv(id, c)) continue;
      this.mergeHypot();
      newId = c;
      break;
    }
    this.map[id] = newId;
    if (newId === id) this.table.add(key, id);
  }

  /** btf_dedup_resolve_fwds (libbpf 1.1 only): a FWD left unmapped takes the one canonical STRUCT/UNION of its name. */
  resolveFwds(): void {
    const names = new Map<string, number>();
    for (let i = 1; i < this.t.length; i++) {
      const t = this.t[i]!;
      if (!isComposite(t) || this.map[i] !== i) continue;
      names.set(t.name, names.has(t.name) ? 0 : i);
    }
    for (let i = 1; i < this.t.length; i++) {
      const t = this.t[i]!;
      if (t.kind !== BtfKind.Fwd || this.map[i] !== i) continue;
      const c = names.get(t.name);
      if (!c) continue;
      if (this.t[c]!.kind !== fwdKind(t)) continue;
      this.map[i] = c;
    }
  }

  /** btf_dedup_ref_type: the canonical id of `id`, deduplicating what it refers to first. */
  ref(id: number): number {
    if (this.map[id] === IN_PROGRESS) throw new BtfError('BTF dedup', `reference loop through type [${id}]`);
    if (this.mapped(id)) return this.resolve(id);
    const t = this.type(id);
    this.map[id] = IN_PROGRESS;
    let newId = id;
    let key: string;
    switch (t.kind) {
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Func:
      case BtfKind.TypeTag:
        t.type = this.ref(t.type);
        key = keyCommon(t);
        newId = this.firstEqual(t, id, key, equalCommon);
        break;
      case BtfKind.DeclTag:
        t.type = this.ref(t.type);
        key = keyIntTag(t);
        newId = this.firstEqual(t, id, key, equalIntTag);
        break;
      case BtfKind.Array:
        t.type = this.ref(t.type);
        t.indexType = this.ref(t.indexType);
        key = keyArray(t);
        newId = this.firstEqual(t, id, key, equalArray);
        break;
      case BtfKind.FuncProto:
        t.returnType = this.ref(t.returnType);
        for (const p of t.params) p.type = this.ref(p.type);
        key = keyProto(t);
        newId = this.firstEqual(t, id, key, equalProto);
        break;
      default:
        throw new BtfError('BTF dedup', `type [${id}] of kind ${t.kind} was left unprocessed`);
    }
    this.map[id] = newId;
    if (newId === id) this.table.add(key, id);
    return newId;
  }
}

/** Whose btf__dedup to follow (see the file's head): bpftool 7.1's (the default) or the libbpf 1.1 release's. */
export type DedupFlavor = 'linux-6.1' | 'libbpf-1.1';

export interface DedupOptions {
  flavor?: DedupFlavor;
  /**
   * The BTF's string section when it already holds each string once, as BTF built type by type
   * does (libbpf's btf__add_*, e.g. the static linker's): libbpf then skips its string pass and
   * keeps every string, used or not, in this order.
   */
  strings?: Iterable<string>;
  /**
   * For the string pass: the strings .BTF.ext refers to, in libbpf's visiting order (func_info
   * section names, then line_info section, file and line strings, then CO-RE section names and
   * access strings).
   */
  extStrings?: Iterable<string>;
}

/** The names a type record holds, in btf_type_visit_str_offs order. */
export function typeStrings(t: BtfType): string[] {
  const out = [t.name];
  if (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) for (const m of t.members) out.push(m.name);
  else if (t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) for (const v of t.values) out.push(v.name);
  else if (t.kind === BtfKind.FuncProto) for (const p of t.params) out.push(p.name);
  return out;
}

/**
 * Deduplicate `types` (index = type id, 0 is void) as libbpf's btf__dedup does.
 * @throws {@link BtfError} when a type refers to an id out of range or the types loop without a STRUCT/UNION.
 */
export function dedupBtf(types: readonly BtfType[], opts: DedupOptions = {}): DedupResult {
  const strs = new StringSet();
  if (opts.strings) for (const s of opts.strings) strs.add(s);
  else {
    for (let i = 1; i < types.length; i++) for (const s of typeStrings(types[i]!)) strs.add(s);
    for (const s of opts.extStrings ?? []) strs.add(s);
  }

  const flavor = opts.flavor ?? 'linux-6.1';
  const d = new Dedup(types, flavor);
  const n = d.t.length;
  for (let i = 1; i < n; i++) d.prim(i);
  for (let i = 1; i < n; i++) d.struct(i);
  if (flavor === 'libbpf-1.1') d.resolveFwds();
  for (let i = 1; i < n; i++) d.ref(i);

  const newId = new Int32Array(n).fill(UNPROCESSED);
  newId[0] = 0;
  const kept: BtfType[] = [d.t[0]!];
  for (let i = 1; i < n; i++) {
    if (d.map[i] !== i) continue;
    newId[i] = kept.length;
    kept.push(d.t[i]!);
  }
  const typeId = (old: number): number => {
    const r = newId[d.resolve(old)];
    if (r === undefined || r < 0) throw new BtfError('BTF dedup', `type id ${old} has no canonical type`);
    return r;
  };
  const out = kept.map((t, i) => (i === 0 ? t : { ...withTypeIds(t, typeId), id: i }));
  return { types: out, strings: strs.bytes(), stringOffset: (s) => strs.offset(s), typeId };
}
