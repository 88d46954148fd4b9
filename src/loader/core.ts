// CO-RE: resolve .BTF.ext relocation records against the target kernel's BTF and patch
// instructions. Candidates are target types of the same kind whose names match once any
// `___flavor` suffix is dropped; every candidate that matches the access path must agree.
// Relocations that cannot be resolved are poisoned (libbpf's scheme): the instruction becomes
// a call to helper 0xbad2310, which the verifier only reports if the code is reachable.
import type { Btf } from '../btf/btf.js';
import { CORE_KIND_NAMES, CoreRelocKind } from '../btf/ext.js';
import { BtfKind, type BtfType, type CompositeType, type EnumType, INT_SIGNED, isComposite } from '../btf/types.js';
import { BPF_ALU, BPF_ALU64, BPF_LDX, BPF_ST, BPF_STX, insnClass, type InsnBuffer } from './insn.js';

export const POISON_HELPER = 0xbad2310;

export class CoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoreError';
  }
}

/** What the loader needs to resolve against: vmlinux, then (lazily) module BTFs. */
export interface CoreTargets {
  btfs(): Iterable<{ name: string; btf: Btf }>;
}

interface Access {
  /** Member or array index in the raw access string. */
  idx: number;
  /** Member name for struct/union steps (undefined for array steps and anonymous members). */
  name?: string;
  /** The type the step lands on. */
  typeId: number;
}

interface Spec {
  btf: Btf;
  rootId: number;
  raw: number[];
  access: Access[];
  bitOffset: number;
}

export interface CoreResult {
  poison: boolean;
  origVal: number | bigint;
  newVal: number | bigint;
  /** Field size change for loads (bytes); 0 when unchanged. */
  origSize: number;
  newSize: number;
  /** Loads of signed types or structs may not change size. */
  failMemszAdjust: boolean;
  /** Human description for error messages. */
  description: string;
  reason?: string;
}

const isFieldKind = (k: CoreRelocKind) => k <= CoreRelocKind.FieldRShiftU64;
const isEnumKind = (k: CoreRelocKind) => k === CoreRelocKind.EnumvalExists || k === CoreRelocKind.EnumvalValue;

export function essentialName(name: string): string {
  const i = name.indexOf('___');
  return i > 0 ? name.slice(0, i) : name;
}

function skipModsTypedefs(btf: Btf, id: number): BtfType {
  return btf.resolve(id);
}

function parseAccess(str: string): number[] {
  if (!/^\d+(:\d+)*$/.test(str)) throw new CoreError(`malformed CO-RE access string '${str}'`);
  return str.split(':').map(Number);
}

/** Build the local spec: walk the raw access indexes over the local types. */
function parseSpec(btf: Btf, rootId: number, accessStr: string, kind: CoreRelocKind): Spec {
  const raw = parseAccess(accessStr);
  const spec: Spec = { btf, rootId, raw, access: [], bitOffset: 0 };
  const root = skipModsTypedefs(btf, rootId);
  if (!isFieldKind(kind) && !isEnumKind(kind)) {
    if (raw.length !== 1 || raw[0] !== 0) throw new CoreError(`type relocation with access '${accessStr}'`);
    return spec;
  }
  if (isEnumKind(kind)) {
    if (root.kind !== BtfKind.Enum && root.kind !== BtfKind.Enum64) throw new CoreError(`enum relocation on ${root.kind}`);
    if (raw.length !== 1 || raw[0]! >= root.values.length) throw new CoreError(`enum value index ${accessStr} out of range`);
    spec.access.push({ idx: raw[0]!, name: root.values[raw[0]!]!.name, typeId: rootId });
    return spec;
  }
  // First index: array index on the root (pointer arithmetic).
  spec.bitOffset = raw[0]! * btf.sizeof(rootId) * 8;
  spec.access.push({ idx: raw[0]!, typeId: rootId });
  let cur = rootId;
  for (let i = 1; i < raw.length; i++) {
    const t = skipModsTypedefs(btf, cur);
    const idx = raw[i]!;
    if (isComposite(t)) {
      const m = t.members[idx];
      if (!m) throw new CoreError(`member index ${idx} out of range in '${t.name}'`);
      spec.bitOffset += m.bitOffset;
      cur = m.type;
      spec.access.push({ idx, name: m.name || undefined, typeId: cur });
    } else if (t.kind === BtfKind.Array) {
      spec.bitOffset += idx * btf.sizeof(t.type) * 8;
      cur = t.type;
      spec.access.push({ idx, typeId: cur });
    } else throw new CoreError(`access '${accessStr}' steps into a ${t.kind === BtfKind.Ptr ? 'pointer' : 'scalar'}`);
  }
  return spec;
}

