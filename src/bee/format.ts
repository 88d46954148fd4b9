// bee's value formatting, by BTF, with bee's defects fixed (see shared notes §5, §11):
//   every leaf becomes a string; structs become objects (labels flatten to outer_inner); arrays
//   become arrays; enums print by name; bool prints true/false; `char` is a 1-character string
//   and `u8`/`unsigned char` a number; char arrays are strings up to the first NUL (UTF-8);
//   members are read at their BTF offsets (padded structs work), bitfields too.
// Special typedefs (anywhere in a typedef chain, outermost first): ipv4_addr, ipv6_addr,
// duration (Go's format), and bee-ts's mac_addr_t, port (network order), errno_t.
//
// The JSON line writer of `bee-ts run` (jsonline.ts) is a second compilation of the same BTF walk
// and uses this file's leaf formatters where it does not write bytes itself.
import { BeeTsError } from '../errors.js';
import type { Btf } from '../btf/btf.js';
import { BtfKind, INT_BOOL, INT_SIGNED, isQualifier, type Member } from '../btf/types.js';
import { flattenMembers, isCharType } from '../maps/codec.js';
import { errnoSymbol } from '../syscall/errno.js';

export type BeeValue = string | BeeValue[] | { [k: string]: BeeValue };
export type BeeFormatter = (dv: DataView, off: number) => BeeValue;

export class FormatError extends BeeTsError {
  constructor(message: string, options?: ErrorOptions) {
    super('FORMAT', message, options);
  }
}

// ---- Go-compatible number formats ----

/**
 * Go's %v for floats: the shortest digits that round-trip at the value's width, in exponent form
 * when the decimal exponent is < -4 or >= 6 (strconv 'g' with shortest precision): 3.14, 100000,
 * 1e+06, 1.234567e+06, 1e-05.
 */
