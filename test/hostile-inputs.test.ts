// Hostile inputs that are legal enough to reach the encoders: integers out of their field's range,
// short byte strings for a map value. Each is refused with an error naming the field, never wrapped
// or zero-padded (libbpf's kconfig range rule; bpftool's parse_bytes count).
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { encodeBtf } from '../src/btf/encode.js';
import { BtfKind, type BtfType, INT_SIGNED } from '../src/btf/types.js';
import { parseBytesOrJson } from '../src/cli/inspect.js';
import { CodecError, compileCodec } from '../src/maps/codec.js';
import { BpfObject } from '../src/loader/object.js';
import { fixture, runCli } from './helpers.js';

const int = (id: number, name: string, size: number, signed: boolean): BtfType => ({ kind: BtfKind.Int, id, name, size, encoding: signed ? INT_SIGNED : 0, bitOffset: 0, bits: size * 8 });

const TYPES: BtfType[] = [
  { kind: BtfKind.Void, id: 0, name: '' },
  int(1, '__u16', 2, false),
  int(2, '__u32', 4, false),
  int(3, '__s8', 1, true),
  {
    kind: BtfKind.Struct,
    id: 4,
    name: 'conn',
    size: 16,
    kflag: true,
    members: [
      { name: 'dport', type: 1, bitOffset: 0, bitfieldSize: 0 },
      { name: 'pid', type: 2, bitOffset: 32, bitfieldSize: 0 },
      { name: 's', type: 3, bitOffset: 64, bitfieldSize: 0 },
      { name: 'flags', type: 2, bitOffset: 72, bitfieldSize: 3 },
      { name: 'inner', type: 6, bitOffset: 96, bitfieldSize: 0 },
    ],
  },
  int(5, '__u64', 8, false),
  { kind: BtfKind.Struct, id: 6, name: 'inner', size: 4, kflag: false, members: [{ name: 'port', type: 1, bitOffset: 0, bitfieldSize: 0 }] },
  int(7, '__s64', 8, true),
];

const btf = parseBtf(encodeBtf(TYPES));
const encode = (id: number, v: unknown) => {
  const c = compileCodec(btf, id);
  const b = new Uint8Array(c.size);
  c.encode(v, new DataView(b.buffer), 0);
  return b;
};

describe('integer codecs are range-checked', () => {
  it('a u16 member out of range is an error naming the member', () => {
    expect(() => encode(4, { dport: 70000 })).toThrow(CodecError);
    expect(() => encode(4, { dport: 70000 })).toThrow(/^dport: 70000 is out of range for __u16 \(unsigned 16-bit: 0\.\.65535\)/);
    expect(() => encode(4, { inner: { port: 65536 } })).toThrow(/^inner\.port: 65536 is out of range/);
    expect(new DataView(encode(4, { dport: 65535 }).buffer).getUint16(0, true)).toBe(65535);
  });

  it('u32: 2^32 and negatives are refused, 2^32-1 and 0x-strings are taken', () => {
    expect(() => encode(2, 4294967296n)).toThrow(/4294967296 is out of range for __u32/);
    expect(() => encode(2, '4294967296')).toThrow(CodecError);
    expect(() => encode(2, -1)).toThrow(/-1 is out of range for __u32/);
    expect(new DataView(encode(2, 4294967295).buffer).getUint32(0, true)).toBe(4294967295);
    expect(new DataView(encode(2, '0xffffffff').buffer).getUint32(0, true)).toBe(4294967295);
  });

  it('signed bounds: s8 takes -128..127; s64 and u64 at their edges', () => {
    expect(() => encode(3, 128)).toThrow(/128 is out of range for __s8 \(signed 8-bit: -128\.\.127\)/);
    expect(() => encode(3, -129)).toThrow(CodecError);
    expect(encode(3, -128)[0]).toBe(0x80);
    expect(() => encode(5, 1n << 64n)).toThrow(CodecError);
    expect(() => encode(5, -1n)).toThrow(CodecError);
    expect(() => encode(7, 1n << 63n)).toThrow(CodecError);
    expect(new DataView(encode(7, -(1n << 63n)).buffer).getBigInt64(0, true)).toBe(-(1n << 63n));
  });

  it('a 3-bit bitfield takes 0..7', () => {
    expect(() => encode(4, { flags: 8 })).toThrow(/^flags: 8 is out of range for a 3-bit field/);
    expect(encode(4, { flags: 7 })[9]).toBe(7);
  });

  it('map update words: JSON range errors name the field; short byte strings are refused like bpftool', () => {
    const conn = compileCodec(btf, 4);
    expect(() => parseBytesOrJson(['{"dport":70000}'], 16, conn, 'value')).toThrow(/^value: dport: 70000 is out of range for __u16/);
    // No BTF: `value 1` for an 8-byte value is one byte, as bpftool counts it.
    expect(() => parseBytesOrJson(['1'], 8, undefined, 'value')).toThrow(/^value expected 8 bytes got 1$/);
    expect(() => parseBytesOrJson(['1', '2'], 8, undefined, 'value')).toThrow(/^value expected 8 bytes got 2$/);
    expect(Array.from(parseBytesOrJson(['1', '0', '0', '0', '0', '0', '0', '0'], 8, undefined, 'value'))).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    // With BTF, one number is a typed value (range-checked).
    const u64 = compileCodec(btf, 5);
    expect(Array.from(parseBytesOrJson(['1'], 8, u64, 'value'))).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(() => parseBytesOrJson(['-1'], 8, u64, 'value')).toThrow(/out of range for __u64/);
  });
});

describe('--set and globals', () => {
  it('setConstant of 2^32 or -1 into a u32 const volatile is a CodecError naming the global', () => {
    const obj = BpfObject.open(fixture('globals.bpfel.o'));
    expect(() => obj.setConstant('filter_pid', 4294967296n)).toThrow(/global 'filter_pid': 4294967296 is out of range for unsigned int/);
    expect(() => obj.setConstant('filter_pid', -1n)).toThrow(CodecError);
    obj.setConstant('filter_pid', 4294967295n);
    expect(obj.globals.get('filter_pid')).toBe(4294967295);
  });

  it('bee-ts run --set filter_pid=4294967296: refused before anything is loaded, non-zero exit', () => {
    const r = runCli(['run', fixture('globals.bpfel.o'), '--no-tty', '--no-metrics', '--duration', '1s', '--set', 'filter_pid=4294967296']);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/--set filter_pid=4294967296: .*global 'filter_pid': 4294967296 is out of range for unsigned int \(unsigned 32-bit: 0\.\.4294967295\)/);
  });
});
