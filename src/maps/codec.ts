// BTF-driven codecs: bytes ⇄ JS values, compiled once per type.
//   integers → number (64-bit and wider → bigint), bool → boolean, enum → name (number if unknown),
//   float → number, pointer → bigint, char arrays → string (up to the first NUL, UTF-8),
//   other arrays → arrays, struct/union → objects (anonymous members flattened, as C sees them),
//   bitfields by their BTF bit offsets. The generated (faster, decode-only) form for ring and
//   perf buffer records is in decoder.ts.
import { BeeTsError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import { BtfKind, INT_BOOL, INT_SIGNED, type Member } from '../btf/types.js';

export type Decoder = (dv: DataView, off: number) => unknown;
export type Encoder = (v: unknown, dv: DataView, off: number) => void;

export interface Codec {
  size: number;
  decode: Decoder;
  encode: Encoder;
}

export class CodecError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('CODEC', message, options);
  }
}

/** A CodecError raised inside member `name` names it: `addr.dport: 70000 is out of range ...`. */
function inField(name: string, e: unknown): unknown {
  if (!(e instanceof CodecError)) return e;
  const path = (e as CodecError & { path?: string }).path;
  const out = new CodecError(path ? `${name}.${e.message}` : `${name}: ${e.message}`) as CodecError & { path?: string };
  out.path = path ? `${name}.${path}` : name;
  return out;
}

const utf8 = new TextDecoder('utf-8');

export function isCharType(btf: Btf, id: number): boolean {
  const t = btf.resolve(id);
  return t.kind === BtfKind.Int && t.size === 1 && (t.name === 'char' || t.name === 'signed char' || (t.encoding & 2) !== 0);
}

function toBigInt(v: unknown, what: string): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number' && Number.isInteger(v)) return BigInt(v);
  if (typeof v === 'string' && /^-?(0x[0-9a-f]+|\d+)$/i.test(v.trim())) return BigInt(v.trim());
  if (typeof v === 'boolean') return v ? 1n : 0n;
  throw new CodecError(`${what}: expected an integer, got ${JSON.stringify(v)}`);
}

/**
 * An integer for a `bits`-wide field, range-checked the way libbpf checks kconfig values
 * (is_kcfg_value_in_range): unsigned takes 0..2^bits-1, signed -2^(bits-1)..2^(bits-1)-1.
 * Out of range is an error, never a silent wrap (70000 into a u16 is not 4464).
 */
function checkedInt(v: unknown, bits: number, signed: boolean, what: string): bigint {
  const x = toBigInt(v, what);
  const lo = signed ? -(1n << BigInt(bits - 1)) : 0n;
  const hi = signed ? (1n << BigInt(bits - 1)) - 1n : (1n << BigInt(bits)) - 1n;
  if (x < lo || x > hi) throw new CodecError(`${x} is out of range for ${what || `a ${bits}-bit integer`} (${signed ? 'signed' : 'unsigned'} ${bits}-bit: ${lo}..${hi})`);
  return x;
}

/** Read `bits` bits at absolute bit offset `bitOff` (little- or big-endian storage) as an unsigned bigint. */
function readBits(dv: DataView, byteBase: number, bitOff: number, bits: number, le: boolean): bigint {
  const first = Math.floor(bitOff / 8);
  const last = Math.floor((bitOff + bits - 1) / 8);
  let acc = 0n;
  if (le) {
    for (let i = last; i >= first; i--) acc = (acc << 8n) | BigInt(dv.getUint8(byteBase + i));
    acc >>= BigInt(bitOff - first * 8);
  } else {
    for (let i = first; i <= last; i++) acc = (acc << 8n) | BigInt(dv.getUint8(byteBase + i));
    acc >>= BigInt((last + 1) * 8 - (bitOff + bits));
  }
  return acc & ((1n << BigInt(bits)) - 1n);
}