/** Field types compatible for CO-RE: same broad kind; ints of any size; arrays by element. */
function fieldsCompat(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (depth > 16) return false;
  const l = skipModsTypedefs(lb, lid);
  const t = skipModsTypedefs(tb, tid);
  if (isComposite(l) && isComposite(t)) return l.kind === t.kind;
  if ((l.kind === BtfKind.Enum || l.kind === BtfKind.Enum64 || l.kind === BtfKind.Int) && (t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64 || t.kind === BtfKind.Int)) return true;
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case BtfKind.Ptr:
    case BtfKind.Float:
    case BtfKind.Fwd:
    case BtfKind.Void:
      return true;
    case BtfKind.Array:
      return fieldsCompat(lb, l.type, tb, (t as typeof l).type, depth + 1);
    default:
      return false;
  }
}

/** Shallow type compatibility (TYPE_EXISTS / TYPE_SIZE / TYPE_ID_TARGET candidates). */
function typesCompat(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (depth > 16) return false;
  const l = skipModsTypedefs(lb, lid);
  const t = skipModsTypedefs(tb, tid);
  const enumLike = (k: BtfKind) => k === BtfKind.Enum || k === BtfKind.Enum64;
  if (enumLike(l.kind) && enumLike(t.kind)) return true;
  if (l.kind !== t.kind) return false;
  switch (l.kind) {
    case BtfKind.Struct:
    case BtfKind.Union:
    case BtfKind.Fwd:
    case BtfKind.Float:
    case BtfKind.Void:
      return true;
    case BtfKind.Int:
      return (l.encoding & INT_SIGNED) === ((t as typeof l).encoding & INT_SIGNED) || true;
    case BtfKind.Ptr:
      return typesCompat(lb, l.type, tb, (t as typeof l).type, depth + 1);
    case BtfKind.Array:
      return typesCompat(lb, l.type, tb, (t as typeof l).type, depth + 1);
    case BtfKind.FuncProto: {
      const tp = t as typeof l;
      if (l.params.length !== tp.params.length) return false;
      return l.params.every((p, i) => typesCompat(lb, p.type, tb, tp.params[i]!.type, depth + 1)) && typesCompat(lb, l.returnType, tb, tp.returnType, depth + 1);
    }
    default:
      return false;
  }
}

/** TYPE_MATCHES: deeper than compat — members of structs must exist by name with matching types. */
function typesMatch(lb: Btf, lid: number, tb: Btf, tid: number, depth = 0): boolean {
  if (depth > 8) return true;
  const l = skipModsTypedefs(lb, lid);
  const t = skipModsTypedefs(tb, tid);
  if (l.name && t.name && essentialName(l.name) !== essentialName(t.name)) return false;
  if (isComposite(l)) {
    if (!isComposite(t) || l.kind !== t.kind) return false;
    return l.members.every((lm) => {
      const tm = t.members.find((x) => x.name === lm.name);
      return tm !== undefined && typesMatch(lb, lm.type, tb, tm.type, depth + 1);
    });
  }
  if (l.kind === BtfKind.Int) return t.kind === BtfKind.Int && l.size === t.size && (l.encoding & INT_SIGNED) === (t.encoding & INT_SIGNED);
  if (l.kind === BtfKind.Enum || l.kind === BtfKind.Enum64) {
    if (t.kind !== BtfKind.Enum && t.kind !== BtfKind.Enum64) return false;
    return l.values.every((v) => t.values.some((x) => x.name === v.name));
  }
  return typesCompat(lb, lid, tb, tid, depth + 1);
}

/** Find a member by name, looking through anonymous struct/union members. */
function findMember(btf: Btf, t: CompositeType, name: string, depth = 0): { bitOffset: number; typeId: number; bitfieldSize: number } | undefined {
  if (depth > 16) return undefined;
  for (const m of t.members) {
    if (m.name === name) return { bitOffset: m.bitOffset, typeId: m.type, bitfieldSize: m.bitfieldSize };
    if (!m.name) {
      const inner = skipModsTypedefs(btf, m.type);
      if (isComposite(inner)) {
        const r = findMember(btf, inner, name, depth + 1);
        if (r) return { ...r, bitOffset: r.bitOffset + m.bitOffset };
      }
    }
  }
  return undefined;
}

