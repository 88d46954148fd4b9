// The `bee-ts run` output path: a map's JSON line writer compiled from BTF, writing bytes into a
// caller's reused Buffer. `{"entry":<value>,"mapName":<name>}\n`, byte for byte what
// JSON.stringify({ entry: sortKeys(compileFormatter(btf, typeId)(dv, off)), mapName }) gives
// (UTF-8), without building the value tree or any string on the common path:
//   - the type is flattened at compile time into runs of constant bytes (keys sorted, quotes,
//     commas, the map name) and leaves; the runs are stored inline by a generated function;
//   - integers, enums, bools and chars are written as ASCII digits/names; 64-bit integers without
//     a BigInt when they fit in 53 bits;
//   - char arrays are copied byte by byte, escaped only where JSON needs it (", \, controls);
//     only bytes ≥ 0x80 (UTF-8) go through TextDecoder and JSON.stringify;
//   - special typedefs, floats, pointers and odd sizes use the generic leaf formatter.
// Every writer has a bound on the bytes one line can take (known at compile time), so the caller
// makes room once per record instead of per byte.
import type { Btf } from '../btf/btf.js';
import { BtfKind, INT_BOOL, INT_SIGNED, type Member } from '../btf/types.js';
import { flattenMembers, isCharType } from '../maps/codec.js';
import { bitfieldFormatter, compileFormatter, FormatError, sortKeys, walkTypedefs } from './format.js';

/** Writes at `p` in `b` and returns the position after what it wrote. */
export type ByteWriter = (dv: DataView, off: number, b: Buffer, p: number) => number;

/** A compiled JSON line writer: `write` puts one line (with its '\n') at `p`, at most `max` bytes. */
export interface JsonLineWriter {
  /** Most bytes one line takes; Infinity when the type is too large to bound (then use `text`). */
  readonly max: number;
  write: ByteWriter;
  /** The line as a string (tests, and types whose bound is too large for a reused buffer). */
  text(dv: DataView, off: number): string;
}

/** Lines that could need more than this are written through a string instead of a reused buffer. */
export const MAX_LINE_BOUND = 4 << 20;

type Op = { c: number[] } | { f: ByteWriter; at: number; max: number };

const enc = new TextEncoder();
const bytesOf = (s: string): number[] => Array.from(enc.encode(s));
/** JSON text of s without its quotes, as UTF-8 bytes. */
const innerBytes = (s: string): Uint8Array => enc.encode(JSON.stringify(s).slice(1, -1));

/** What JSON.stringify writes for each byte < 0x80 inside a string (the byte itself when no escape). */
const ESC: (Uint8Array | undefined)[] = Array.from({ length: 128 }, (_, c) => {
  const j = JSON.stringify(String.fromCharCode(c)).slice(1, -1);
  return j.length === 1 ? undefined : enc.encode(j);
});
const CHAR_INNER: Uint8Array[] = Array.from({ length: 256 }, (_, c) => innerBytes(String.fromCharCode(c)));
const TRUE = enc.encode('true');
const FALSE = enc.encode('false');

/** A Uint8Array over a DataView's whole buffer, kept while records keep coming from the same memory. */
let lastAb: ArrayBufferLike | undefined;
let lastU8: Uint8Array = new Uint8Array(0);
function u8Of(dv: DataView): Uint8Array {
  if (dv.buffer !== lastAb) {
    lastAb = dv.buffer;
    lastU8 = new Uint8Array(dv.buffer);
  }
  return lastU8;
}

/** Decimal digits of 0 ≤ v < 2^32. */
function u32Digits(b: Buffer, p: number, v: number): number {
  if (v < 10) {
    b[p] = 48 + v;
    return p + 1;
  }
  const n = v < 100 ? 2 : v < 1000 ? 3 : v < 1e4 ? 4 : v < 1e5 ? 5 : v < 1e6 ? 6 : v < 1e7 ? 7 : v < 1e8 ? 8 : v < 1e9 ? 9 : 10;
  let q = p + n;
  while (v >= 10) {
    const t = (v / 10) >>> 0;
    b[--q] = 48 + v - t * 10;
    v = t;
  }
  b[--q] = 48 + v;
  return p + n;
}

/** Decimal digits of 0 ≤ v < 2^53. */
function u53Digits(b: Buffer, p: number, v: number): number {
  if (v < 4294967296) return u32Digits(b, p, v);
  const hi = Math.floor(v / 1e9);
  let lo = v - hi * 1e9;
  p = u32Digits(b, p, hi);
  for (let q = p + 8; q >= p; q--) {
    const t = (lo / 10) >>> 0;
    b[q] = 48 + lo - t * 10;
    lo = t;
  }
  return p + 9;
}

