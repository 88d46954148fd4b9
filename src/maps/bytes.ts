// Element bytes without a codec: JS numbers into 1, 2, 4 or 8 little-endian key/value bytes (the
// fast path of BpfMap's element calls and of `map update`), a value through its BTF codec, and
// copies out of the reused scratch buffers.
import { type Codec, CodecError } from './codec.js';

/** writeNumber takes `v` for `size` bytes: an integer, and within 2^53 for 8 bytes. */
export const fitsNumberFast = (v: number, size: number): boolean =>
  Number.isInteger(v) && (size === 1 || size === 2 || size === 4 || (size === 8 && v >= -Number.MAX_SAFE_INTEGER && v <= Number.MAX_SAFE_INTEGER));

/** A fresh plain Uint8Array with `len` bytes of `src` from `off` (a Buffer's slice would be a view). */
export function copyBytes(src: Uint8Array, off: number, len: number): Uint8Array {
  const r = new Uint8Array(len);
  if (len <= 32) for (let i = 0; i < len; i++) r[i] = src[off + i]!;
  else r.set(new Uint8Array(src.buffer, src.byteOffset + off, len));
  return r;
}

/**
 * An integer into 1, 2, 4 or 8 little-endian bytes without BigInt or a DataView: the truncation
 * BigInt.asUintN gives (negative numbers as two's complement). The caller checks fitsNumberFast.
 */
export function writeNumber(v: number, out: Uint8Array, size: number): void {
  if (size === 8) {
    // Two's complement of a safe integer: the low word by modulo, the high word by floor division.
    const lo = v >= 0 ? v % 0x100000000 : ((v % 0x100000000) + 0x100000000) % 0x100000000;
    const hi = Math.floor(v / 0x100000000);
    out[0] = lo & 0xff;
    out[1] = (lo >>> 8) & 0xff;
    out[2] = (lo >>> 16) & 0xff;
    out[3] = lo >>> 24;
    out[4] = hi & 0xff;
    out[5] = (hi >>> 8) & 0xff;
    out[6] = (hi >>> 16) & 0xff;
    out[7] = (hi >>> 24) & 0xff;
    return;
  }
  // |0 of a safe integer is its low 32 bits (ToInt32 reduces modulo 2^32).
  const x = v | 0;
  out[0] = x & 0xff;
  if (size > 1) out[1] = (x >>> 8) & 0xff;
  if (size > 2) {
    out[2] = (x >>> 16) & 0xff;
    out[3] = x >>> 24;
  }
}

/** Bytes, a number/bigint for integer-sized keys, or a value through the codec. */
export function encodeInto(v: unknown, out: Uint8Array, size: number, codec: Codec | null, what: string): void {
  if (v instanceof Uint8Array) {
    if (v.length !== size) throw new CodecError(`${what}: expected ${size} bytes, got ${v.length}`);
    out.set(v);
    return;
  }
  if (!codec && typeof v === 'number' && fitsNumberFast(v, size)) {
    writeNumber(v, out, size);
    return;
  }
  const dv = new DataView(out.buffer, out.byteOffset, size);
  if (codec) {
    codec.encode(v, dv, 0);
    return;
  }
  if ((typeof v === 'number' && Number.isInteger(v)) || typeof v === 'bigint') {
    const x = BigInt(v);
    if (size === 1) dv.setUint8(0, Number(BigInt.asUintN(8, x)));
    else if (size === 2) dv.setUint16(0, Number(BigInt.asUintN(16, x)), true);
    else if (size === 4) dv.setUint32(0, Number(BigInt.asUintN(32, x)), true);
    else if (size === 8) dv.setBigUint64(0, BigInt.asUintN(64, x), true);
    else throw new CodecError(`${what}: a number cannot fill ${size} bytes; pass a Uint8Array`);
    return;
  }
  throw new CodecError(`${what}: the map has no BTF type for it; pass a Uint8Array of ${size} bytes`);
}
