// CO-RE specs (libbpf's relo_core.c, first half): a relocation's access string parsed into a
// spec on the local BTF (bpf_core_parse_spec), and a candidate's target spec found by matching
// it against one target type (bpf_core_spec_match: members by name through anonymous ones,
// array indexes, enumerators by essential name; bpf_core_types_are_compat and
// bpf_core_types_match for the type-based relocations). core.ts computes the values from the
// specs this gives and patches the instructions.
import { BeeTsError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import { essentialName } from '../btf/names.js';
import { CoreRelocKind } from '../btf/ext.js';
import { type ArrayType, BtfKind, type BtfType, type CompositeType, INT_SIGNED, isComposite } from '../btf/types.js';

export class CoreError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('CORE', message, options);
  }
}

/** A high-level accessor: a named member (typeId = its composite) or an array index (typeId = element). */
export interface Accessor {
  typeId: number;
  idx: number;
  name?: string;
}

export interface Spec {
  btf: Btf;
  rootId: number;
  kind: CoreRelocKind;
  raw: number[];
  acc: Accessor[];
  bitOffset: number;
}

/** BPF_CORE_SPEC_MAX_LEN */
const MAX_SPEC_LEN = 64;
const MAX_DEPTH = 32;

export const isFieldKind = (k: CoreRelocKind) => k <= CoreRelocKind.FieldRShiftU64;
export const isEnumKind = (k: CoreRelocKind) => k === CoreRelocKind.EnumvalExists || k === CoreRelocKind.EnumvalValue;
export const isTypeKind = (k: CoreRelocKind) => !isFieldKind(k) && !isEnumKind(k);
export const isAnyEnum = (t: BtfType) => t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64;
/** btf_kind_core_compat: same kind, or enum and enum64. */
const kindsCompat = (a: BtfType, b: BtfType) => a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));

/** Skip const/volatile/restrict/type tags and typedefs; returns the id reached. */
export function skipId(btf: Btf, id: number): number {
  return btf.resolveId(id);
}
function skip(btf: Btf, id: number): BtfType {
  return btf.resolve(id);
}

export function sizeOf(btf: Btf, id: number): number {
  try {
    return btf.sizeof(id);
  } catch (e) {
    throw new CoreError((e as Error).message, { cause: e });
  }
}

function isFlexArray(btf: Btf, acc: Accessor | undefined, arr: ArrayType): boolean {
  // Only a zero-length array that is the last member of the struct holding it.
  if (!acc?.name || arr.nelems > 0) return false;
  const t = btf.typeById(acc.typeId);
  return isComposite(t) && acc.idx === t.members.length - 1;
}

function parseAccess(str: string): number[] {
  if (!/^\d+(:\d+)*$/.test(str)) throw new CoreError(`malformed CO-RE access string '${str}'`);
  const raw = str.split(':').map(Number);
  if (raw.length > MAX_SPEC_LEN) throw new CoreError(`CO-RE access string '${str}' is deeper than ${MAX_SPEC_LEN}`);
  return raw;
}

/** bpf_core_parse_spec: the local spec of one relocation. */
export function parseSpec(btf: Btf, rootId: number, accessStr: string, kind: CoreRelocKind): Spec {
  const spec: Spec = { btf, rootId, kind, raw: [], acc: [], bitOffset: 0 };
  if (isTypeKind(kind)) {
    if (accessStr !== '0') throw new CoreError(`type relocation with access '${accessStr}'`);
    return spec;
  }
  spec.raw = parseAccess(accessStr);
  let id = skipId(btf, rootId);
  let t = btf.typeById(id);
  const first = spec.raw[0]!;
  spec.acc.push({ typeId: id, idx: first });
  if (isEnumKind(kind)) {
    if (!isAnyEnum(t) || spec.raw.length > 1 || first >= (t as { values: unknown[] }).values.length) throw new CoreError(`enum value access '${accessStr}' does not fit ${t.name || '(anon)'}`);
    spec.acc[0]!.name = (t as { values: { name: string }[] }).values[first]!.name;
    return spec;
  }
  spec.bitOffset = first * sizeOf(btf, id) * 8;
  for (let i = 1; i < spec.raw.length; i++) {
    t = skip(btf, id);
    id = skipId(btf, id);
    const idx = spec.raw[i]!;
    if (isComposite(t)) {
      const m = t.members[idx];
      if (!m) throw new CoreError(`member index ${idx} out of range in '${t.name || '(anon)'}'`);
      spec.bitOffset += m.bitOffset;
      if (m.name) spec.acc.push({ typeId: id, idx, name: m.name });
      id = m.type;
    } else if (t.kind === BtfKind.Array) {
      const elem = skipId(btf, t.type);
      if (!isFlexArray(btf, spec.acc[spec.acc.length - 1], t) && idx >= t.nelems) throw new CoreError(`array index ${idx} out of range (${t.nelems} elements)`);
      spec.acc.push({ typeId: elem, idx });
      spec.bitOffset += idx * sizeOf(btf, elem) * 8;
      id = elem;
    } else throw new CoreError(`access '${accessStr}' steps into a ${t.kind === BtfKind.Ptr ? 'pointer' : 'scalar'}`);
  }
  return spec;
}

