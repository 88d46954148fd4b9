// CO-RE: resolve .BTF.ext relocation records against the target kernel's BTF and patch
// instructions, with libbpf's semantics (relo_core.c):
//  - the local access string is parsed into a spec (high-level accessors: named members and
//    array indexes; anonymous members are walked through but not recorded);
//  - candidates are target types of the relocation's own root kind (typedefs included, not
//    resolved) whose names agree once any `___flavor` suffix is dropped on both sides; vmlinux
//    first, modules only if vmlinux has none, and with a custom target BTF only that file;
//  - every candidate that matches must give the same field offset and the same value, or the
//    relocation is refused as ambiguous; the candidates that matched replace the list for the
//    later relocations of the same local type (narrowing);
//  - no match: existence checks and type-based relocations answer 0, the rest are poisoned (the
//    instruction becomes a call to helper 0xbad2310, which the verifier only reports if the code
//    is reachable).
// One file on purpose (~650 lines): it is one algorithm, read side by side with libbpf's
// relo_core.c; the spec parser, candidate matching, value computation and instruction patching
// share the spec types, and test/kernel/core-reloc-compat.test.ts checks them as a whole.
//
// One file on purpose (~640 lines): spec parsing, candidate matching and instruction patching
// are the three stages of one relocation, and they share the spec and candidate types; the
// stages are separate functions, tested through the whole (test/kernel/core-reloc-compat.test.ts).
import { BeeTsError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import { essentialName } from '../btf/names.js';
import { CORE_KIND_NAMES, CoreRelocKind } from '../btf/ext.js';
import { type ArrayType, BtfKind, type BtfType, type CompositeType, INT_SIGNED, isComposite } from '../btf/types.js';
import { BPF_ALU, BPF_ALU64, BPF_K, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, insnClass, type InsnBuffer } from './insn.js';

export const POISON_HELPER = 0xbad2310;

export class CoreError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('CORE', message, options);
  }
}

/** What the loader resolves against: vmlinux (or a custom BTF), then (lazily) module BTFs. */
export interface CoreTargets {
  btfs(): Iterable<{ name: string; btf: Btf }>;
}

/** Candidates per local root type id, narrowed as relocations of that type resolve (libbpf's cand_cache). */
export type CandidateCache = Map<number, Cand[]>;

interface Cand {
  btf: Btf;
  id: number;
}

/** A high-level accessor: a named member (typeId = its composite) or an array index (typeId = element). */
interface Accessor {
  typeId: number;
  idx: number;
  name?: string;
}

interface Spec {
  btf: Btf;
  rootId: number;
  kind: CoreRelocKind;
  raw: number[];
  acc: Accessor[];
  bitOffset: number;
}

export interface CoreResult {
  poison: boolean;
  /** The value the compiler put in the instruction (computed on local types) and the new one. */
  origVal: number | bigint;
  newVal: number | bigint;
  /** Memory size (bytes) of the field for loads/stores, local and target; 0 when not a plain field. */
  origSize: number;
  newSize: number;
  /** The size differs and the field is neither a pointer nor an unsigned int on both sides. */
  failMemszAdjust: boolean;
  /** Check that the instruction carries origVal before patching (off for bitfields and type ids). */
  validate: boolean;
  /** Human description for error messages. */
  description: string;
  reason?: string;
  /** The target spec of the chosen candidate (libbpf's targ_spec): its root type id and raw accessor indexes. */
  target?: { btf: Btf; rootId: number; raw: readonly number[] };
}

/** BPF_CORE_SPEC_MAX_LEN */
const MAX_SPEC_LEN = 64;
const MAX_DEPTH = 32;

const isFieldKind = (k: CoreRelocKind) => k <= CoreRelocKind.FieldRShiftU64;
const isEnumKind = (k: CoreRelocKind) => k === CoreRelocKind.EnumvalExists || k === CoreRelocKind.EnumvalValue;
const isTypeKind = (k: CoreRelocKind) => !isFieldKind(k) && !isEnumKind(k);
const isAnyEnum = (t: BtfType) => t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64;
/** btf_kind_core_compat: same kind, or enum and enum64. */
const kindsCompat = (a: BtfType, b: BtfType) => a.kind === b.kind || (isAnyEnum(a) && isAnyEnum(b));

export { essentialName };

/** Skip const/volatile/restrict/type tags and typedefs; returns the id reached. */
function skipId(btf: Btf, id: number): number {
  return btf.resolveId(id);
}
function skip(btf: Btf, id: number): BtfType {
  return btf.resolve(id);
}

