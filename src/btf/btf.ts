// .BTF decoder and type graph. Handles object BTF, kernel BTF and split (module) BTF
// layered on a base, in either byte order.
import {
  BtfError,
  BtfKind,
  type BtfType,
  type CompositeType,
  type EnumValue,
  type Member,
  type Param,
  type VarSecinfo,
  isComposite,
  isQualifier,
  KIND_NAMES,
} from './types.js';

export const BTF_MAGIC = 0xeb9f;
const HEADER_MIN = 24;
/** Typedef/qualifier chains longer than this are treated as loops (libbpf uses 32 too). */
export const MAX_RESOLVE_DEPTH = 32;

export interface BtfParseOptions {
  file?: string;
  /** For split BTF (kernel modules): the base it extends. */
  base?: Btf;
}

export class Btf {
  /** Index = type id. types[0] is void. For split BTF, base types are included. */
  readonly types: BtfType[];
  readonly file: string;
  readonly littleEndian: boolean;
  readonly base?: Btf;
  /** First id that belongs to this BTF (1, or the base's type count for split BTF). */
  readonly firstId: number;
  private readonly strings: string;
  private readonly stringBytes: Uint8Array;
  private readonly baseStrLen: number;
  private nameIndex?: Map<string, number[]>;
  /** Memoized alignments (0 = not computed): struct alignment recursion is otherwise quadratic. */
  private alignCache?: Uint8Array;

