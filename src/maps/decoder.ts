// Generated decoders for the hot paths (ring and perf buffer records): one JS function per type,
// built once with new Function from the type's layout, reading fields straight from the DataView;
// what it cannot express inline (bitfields, unions, wide arrays) falls back to compileCodec's
// decoder, so the result equals compileCodec's. Short C strings are served from a small cache.
import type { Btf } from '../btf/btf.js';
import { BtfKind, INT_BOOL, INT_SIGNED } from '../btf/types.js';
import { type CodecOptions, compileCodec, type Decoder, flattenMembers, isCharType } from './codec.js';

const utf8 = new TextDecoder('utf-8');

const bufCache = new WeakMap<ArrayBufferLike, Buffer>();
function bufferOver(dv: DataView): Buffer {
  let b = bufCache.get(dv.buffer);
  if (!b) {
    b = Buffer.from(dv.buffer);
    bufCache.set(dv.buffer, b);
  }
  return b;
}

/**
 * Char arrays in records repeat (comm names, paths): a direct-mapped cache of decoded strings keyed
 * by the bytes before the NUL, verified word for word, avoids building the same string again.
 * The walk reads 4 bytes at a time and finds the NUL inside a word with the has-zero-byte trick
 * (measured: 4–7× a byte loop for a 16-byte comm). Bytes after the NUL are not part of the key:
 * ring-buffer records often carry stale bytes there.
 */
const STR_SLOTS = 1024;
const STR_KEY_WORDS = 16; // strings up to 64 bytes are cached
const strKeys = new Int32Array(STR_SLOTS * STR_KEY_WORDS);
const strKeyLens = new Int32Array(STR_SLOTS).fill(-1);
const strValues: string[] = new Array<string>(STR_SLOTS).fill('');
const strWords = new Int32Array(STR_KEY_WORDS);

/** A NUL-terminated string of at most n bytes at dv[o]; ASCII as is, else UTF-8 (U+FFFD for bad bytes). */
function cstrField(dv: DataView, o: number, n: number): string {
  let h = 0x811c9dc5 | 0;
  let len = n;
  let high = 0; // OR of all words: bit 7 of some byte set → not ASCII
  let i = 0;
  for (; 4 * i < n; i++) {
    let w: number;
    if (4 * i + 4 <= n) w = dv.getInt32(o + 4 * i, true);
    else {
      // A tail of 1–3 bytes: the missing bytes read as NUL, which ends the string at n.
      w = 0;
      for (let k = 4 * i; k < n; k++) w |= dv.getUint8(o + k) << (8 * (k - 4 * i));
    }
    const zero = (w - 0x01010101) & ~w & 0x80808080;
    if (zero !== 0) {
      // The lowest flagged byte is the first NUL (flags above it may be false positives).
      const keep = (31 - Math.clz32(zero & -zero)) >> 3;
      w = keep === 0 ? 0 : w & ((1 << (8 * keep)) - 1);
      len = 4 * i + keep;
      if (i < STR_KEY_WORDS) strWords[i] = w;
      high |= w;
      h = Math.imul(h ^ w, 0x01000193);
      i++;
      break;
    }
    if (i < STR_KEY_WORDS) strWords[i] = w;
    high |= w;
    h = Math.imul(h ^ w, 0x01000193);
  }
  const words = i;
  if (len === 0) return '';
  const cacheable = words <= STR_KEY_WORDS;
  let slot = 0;
  if (cacheable) {
    h ^= h >>> 15;
    slot = h & (STR_SLOTS - 1);
    if (strKeyLens[slot] === len) {
      const base = slot * STR_KEY_WORDS;
      let k = 0;
      while (k < words && strKeys[base + k] === strWords[k]) k++;
      if (k === words) return strValues[slot]!;
    }
  }
  const b = bufferOver(dv);
  const at = dv.byteOffset + o;
  const s = (high & 0x80808080) === 0 ? b.toString('latin1', at, at + len) : utf8.decode(new Uint8Array(dv.buffer, at, len));
  if (cacheable) {
    strKeys.set(strWords.subarray(0, words), slot * STR_KEY_WORDS);
    strKeyLens[slot] = len;
    strValues[slot] = s;
  }
  return s;
}