function i32Digits(b: Buffer, p: number, v: number): number {
  if (v < 0) {
    b[p++] = 45;
    return u32Digits(b, p, -v);
  }
  return u32Digits(b, p, v);
}

function asciiAt(b: Buffer, p: number, s: string): number {
  for (let i = 0; i < s.length; i++) b[p + i] = s.charCodeAt(i);
  return p + s.length;
}

/** Write UTF-8 text, refusing (not truncating) when it would not fit the buffer. */
function textAt(b: Buffer, p: number, s: string): number {
  if (p + s.length * 3 > b.length && p + Buffer.byteLength(s) > b.length) throw new FormatError('a formatted value is larger than its bound');
  return p + b.write(s, p, 'utf8');
}

/** Bytes one value of the generic formatter can take as JSON: its text is bounded by the leaf kinds it has. */
const genericBound = (size: number) => Math.max(64, 6 * size + 2);

/** Quoted digits of an integer leaf (the quotes are constant runs around it). */
function intLeaf(size: number, signed: boolean): { f: ByteWriter; max: number } | undefined {
  switch (size) {
    case 1:
      return signed ? { f: (dv, off, b, p) => i32Digits(b, p, dv.getInt8(off)), max: 4 } : { f: (dv, off, b, p) => u32Digits(b, p, dv.getUint8(off)), max: 3 };
    case 2:
      return signed ? { f: (dv, off, b, p) => i32Digits(b, p, dv.getInt16(off, true)), max: 6 } : { f: (dv, off, b, p) => u32Digits(b, p, dv.getUint16(off, true)), max: 5 };
    case 4:
      return signed ? { f: (dv, off, b, p) => i32Digits(b, p, dv.getInt32(off, true)), max: 11 } : { f: (dv, off, b, p) => u32Digits(b, p, dv.getUint32(off, true)), max: 10 };
    case 8:
      // |value| < 2^53: the number's digits are the BigInt's.
      return signed
        ? {
            f: (dv, off, b, p) => {
              const hi = dv.getInt32(off + 4, true);
              if (hi >= -0x200000 && hi < 0x200000) {
                const v = hi * 4294967296 + dv.getUint32(off, true);
                if (v < 0) {
                  b[p++] = 45;
                  return u53Digits(b, p, -v);
                }
                return u53Digits(b, p, v);
              }
              return asciiAt(b, p, dv.getBigInt64(off, true).toString());
            },
            max: 20,
          }
        : {
            f: (dv, off, b, p) => {
              const hi = dv.getUint32(off + 4, true);
              return hi < 0x200000 ? u53Digits(b, p, hi * 4294967296 + dv.getUint32(off, true)) : asciiAt(b, p, dv.getBigUint64(off, true).toString());
            },
            max: 20,
          };
    default:
      return undefined;
  }
}

/** A char array's text between its quotes: bytes up to the first NUL, escaped where JSON needs it. */
function charArrayLeaf(n: number, slow: (dv: DataView, off: number) => string): { f: ByteWriter; max: number } {
  return {
    f: (dv, off, b, p) => {
      const src = u8Of(dv);
      const p0 = p;
      for (let i = dv.byteOffset + off, end = i + n; i < end; i++) {
        const c = src[i]!;
        if (c === 0) break;
        if (c >= 0x80) return textAt(b, p0, JSON.stringify(slow(dv, off)).slice(1, -1));
        const e = ESC[c];
        if (e === undefined) b[p++] = c;
        else for (let k = 0; k < e.length; k++) b[p++] = e[k]!;
      }
      return p;
    },
    // An escape is at most 6 bytes for 1; a byte of bad UTF-8 becomes U+FFFD (3 bytes).
    max: 6 * n,
  };
}

function tableLeaf(table: Map<number, Uint8Array>, read: (dv: DataView, off: number) => number): ByteWriter {
  return (dv, off, b, p) => {
    const v = read(dv, off);
    const t = table.get(v);
    if (t === undefined) return v < 0 ? (b[p] = 45, u53Digits(b, p + 1, -v)) : u53Digits(b, p, v);
    for (let k = 0; k < t.length; k++) b[p + k] = t[k]!;
    return p + t.length;
  };
}

/** Most ops one flattened type may unroll into its writer (arrays past it are written by a loop). */
const UNROLL_OPS = 512;

class Flattener {
  private readonly memo = new Map<number, { ops: Op[]; max: number }>();
  constructor(private readonly btf: Btf) {}