function writeBits(dv: DataView, byteBase: number, bitOff: number, bits: number, value: bigint, le: boolean): void {
  const first = Math.floor(bitOff / 8);
  const last = Math.floor((bitOff + bits - 1) / 8);
  const n = last - first + 1;
  let word = 0n;
  if (le) for (let i = last; i >= first; i--) word = (word << 8n) | BigInt(dv.getUint8(byteBase + i));
  else for (let i = first; i <= last; i++) word = (word << 8n) | BigInt(dv.getUint8(byteBase + i));
  const shift = BigInt(le ? bitOff - first * 8 : (last + 1) * 8 - (bitOff + bits));
  const mask = ((1n << BigInt(bits)) - 1n) << shift;
  word = (word & ~mask) | ((value << shift) & mask);
  for (let k = 0; k < n; k++) {
    const byte = Number((word >> BigInt(8 * k)) & 0xffn);
    if (le) dv.setUint8(byteBase + first + k, byte);
    else dv.setUint8(byteBase + last - k, byte);
  }
}

export interface CodecOptions {
  /** Byte order of the data (host order for kernel maps). */
  littleEndian?: boolean;
  /** Decode 64-bit integers as numbers when exact (≤ 2^53), else bigint. Default false: always bigint. */
  safeNumbers?: boolean;
  /**
   * bpftool's rule for char arrays (its btf_dumper): a string only when a NUL ends printable
   * ASCII (0x20-0x7e) within the array, else an array of integers; the element type counts as
   * char through const/volatile but not through a typedef. Default: always a string.
   */
  bpftoolChars?: boolean;
}

/** bpftool's is_str_array: the element is (modifiers of) a 1-byte int named char or CHAR-encoded. */
function isBpftoolCharElem(btf: Btf, id: number): boolean {
  let t = btf.typeById(id);
  for (let i = 0; i < 32 && (t.kind === BtfKind.Const || t.kind === BtfKind.Volatile || t.kind === BtfKind.Restrict || t.kind === BtfKind.TypeTag); i++) t = btf.typeById(t.type);
  return t.kind === BtfKind.Int && t.size === 1 && ((t.encoding & 2) !== 0 || t.name === 'char');
}