/**
 * A decoder generated as straight-line JS for a struct type: one object literal per record, no
 * per-field closures. Falls back to the closure codec for parts it does not specialize
 * (bitfields, unions, wide arrays), so the result equals compileCodec's.
 */
export function compileDecoder(btf: Btf, typeId: number, opts: CodecOptions = {}): Decoder {
  const le = opts.littleEndian ?? true;
  const fallbacks: Decoder[] = [];
  const tables: Record<string, unknown>[] = [];
  const fallback = (id: number, off: string) => {
    fallbacks.push(compileCodec(btf, id, opts).decode);
    return `f[${fallbacks.length - 1}](dv, ${off})`;
  };
  const expr = (id: number, off: string, depth: number): string => {
    if (depth > 16) return fallback(id, off);
    const t = btf.resolve(id);
    switch (t.kind) {
      case BtfKind.Int: {
        if (t.encoding & INT_BOOL) return `(dv.getUint8(${off}) !== 0)`;
        const s = (t.encoding & INT_SIGNED) !== 0;
        switch (t.size) {
          case 1:
            return s ? `dv.getInt8(${off})` : `dv.getUint8(${off})`;
          case 2:
            return `dv.${s ? 'getInt16' : 'getUint16'}(${off}, ${le})`;
          case 4:
            return `dv.${s ? 'getInt32' : 'getUint32'}(${off}, ${le})`;
          case 8:
            if (opts.safeNumbers) return fallback(id, off);
            return `dv.${s ? 'getBigInt64' : 'getBigUint64'}(${off}, ${le})`;
          default:
            return fallback(id, off);
        }
      }
      case BtfKind.Enum:
      case BtfKind.Enum64: {
        if (t.size !== 4) return fallback(id, off);
        tables.push(Object.fromEntries(t.values.map((v) => [String(v.value), v.name])));
        const raw = `dv.${t.signed ? 'getInt32' : 'getUint32'}(${off}, ${le})`;
        return `((x) => t[${tables.length - 1}][x] ?? x)(${raw})`;
      }
      case BtfKind.Float:
        return t.size === 4 ? `dv.getFloat32(${off}, ${le})` : t.size === 8 ? `dv.getFloat64(${off}, ${le})` : fallback(id, off);
      case BtfKind.Ptr:
        return `dv.getBigUint64(${off}, ${le})`;
      case BtfKind.Array: {
        if (isCharType(btf, t.type)) return `cs(dv, ${off}, ${t.nelems})`;
        if (t.nelems > 16) return fallback(id, off);
        const es = btf.sizeof(t.type);
        return `[${Array.from({ length: t.nelems }, (_, i) => expr(t.type, `${off} + ${i * es}`, depth + 1)).join(', ')}]`;
      }
      case BtfKind.Struct: {
        if (t.members.some((m) => m.bitfieldSize)) return fallback(id, off);
        const fields = flattenMembers(btf, t.members, 0);
        if (fields.some((f) => f.bitfieldSize)) return fallback(id, off);
        return `{ ${fields.map((f) => `${JSON.stringify(f.name)}: ${expr(f.type, `${off} + ${f.bitOffset / 8}`, depth + 1)}`).join(', ')} }`;
      }
      default:
        return fallback(id, off);
    }
  };
  const body = `return function decode(dv, o) { return ${expr(typeId, 'o', 0)}; };`;
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  const make = new Function('f', 't', 'cs', body) as (f: Decoder[], t: unknown[], cs: typeof cstrField) => Decoder;
  return make(fallbacks, tables, cstrField);
}
