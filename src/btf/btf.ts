// .BTF decoder: parseBtf validates a blob (header, string section, every type record and every
// type reference, in either byte order; object, kernel and split (module) BTF layered on a base)
// and hands the words to the lazy Btf container (./container.ts), which this module re-exports.
import { BtfError, BtfKind, type CompositeType, KIND_NAMES, type Param } from './types.js';
import { BASE_NAME, Btf, type KindCounts, type RawTypes } from './container.js';
import { walkTypesWasm } from './walk-wasm.js';
import { ENTRY_TYPE_AT, extraWords, K_ENTRY_NAME, K_ENTRY_NOSELF, K_ENTRY_TYPE, K_NOSELF, K_REF, KIND_FIXED, KIND_FLAGS, KIND_HEAD, KIND_STRIDE } from './record.js';

export const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;
const HOST_LE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export { Btf, MAX_RESOLVE_DEPTH, type BtfInit, type RawTypes } from './container.js';

export interface BtfParseOptions {
  file?: string;
  /** For split BTF (kernel modules): the base it extends. */
  base?: Btf;
}

/**
 * Parse a .BTF blob: every record is validated here; type objects are built on use.
 * @throws {@link BtfError} when the bytes are not well-formed BTF (every record is checked).
 */
export function parseBtf(bytes: Uint8Array, opts: BtfParseOptions = {}): Btf {
  const h = parseHeader(bytes, opts);
  const { w, typeLen, strEnd, firstId, base } = h;
  // A numeric pass records each type's word offset and kind; when it finds anything wrong, the
  // explaining pass (explainTypes) runs instead and names the first defect, as a BtfError.
  const cap = Math.ceil(w.length / 3) + 1;
  const offs = new Int32Array(cap);
  const kinds = new Uint8Array(cap);
  const n = scanTypes(w, typeLen, strEnd, firstId, offs, kinds);
  const ok = n >= 0 && kindChecks(w, offs, kinds, n, firstId, base);
  const raw: RawTypes = ok ? { words: w, offs: offs.slice(0, n), kinds: kinds.slice(0, n) } : explainTypes(w, typeLen, strEnd, firstId, h.fail);
  const btf = new Btf({ raw, file: h.file, littleEndian: h.le, base, firstId, stringBytes: h.strBytes, baseStrLen: h.baseStrLen });
  if (!ok) validateRefs(btf, raw);
  return btf;
}

/**
 * @internal BTF the running kernel validated when it built or loaded it (the files under
 * /sys/kernel/btf: vmlinux at boot, a module's at its load, both with the kernel's own BTF
 * checker). Only the record walk runs here (every kind known, every record inside the type section,
 * every type name inside the string space), not parseBtf's per-member and per-reference checks,
 * which the kernel has made; the walk also counts each kind (the name indexes' sizes). Anything the
 * walk refuses goes through parseBtf, whose error names the defect.
 */
export function parseKernelBtf(bytes: Uint8Array, opts: BtfParseOptions = {}): Btf {
  const h = parseHeader(bytes, opts);
  const { w, strEnd, firstId } = h;
  if (h.typeLen % 4 !== 0) return parseBtf(bytes, opts);
  const cap = Math.ceil(w.length / 3) + 1;
  const offs = new Int32Array(cap);
  const kinds = new Uint8Array(cap);
  const keys = new Uint32Array(cap);
  const counts = new Uint32Array(32);
  const n = walkTypesWasm(w, offs, kinds, keys, counts, h.strBytes, h.baseStrLen) ?? walkTypes(w, offs, kinds, keys, counts, KIND_FLAGS, KIND_HEAD, KIND_STRIDE, h.strBytes, h.baseStrLen);
  if (n < 0 || h.baseStrLen + h.strBytes.length !== strEnd) return parseBtf(bytes, opts);
  // Views, not copies: the arrays were sized for the most records the words can hold (3 words
  // each); the pages past the last record are not written, and stay unused where the allocator
  // gave fresh pages.
  const raw: RawTypes & KindCounts = { words: w, offs: offs.subarray(0, n), kinds: kinds.subarray(0, n), kindCounts: counts, nameKeys: keys.subarray(0, n) };
  return new Btf({ raw, file: h.file, littleEndian: h.le, base: h.base, firstId, stringBytes: h.strBytes, baseStrLen: h.baseStrLen });
}

interface Header {
  file: string;
  fail: (defect: string) => never;
  le: boolean;
  base: Btf | undefined;
  /** The type section as host-order words. */
  w: Uint32Array;
  typeLen: number;
  /** End of the string space (the base's strings included): every name offset is below it. */
  strEnd: number;
  firstId: number;
  strBytes: Uint8Array;
  baseStrLen: number;
}

/** The header and the string section checked; the type section as host-order words. */
function parseHeader(bytes: Uint8Array, opts: BtfParseOptions): Header {
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
  return { file, fail, le, base, w, typeLen, strEnd: baseStrLen + strLen, firstId, strBytes, baseStrLen };
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

// The fast scan reads the per-kind layout table (./record.ts), so that every kind runs the same
// code (a branch first taken late, e.g. the DATASEC at the end of vmlinux, would throw away the
// optimized code).

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
 * @internal parseKernelBtf's walk where WebAssembly is missing (walkTypesWasm is the same walk): fills offs/kinds and each type's name key (Btf.nameKeys: the kind in bits 16-23,
 * its name's first two bytes, which the CO-RE candidate scans search) and counts each kind;
 * returns the type count, or -1 when a record is of an unknown kind, names a string outside the
 * string space or runs past the type section. The tables come in as arguments (cheaper to read
 * than module constants while the loop is still interpreted: the walk runs once per process,
 * over 120k kernel types).
 */
export function walkTypes(w: Uint32Array, offs: Int32Array, kinds: Uint8Array, keys: Uint32Array, counts: Uint32Array, flags: Uint8Array, head: Uint8Array, stride: Uint8Array, str: Uint8Array, baseLen: number): number {
  const nWords = w.length;
  const strEnd = baseLen + str.length;
  let n = 0;
  let p = 0;
  while (p < nWords) {
    if (p + 3 > nWords) return -1;
    const info = w[p + 1]!;
    const kind = (info >>> 24) & 0x1f;
    const name = w[p]!;
    if (flags[kind] === 0 || name >= strEnd) return -1;
    const o = name - baseLen;
    keys[n] = (kind << 16) | (name === 0 ? 0 : o < 0 ? BASE_NAME : str[o]! | (str[o + 1]! << 8));
    offs[n] = p;
    kinds[n++] = kind;
    counts[kind]++;
    p += head[kind]! + stride[kind]! * (info & 0xffff);
  }
  return p === nWords ? n : -1;
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
        // PTR, TYPEDEF, the qualifiers, TYPE_TAG, VAR, DECL_TAG: size_or_type is a type id other than the type's own.
        if (KIND_FLAGS[kind]! & K_NOSELF) {
          check(id, st, typeWhat);
          if (st === id) throw new BtfError(file, `type ${id} (${KIND_NAMES[kind]}) refers to itself`);
        }
        break;
    }
  }
}