  /** A type's ops, as one value's JSON text at offset `at` from the record's base. */
  ops(typeId: number, at: number, depth = 0): Op[] {
    const base = this.compiled(typeId, depth);
    if (at === 0) return base.ops;
    return base.ops.map((o) => ('c' in o ? o : { f: o.f, at: o.at + at, max: o.max }));
  }

  bound(typeId: number): number {
    return this.compiled(typeId, 0).max;
  }

  private compiled(typeId: number, depth: number): { ops: Op[]; max: number } {
    let c = this.memo.get(typeId);
    if (!c) {
      if (depth > 32) throw new FormatError(`type ${typeId} nests too deeply`);
      const ops = this.uncached(typeId, depth);
      let max = 0;
      for (const o of ops) max += 'c' in o ? o.c.length : o.max;
      c = { ops, max };
      this.memo.set(typeId, c);
    }
    return c;
  }

  private generic(typeId: number, atLeast = 0): Op[] {
    const f = compileFormatter(this.btf, typeId);
    return [{ f: (dv, off, b, p) => textAt(b, p, JSON.stringify(sortKeys(f(dv, off)))), at: 0, max: Math.max(atLeast, genericBound(this.btf.sizeof(typeId))) }];
  }

  private quoted(leaf: { f: ByteWriter; max: number }): Op[] {
    return [{ c: [34] }, { f: leaf.f, at: 0, max: leaf.max }, { c: [34] }];
  }

  private uncached(typeId: number, depth: number): Op[] {
    const btf = this.btf;
    // The generic formatter's typedef walk: a special name anywhere in the chain is its format.
    const chain = walkTypedefs(btf, typeId);
    if (chain.special) return this.generic(typeId);
    const t = btf.typeById(chain.id);
    switch (t.kind) {
      case BtfKind.Int: {
        if (t.encoding & INT_BOOL) return this.quoted({ f: (dv, off, b, p) => copyAt(b, p, dv.getUint8(off) !== 0 ? TRUE : FALSE), max: 5 });
        if (t.size === 1 && t.name === 'char') return this.quoted({ f: (dv, off, b, p) => copyAt(b, p, CHAR_INNER[dv.getUint8(off)]!), max: 6 });
        const leaf = intLeaf(t.size, (t.encoding & INT_SIGNED) !== 0);
        return leaf ? this.quoted(leaf) : this.generic(typeId);
      }
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        const size = t.size;
        let max = 11;
        for (const v of t.values) max = Math.max(max, innerBytes(v.name).length);
        if (size !== 1 && size !== 2 && size !== 4) return this.generic(typeId, max + 2);
        // The generic formatter's map (a later duplicate value wins), keyed by number.
        const table = new Map(t.values.map((v) => [Number(v.value), innerBytes(v.name)]));
        const read =
          size === 1 ? (t.signed ? (dv: DataView, o: number) => dv.getInt8(o) : (dv: DataView, o: number) => dv.getUint8(o))
          : size === 2 ? (t.signed ? (dv: DataView, o: number) => dv.getInt16(o, true) : (dv: DataView, o: number) => dv.getUint16(o, true))
          : t.signed ? (dv: DataView, o: number) => dv.getInt32(o, true) : (dv: DataView, o: number) => dv.getUint32(o, true);
        return this.quoted({ f: tableLeaf(table, read), max });
      }
      case BtfKind.Array: {
        const n = t.nelems;
        if (isCharType(btf, t.type)) {
          const f = compileFormatter(btf, typeId);
          return this.quoted(charArrayLeaf(n, f as (dv: DataView, off: number) => string));
        }
        if (n === 0) return [{ c: [91, 93] }];
        const es = btf.sizeof(t.type);
        const elem = this.compiled(t.type, depth + 1);
        if (n * elem.ops.length <= UNROLL_OPS) {
          const ops: Op[] = [{ c: [91] }];
          for (let i = 0; i < n; i++) {
            if (i) ops.push({ c: [44] });
            ops.push(...this.ops(t.type, i * es, depth + 1));
          }
          ops.push({ c: [93] });
          return ops;
        }
        const ew = generate(elem.ops);
        return [
          {
            f: (dv, off, b, p) => {
              b[p++] = 91;
              p = ew(dv, off, b, p);
              for (let i = 1; i < n; i++) {
                b[p++] = 44;
                p = ew(dv, off + i * es, b, p);
              }
              b[p++] = 93;
              return p;
            },
            at: 0,
            max: 2 + n * elem.max + (n - 1),
          },
        ];
      }
      case BtfKind.Struct:
      case BtfKind.Union: {
        const fields = flattenMembers(btf, t.members, 0);
        // The generic object: a repeated name keeps its first place and its last value; then
        // sortKeys and JSON.stringify's own key order (integer-like keys first).
        const lastOf: Record<string, number> = {};
        fields.forEach((m, i) => (lastOf[m.name] = i));
        const sorted: Record<string, number> = {};
        for (const k of Object.keys(lastOf).sort()) sorted[k] = lastOf[k]!;
        const keys = Object.keys(sorted);
        if (keys.length === 0) return [{ c: bytesOf('{}') }];
        const ops: Op[] = [];
        keys.forEach((k, i) => {
          const m: Member = fields[sorted[k]!]!;
          ops.push({ c: bytesOf(`${i === 0 ? '{' : ','}${JSON.stringify(k)}:`) });
          if (m.bitfieldSize) {
            const f = bitfieldFormatter(btf, m);
            ops.push(...this.quoted({ f: (dv, off, b, p) => asciiAt(b, p, f(dv, off)), max: 40 }));
          } else ops.push(...this.ops(m.type, m.bitOffset / 8, depth + 1));
        });
        ops.push({ c: [125] });
        return ops;
      }
      default:
        return this.generic(typeId);
    }
  }
}