/** bpf_core_fields_are_compat: may a local field be relocated to this target field? */
function fieldsCompat(lb: Btf, lid: number, tb: Btf, tid: number): boolean {
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const l = skip(lb, lid);
    const t = skip(tb, tid);
    if (isComposite(l) && isComposite(t)) return true;
    if (!kindsCompat(l, t)) return false;
    switch (l.kind) {
      case BtfKind.Ptr:
      case BtfKind.Float:
        return true;
      case BtfKind.Fwd:
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        const ln = essentialName(l.name);
        const tn = essentialName(t.name);
        return ln === '' || tn === '' || ln === tn;
      }
      case BtfKind.Int:
        return l.bitOffset === 0 && (t as typeof l).bitOffset === 0;
      case BtfKind.Array:
        lid = l.type;
        tid = (t as ArrayType).type;
        continue;
      default:
        return false;
    }
  }
  throw new CoreError('type nesting too deep');
}

/** __bpf_core_types_are_compat (TYPE_EXISTS / TYPE_SIZE / TYPE_ID_TARGET candidates; names already agree). */
function typesCompat(lb: Btf, lid: number, tb: Btf, tid: number, level = MAX_DEPTH): boolean {
  if (!kindsCompat(lb.typeById(lid), tb.typeById(tid))) return false;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const l = skip(lb, lid);
    const t = skip(tb, tid);
    if (!kindsCompat(l, t)) return false;
    switch (l.kind) {
      case BtfKind.Void:
      case BtfKind.Struct:
      case BtfKind.Union:
      case BtfKind.Enum:
      case BtfKind.Enum64:
      case BtfKind.Fwd:
        return true;
      case BtfKind.Int:
        return l.bitOffset === 0 && (t as typeof l).bitOffset === 0;
      case BtfKind.Ptr:
        lid = l.type;
        tid = (t as typeof l).type;
        continue;
      case BtfKind.Array:
        lid = l.type;
        tid = (t as ArrayType).type;
        continue;
      case BtfKind.FuncProto: {
        const tp = t as typeof l;
        if (l.params.length !== tp.params.length) return false;
        for (let i = 0; i < l.params.length; i++) {
          if (level <= 0) throw new CoreError('type nesting too deep');
          if (!typesCompat(lb, skipId(lb, l.params[i]!.type), tb, skipId(tb, tp.params[i]!.type), level - 1)) return false;
        }
        lid = skipId(lb, l.returnType);
        tid = skipId(tb, tp.returnType);
        continue;
      }
      default:
        return false;
    }
  }
  throw new CoreError('type nesting too deep');
}

/** bpf_core_names_match: an anonymous target matches only an anonymous local. */
function namesMatch(local: string, targ: string): boolean {
  if (!targ) return !local;
  return essentialName(local) === essentialName(targ);
}

/** __bpf_core_types_match (TYPE_MATCHES). */
function typesMatch(lb: Btf, lid: number, tb: Btf, tid: number, behindPtr = false, level = MAX_DEPTH): boolean {
  if (level <= 0) throw new CoreError('type nesting too deep');
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const l = skip(lb, lid);
    const t = skip(tb, tid);
    if (!namesMatch(l.name, t.name)) return false;
    switch (l.kind) {
      case BtfKind.Void:
        return t.kind === BtfKind.Void;
      case BtfKind.Fwd:
        if (behindPtr) {
          if (t.kind === BtfKind.Fwd) return l.union === t.union;
          return (t.kind === BtfKind.Struct && !l.union) || (t.kind === BtfKind.Union && l.union);
        }
        return t.kind === BtfKind.Fwd && l.union === t.union;
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        if (!isAnyEnum(t)) return false;
        const te = t as typeof l;
        if (l.size !== te.size || l.values.length > te.values.length) return false;
        return l.values.every((v) => te.values.some((x) => namesMatch(v.name, x.name)));
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        if (behindPtr) {
          if (l.kind === t.kind) return true;
          return t.kind === BtfKind.Fwd && (l.kind === BtfKind.Union) === t.union;
        }
        if (l.kind !== t.kind) return false;
        const tc = t as CompositeType;
        if (l.members.length > tc.members.length) return false;
        return l.members.every((lm) => tc.members.some((tm) => namesMatch(lm.name, tm.name) && typesMatch(lb, lm.type, tb, tm.type, behindPtr, level - 1)));
      }
      case BtfKind.Int:
        return t.kind === BtfKind.Int && l.size === t.size && (l.encoding & INT_SIGNED) === (t.encoding & INT_SIGNED);
      case BtfKind.Ptr:
        if (t.kind !== BtfKind.Ptr) return false;
        behindPtr = true;
        lid = l.type;
        tid = t.type;
        continue;
      case BtfKind.Array:
        if (t.kind !== BtfKind.Array || l.nelems !== t.nelems) return false;
        lid = l.type;
        tid = t.type;
        continue;
      case BtfKind.FuncProto: {
        if (t.kind !== BtfKind.FuncProto || l.params.length !== t.params.length) return false;
        for (let i = 0; i < l.params.length; i++) if (!typesMatch(lb, l.params[i]!.type, tb, t.params[i]!.type, behindPtr, level - 1)) return false;
        lid = l.returnType;
        tid = t.returnType;
        continue;
      }
      default:
        return false;
    }
  }
  throw new CoreError('type nesting too deep');
}

