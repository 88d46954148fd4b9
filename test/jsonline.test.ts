// The compiled JSON line writer of `bee-ts run` (compileJsonLine) against the generic path it
// replaces — JSON.stringify({ entry: sortKeys(formatter(record)), mapName }) — byte for byte, on
// many BTF shapes and on random and hand-picked record bytes; written as bytes into a buffer with
// no more room than the writer's bound, after other lines.
import { describe, expect, it } from 'vitest';
import { compileFormatter, sortKeys } from '../src/bee/format.js';
import { compileJsonLine, type JsonLineWriter } from '../src/bee/jsonline.js';
import { parseBtf } from '../src/btf/btf.js';
import { encodeBtf } from '../src/btf/encode.js';
import { BtfKind, type BtfType, INT_BOOL, INT_CHAR, INT_SIGNED, type Member } from '../src/btf/types.js';

const types: BtfType[] = [{ kind: BtfKind.Void, id: 0, name: '' }];
const add = (t: Omit<BtfType, 'id'> & Record<string, unknown>): number => {
  const id = types.length;
  types.push({ ...t, id } as BtfType);
  return id;
};
const int = (name: string, size: number, encoding = 0) => add({ kind: BtfKind.Int, name, size, encoding, bitOffset: 0, bits: size * 8 });
const mem = (name: string, type: number, byte: number, bitfieldSize = 0, bit = 0): Member => ({ name, type, bitOffset: byte * 8 + bit, bitfieldSize });
const struct = (name: string, size: number, members: Member[], union = false) => add({ kind: union ? BtfKind.Union : BtfKind.Struct, name, size, kflag: members.some((m) => m.bitfieldSize > 0), members });
const array = (type: number, nelems: number) => add({ kind: BtfKind.Array, name: '', type, indexType: u32, nelems });
const typedef = (name: string, type: number) => add({ kind: BtfKind.Typedef, name, type });