function sizeOf(btf: Btf, id: number): number {
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
function parseSpec(btf: Btf, rootId: number, accessStr: string, kind: CoreRelocKind): Spec {
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
function matchSpec(local: Spec, tb: Btf, targId: number): Spec | undefined {
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

interface Calc {
  val: bigint;
  poison: boolean;
  /** Load/store size of a plain field (0 for bitfields and non-field relocations). */
  size: number;
  typeId: number;
  validate: boolean;
}

const POISON: Calc = { val: 0n, poison: true, size: 0, typeId: 0, validate: true };

/** bpf_core_calc_field_relo */
function calcField(kind: CoreRelocKind, spec: Spec | undefined, le: boolean): Calc {
  if (kind === CoreRelocKind.FieldExists) return { val: spec ? 1n : 0n, poison: false, size: 0, typeId: 0, validate: true };
  if (!spec) return POISON;
  const acc = spec.acc[spec.acc.length - 1]!;
  const r: Calc = { val: 0n, poison: false, size: 0, typeId: 0, validate: true };
  if (!acc.name) {
    // a[n]: the element itself.
    const sz = sizeOf(spec.btf, acc.typeId);
    if (kind === CoreRelocKind.FieldByteOffset) {
      r.val = BigInt(spec.bitOffset / 8);
      r.size = sz;
      r.typeId = acc.typeId;
    } else if (kind === CoreRelocKind.FieldByteSize) r.val = BigInt(sz);
    else throw new CoreError(`${CORE_KIND_NAMES[kind]} cannot be applied to an array element`);
    return r;
  }
  const t = spec.btf.typeById(acc.typeId) as CompositeType;
  const m = t.members[acc.idx]!;
  const fieldTypeId = skipId(spec.btf, m.type);
  const mt = spec.btf.typeById(fieldTypeId);
  const bitOff = spec.bitOffset;
  let bitSz = m.bitfieldSize;
  const bitfield = bitSz > 0;
  let byteSz: number;
  let byteOff: number;
  if (bitfield) {
    byteSz = (mt as { size: number }).size;
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw new CoreError('bitfield cannot be read with a single 64-bit load');
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  } else {
    byteSz = sizeOf(spec.btf, fieldTypeId);
    byteOff = Math.floor(bitOff / 8);
    bitSz = byteSz * 8;
  }
  r.validate = !bitfield;
  switch (kind) {
    case CoreRelocKind.FieldByteOffset:
      r.val = BigInt(byteOff);
      if (!bitfield) {
        r.size = byteSz;
        r.typeId = fieldTypeId;
      }
      break;
    case CoreRelocKind.FieldByteSize:
      r.val = BigInt(byteSz);
      break;
    case CoreRelocKind.FieldSigned:
      r.val = (isAnyEnum(mt) && (mt as { signed: boolean }).signed) || (mt.kind === BtfKind.Int && (mt.encoding & INT_SIGNED) !== 0) ? 1n : 0n;
      r.validate = true;
      break;
    case CoreRelocKind.FieldLShiftU64:
      r.val = BigInt(le ? 64 - (bitOff + bitSz - byteOff * 8) : (8 - byteSz) * 8 + (bitOff - byteOff * 8));
      break;
    case CoreRelocKind.FieldRShiftU64:
      r.val = BigInt(64 - bitSz);
      r.validate = true;
      break;
    default:
      throw new CoreError(`not a field relocation: ${kind}`);
  }
  return r;
}

/** bpf_core_calc_type_relo: a missing target answers 0 (never poison). */
function calcType(kind: CoreRelocKind, spec: Spec | undefined): Calc {
  const r: Calc = { val: 0n, poison: false, size: 0, typeId: 0, validate: true };
  if (!spec) return r;
  if (kind === CoreRelocKind.TypeIdTarget) {
    r.val = BigInt(spec.rootId);
    r.validate = false;
  } else if (kind === CoreRelocKind.TypeSize) r.val = BigInt(sizeOf(spec.btf, spec.rootId));
  else r.val = 1n;
  return r;
}

/** bpf_core_calc_enumval_relo: values as libbpf widens them (32-bit enumerators sign-extend). */
function calcEnum(kind: CoreRelocKind, spec: Spec | undefined): Calc {
  if (kind === CoreRelocKind.EnumvalExists) return { val: spec ? 1n : 0n, poison: false, size: 0, typeId: 0, validate: true };
  if (!spec) return POISON;
  const t = spec.btf.typeById(spec.acc[0]!.typeId) as { kind: BtfKind; values: { value: bigint }[] };
  const v = t.values[spec.acc[0]!.idx]!.value;
  const val = t.kind === BtfKind.Enum ? BigInt.asUintN(64, BigInt.asIntN(32, v)) : BigInt.asUintN(64, v);
  return { val, poison: false, size: 0, typeId: 0, validate: true };
}

interface Relo {
  orig: Calc;
  targ: Calc;
  failMemszAdjust: boolean;
}

/** bpf_core_calc_relo: local and target values for one candidate (or for none). */
function calcRelo(local: Spec, targ: Spec | undefined, le: boolean): Relo {
  const k = local.kind;
  if (isFieldKind(k)) {
    const orig = calcField(k, local, le);
    const t = calcField(k, targ, le);
    let failMemszAdjust = false;
    if (!t.poison && orig.size !== t.size) {
      const ot = local.btf.typeById(orig.typeId);
      const nt = targ!.btf.typeById(t.typeId);
      const ptrs = ot.kind === BtfKind.Ptr && nt.kind === BtfKind.Ptr;
      const unsignedInts = ot.kind === BtfKind.Int && nt.kind === BtfKind.Int && ot.encoding !== INT_SIGNED && nt.encoding !== INT_SIGNED;
      failMemszAdjust = !ptrs && !unsignedInts;
    }
    return { orig, targ: t, failMemszAdjust };
  }
  if (isTypeKind(k)) return { orig: calcType(k, local), targ: calcType(k, targ), failMemszAdjust: false };
  return { orig: calcEnum(k, local), targ: calcEnum(k, targ), failMemszAdjust: false };
}

/** bpf_core_find_cands: same kind as the local root (no typedef resolution), same essential name. */
function findCandidates(localBtf: Btf, localId: number, targets: CoreTargets): Cand[] {
  const lt = localBtf.typeById(localId);
  const want = essentialName(lt.name);
  const out: Cand[] = [];
  for (const { btf } of targets.btfs()) {
    // Same kind (ENUM and ENUM64 are interchangeable), own types only for split module BTF.
    const kinds = isAnyEnum(lt) ? [BtfKind.Enum, BtfKind.Enum64] : [lt.kind];
    const ids = kinds.length === 1 ? btf.ownIdsByEssentialName(want, kinds[0]!) : kinds.flatMap((k) => btf.ownIdsByEssentialName(want, k)).sort((a, b) => a - b);
    for (const id of ids) out.push({ btf, id });
    // Modules are searched only when vmlinux has no candidate at all.
    if (out.length) return out;
  }
  return out;
}

function describe(localBtf: Btf, rootId: number, accessStr: string, kind: CoreRelocKind): string {
  const root = localBtf.typeById(rootId);
  const kw = root.kind === BtfKind.Struct ? 'struct ' : root.kind === BtfKind.Union ? 'union ' : isAnyEnum(root) ? 'enum ' : root.kind === BtfKind.Typedef ? 'typedef ' : '';
  let path = '';
  try {
    const spec = parseSpec(localBtf, rootId, accessStr, kind);
    if (isEnumKind(kind)) path = `::${spec.acc[0]!.name}`;
    else path = spec.acc.slice(1).map((a) => (a.name !== undefined ? `.${a.name}` : `[${a.idx}]`)).join('');
  } catch {
    path = ` (${accessStr})`;
  }
  return `${CORE_KIND_NAMES[kind]} ${kw}${root.name || '(anon)'}${path}`;
}

const out = (v: bigint): number | bigint => (v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v);

/**
 * bpf_core_calc_relo_insn: one relocation's local and target values. `cache` holds the candidate
 * lists per local type across an object's relocations (pass the same map for a whole load).
 */
export function resolveCoreRelo(localBtf: Btf, typeId: number, accessStr: string, kind: CoreRelocKind, targets: CoreTargets, le = true, cache: CandidateCache = new Map()): CoreResult {
  // The description (a second parse of the access string) is written only when read: for an
  // error, a poisoned instruction or onCoreRelocation.
  let text: string | undefined;
  const description = () => (text ??= describe(localBtf, typeId, accessStr, kind));
  const local = parseSpec(localBtf, typeId, accessStr, kind);
  const result = (r: Relo, reason?: string, ts?: Spec): CoreResult => ({
    poison: r.targ.poison,
    origVal: out(r.orig.val),
    newVal: out(r.targ.val),
    origSize: r.orig.size,
    newSize: r.targ.poison ? 0 : r.targ.size,
    failMemszAdjust: r.failMemszAdjust,
    validate: r.orig.validate,
    get description() {
      return description();
    },
    reason,
    target: ts && { btf: ts.btf, rootId: ts.rootId, raw: ts.raw },
  });
  if (kind === CoreRelocKind.TypeIdLocal) {
    const v = { val: BigInt(typeId), poison: false, size: 0, typeId: 0, validate: false };
    return result({ orig: v, targ: v, failMemszAdjust: false });
  }
  if (!localBtf.typeById(typeId).name) throw new CoreError(`${description()}: CO-RE relocations of anonymous types are not supported (libbpf refuses them too)`);
  let cands = cache.get(typeId);
  if (!cands) {
    cands = findCandidates(localBtf, typeId, targets);
    cache.set(typeId, cands);
  }
  let chosen: { spec: Spec; relo: Relo } | undefined;
  const kept: Cand[] = [];
  for (const c of cands) {
    const ts = matchSpec(local, c.btf, c.id);
    if (!ts) continue;
    const r = calcRelo(local, ts, le);
    if (!chosen) chosen = { spec: ts, relo: r };
    else if (ts.bitOffset !== chosen.spec.bitOffset) throw new CoreError(`${description()}: field offset ambiguity between candidates: bit ${ts.bitOffset} != ${chosen.spec.bitOffset}`);
    else if (r.targ.poison !== chosen.relo.targ.poison || r.targ.val !== chosen.relo.targ.val)
      throw new CoreError(`${description()}: relocation decision ambiguity: candidates give ${r.targ.poison ? 'failure' : r.targ.val} and ${chosen.relo.targ.poison ? 'failure' : chosen.relo.targ.val}`);
    kept.push(c);
  }
  if (chosen) {
    cache.set(typeId, kept);
    return result(chosen.relo, undefined, chosen.spec);
  }
  const r = calcRelo(local, undefined, le);
  return result(r, cands.length ? 'no candidate matches the field path' : 'the type is not in the target kernel');
}

const SIZE_CODES: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };
const SIZE_OF_CODE: Record<number, number> = { 0x10: 1, 0x08: 2, 0x00: 4, 0x18: 8 };

/**
 * bpf_core_patch_insn: check the instruction carries the local value, then patch it, or poison it
 * (a failed relocation, or a load/store whose size cannot safely change). Returns true if poisoned.
 */
export function patchInsn(insns: InsnBuffer, i: number, r: CoreResult): boolean {
  const code = insns.code(i);
  const cls = insnClass(code);
  const orig = BigInt.asUintN(64, BigInt(r.origVal));
  const val = BigInt.asUintN(64, BigInt(r.newVal));
  const unexpected = (got: bigint) => new CoreError(`instruction ${i} carries ${got}, expected ${orig} for this relocation (object and BTF disagree)`);
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    if ((code & 0x08) !== BPF_K) throw new CoreError(`instruction ${i}: CO-RE on a register-source ALU op`);
    if (r.poison) return poison(insns, i, POISON_HELPER);
    const imm = BigInt.asUintN(64, BigInt(insns.imm(i)));
    if (r.validate && imm !== orig) throw unexpected(imm);
    insns.setImm(i, Number(BigInt.asIntN(32, val)));
    return false;
  }
  if (cls === BPF_LDX || cls === BPF_ST || cls === BPF_STX) {
    if (r.poison || r.failMemszAdjust) return poison(insns, i, POISON_HELPER);
    const off = BigInt.asUintN(64, BigInt(insns.off(i)));
    if (r.validate && off !== orig) throw unexpected(off);
    if (val > 0x7fffn) throw new CoreError(`instruction ${i}: offset ${val} does not fit a load/store`);
    insns.setOff(i, Number(val));
    if (r.newSize !== r.origSize) {
      const cur = SIZE_OF_CODE[code & 0x18];
      if (cur !== r.origSize) throw new CoreError(`instruction ${i}: memory size ${cur} does not match the field size ${r.origSize}`);
      const sz = SIZE_CODES[r.newSize];
      if (sz === undefined) throw new CoreError(`instruction ${i}: the target field is ${r.newSize} bytes, no single load/store`);
      insns.setCode(i, (code & ~0x18) | sz);
    }
    return false;
  }
  if (cls === BPF_LD) {
    if (!insns.isLdImm64(i) || insns.src(i) !== 0 || insns.off(i) !== 0 || i + 1 >= insns.count || insns.code(i + 1) !== 0 || insns.dst(i + 1) !== 0 || insns.src(i + 1) !== 0 || insns.off(i + 1) !== 0)
      throw new CoreError(`instruction ${i}: ld_imm64 with CO-RE relocation has an unexpected form`);
    if (r.poison) return poison(insns, i, POISON_HELPER);
    const imm = insns.imm64(i);
    if (r.validate && imm !== orig) throw unexpected(imm);
    insns.setImm64(i, val);
    return false;
  }
  throw new CoreError(`instruction ${i}: opcode 0x${code.toString(16)} cannot carry a CO-RE relocation`);
}

/** Replace an instruction (both halves of an ld_imm64) with a call to a non-existent helper. */
export function poison(insns: InsnBuffer, i: number, helper: number): true {
  const wide = insns.isLdImm64(i);
  for (const j of wide ? [i, i + 1] : [i]) {
    insns.setCode(j, 0x85);
    insns.setDst(j, 0);
    insns.setSrc(j, 0);
    insns.setOff(j, 0);
    insns.setImm(j, helper);
  }
  return true;
}
