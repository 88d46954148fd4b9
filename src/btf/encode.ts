// BTF encoder: type objects → a .BTF blob in host (little-endian) or given byte order.
// Used to load an object's BTF into the kernel after fixups and sanitizing, and by tests.
import { BTF_MAGIC, extraWords } from './btf.js';
import { BtfError, BtfKind, type BtfType } from './types.js';

class StringTable {
  private readonly offsets = new Map<string, number>([['', 0]]);
  private readonly parts: Buffer[] = [Buffer.from([0])];
  private len = 1;
  /** Start from an existing string section so offsets into it (line_info) stay valid. */
  seed(bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    this.parts.length = 0;
    this.parts.push(Buffer.from(bytes));
    this.len = bytes.length;
    let start = 0;
    for (let i = 0; i < bytes.length; i++) {
      if (bytes[i] !== 0) continue;
      const s = Buffer.from(bytes.subarray(start, i)).toString('utf8');
      if (!this.offsets.has(s)) this.offsets.set(s, start);
      start = i + 1;
    }
    if (bytes[bytes.length - 1] !== 0) {
      this.parts.push(Buffer.from([0]));
      this.len++;
    }
  }
  add(s: string): number {
    const known = this.offsets.get(s);
    if (known !== undefined) return known;
    const b = Buffer.from(s + '\0', 'utf8');
    const off = this.len;
    this.parts.push(b);
    this.len += b.length;
    this.offsets.set(s, off);
    return off;
  }
  bytes(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** The record's size in bytes: its 12-byte header and the words its kind and entry count add (the parser's rule). */
function recordSize(t: BtfType): number {
  const vlen = 'members' in t ? t.members.length : 'values' in t ? t.values.length : 'params' in t ? t.params.length : 'vars' in t ? t.vars.length : 0;
  return 12 + 4 * Math.max(0, extraWords(t.kind, vlen));
}

/**
 * Encode types[1..] (types[0] is void and never written). Type ids are the array indexes,
 * so callers that drop or replace types must keep ids stable (e.g. replace rather than remove).
 */
export function encodeBtf(types: readonly BtfType[], littleEndian = true, seedStrings?: Uint8Array): Uint8Array {
  const strs = new StringTable();
  if (seedStrings) strs.seed(seedStrings);
  let typeLen = 0;
  for (let i = 1; i < types.length; i++) typeLen += recordSize(types[i]!);
  const typeBuf = Buffer.alloc(typeLen);
  const dv = new DataView(typeBuf.buffer, typeBuf.byteOffset, typeBuf.byteLength);
  const le = littleEndian;
  let p = 0;
  const u32 = (v: number) => {
    dv.setUint32(p, v >>> 0, le);
    p += 4;
  };
  const head = (t: BtfType, vlen: number, kflag: boolean, sizeOrType: number) => {
    u32(strs.add(t.name));
    u32(((kflag ? 1 : 0) << 31) | (t.kind << 24) | (vlen & 0xffff));
    u32(sizeOrType);
  };
  for (let i = 1; i < types.length; i++) {
    const t = types[i]!;
    switch (t.kind) {
      case BtfKind.Void:
        throw new BtfError('BTF encoder', `type ${i}: void cannot be encoded`);
      case BtfKind.Int:
        head(t, 0, false, t.size);
        u32((t.encoding << 24) | (t.bitOffset << 16) | t.bits);
        break;
      case BtfKind.Ptr:
      case BtfKind.Typedef:
      case BtfKind.Volatile:
      case BtfKind.Const:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        head(t, 0, false, t.type);
        break;
      case BtfKind.Fwd:
        head(t, 0, t.union, 0);
        break;
      case BtfKind.Float:
        head(t, 0, false, t.size);
        break;
      case BtfKind.Func:
        head(t, t.linkage, false, t.type);
        break;
      case BtfKind.Array:
        head(t, 0, false, 0);
        u32(t.type);
        u32(t.indexType);
        u32(t.nelems);
        break;
      case BtfKind.Struct:
      case BtfKind.Union:
        head(t, t.members.length, t.kflag, t.size);
        for (const m of t.members) {
          u32(strs.add(m.name));
          u32(m.type);
          u32(t.kflag ? (m.bitfieldSize << 24) | m.bitOffset : m.bitOffset);
        }
        break;
      case BtfKind.Enum:
        head(t, t.values.length, t.signed, t.size);
        for (const v of t.values) {
          u32(strs.add(v.name));
          u32(Number(BigInt.asUintN(32, v.value)));
        }
        break;
      case BtfKind.Enum64:
        head(t, t.values.length, t.signed, t.size);
        for (const v of t.values) {
          const u = BigInt.asUintN(64, v.value);
          u32(strs.add(v.name));
          u32(Number(u & 0xffffffffn));
          u32(Number(u >> 32n));
        }
        break;
      case BtfKind.FuncProto:
        head(t, t.params.length, false, t.returnType);
        for (const prm of t.params) {
          u32(strs.add(prm.name));
          u32(prm.type);
        }
        break;
      case BtfKind.Var:
        head(t, 0, false, t.type);
        u32(t.linkage);
        break;
      case BtfKind.Datasec:
        head(t, t.vars.length, false, t.size);
        for (const v of t.vars) {
          u32(v.type);
          u32(v.offset);
          u32(v.size);
        }
        break;
      case BtfKind.DeclTag:
        head(t, 0, t.attribute, t.type);
        dv.setInt32(p, t.componentIdx, le);
        p += 4;
        break;
    }
  }
  const strBuf = strs.bytes();
  const hdr = Buffer.alloc(24);
  const hv = new DataView(hdr.buffer, hdr.byteOffset, 24);
  hv.setUint16(0, BTF_MAGIC, le);
  hdr[2] = 1;
  hdr[3] = 0;
  hv.setUint32(4, 24, le);
  hv.setUint32(8, 0, le);
  hv.setUint32(12, typeLen, le);
  hv.setUint32(16, typeLen, le);
  hv.setUint32(20, strBuf.length, le);
  return new Uint8Array(Buffer.concat([hdr, typeBuf, strBuf]));
}