const u8 = int('unsigned char', 1);
const s8 = int('signed char', 1, INT_SIGNED);
const ch = int('char', 1, INT_SIGNED);
const u16 = int('unsigned short', 2);
const s16 = int('short', 2, INT_SIGNED);
const u32 = int('unsigned int', 4);
const s32 = int('int', 4, INT_SIGNED);
const u64 = int('unsigned long long', 8);
const s64 = int('long long', 8, INT_SIGNED);
const u128 = int('unsigned __int128', 16);
const bool = int('_Bool', 1, INT_BOOL);
const uchar = int('char8', 1, INT_CHAR);
const f32 = add({ kind: BtfKind.Float, name: 'float', size: 4 });
const f64 = add({ kind: BtfKind.Float, name: 'double', size: 8 });
const ptr = add({ kind: BtfKind.Ptr, name: '', type: u8 });
const cst = add({ kind: BtfKind.Const, name: '', type: u32 });
const vol = add({ kind: BtfKind.Volatile, name: '', type: s64 });
const e8 = add({ kind: BtfKind.Enum, name: 'e8', size: 1, signed: false, values: [{ name: 'A', value: 0n }, { name: 'B', value: 1n }, { name: 'B2', value: 1n }, { name: 'Z"q', value: 255n }] });
const e16s = add({ kind: BtfKind.Enum, name: 'e16', size: 2, signed: true, values: [{ name: 'NEG', value: -1n }, { name: 'POS', value: 7n }] });
const e32 = add({ kind: BtfKind.Enum, name: 'e32', size: 4, signed: false, values: [{ name: 'BIG', value: 0xffffffffn }, { name: 'ONE', value: 1n }] });
const e32s = add({ kind: BtfKind.Enum, name: 'e32s', size: 4, signed: true, values: [{ name: 'MIN', value: -0x80000000n }, { name: 'ZERO', value: 0n }] });
const e64 = add({ kind: BtfKind.Enum64, name: 'e64', size: 8, signed: false, values: [{ name: 'HUGE', value: 0xffffffffffffffffn }, { name: 'TWO', value: 2n }] });
const comm = array(ch, 16);
const name3 = array(ch, 3);
const ubytes = array(u8, 6);
const achar8 = array(uchar, 8);
const empty = array(u32, 0);
const ip4 = typedef('ipv4_addr', u32);
const ip6 = typedef('ipv6_addr', array(u8, 16));
const dur = typedef('duration', u64);
const errnoT = typedef('errno_t', s32);
const port = typedef('port', u16);
const mac = typedef('mac_addr_t', array(u8, 6));
const myint = typedef('pid_t', s32);
const inner = struct('inner', 8, [mem('zeta', u32, 0), mem('alpha', s16, 4), mem('b', bool, 6), mem('c', ch, 7)]);
const anonU = struct('', 4, [mem('as_u32', u32, 0), mem('as_e', e32, 0)], true);
const bits = struct('bits', 8, [mem('lo', u32, 0, 3), mem('mid', s32, 0, 5, 3), mem('flag', bool, 1, 1), mem('', u32, 1, 2, 1), mem('hi', u64, 2, 40, 0)]);
const innerArr = array(inner, 3);
const nested = array(array(s16, 2), 3);
const emptyStruct = struct('none', 0, []);
const dup = struct('dup', 8, [mem('x', u32, 0), mem('a', u16, 4), mem('x', u16, 6)]);
const weird = struct('weird', 6, [mem('a b', u16, 0), mem('"q"', u16, 2), mem('Z', u8, 4), mem('_', u8, 5)]);
const everything = struct('everything', 320, [
  mem('pid', myint, 0),
  mem('comm', comm, 4),
  mem('u8', u8, 20),
  mem('s8', s8, 21),
  mem('ch', ch, 22),
  mem('ok', bool, 23),
  mem('u16', u16, 24),
  mem('s16', s16, 26),
  mem('u32', u32, 28),
  mem('s32', s32, 32),
  mem('cst', cst, 36),
  mem('u64', u64, 40),
  mem('s64', s64, 48),
  mem('vol', vol, 56),
  mem('u128', u128, 64),
  mem('f32', f32, 80),
  mem('f64', f64, 88),
  mem('ptr', ptr, 96),
  mem('e8', e8, 104),
  mem('e16', e16s, 106),
  mem('e32', e32, 108),
  mem('e32s', e32s, 112),
  mem('e64', e64, 120),
  mem('name3', name3, 128),
  mem('bytes', ubytes, 131),
  mem('c8', achar8, 137),
  mem('none', empty, 145),
  mem('saddr', ip4, 148),
  mem('daddr6', ip6, 152),
  mem('took', dur, 168),
  mem('err', errnoT, 176),
  mem('dport', port, 180),
  mem('mac', mac, 182),
  mem('inner', inner, 188),
  mem('', anonU, 196),
  mem('bits', bits, 200),
  mem('arr', innerArr, 208),
  mem('grid', nested, 232),
  mem('nothing', emptyStruct, 244),
  mem('dup', dup, 244),
  mem('weird', weird, 252),
  mem('big', array(u64, 4), 264),
  mem('sbig', array(s64, 3), 296),
]);
/** Arrays past what the writer unrolls: written by a loop. */
const longArr = array(u32, 600);
const manyInner = array(inner, 100);
/** A char array whose bound (6 bytes a char) is past what a reused buffer takes: the string path. */
const hugeChars = array(ch, 1 << 20);
const btf = parseBtf(encodeBtf(types));
const tops = [longArr, manyInner, everything, inner, anonU, bits, innerArr, nested, emptyStruct, dup, weird, comm, u64, s64, s8, ch, bool, e8, e64, ip4, dur, f64, u128, empty, myint];

function generic(typeId: number, map: string, bytes: Uint8Array): string {
  const f = compileFormatter(btf, typeId);
  return JSON.stringify({ entry: sortKeys(f(new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), 0)), mapName: map });
}

/** A deterministic generator (xorshift32), so a failure is reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

/** Strings the char arrays get: plain, needing escapes, UTF-8 (valid and not), a BOM, unterminated. */
const STRINGS: (number[] | string)[] = [
  'bash',
  'a"b\\c',
  'C:\\dir',
  'tab\tnl\ncr\r',
  '\x01\x1f\x7f',
  'héllo wörld',
  '日本語',
  [0xff, 0xfe, 0x41],
  [0xef, 0xbb, 0xbf, 0x41],
  [0xed, 0xa0, 0x80],
  'exactly16chars!!',
  '',
  '</script>',
];

/** Modes: random bytes, zeros, 0xff (bad UTF-8 everywhere), random ASCII, 0x01 (an escape per byte). */
const MODES = 5;
function fill(bytes: Uint8Array, next: () => number, mode: number): void {
  for (let i = 0; i < bytes.length; i++) bytes[i] = mode === 0 ? next() & 0xff : mode === 1 ? 0 : mode === 2 ? 0xff : mode === 3 ? next() & 0x7f : 1;
}

/**
 * The writer's bytes as text: written at a position after other bytes, into a buffer that ends
 * exactly at the writer's bound (a write past it would be cut off and fail the comparison).
 */