export function goFloat(x: number, bits: 32 | 64 = 64): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  let s = x.toExponential();
  if (bits === 32) {
    const f = Math.fround(x);
    for (let p = 0; p < 17; p++) {
      const c = f.toExponential(p);
      if (Math.fround(Number(c)) === f) {
        s = c;
        break;
      }
    }
  }
  const m = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(s)!;
  const neg = m[1]!;
  const digits = (m[2]! + (m[3] ?? '')).replace(/0+$/, '') || '0';
  const exp = Number(m[4]);
  if (exp < -4 || exp >= 6) {
    const mant = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exp);
    return `${neg}${mant}e${exp < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  if (exp < 0) return `${neg}0.${'0'.repeat(-exp - 1)}${digits}`;
  const int = digits.slice(0, exp + 1).padEnd(exp + 1, '0');
  const frac = digits.slice(exp + 1);
  return `${neg}${int}${frac ? `.${frac}` : ''}`;
}

/** Go's time.Duration String() for a non-negative nanosecond count (printed exactly, never wrapped). */
export function goDuration(ns: bigint): string {
  if (ns === 0n) return '0s';
  const neg = ns < 0n;
  let u = neg ? -ns : ns;
  const sign = neg ? '-' : '';
  const frac = (v: bigint, digits: number): string => {
    const s = v.toString().padStart(digits, '0').replace(/0+$/, '');
    return s ? `.${s}` : '';
  };
  if (u < 1000n) return `${sign}${u}ns`;
  if (u < 1_000_000n) return `${sign}${u / 1000n}${frac(u % 1000n, 3)}µs`;
  if (u < 1_000_000_000n) return `${sign}${u / 1_000_000n}${frac(u % 1_000_000n, 6)}ms`;
  const secFrac = frac(u % 1_000_000_000n, 9);
  u /= 1_000_000_000n;
  const s = u % 60n;
  u /= 60n;
  if (u === 0n) return `${sign}${s}${secFrac}s`;
  const m = u % 60n;
  const h = u / 60n;
  if (h === 0n) return `${sign}${m}m${s}${secFrac}s`;
  return `${sign}${h}h${m}m${s}${secFrac}s`;
}

export function ipv4(bytes: Uint8Array): string {
  return `${bytes[0]}.${bytes[1]}.${bytes[2]}.${bytes[3]}`;
}

/** RFC 5952: lowercase, no leading zeros, the longest run (≥2) of zero groups as "::" (leftmost on ties). */
export function ipv6(bytes: Uint8Array): string {
  const g: number[] = [];
  for (let i = 0; i < 16; i += 2) g.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestLen < 2) return hex(g);
  return `${hex(g.slice(0, bestStart))}::${hex(g.slice(bestStart + bestLen))}`;
}

/** errno_t: 0 → "0", ±N → the errno's name (negative kernel returns included). */
export function errnoName(v: number): string {
  if (v === 0) return '0';
  return errnoSymbol(Math.abs(v)) ?? String(v);
}

export function macAddr(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join(':');
}

// ---- the formatter compiler ----

/** Special typedef names, in the order a chain is checked (outermost first). */
export const SPECIAL_TYPEDEFS = ['ipv4_addr', 'ipv6_addr', 'duration', 'mac_addr_t', 'port', 'errno_t'] as const;

function bytesAt(dv: DataView, off: number, n: number): Uint8Array {
  return new Uint8Array(dv.buffer, dv.byteOffset + off, n);
}

function readUint(dv: DataView, off: number, size: number): bigint {
  switch (size) {
    case 1:
      return BigInt(dv.getUint8(off));
    case 2:
      return BigInt(dv.getUint16(off, true));
    case 4:
      return BigInt(dv.getUint32(off, true));
    case 8:
      return dv.getBigUint64(off, true);
    default: {
      let v = 0n;
      for (let i = size - 1; i >= 0; i--) v = (v << 8n) | BigInt(dv.getUint8(off + i));
      return v;
    }
  }
}

function specialFormatter(btf: Btf, name: string, underlying: number): BeeFormatter | undefined {
  const t = btf.resolve(underlying);
  const size = btf.sizeof(underlying);
  switch (name) {
    case 'ipv4_addr':
      if (size !== 4) throw new FormatError(`ipv4_addr must be 4 bytes (a u32 in network order), not ${size}`);
      return (dv, off) => ipv4(bytesAt(dv, off, 4));
    case 'ipv6_addr':
      if (size === 16) return (dv, off) => ipv6(bytesAt(dv, off, 16));
      if (size === 4) return (dv, off) => ipv4(bytesAt(dv, off, 4)); // bee's 4-byte ipv6_addr
      throw new FormatError(`ipv6_addr must be 16 bytes, not ${size}`);
    case 'duration':
      if (t.kind !== BtfKind.Int) throw new FormatError('duration must be an integer number of nanoseconds');
      return (dv, off) => goDuration((t.encoding & INT_SIGNED ? BigInt.asIntN(size * 8, readUint(dv, off, size)) : readUint(dv, off, size)));
    case 'mac_addr_t':
      if (size !== 6) throw new FormatError(`mac_addr_t must be 6 bytes, not ${size}`);
      return (dv, off) => macAddr(bytesAt(dv, off, 6));
    case 'port':
      if (size !== 2) throw new FormatError(`port must be 2 bytes (network order), not ${size}`);
      return (dv, off) => String(dv.getUint16(off, false));
    case 'errno_t':
      if (t.kind !== BtfKind.Int) throw new FormatError('errno_t must be an integer');
      return (dv, off) => errnoName(Number(t.encoding & INT_SIGNED ? BigInt.asIntN(size * 8, readUint(dv, off, size)) : readUint(dv, off, size)));
    default:
      return undefined;
  }
}

/**
 * Typedefs and qualifiers from `typeId` down (at most 32): the first special typedef on the way
 * (outermost first: a typedef of ipv4_addr keeps its format), or the type under the chain.
 */
export function walkTypedefs(btf: Btf, typeId: number): { special?: { name: string; type: number }; id: number } {
  let cur = typeId;
  for (let i = 0; i < 32; i++) {
    const t = btf.typeById(cur);
    if (t.kind === BtfKind.Typedef) {
      if ((SPECIAL_TYPEDEFS as readonly string[]).includes(t.name)) return { special: { name: t.name, type: t.type }, id: cur };
      cur = t.type;
    } else if (isQualifier(t)) cur = t.type;
    else break;
  }
  return { id: cur };
}

/**
 * At most this many strings in one formatted key, value or record. A legal 2 MiB struct of
 * nested pairs has a million u16 leaves: formatting it would take seconds and hundreds of MiB per
 * event, so such a type is refused up front (a char array counts as one value, whatever its size).
 */
export const MAX_FORMAT_VALUES = 1 << 16;

/** Largest key, value or record formatted (the kernel's largest map value is 4 MiB). */
export const MAX_FORMAT_BYTES = 16 << 20;

interface Compiled {
  f: BeeFormatter;
  /** Strings one formatted value holds. */
  values: number;
}

/** One compiled formatter per BTF type, shared by every member and array of that type. */
const compiledByBtf = new WeakMap<Btf, Map<number, Compiled>>();

/** Compile a formatter for a type: strings at the leaves. */
export function compileFormatter(btf: Btf, typeId: number): BeeFormatter {
  const size = btf.sizeof(typeId);
  if (size > MAX_FORMAT_BYTES) throw new FormatError(`type ${typeId} is ${size} bytes, more than the ${MAX_FORMAT_BYTES} bee-ts formats as one key, value or record`);
  let memo = compiledByBtf.get(btf);
  if (!memo) compiledByBtf.set(btf, (memo = new Map()));
  return compile(btf, typeId, 0, memo).f;
}

function compile(btf: Btf, typeId: number, depth: number, memo: Map<number, Compiled>): Compiled {
  const hit = memo.get(typeId);
  if (hit) return hit;
  const c = compileUncached(btf, typeId, depth, memo);
  if (c.values > MAX_FORMAT_VALUES) {
    const t = btf.resolve(typeId);
    throw new FormatError(
      `${BtfKind[t.kind]?.toLowerCase() ?? 'type'} '${t.name || '(anon)'}' (${btf.sizeof(typeId)} bytes) formats to ${c.values} values, more than the ${MAX_FORMAT_VALUES} bee-ts prints per key, value or record (use a char array for bulk bytes)`,
    );
  }
  memo.set(typeId, c);
  return c;
}

function compileUncached(btf: Btf, typeId: number, depth: number, memo: Map<number, Compiled>): Compiled {
  if (depth > 32) throw new FormatError(`type ${typeId} nests too deeply`);
  const one = (f: BeeFormatter): Compiled => ({ f, values: 1 });
  // Typedef chain: the first special name wins (so a typedef of ipv4_addr keeps its format).
  const chain = walkTypedefs(btf, typeId);
  if (chain.special) return one(specialFormatter(btf, chain.special.name, chain.special.type)!);
  const t = btf.typeById(chain.id);
  switch (t.kind) {
    case BtfKind.Int: {
      const size = t.size;
      if (t.encoding & INT_BOOL) return one((dv, off) => (dv.getUint8(off) !== 0 ? 'true' : 'false'));
      if (size === 1 && t.name === 'char') return one((dv, off) => String.fromCharCode(dv.getUint8(off)));
      const signed = (t.encoding & INT_SIGNED) !== 0;
      if (size <= 4) {
        if (size === 1) return one(signed ? (dv, off) => String(dv.getInt8(off)) : (dv, off) => String(dv.getUint8(off)));
        if (size === 2) return one(signed ? (dv, off) => String(dv.getInt16(off, true)) : (dv, off) => String(dv.getUint16(off, true)));
        return one(signed ? (dv, off) => String(dv.getInt32(off, true)) : (dv, off) => String(dv.getUint32(off, true)));
      }
      return one(signed ? (dv, off) => BigInt.asIntN(size * 8, readUint(dv, off, size)).toString() : (dv, off) => readUint(dv, off, size).toString());
    }
    case BtfKind.Enum:
    case BtfKind.Enum64: {
      const names = new Map(t.values.map((v) => [v.value, v.name]));
      const size = t.size;
      return one((dv, off) => {
        let v = readUint(dv, off, size);
        if (t.signed) v = BigInt.asIntN(size * 8, v);
        return names.get(v) ?? v.toString();
      });
    }
    case BtfKind.Float:
      if (t.size === 4) return one((dv, off) => goFloat(dv.getFloat32(off, true), 32));
      if (t.size === 8) return one((dv, off) => goFloat(dv.getFloat64(off, true), 64));
      throw new FormatError(`float of ${t.size} bytes`);
    case BtfKind.Ptr:
      return one((dv, off) => `0x${dv.getBigUint64(off, true).toString(16)}`);
    case BtfKind.Array: {
      const n = t.nelems;
      if (isCharType(btf, t.type)) {
        const dec = new TextDecoder('utf-8');
        return one((dv, off) => {
          const b = bytesAt(dv, off, n);
          let end = b.indexOf(0);
          if (end < 0) end = n; // bee panics here; we take the whole array
          return dec.decode(b.subarray(0, end));
        });
      }
      const elem = compile(btf, t.type, depth + 1, memo);
      const ef = elem.f;
      const es = btf.sizeof(t.type);
      return {
        f: (dv, off) => {
          const out = new Array<BeeValue>(n);
          for (let i = 0; i < n; i++) out[i] = ef(dv, off + i * es);
          return out;
        },
        values: n * elem.values,
      };
    }
    case BtfKind.Struct:
    case BtfKind.Union: {
      let values = 0;
      const what = `${t.kind === BtfKind.Union ? 'union' : 'struct'} '${t.name || '(anon)'}'`;
      const fields = flattenMembers(btf, t.members, 0).map((m) => {
        // Members must lie inside the type (the kernel's btf_struct_check_member), or formatting
        // reads past the record.
        const bitEnd = m.bitOffset + (m.bitfieldSize || (m.bitOffset % 8 === 0 ? btf.sizeof(m.type) * 8 : NaN));
        if (!(bitEnd <= t.size * 8)) throw new FormatError(`${what}: member '${m.name}' at bit ${m.bitOffset} lies outside its ${t.size} bytes (or is not byte-aligned)`);
        if (m.bitfieldSize) {
          values++;
          return { name: m.name, f: bitfieldFormatter(btf, m) };
        }
        const mc = compile(btf, m.type, depth + 1, memo);
        values += mc.values;
        const f = mc.f;
        const byteOff = m.bitOffset / 8;
        return { name: m.name, f: ((dv: DataView, off: number) => f(dv, off + byteOff)) as BeeFormatter };
      });
      return {
        f: (dv, off) => {
          const o: { [k: string]: BeeValue } = {};
          for (const x of fields) o[x.name] = x.f(dv, off);
          return o;
        },
        values,
      };
    }
    default:
      throw new FormatError(`cannot print BTF ${BtfKind[t.kind]} '${t.name || '(anon)'}'`);
  }
}

/** A bitfield member's formatter (its bits at the member's bit offset from the struct's start). */
export function bitfieldFormatter(btf: Btf, m: Member): (dv: DataView, off: number) => string {
  const rt = btf.resolve(m.type);
  const signed = rt.kind === BtfKind.Int && (rt.encoding & INT_SIGNED) !== 0;
  const isBool = rt.kind === BtfKind.Int && (rt.encoding & INT_BOOL) !== 0;
  const bits = m.bitfieldSize;
  const bitOff = m.bitOffset;
  return (dv, off) => {
    const first = Math.floor(bitOff / 8);
    const last = Math.floor((bitOff + bits - 1) / 8);
    let acc = 0n;
    for (let i = last; i >= first; i--) acc = (acc << 8n) | BigInt(dv.getUint8(off + i));
    acc = (acc >> BigInt(bitOff - first * 8)) & ((1n << BigInt(bits)) - 1n);
    if (isBool) return acc ? 'true' : 'false';
    if (signed && acc & (1n << BigInt(bits - 1))) acc -= 1n << BigInt(bits);
    return acc.toString();
  };
}

/** Label pairs for metrics, TUI columns and filters: nested objects flatten to outer_inner, arrays to JSON text. */
export function flattenLabels(v: BeeValue, prefix = '', out: Record<string, string> = {}): Record<string, string> {
  if (typeof v === 'string') {
    out[prefix || 'value'] = v;
    return out;
  }
  if (Array.isArray(v)) {
    out[prefix || 'value'] = JSON.stringify(v);
    return out;
  }
  for (const [k, x] of Object.entries(v)) flattenLabels(x, prefix ? `${prefix}_${k}` : k, out);
  return out;
}

/** Keys sorted alphabetically at every level (bee's JSON field order). */
export function sortKeys(v: BeeValue): BeeValue {
  if (typeof v === 'string' || Array.isArray(v)) return Array.isArray(v) ? v.map(sortKeys) : v;
  const o: { [k: string]: BeeValue } = {};
  for (const k of Object.keys(v).sort()) o[k] = sortKeys(v[k]!);
  return o;
}
