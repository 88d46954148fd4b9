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
// The specs (parsing the access string, matching a candidate) are in core-spec.ts; here are the
// candidates, the values (bpf_core_calc_relo), the ambiguity checks and instruction patching.
import type { Btf } from '../btf/btf.js';
import { essentialName } from '../btf/names.js';
import { CORE_KIND_NAMES, CoreRelocKind } from '../btf/ext.js';
import { BtfKind, type CompositeType, INT_SIGNED } from '../btf/types.js';
import { CoreError, isAnyEnum, isEnumKind, isFieldKind, isTypeKind, matchSpec, parseSpec, sizeOf, skipId, type Spec } from './core-spec.js';
import { BPF_ALU, BPF_ALU64, BPF_K, BPF_LD, BPF_LDX, BPF_ST, BPF_STX, insnClass, type InsnBuffer } from './insn.js';

export const POISON_HELPER = 0xbad2310;

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