interface TargetField {
  btf: Btf;
  typeId: number;
  bitOffset: number;
  bitfieldSize: number;
  /** For the signedness and size of the final field. */
  fieldTypeId: number;
}

/** Match the local field spec against one candidate root type. */
function matchField(local: Spec, tb: Btf, candId: number): TargetField | undefined {
  const lb = local.btf;
  let cur = candId;
  let bitOffset = local.raw[0]! * tb.sizeof(candId) * 8;
  let bitfieldSize = 0;
  for (let i = 1; i < local.access.length; i++) {
    const acc = local.access[i]!;
    const lt = skipModsTypedefs(lb, local.access[i - 1]!.typeId);
    const tt = skipModsTypedefs(tb, cur);
    if (isComposite(lt)) {
      if (!isComposite(tt)) return undefined;
      const lm = lt.members[acc.idx]!;
      // Anonymous steps are not matched on their own: the next named field is looked up by
      // name through the target's anonymous members (libbpf does the same).
      if (!lm.name) continue;
      const tm = findMember(tb, tt, lm.name);
      if (!tm) return undefined;
      bitOffset += tm.bitOffset;
      cur = tm.typeId;
      bitfieldSize = tm.bitfieldSize;
    } else if (lt.kind === BtfKind.Array) {
      if (tt.kind !== BtfKind.Array) return undefined;
      if (tt.nelems !== 0 && acc.idx >= tt.nelems) return undefined;
      bitOffset += acc.idx * tb.sizeof(tt.type) * 8;
      cur = tt.type;
      bitfieldSize = 0;
    } else return undefined;
  }
  if (local.access.length > 1 && !fieldsCompat(lb, local.access[local.access.length - 1]!.typeId, tb, cur)) return undefined;
  return { btf: tb, typeId: candId, bitOffset, bitfieldSize, fieldTypeId: cur };
}

/** Byte offset/size, signedness and shifts of a (possibly bitfield) field, libbpf's way. */
function fieldValue(kind: CoreRelocKind, f: { btf: Btf; bitOffset: number; bitfieldSize: number; fieldTypeId: number }, le: boolean): { val: number; size: number; signed: boolean } {
  const t = skipModsTypedefs(f.btf, f.fieldTypeId);
  const bitOff = f.bitOffset;
  let byteSz: number;
  let byteOff: number;
  let bitSz: number;
  if (!f.bitfieldSize) {
    byteSz = f.btf.sizeof(f.fieldTypeId);
    bitSz = byteSz * 8;
    byteOff = bitOff / 8;
  } else {
    byteSz = f.btf.sizeof(f.fieldTypeId);
    bitSz = f.bitfieldSize;
    byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    while (bitOff + bitSz - byteOff * 8 > byteSz * 8) {
      if (byteSz >= 8) throw new CoreError('bitfield cannot be read with a single load');
      byteSz *= 2;
      byteOff = Math.floor(bitOff / 8 / byteSz) * byteSz;
    }
  }
  const signed = (t.kind === BtfKind.Int && (t.encoding & INT_SIGNED) !== 0) || ((t.kind === BtfKind.Enum || t.kind === BtfKind.Enum64) && t.signed);
  let val: number;
  switch (kind) {
    case CoreRelocKind.FieldByteOffset:
      val = byteOff;
      break;
    case CoreRelocKind.FieldByteSize:
      val = byteSz;
      break;
    case CoreRelocKind.FieldExists:
      val = 1;
      break;
    case CoreRelocKind.FieldSigned:
      val = signed ? 1 : 0;
      break;
    case CoreRelocKind.FieldLShiftU64:
      val = le ? 64 - (bitOff + bitSz - byteOff * 8) : 64 - byteSz * 8 + (bitOff - byteOff * 8);
      break;
    case CoreRelocKind.FieldRShiftU64:
      val = 64 - bitSz;
      break;
    default:
      throw new CoreError(`not a field relocation: ${kind}`);
  }
  return { val, size: byteSz, signed };
}