export function compileCodec(btf: Btf, typeId: number, opts: CodecOptions = {}): Codec {
  const le = opts.littleEndian ?? true;
  const cache = new Map<number, Codec>();

  const build = (id: number, depth: number): Codec => {
    if (depth > 64) throw new CodecError(`type ${id}: nested too deeply`);
    const hit = cache.get(id);
    if (hit) return hit;
    const t = btf.typeById(id);
    let c: Codec;
    switch (t.kind) {
      case BtfKind.Typedef:
      case BtfKind.Const:
      case BtfKind.Volatile:
      case BtfKind.Restrict:
      case BtfKind.TypeTag:
        c = build(t.type, depth + 1);
        break;
      case BtfKind.Int:
        c = intCodec(t.size, (t.encoding & INT_SIGNED) !== 0, (t.encoding & INT_BOOL) !== 0, le, opts.safeNumbers ?? false, t.name);
        break;
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        const base = intCodec(t.size, t.signed, false, le, true, t.name);
        const byValue = new Map(t.values.map((v) => [String(v.value), v.name]));
        const byName = new Map(t.values.map((v) => [v.name, v.value]));
        c = {
          size: t.size,
          decode: (dv, off) => {
            const raw = base.decode(dv, off);
            return byValue.get(String(raw)) ?? raw;
          },
          encode: (v, dv, off) => {
            if (typeof v === 'string' && byName.has(v)) {
              // A value the BTF itself names: stored in the enum's own signedness.
              const x = BigInt(byName.get(v)!);
              v = t.signed ? BigInt.asIntN(t.size * 8, x) : BigInt.asUintN(t.size * 8, x);
            }
            base.encode(v, dv, off);
          },
        };
        break;
      }
      case BtfKind.Float:
        c =
          t.size === 4
            ? { size: 4, decode: (dv, off) => dv.getFloat32(off, le), encode: (v, dv, off) => dv.setFloat32(off, Number(v), le) }
            : t.size === 8
              ? { size: 8, decode: (dv, off) => dv.getFloat64(off, le), encode: (v, dv, off) => dv.setFloat64(off, Number(v), le) }
              : rawCodec(t.size);
        break;
      case BtfKind.Ptr:
        c = { size: 8, decode: (dv, off) => dv.getBigUint64(off, le), encode: (v, dv, off) => dv.setBigUint64(off, checkedInt(v, 64, false, 'a pointer'), le) };
        break;
      case BtfKind.Array: {
        const n = t.nelems;
        if (opts.bpftoolChars && isBpftoolCharElem(btf, t.type)) {
          const elem = build(t.type, depth + 1);
          c = {
            size: n,
            decode: (dv, off) => {
              const bytes = new Uint8Array(dv.buffer, dv.byteOffset + off, n);
              const end = bytes.indexOf(0);
              let printable = end >= 0;
              for (let i = 0; printable && i < end; i++) if (bytes[i]! < 0x20 || bytes[i]! >= 0x7f) printable = false;
              if (printable) return String.fromCharCode.apply(null, bytes.subarray(0, end) as unknown as number[]);
              return Array.from({ length: n }, (_, i) => elem.decode(dv, off + i));
            },
            encode: (v, dv, off) => {
              const bytes = new Uint8Array(dv.buffer, dv.byteOffset + off, n);
              bytes.fill(0);
              if (Array.isArray(v)) for (let i = 0; i < n; i++) elem.encode(v[i] ?? 0, dv, off + i);
              else if (v instanceof Uint8Array) bytes.set(v.subarray(0, n));
              else bytes.set(Buffer.from(String(v), 'utf8').subarray(0, n));
            },
          };
        } else if (!opts.bpftoolChars && isCharType(btf, t.type)) {
          c = {
            size: n,
            decode: (dv, off) => {
              const bytes = new Uint8Array(dv.buffer, dv.byteOffset + off, n);
              let end = bytes.indexOf(0);
              if (end < 0) end = n;
              // ASCII fast path; otherwise UTF-8 with U+FFFD for bad bytes.
              let ascii = true;
              for (let i = 0; i < end; i++) if (bytes[i]! >= 0x80) { ascii = false; break; }
              if (ascii) return String.fromCharCode.apply(null, bytes.subarray(0, end) as unknown as number[]);
              return utf8.decode(bytes.subarray(0, end));
            },
            encode: (v, dv, off) => {
              const bytes = new Uint8Array(dv.buffer, dv.byteOffset + off, n);
              bytes.fill(0);
              if (v instanceof Uint8Array) bytes.set(v.subarray(0, n));
              else bytes.set(Buffer.from(String(v), 'utf8').subarray(0, n));
            },
          };
        } else {
          const elem = build(t.type, depth + 1);
          const es = elem.size;
          c = {
            size: es * n,
            decode: (dv, off) => {
              const out = new Array(n);
              for (let i = 0; i < n; i++) out[i] = elem.decode(dv, off + i * es);
              return out;
            },
            encode: (v, dv, off) => {
              if (!Array.isArray(v)) throw new CodecError(`expected an array of ${n}, got ${JSON.stringify(v)}`);
              if (v.length > n) throw new CodecError(`expected at most ${n} elements, got ${v.length}`);
              for (let i = 0; i < n; i++)
                try {
                  elem.encode(v[i] ?? 0, dv, off + i * es);
                } catch (e) {
                  throw inField(`[${i}]`, e);
                }
            },
          };
        }
        break;
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        // Placeholder for self-reference through arrays is impossible in C; build members first.
        const fields = flattenMembers(btf, t.members, 0);
        const parts = fields.map((f) => {
          if (f.bitfieldSize) {
            const rt = btf.resolve(f.type);
            const signed = (rt.kind === BtfKind.Int && (rt.encoding & INT_SIGNED) !== 0) || ((rt.kind === BtfKind.Enum || rt.kind === BtfKind.Enum64) && rt.signed);
            const isBool = rt.kind === BtfKind.Int && (rt.encoding & INT_BOOL) !== 0;
            const bits = f.bitfieldSize;
            const bitOff = f.bitOffset;
            const wide = bits > 32;
            return {
              name: f.name,
              decode: (dv: DataView, off: number) => {
                let v = readBits(dv, off, bitOff, bits, le);
                if (signed && v & (1n << BigInt(bits - 1))) v -= 1n << BigInt(bits);
                if (isBool) return v !== 0n;
                return wide ? v : Number(v);
              },
              encode: (val: unknown, dv: DataView, off: number) => writeBits(dv, off, bitOff, bits, BigInt.asUintN(bits, isBool ? (val ? 1n : 0n) : checkedInt(val, bits, signed, `a ${bits}-bit field`)), le),
            };
          }
          const mc = build(f.type, depth + 1);
          const byteOff = f.bitOffset / 8;
          return {
            name: f.name,
            decode: (dv: DataView, off: number) => mc.decode(dv, off + byteOff),
            encode: (val: unknown, dv: DataView, off: number) => mc.encode(val, dv, off + byteOff),
          };
        });
        const isUnion = t.kind === BtfKind.Union;
        c = {
          size: t.size,
          decode: (dv, off) => {
            const o: Record<string, unknown> = {};
            for (const p of parts) o[p.name] = p.decode(dv, off);
            return o;
          },
          encode: (v, dv, off) => {
            if (typeof v !== 'object' || v === null) throw new CodecError(`expected an object for ${t.name || 'struct'}, got ${JSON.stringify(v)}`);
            const obj = v as Record<string, unknown>;
            if (!isUnion) new Uint8Array(dv.buffer, dv.byteOffset + off, t.size).fill(0);
            for (const p of parts) {
              if (obj[p.name] === undefined) continue;
              try {
                p.encode(obj[p.name], dv, off);
              } catch (e) {
                throw inField(p.name, e);
              }
              if (isUnion) break;
            }
          },
        };
        break;
      }
      case BtfKind.Var:
        c = build(t.type, depth + 1);
        break;
      case BtfKind.Datasec: {
        // Global data: an object of the section's variables.
        const vars = t.vars.map((v) => ({ name: btf.typeById(v.type).name, off: v.offset, codec: build(v.type, depth + 1) }));
        c = {
          size: t.size,
          decode: (dv, off) => {
            const o: Record<string, unknown> = {};
            for (const v of vars) o[v.name] = v.codec.decode(dv, off + v.off);
            return o;
          },
          encode: (v, dv, off) => {
            const obj = v as Record<string, unknown>;
            for (const x of vars)
              if (obj[x.name] !== undefined)
                try {
                  x.codec.encode(obj[x.name], dv, off + x.off);
                } catch (e) {
                  throw inField(x.name, e);
                }
          },
        };
        break;
      }
      case BtfKind.Void:
        c = rawCodec(0);
        break;
      default:
        throw new CodecError(`type ${id} (${t.name || 'anonymous'}) cannot be a map key or value`);
    }
    cache.set(id, c);
    return c;
  };
  return build(typeId, 0);
}