function copyAt(b: Buffer, p: number, t: Uint8Array): number {
  for (let k = 0; k < t.length; k++) b[p + k] = t[k]!;
  return p + t.length;
}

let writerIds = 0;
/** Constant runs longer than this are copied with set() instead of stored byte by byte. */
const INLINE_RUN = 24;

/**
 * One function for a flattened op list: constant runs stored inline, each leaf called at its
 * offset. The id makes each source unique: V8 caches `new Function` by source text, and writers
 * that shared one compiled function would share its call-site feedback.
 */
function generate(ops: Op[]): ByteWriter {
  const merged: Op[] = [];
  for (const o of ops) {
    const last = merged[merged.length - 1];
    if ('c' in o && last && 'c' in last) merged[merged.length - 1] = { c: [...last.c, ...o.c] };
    else merged.push(o);
  }
  const leaves: ByteWriter[] = [];
  const runs: Uint8Array[] = [];
  const lines: string[] = [];
  for (const o of merged) {
    if ('c' in o) {
      if (o.c.length <= INLINE_RUN) {
        lines.push(o.c.map((x, i) => `b[p${i ? ` + ${i}` : ''}] = ${x};`).join(' ') + ` p += ${o.c.length};`);
      } else {
        runs.push(Uint8Array.from(o.c));
        lines.push(`b.set(R[${runs.length - 1}], p); p += ${o.c.length};`);
      }
    } else {
      leaves.push(o.f);
      lines.push(`p = L${leaves.length - 1}(dv, off${o.at ? ` + ${o.at}` : ''}, b, p);`);
    }
  }
  const body = `// JSON line writer ${++writerIds}
    ${leaves.map((_, i) => `const L${i} = L[${i}];`).join('\n    ')}
    return function write(dv, off, b, p) {
      ${lines.join('\n      ')}
      return p;
    };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function('L', 'R', body)(leaves, runs) as ByteWriter;
}

/** Line text of a writer's bytes (the string form, for `text`). */
function textOf(write: ByteWriter, max: number): (dv: DataView, off: number) => string {
  let scratch = Buffer.allocUnsafe(0);
  return (dv, off) => {
    if (scratch.length < max) scratch = Buffer.allocUnsafe(max);
    return scratch.toString('utf8', 0, write(dv, off, scratch, 0));
  };
}

/**
 * A map's JSON line writer, compiled from BTF once per (BTF, type, map name).
 * @throws FormatError for what compileFormatter refuses (sizes, value counts, layouts).
 */
export function compileJsonLine(btf: Btf, typeId: number, mapName: string): JsonLineWriter {
  const generic = compileFormatter(btf, typeId); // the same checks (sizes, value counts, layouts) and errors
  const fl = new Flattener(btf);
  const ops: Op[] = [{ c: bytesOf('{"entry":') }, ...fl.ops(typeId, 0), { c: bytesOf(`,"mapName":${JSON.stringify(mapName)}}\n`) }];
  let max = 0;
  for (const o of ops) max += 'c' in o ? o.c.length : o.max;
  if (max > MAX_LINE_BOUND) {
    const text = (dv: DataView, off: number) => JSON.stringify({ entry: sortKeys(generic(dv, off)), mapName }) + '\n';
    return { max: Infinity, write: (dv, off, b, p) => textAt(b, p, text(dv, off)), text };
  }
  const write = generate(ops);
  return { max, write, text: textOf(write, max) };
}