/** Candidate target types: same kind family and essential name, in every target BTF. */
function candidates(localBtf: Btf, localId: number, targets: CoreTargets): { btf: Btf; id: number }[] {
  const local = skipModsTypedefs(localBtf, localId);
  const want = essentialName(local.name);
  if (!want) return [];
  const kinds =
    local.kind === BtfKind.Enum || local.kind === BtfKind.Enum64 ? [BtfKind.Enum, BtfKind.Enum64] : local.kind === BtfKind.Fwd ? [BtfKind.Struct, BtfKind.Union, BtfKind.Fwd] : [local.kind];
  const out: { btf: Btf; id: number }[] = [];
  for (const { btf } of targets.btfs()) {
    for (const id of btf.idsByName(want)) if (kinds.includes(btf.types[id]!.kind)) out.push({ btf, id });
    // Flavoured kernel names (rare) match too.
    if (out.length) return out;
  }
  return out;
}

function describe(localBtf: Btf, rootId: number, accessStr: string, kind: CoreRelocKind): string {
  const root = localBtf.typeById(rootId);
  const kw = root.kind === BtfKind.Struct ? 'struct ' : root.kind === BtfKind.Union ? 'union ' : root.kind === BtfKind.Enum || root.kind === BtfKind.Enum64 ? 'enum ' : '';
  let path = '';
  try {
    const spec = parseSpec(localBtf, rootId, accessStr, kind);
    path = spec.access
      .slice(1)
      .map((a) => (a.name !== undefined ? `.${a.name}` : isEnumKind(kind) ? '' : `[${a.idx}]`))
      .join('');
    if (isEnumKind(kind)) path = `::${spec.access[0]!.name}`;
  } catch {
    path = ` (${accessStr})`;
  }
  return `${CORE_KIND_NAMES[kind]} ${kw}${root.name || '(anon)'}${path}`;
}

/** Compute one relocation's local and target values. */
export function resolveCoreRelo(localBtf: Btf, typeId: number, accessStr: string, kind: CoreRelocKind, targets: CoreTargets, le = true): CoreResult {
  const description = describe(localBtf, typeId, accessStr, kind);
  const base = { origSize: 0, newSize: 0, failMemszAdjust: false, description };
  if (kind === CoreRelocKind.TypeIdLocal) return { ...base, poison: false, origVal: typeId, newVal: typeId };
  const local = parseSpec(localBtf, typeId, accessStr, kind);
  // The value the compiler put in the instruction, computed on local types.
  let origVal: number;
  let origSize = 0;
  let failMemszAdjust = false;
  if (isFieldKind(kind)) {
    const last = local.access[local.access.length - 1]!;
    const parent = local.access.length > 1 ? skipModsTypedefs(localBtf, local.access[local.access.length - 2]!.typeId) : undefined;
    const lm = parent && isComposite(parent) ? parent.members[last.idx] : undefined;
    const lf = fieldValue(kind, { btf: localBtf, bitOffset: local.bitOffset, bitfieldSize: lm?.bitfieldSize ?? 0, fieldTypeId: last.typeId }, le);
    origVal = lf.val;
    origSize = lf.size;
    const lt = skipModsTypedefs(localBtf, last.typeId);
    failMemszAdjust = !(lt.kind === BtfKind.Ptr || (lt.kind === BtfKind.Int && !(lt.encoding & INT_SIGNED)) || ((lt.kind === BtfKind.Enum || lt.kind === BtfKind.Enum64) && !lt.signed));
  } else if (isEnumKind(kind)) {
    const e = skipModsTypedefs(localBtf, typeId) as EnumType;
    origVal = kind === CoreRelocKind.EnumvalExists ? 1 : Number(e.values[local.access[0]!.idx]!.value);
  } else if (kind === CoreRelocKind.TypeSize) origVal = localBtf.sizeof(typeId);
  else if (kind === CoreRelocKind.TypeIdTarget) origVal = typeId;
  else origVal = 1;

  const cands = candidates(localBtf, typeId, targets);
  const results: { val: number; size: number; signed: boolean }[] = [];
  for (const c of cands) {
    if (isFieldKind(kind)) {
      const m = matchField(local, c.btf, c.id);
      if (m) results.push(fieldValue(kind, m, le));
    } else if (isEnumKind(kind)) {
      const t = c.btf.types[c.id]!;
      if (t.kind !== BtfKind.Enum && t.kind !== BtfKind.Enum64) continue;
      const v = t.values.find((x) => x.name === local.access[0]!.name);
      if (v) results.push({ val: kind === CoreRelocKind.EnumvalExists ? 1 : Number(v.value), size: 0, signed: false });
    } else if (kind === CoreRelocKind.TypeMatches) {
      if (typesMatch(localBtf, typeId, c.btf, c.id)) results.push({ val: 1, size: 0, signed: false });
    } else if (typesCompat(localBtf, typeId, c.btf, c.id)) {
      const val = kind === CoreRelocKind.TypeSize ? c.btf.sizeof(c.id) : kind === CoreRelocKind.TypeIdTarget ? c.id : 1;
      results.push({ val, size: 0, signed: false });
    }
  }
  if (results.length === 0) {
    // Existence checks answer 0; everything else is poisoned.
    if (kind === CoreRelocKind.FieldExists || kind === CoreRelocKind.TypeExists || kind === CoreRelocKind.EnumvalExists || kind === CoreRelocKind.TypeMatches)
      return { ...base, poison: false, origVal, newVal: 0, origSize, newSize: origSize, failMemszAdjust };
    return { ...base, poison: true, origVal, newVal: 0, origSize, newSize: 0, failMemszAdjust, reason: cands.length ? 'no candidate matches the field path' : 'the type is not in the target kernel' };
  }
  const first = results[0]!;
  if (kind !== CoreRelocKind.TypeIdTarget && results.some((r) => r.val !== first.val))
    return { ...base, poison: true, origVal, newVal: 0, origSize, newSize: 0, failMemszAdjust, reason: `${results.length} candidates disagree (${results.map((r) => r.val).join(', ')})` };
  return { ...base, poison: false, origVal, newVal: first.val, origSize, newSize: isFieldKind(kind) && kind === CoreRelocKind.FieldByteOffset ? first.size : origSize, failMemszAdjust };
}

