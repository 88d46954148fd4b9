// BTF encoder: type objects → a .BTF blob in host (little-endian) or given byte order.
// Used to load an object's BTF into the kernel after fixups and sanitizing, and by tests.
import { BTF_MAGIC } from './btf.js';
import { recordBytes, recordInfo, recordSizeType } from './record.js';
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

/**
 * Encode types[1..] (types[0] is void and never written). Type ids are the array indexes,
 * so callers that drop or replace types must keep ids stable (e.g. replace rather than remove).
 */
export function encodeBtf(types: readonly BtfType[], littleEndian = true, seedStrings?: Uint8Array): Uint8Array {
  const strs = new StringTable();
  if (seedStrings) strs.seed(seedStrings);
  let typeLen = 0;
  for (let i = 1; i < types.length; i++) typeLen += recordBytes(types[i]!);
  const typeBuf = Buffer.alloc(typeLen);
  const dv = new DataView(typeBuf.buffer, typeBuf.byteOffset, typeBuf.byteLength);
  const le = littleEndian;
  let p = 0;
  const u32 = (v: number) => {
    dv.setUint32(p, v >>> 0, le);
    p += 4;
  };
  for (let i = 1; i < types.length; i++) {
    const t = types[i]!;
    if (t.kind === BtfKind.Void) throw new BtfError('BTF encoder', `type ${i}: void cannot be encoded`);
    u32(strs.add(t.name));
    u32(recordInfo(t));
    u32(recordSizeType(t));
    // The words after the header (./record.ts: KIND_FIXED, KIND_STRIDE); the other kinds have none.
    switch (t.kind) {
      case BtfKind.Int:
        u32((t.encoding << 24) | (t.bitOffset << 16) | t.bits);
        break;
      case BtfKind.Array:
        u32(t.type);
        u32(t.indexType);
        u32(t.nelems);
        break;
      case BtfKind.Struct:
      case BtfKind.Union:
        for (const m of t.members) {
          u32(strs.add(m.name));
          u32(m.type);
          u32(t.kflag ? (m.bitfieldSize << 24) | m.bitOffset : m.bitOffset);
        }
        break;
      case BtfKind.Enum:
        for (const v of t.values) {
          u32(strs.add(v.name));
          u32(Number(BigInt.asUintN(32, v.value)));
        }
        break;
      case BtfKind.Enum64:
        for (const v of t.values) {
          const u = BigInt.asUintN(64, v.value);
          u32(strs.add(v.name));
          u32(Number(u & 0xffffffffn));
          u32(Number(u >> 32n));
        }
        break;
      case BtfKind.FuncProto:
        for (const prm of t.params) {
          u32(strs.add(prm.name));
          u32(prm.type);
        }
        break;
      case BtfKind.Var:
        u32(t.linkage);
        break;
      case BtfKind.Datasec:
        for (const v of t.vars) {
          u32(v.type);
          u32(v.offset);
          u32(v.size);
        }
        break;
      case BtfKind.DeclTag:
        dv.setInt32(p, t.componentIdx, le);
        p += 4;
        break;
      default:
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