/** Struct members as C code sees them: members of anonymous struct/union members are lifted up. */
export function flattenMembers(btf: Btf, members: Member[], base: number): Member[] {
  const out: Member[] = [];
  for (const m of members) {
    if (!m.name) {
      const rt = btf.resolve(m.type);
      if (rt.kind === BtfKind.Struct || rt.kind === BtfKind.Union) {
        out.push(...flattenMembers(btf, rt.members, base + m.bitOffset));
        continue;
      }
      continue; // unnamed bitfield padding
    }
    out.push({ ...m, bitOffset: base + m.bitOffset });
  }
  return out;
}

function intCodec(size: number, signed: boolean, isBool: boolean, le: boolean, safeNumbers: boolean, name: string): Codec {
  if (isBool) return { size, decode: (dv, off) => dv.getUint8(off) !== 0, encode: (v, dv, off) => dv.setUint8(off, v ? 1 : 0) };
  switch (size) {
    case 1:
      return signed
        ? { size, decode: (dv, off) => dv.getInt8(off), encode: (v, dv, off) => dv.setInt8(off, Number(checkedInt(v, 8, true, name))) }
        : { size, decode: (dv, off) => dv.getUint8(off), encode: (v, dv, off) => dv.setUint8(off, Number(checkedInt(v, 8, false, name))) };
    case 2:
      return signed
        ? { size, decode: (dv, off) => dv.getInt16(off, le), encode: (v, dv, off) => dv.setInt16(off, Number(checkedInt(v, 16, true, name)), le) }
        : { size, decode: (dv, off) => dv.getUint16(off, le), encode: (v, dv, off) => dv.setUint16(off, Number(checkedInt(v, 16, false, name)), le) };
    case 4:
      return signed
        ? { size, decode: (dv, off) => dv.getInt32(off, le), encode: (v, dv, off) => dv.setInt32(off, Number(checkedInt(v, 32, true, name)), le) }
        : { size, decode: (dv, off) => dv.getUint32(off, le), encode: (v, dv, off) => dv.setUint32(off, Number(checkedInt(v, 32, false, name)), le) };
    case 8: {
      const get = signed ? (dv: DataView, off: number) => dv.getBigInt64(off, le) : (dv: DataView, off: number) => dv.getBigUint64(off, le);
      return {
        size,
        decode: safeNumbers
          ? (dv, off) => {
              const v = get(dv, off);
              return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v;
            }
          : get,
        encode: (v, dv, off) => (signed ? dv.setBigInt64(off, checkedInt(v, 64, true, name), le) : dv.setBigUint64(off, checkedInt(v, 64, false, name), le)),
      };
    }
    case 16:
      return {
        size,
        decode: (dv, off) => {
          const lo = dv.getBigUint64(off + (le ? 0 : 8), le);
          const hi = dv.getBigUint64(off + (le ? 8 : 0), le);
          const u = (hi << 64n) | lo;
          return signed ? BigInt.asIntN(128, u) : u;
        },
        encode: (v, dv, off) => {
          const u = BigInt.asUintN(128, checkedInt(v, 128, signed, name));
          dv.setBigUint64(off + (le ? 0 : 8), u & 0xffffffffffffffffn, le);
          dv.setBigUint64(off + (le ? 8 : 0), u >> 64n, le);
        },
      };
    default:
      return rawCodec(size);
  }
}