const SIZE_CODES: Record<number, number> = { 1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18 };
const SIZE_OF_CODE: Record<number, number> = { 0x10: 1, 0x08: 2, 0x00: 4, 0x18: 8 };

/** Patch the instruction at `i` with a resolved relocation (or poison it). */
export function patchInsn(insns: InsnBuffer, i: number, r: CoreResult, kind: CoreRelocKind): void {
  if (r.poison) {
    poison(insns, i, POISON_HELPER);
    return;
  }
  const code = insns.code(i);
  const cls = insnClass(code);
  if (insns.isLdImm64(i)) {
    insns.setImm64(i, BigInt(r.newVal));
    return;
  }
  if (cls === BPF_ALU || cls === BPF_ALU64) {
    if (code & 0x08) throw new CoreError(`instruction ${i}: CO-RE on a register-source ALU op`);
    insns.setImm(i, Number(r.newVal));
    return;
  }
  if (cls === BPF_LDX || cls === BPF_ST || cls === BPF_STX) {
    if ((code & 0xe0) !== 0x60) throw new CoreError(`instruction ${i}: CO-RE on a non-MEM load/store`);
    const v = Number(r.newVal);
    if (v > 0x7fff || v < -0x8000) throw new CoreError(`instruction ${i}: offset ${v} does not fit a load/store`);
    insns.setOff(i, v);
    if (kind === CoreRelocKind.FieldByteOffset && cls === BPF_LDX && r.newSize && r.origSize && r.newSize !== r.origSize) {
      const cur = SIZE_OF_CODE[code & 0x18];
      if (cur !== r.origSize) throw new CoreError(`instruction ${i}: load size ${cur} does not match the field size ${r.origSize}`);
      if (r.failMemszAdjust) throw new CoreError(`instruction ${i}: field size changed from ${r.origSize} to ${r.newSize} bytes for a signed or non-scalar field`);
      insns.setCode(i, (code & ~0x18) | SIZE_CODES[r.newSize]!);
    }
    return;
  }
  throw new CoreError(`instruction ${i}: opcode 0x${code.toString(16)} cannot carry a CO-RE relocation`);
}

/** Replace an instruction (both halves of an ld_imm64) with a call to a non-existent helper. */
export function poison(insns: InsnBuffer, i: number, helper: number): void {
  const wide = insns.isLdImm64(i);
  for (const j of wide ? [i, i + 1] : [i]) {
    insns.setCode(j, 0x85);
    insns.setDst(j, 0);
    insns.setSrc(j, 0);
    insns.setOff(j, 0);
    insns.setImm(j, helper);
  }
}
