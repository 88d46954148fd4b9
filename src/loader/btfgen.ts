// BTFgen (bpftool gen min_core_btf): a target BTF cut down to what a set of objects' CO-RE
// relocations use, so it can ship with the objects for kernels without BTF. As bpftool's gen.c
// btfgen_*: every relocation is resolved against the source BTF as the loader would (the first
// matching candidate, candidate lists narrowed per object), and its target spec marks types:
// - field relocations: the root type, then along the accessor path each struct/union member
//   taken (only that member is kept) and its type; qualifiers and typedefs are followed, pointers
//   are not (a pointer to a type nobody marked becomes a pointer to void);
// - type_exists/type_size/type_id_target: the type, following pointers, structs without members;
// - type_matches: the type with all members of every struct reached not through a pointer;
// - enumval: the whole enum.
// The marked types are re-encoded in id order (structs and unions with their marked members only,
// kind_flag set when one of those is a bitfield), ids renumbered, strings in first-use order.
import type { Btf } from '../btf/btf.js';
import { encodeBtf } from '../btf/encode.js';
import { type BtfExt, CoreRelocKind } from '../btf/ext.js';
import { BtfError, BtfKind, type BtfType, type CompositeType, KIND_NAMES, withTypeIds } from '../btf/types.js';
import { type CandidateCache, type CoreTargets, resolveCoreRelo } from './core.js';

/** One object's BTF and .BTF.ext, as read from its ELF file. */
export interface BtfgenObject {
  file: string;
  btf: Btf;
  ext: BtfExt;
}

/** Deeper than any real type graph: a cycle in a hostile source BTF ends here, not in a stack overflow. */
const MAX_MARK_DEPTH = 1024;

class Marker {
  readonly types = new Set<number>();
  readonly members = new Map<number, Set<number>>();
  constructor(readonly src: Btf) {}

  private unsupported(t: BtfType, id: number): never {
    throw new BtfError(this.src.file, `unsupported kind: ${KIND_NAMES[t.kind]} (${id})`);
  }

  private deep(depth: number): void {
    if (depth > MAX_MARK_DEPTH) throw new BtfError(this.src.file, `type graph deeper than ${MAX_MARK_DEPTH} (a reference cycle?)`);
  }

  member(typeId: number, idx: number): void {
    let s = this.members.get(typeId);
    if (!s) this.members.set(typeId, (s = new Set()));
    s.add(idx);
  }

  /** btfgen_mark_type: the type and what it refers to, structs without members; pointers followed when `followPointers`. */
  type(id: number, followPointers: boolean): void {
    this.walk(id, false, followPointers, 0);
  }

  /** btfgen_mark_type_match: the type and every member of each struct reached not through a pointer. */
  match(id: number, behindPtr: boolean): void {
    this.walk(id, true, behindPtr, 0);
  }

  /**
   * Both of bpftool's marking walks, which differ only in structs, pointers and forwards: `flag` is
   * followPointers for btfgen_mark_type (kept all the way down) and behindPtr for
   * btfgen_mark_type_match (set by a pointer, kept through qualifiers and typedefs, cleared below
   * arrays, prototypes and members).
   */
  private walk(id: number, match: boolean, flag: boolean, depth: number): void {
    if (id === 0) return;
    this.deep(depth);
    const t = this.src.typeById(id);
    this.types.add(id);
    const below = match ? false : flag;
    switch (t.kind) {
      case BtfKind.Void:
      case BtfKind.Int:
      case BtfKind.Float:
      case BtfKind.Enum:
      case BtfKind.Enum64:
        return;
      case BtfKind.Struct:
      case BtfKind.Union:
        if (match && !flag)
          t.members.forEach((m, i) => {
            this.member(id, i);
            this.walk(m.type, true, false, depth + 1);
          });
        return;
      case BtfKind.Fwd:
        if (match) return;
        break;
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.Volatile:
      case BtfKind.Typedef:
        return this.walk(t.type, match, flag, depth + 1);
      case BtfKind.Ptr:
        if (match || flag) this.walk(t.type, match, true, depth + 1);
        return;
      case BtfKind.Array:
        this.walk(t.type, match, below, depth + 1);
        return this.walk(t.indexType, match, below, depth + 1);
      case BtfKind.FuncProto:
        this.walk(t.returnType, match, below, depth + 1);
        for (const p of t.params) this.walk(p.type, match, below, depth + 1);
        return;
      default:
        break;
    }
    this.unsupported(t, id);
  }