  constructor(init: {
    types: BtfType[];
    file: string;
    littleEndian: boolean;
    base?: Btf;
    firstId: number;
    strings: string;
    stringBytes: Uint8Array;
    baseStrLen: number;
  }) {
    this.types = init.types;
    this.file = init.file;
    this.littleEndian = init.littleEndian;
    this.base = init.base;
    this.firstId = init.firstId;
    this.strings = init.strings;
    this.stringBytes = init.stringBytes;
    this.baseStrLen = init.baseStrLen;
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

  get count(): number {
    return this.types.length;
  }

  typeById(id: number): BtfType {
    const t = this.types[id];
    if (!t) throw new BtfError(this.file, `type id ${id} does not exist (${this.types.length - 1} types)`);
    return t;
  }

  /** All type ids with this name (any kind). */
  idsByName(name: string): number[] {
    if (!this.nameIndex) {
      const idx = new Map<string, number[]>();
      for (const t of this.types) {
        if (!t.name) continue;
        const l = idx.get(t.name);
        if (l) l.push(t.id);
        else idx.set(t.name, [t.id]);
      }
      this.nameIndex = idx;
    }
    return this.nameIndex.get(name) ?? [];
  }

  /** The first type with this name and kind. */
  find<K extends BtfKind>(name: string, kind: K): Extract<BtfType, { kind: K }> | undefined {
    for (const id of this.idsByName(name)) {
      const t = this.types[id]!;
      if (t.kind === kind) return t as Extract<BtfType, { kind: K }>;
    }
    return undefined;
  }

  /** Follow typedefs and qualifiers to the underlying type id. */
  resolveId(id: number): number {
    let cur = id;
    for (let depth = 0; depth < MAX_RESOLVE_DEPTH; depth++) {
      const t = this.typeById(cur);
      if (t.kind === BtfKind.Typedef || isQualifier(t)) cur = t.type;
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
      const t = this.typeById(cur);
      if (isQualifier(t)) cur = t.type;
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
    const t = this.typeById(id);
    switch (t.kind) {
      case BtfKind.Int:
      case BtfKind.Float:
      case BtfKind.Enum:
      case BtfKind.Enum64:
        return Math.min(Math.max(t.size, 1), 8);
      case BtfKind.Ptr:
        return 8;
      case BtfKind.Array:
      case BtfKind.Typedef:
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
        return this.alignof(t.type, depth + 1);
      case BtfKind.Struct:
      case BtfKind.Union: {
        this.alignCache ??= new Uint8Array(this.types.length);
        const cached = this.alignCache[id]!;
        if (cached) return cached;
        let align = 1;
        for (const m of t.members) align = Math.max(align, this.alignof(m.type, depth + 1));
        const result = this.isPacked(t, align, depth) ? 1 : align;
        this.alignCache[id] = result;
        return result;
      }
      default:
        return 1;
    }
  }

  /** A struct is packed when a member sits off its natural alignment, or the size is not a multiple of it. */
  isPacked(t: CompositeType, naturalAlign?: number, depth = 0): boolean {
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

/** Parse a .BTF blob. */
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
  const types: BtfType[] = base ? base.types.slice() : [{ kind: BtfKind.Void, id: 0, name: '' }];
  const firstId = types.length;

  const strAt = (off: number, what: () => string): string => {
    if (off < baseStrLen) {
      const s = base!.strAt(off);
      if (s === undefined) fail(`${what()}: name offset ${off} is out of range`);
      return s!;
    }
    const o = off - baseStrLen;
    if (o >= strings.length) fail(`${what()}: name offset ${off} is out of range (${baseStrLen + strLen} bytes of strings)`);
    const end = strings.indexOf('\0', o);
    return strings.substring(o, end);
  };

  let p = hdrLen + typeOff;
  const end = p + typeLen;
  const need = (n: number, id: number) => {
    if (p + n > end) fail(`type ${id} is truncated (needs ${n} bytes at offset ${p - hdrLen - typeOff} of ${typeLen})`);
  };
  while (p < end) {
    const id = types.length;
    need(12, id);
    const nameOff = dv.getUint32(p, le);
    const info = dv.getUint32(p + 4, le);
    const sizeOrType = dv.getUint32(p + 8, le);
    p += 12;
    const vlen = info & 0xffff;
    const kind = (info >>> 24) & 0x1f;
    const kflag = (info >>> 31) !== 0;
    const what = () => `type ${id} (${KIND_NAMES[kind as BtfKind] ?? `kind ${kind}`})`;
    const name = nameOff === 0 ? '' : strAt(nameOff, what);
    switch (kind) {
      case BtfKind.Int: {
        need(4, id);
        const v = dv.getUint32(p, le);
        p += 4;
        const bits = v & 0xff;
        const bitOffset = (v >>> 16) & 0xff;
        if (bits > 128 || bits + bitOffset > sizeOrType * 8) fail(`${what()}: ${bits} bits at offset ${bitOffset} do not fit in ${sizeOrType} bytes`);
        types.push({ kind, id, name, size: sizeOrType, encoding: (v >>> 24) & 0xf, bitOffset, bits });
        break;
      }
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        types.push({ kind, id, name, type: sizeOrType });
        break;
      case BtfKind.Fwd:
        types.push({ kind, id, name, union: kflag });
        break;
      case BtfKind.Float:
        types.push({ kind, id, name, size: sizeOrType });
        break;
      case BtfKind.Func:
        types.push({ kind, id, name, type: sizeOrType, linkage: vlen });
        break;
      case BtfKind.Array: {
        need(12, id);
        types.push({
          kind,
          id,
          name,
          type: dv.getUint32(p, le),
          indexType: dv.getUint32(p + 4, le),
          nelems: dv.getUint32(p + 8, le),
        });
        p += 12;
        break;
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        need(12 * vlen, id);
        const members: Member[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const mOff = dv.getUint32(p + 8, le);
          members[i] = {
            name: dv.getUint32(p, le) === 0 ? '' : strAt(dv.getUint32(p, le), () => `${what()} member ${i}`),
            type: dv.getUint32(p + 4, le),
            bitOffset: kflag ? mOff & 0xffffff : mOff,
            bitfieldSize: kflag ? mOff >>> 24 : 0,
          };
          p += 12;
        }
        types.push({ kind, id, name, size: sizeOrType, kflag, members });
        break;
      }
      case BtfKind.Enum: {
        need(8 * vlen, id);
        const values: EnumValue[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const raw = kflag ? dv.getInt32(p + 4, le) : dv.getUint32(p + 4, le);
          values[i] = { name: strAt(dv.getUint32(p, le), () => `${what()} value ${i}`), value: BigInt(raw) };
          p += 8;
        }
        types.push({ kind, id, name, size: sizeOrType, signed: kflag, values });
        break;
      }
      case BtfKind.Enum64: {
        need(12 * vlen, id);
        const values: EnumValue[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const lo = BigInt(dv.getUint32(p + 4, le));
          const hi = BigInt(dv.getUint32(p + 8, le));
          let v = (hi << 32n) | lo;
          if (kflag) v = BigInt.asIntN(64, v);
          values[i] = { name: strAt(dv.getUint32(p, le), () => `${what()} value ${i}`), value: v };
          p += 12;
        }
        types.push({ kind, id, name, size: sizeOrType, signed: kflag, values });
        break;
      }
      case BtfKind.FuncProto: {
        need(8 * vlen, id);
        const params: Param[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          const no = dv.getUint32(p, le);
          params[i] = { name: no === 0 ? '' : strAt(no, () => `${what()} param ${i}`), type: dv.getUint32(p + 4, le) };
          p += 8;
        }
        types.push({ kind, id, name, returnType: sizeOrType, params });
        break;
      }
      case BtfKind.Var: {
        need(4, id);
        types.push({ kind, id, name, type: sizeOrType, linkage: dv.getUint32(p, le) });
        p += 4;
        break;
      }
      case BtfKind.Datasec: {
        need(12 * vlen, id);
        const vars: VarSecinfo[] = new Array(vlen);
        for (let i = 0; i < vlen; i++) {
          vars[i] = { type: dv.getUint32(p, le), offset: dv.getUint32(p + 4, le), size: dv.getUint32(p + 8, le) };
          p += 12;
        }
        types.push({ kind, id, name, size: sizeOrType, vars });
        break;
      }
      case BtfKind.DeclTag: {
        need(4, id);
        types.push({ kind, id, name, type: sizeOrType, componentIdx: dv.getInt32(p, le), attribute: kflag });
        p += 4;
        break;
      }
      default:
        fail(`type ${id} has unknown kind ${kind}`);
    }
  }
  validateRefs(types, firstId, file);
  return new Btf({ types, file, littleEndian: le, base, firstId, strings, stringBytes: strBytes, baseStrLen });
}

/** Every type id a type refers to must exist; BTF_KIND_VAR/DATASEC/FUNC must point at the right kinds. */
function validateRefs(types: BtfType[], firstId: number, file: string): void {
  const n = types.length;
  const check = (from: number, to: number, what: string) => {
    if (to >= n) throw new BtfError(file, `type ${from} (${KIND_NAMES[types[from]!.kind]}) ${what} refers to type ${to}, which does not exist (${n - 1} types)`);
  };
  for (let id = firstId; id < n; id++) {
    const t = types[id]!;
    switch (t.kind) {
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
      case BtfKind.Var:
      case BtfKind.DeclTag:
        check(id, t.type, 'type');
        if (t.type === id) throw new BtfError(file, `type ${id} (${KIND_NAMES[t.kind]}) refers to itself`);
        break;
      case BtfKind.Func:
        check(id, t.type, 'prototype');
        if (types[t.type]!.kind !== BtfKind.FuncProto) throw new BtfError(file, `FUNC ${id} '${t.name}' does not point at a FUNC_PROTO`);
        break;
      case BtfKind.Array:
        check(id, t.type, 'element type');
        check(id, t.indexType, 'index type');
        if (t.type === id) throw new BtfError(file, `ARRAY ${id} contains itself`);
        break;
      case BtfKind.Struct:
      case BtfKind.Union:
        for (const m of t.members) {
          check(id, m.type, `member '${m.name}'`);
          if (m.type === id) throw new BtfError(file, `${KIND_NAMES[t.kind]} ${id} '${t.name}' contains itself`);
        }
        break;
      case BtfKind.FuncProto:
        check(id, t.returnType, 'return type');
        for (const p of t.params) check(id, p.type, `parameter '${p.name}'`);
        break;
      case BtfKind.Datasec:
        for (const v of t.vars) check(id, v.type, 'variable');
        break;
      default:
        break;
    }
  }
}