/** Bytes as a Uint8Array copy (types the codec cannot interpret). */
export function rawCodec(size: number): Codec {
  return {
    size,
    decode: (dv, off) => new Uint8Array(dv.buffer.slice(dv.byteOffset + off, dv.byteOffset + off + size)),
    encode: (v, dv, off) => {
      const dst = new Uint8Array(dv.buffer, dv.byteOffset + off, size);
      dst.fill(0);
      if (v instanceof Uint8Array) dst.set(v.subarray(0, size));
      else if (typeof v === 'number' || typeof v === 'bigint') {
        // Unknown signedness: either reading of the bytes is accepted, nothing wider.
        let x = toBigInt(v, `a ${size}-byte value`);
        if (size === 0 || x >= 1n << BigInt(size * 8) || x < -(1n << BigInt(size * 8 - 1))) throw new CodecError(`${x} does not fit in ${size} byte${size === 1 ? '' : 's'}`);
        for (let i = 0; i < size; i++, x >>= 8n) dst[i] = Number(x & 0xffn);
      } else throw new CodecError(`expected bytes for a ${size}-byte value, got ${JSON.stringify(v)}`);
    },
  };
}

/** JSON-friendly form of decoded values (bigint → string when unsafe, bytes → arrays). */
export function toJsonValue(v: unknown): unknown {
  if (typeof v === 'bigint') return v <= BigInt(Number.MAX_SAFE_INTEGER) && v >= BigInt(Number.MIN_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Uint8Array) return Array.from(v);
  if (Array.isArray(v)) return v.map(toJsonValue);
  if (v && typeof v === 'object') {
    const o: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) o[k] = toJsonValue(x);
    return o;
  }
  return v;
}