  /** btfgen_record_field_relo: the root, then each member on the accessor path and its type. */
  field(rootId: number, raw: readonly number[]): void {
    let id = rootId;
    this.type(id, false);
    let t = this.src.typeById(id);
    for (let i = 1; i < raw.length; i++) {
      while (t.kind === BtfKind.Const || t.kind === BtfKind.Volatile || t.kind === BtfKind.Restrict || t.kind === BtfKind.TypeTag || t.kind === BtfKind.Typedef) {
        id = t.type;
        t = this.src.typeById(id);
      }
      if (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) {
        const idx = raw[i]!;
        const m = t.members[idx];
        if (!m) throw new BtfError(this.src.file, `member ${idx} of type ${id} does not exist`);
        this.member(id, idx);
        id = m.type;
        t = this.src.typeById(id);
        this.type(id, false);
      } else if (t.kind === BtfKind.Array) {
        id = t.type;
        t = this.src.typeById(id);
      } else {
        this.unsupported(t, id);
      }
    }
  }
}

/**
 * The minimized BTF (raw .BTF bytes, little-endian as bpftool writes it on x86-64/arm64) of
 * `src` for the CO-RE relocations of `objects`.
 */
export function minCoreBtf(src: Btf, objects: readonly BtfgenObject[]): Uint8Array {
  const mark = new Marker(src);
  const targets: CoreTargets = { btfs: () => [{ name: 'vmlinux', btf: src }] };
  for (const o of objects) {
    // One candidate cache per object, narrowed as its relocations resolve (bpftool's cand_cache).
    const cache: CandidateCache = new Map();
    for (const relos of o.ext.coreRelos.values()) {
      for (const r of relos) {
        if (r.kind === CoreRelocKind.TypeIdLocal) continue;
        const res = resolveCoreRelo(o.btf, r.typeId, r.accessStr, r.kind, targets, true, cache);
        const ts = res.target;
        if (!ts) continue; // no candidate matched: nothing to keep
        switch (r.kind) {
          case CoreRelocKind.TypeIdTarget:
          case CoreRelocKind.TypeExists:
          case CoreRelocKind.TypeSize:
            mark.type(ts.rootId, true);
            break;
          case CoreRelocKind.TypeMatches:
            mark.match(ts.rootId, false);
            break;
          case CoreRelocKind.EnumvalExists:
          case CoreRelocKind.EnumvalValue:
            mark.type(ts.rootId, false);
            break;
          default:
            mark.field(ts.rootId, ts.raw);
        }
      }
    }
  }
  // btfgen_get_btf: marked types in id order, then every type reference renumbered (0 if unmarked).
  const ids = [...mark.types].sort((a, b) => a - b);
  const newId = new Map<number, number>(ids.map((id, i) => [id, i + 1]));
  const re = (id: number) => newId.get(id) ?? 0;
  const out: BtfType[] = [{ kind: BtfKind.Void, id: 0, name: '' }];
  for (const id of ids) {
    let t = src.typeById(id);
    if (t.kind === BtfKind.Struct || t.kind === BtfKind.Union) {
      const keep = mark.members.get(id);
      const members = t.members.filter((_, i) => keep?.has(i));
      t = { ...t, members, kflag: members.some((m) => m.bitfieldSize !== 0 || m.bitOffset % 8 !== 0) } as CompositeType;
    }
    out.push({ ...withTypeIds(t, re), id: out.length });
  }
  return encodeBtf(out, true);
}