/** bpf_core_match_member: find the local named member in the target, through anonymous members. */
function matchMember(local: Spec, lacc: Accessor, tb: Btf, targId: number, ts: Spec): { found: boolean; next: number } {
  const tt = skip(tb, targId);
  targId = skipId(tb, targId);
  if (!isComposite(tt)) return { found: false, next: 0 };
  const lt = local.btf.typeById(lacc.typeId) as CompositeType;
  const lm = lt.members[lacc.idx]!;
  for (let i = 0; i < tt.members.length; i++) {
    const m = tt.members[i]!;
    if (ts.raw.length === MAX_SPEC_LEN) throw new CoreError(`struct/union/array nesting deeper than ${MAX_SPEC_LEN}`);
    ts.bitOffset += m.bitOffset;
    ts.raw.push(i);
    if (!m.name) {
      const r = matchMember(local, lacc, tb, m.type, ts);
      if (r.found) return r;
    } else if (m.name === lm.name) {
      const ok = fieldsCompat(local.btf, lm.type, tb, m.type);
      if (ok) ts.acc.push({ typeId: targId, idx: i, name: m.name });
      return { found: ok, next: m.type };
    }
    ts.bitOffset -= m.bitOffset;
    ts.raw.pop();
  }
  return { found: false, next: 0 };
}

/** bpf_core_spec_match: the target spec for one candidate, or undefined when it does not match. */
export function matchSpec(local: Spec, tb: Btf, targId: number): Spec | undefined {
  const ts: Spec = { btf: tb, rootId: targId, kind: local.kind, raw: [], acc: [], bitOffset: 0 };
  if (isTypeKind(local.kind)) {
    const ok = local.kind === CoreRelocKind.TypeMatches ? typesMatch(local.btf, local.rootId, tb, targId) : typesCompat(local.btf, local.rootId, tb, targId);
    return ok ? ts : undefined;
  }
  if (isEnumKind(local.kind)) {
    const t = skip(tb, targId);
    if (!isAnyEnum(t)) return undefined;
    const want = essentialName(local.acc[0]!.name!);
    const i = (t as { values: { name: string }[] }).values.findIndex((v) => essentialName(v.name) === want);
    if (i < 0) return undefined;
    ts.acc.push({ typeId: skipId(tb, targId), idx: i, name: (t as { values: { name: string }[] }).values[i]!.name });
    ts.raw.push(i);
    return ts;
  }
  for (let i = 0; i < local.acc.length; i++) {
    const lacc = local.acc[i]!;
    const tt = skip(tb, targId);
    targId = skipId(tb, targId);
    if (lacc.name) {
      const r = matchMember(local, lacc, tb, targId, ts);
      if (!r.found) return undefined;
      targId = r.next;
    } else {
      if (i > 0) {
        if (tt.kind !== BtfKind.Array) return undefined;
        if (!isFlexArray(tb, ts.acc[ts.acc.length - 1], tt) && lacc.idx >= tt.nelems) return undefined;
        targId = skipId(tb, tt.type);
      }
      if (ts.raw.length === MAX_SPEC_LEN) throw new CoreError(`struct/union/array nesting deeper than ${MAX_SPEC_LEN}`);
      ts.acc.push({ typeId: targId, idx: lacc.idx });
      ts.raw.push(lacc.idx);
      ts.bitOffset += lacc.idx * sizeOf(tb, targId) * 8;
    }
  }
  return ts;
}