function written(w: JsonLineWriter, dv: DataView, off: number, at = 5): string {
  const b = Buffer.alloc(at + w.max, 0x2a);
  const end = w.write(dv, off, b, at);
  expect(end).toBeLessThanOrEqual(b.length);
  expect(b.subarray(0, at).every((x) => x === 0x2a)).toBe(true);
  const s = b.toString('utf8', at, end);
  expect(w.text(dv, off)).toBe(s);
  expect(s.endsWith('\n')).toBe(true);
  return s.slice(0, -1);
}

function putString(bytes: Uint8Array, off: number, n: number, s: number[] | string): void {
  const b = typeof s === 'string' ? new TextEncoder().encode(s) : Uint8Array.from(s);
  bytes.fill(0, off, off + n);
  bytes.set(b.subarray(0, n), off);
}

describe('compileJsonLine', () => {
  it('writes what the generic path writes, on every shape, for random and edge-case bytes', () => {
    const next = rng(13);
    let checked = 0;
    for (const id of tops) {
      const size = btf.sizeof(id);
      const line = compileJsonLine(btf, id, 'events');
      for (let round = 0; round < 400; round++) {
        const bytes = new Uint8Array(size);
        fill(bytes, next, round % MODES);
        if (id === everything && round % MODES !== 4) {
          const s = STRINGS[round % STRINGS.length]!;
          putString(bytes, 4, 16, s);
          putString(bytes, 128, 3, STRINGS[(round + 3) % STRINGS.length]!);
          putString(bytes, 137, 8, STRINGS[(round + 5) % STRINGS.length]!);
          // 64-bit values around 2^53, both signs, and the extremes.
          const dv = new DataView(bytes.buffer);
          const edge = [0n, 1n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 53n + 1n, 2n ** 63n, 2n ** 64n - 1n, 0x1fffffn << 32n, 0x200000n << 32n][round % 9]!;
          dv.setBigUint64(40, edge, true);
          dv.setBigUint64(48, round % 2 ? edge : (2n ** 64n - edge) % 2n ** 64n, true);
          if (round % 5 === 0) dv.setUint8(104, round % 3);
          if (round % 7 === 0) dv.setInt16(106, -1, true);
        }
        if (id === comm && round % MODES !== 4) putString(bytes, 0, 16, STRINGS[round % STRINGS.length]!);
        expect(written(line, new DataView(bytes.buffer), 0, round % 7)).toBe(generic(id, 'events', bytes));
        checked++;
      }
    }
    expect(checked).toBe(tops.length * 400);
  });

  it('a type too large to bound is written through its string, the same bytes', () => {
    const w = compileJsonLine(btf, hugeChars, 'big');
    expect(w.max).toBe(Infinity);
    const bytes = new Uint8Array(1 << 20).fill(0x61);
    bytes.set([0x22, 0x0a, 0xc3, 0xa9], 1000);
    const dv = new DataView(bytes.buffer);
    const b = Buffer.alloc((2 << 20) + 10);
    const end = w.write(dv, 0, b, 3);
    expect(b.toString('utf8', 3, end)).toBe(generic(hugeChars, 'big', bytes) + '\n');
    expect(w.text(dv, 0)).toBe(generic(hugeChars, 'big', bytes) + '\n');
  });

  it('reads at the record offset inside a larger buffer (a ring), and reuses nothing across buffers', () => {
    const line = compileJsonLine(btf, everything, 'x');
    const size = btf.sizeof(everything);
    const next = rng(7);
    for (let k = 0; k < 50; k++) {
      const ring = new Uint8Array(size * 4 + 8);
      fill(ring, next, 0);
      const at = 8 + (k % 3) * size;
      putString(ring, at + 4, 16, STRINGS[k % STRINGS.length]!);
      expect(written(line, new DataView(ring.buffer, 0), at)).toBe(generic(everything, 'x', ring.subarray(at, at + size)));
      // A DataView that does not start at its buffer's start.
      const view = new DataView(ring.buffer, 8);
      expect(written(line, view, at - 8)).toBe(generic(everything, 'x', ring.subarray(at, at + size)));
    }
  });

  it('the map name is JSON-escaped, and the line parses back to the generic value', () => {
    const bytes = new Uint8Array(btf.sizeof(inner));
    const s = written(compileJsonLine(btf, inner, 'we"ird\\map'), new DataView(bytes.buffer), 0);
    expect(s).toBe(generic(inner, 'we"ird\\map', bytes));
    expect(JSON.parse(s)).toEqual({ entry: { alpha: '0', b: 'false', c: '\u0000', zeta: '0' }, mapName: 'we"ird\\map' });
  });
});
