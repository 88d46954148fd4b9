// Hostile inputs that are legal enough to reach the encoders: integers out of their field's range,
// short byte strings for a map value. Each is refused with an error naming the field, never wrapped
// or zero-padded (libbpf's kconfig range rule; bpftool's parse_bytes count).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { encodeBtf } from '../src/btf/encode.js';
import { BtfKind, type BtfType, INT_SIGNED } from '../src/btf/types.js';
import { compileFormatter, flattenLabels, FormatError, MAX_FORMAT_VALUES } from '../src/bee/format.js';
import { planWatches } from '../src/bee/watch.js';
import { parseBytesOrJson } from '../src/cli/map.js';
import type { ObjectSpec } from '../src/loader/spec.js';
import { MapType } from '../src/syscall/constants.js';
import { CodecError, compileCodec } from '../src/maps/codec.js';
import { BpfObject } from '../src/loader/object.js';
import { readInputFile, writeFileAtomic } from '../src/syscall/files.js';
import { cli, fixture, runCli } from './helpers.js';

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

describe('input files are regular files, read with a bound', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bee-hostile-${process.pid}-`));
  const fifo = path.join(tmp, 'fifo.o');
  spawnSync('mkfifo', [fifo]);
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('readInputFile refuses /dev/zero, a FIFO (without blocking) and a directory, and bounds a big file', () => {
    expect(() => readInputFile('/dev/zero', 'object file')).toThrow(/\/dev\/zero: the object file must be a regular file, and this is a character device/);
    expect(() => readInputFile(fifo, 'object file')).toThrow(/must be a regular file, and this is a FIFO/);
    expect(() => readInputFile(tmp)).toThrow(/a directory/);
    const big = path.join(tmp, 'big');
    fs.writeFileSync(big, Buffer.alloc(10_000));
    expect(() => readInputFile(big, 'object file', 4096)).toThrow(/10000 bytes, more than the 4096-byte limit/);
    expect(readInputFile(big, 'object file', 10_000).length).toBe(10_000);
    // sysfs reports st_size 4096 (or the BTF's size): the read goes to EOF, not by st_size.
    if (fs.existsSync('/sys/kernel/btf/vmlinux')) expect(readInputFile('/sys/kernel/btf/vmlinux').equals(fs.readFileSync('/sys/kernel/btf/vmlinux'))).toBe(true);
  });

  it('writeFileAtomic replaces a planted symlink, not its target, with the mode asked, and leaves no temporary file', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'atomic-'));
    const victim = path.join(dir, 'victim');
    fs.writeFileSync(victim, 'keep');
    const out = path.join(dir, 'out');
    fs.symlinkSync(victim, out);
    writeFileAtomic(out, 'new', 0o600);
    writeFileAtomic(out, 'newer', 0o600); // the second write loads nothing new and picks another temporary name
    expect(fs.lstatSync(out).isSymbolicLink()).toBe(false);
    expect(fs.readFileSync(out, 'utf8')).toBe('newer');
    expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(victim, 'utf8')).toBe('keep');
    expect(fs.readdirSync(dir).sort()).toEqual(['out', 'victim']);
  });

  it('the CLI: describe, run and --btf with /dev/zero or a FIFO fail at once with a clear error', () => {
    // Each run ends by itself (a read of /dev/zero or a FIFO would not: the timeout then
    // kills it after 40 s and r.signal says so); no bound on the total, which a loaded host stretches.
    for (const args of [
      ['describe', '/dev/zero'],
      ['describe', fifo],
      ['gen', 'ts', fifo],
      ['run', '/dev/zero', '--no-tty', '--no-metrics'],
      ['run', fifo, '--no-tty', '--no-metrics'],
      ['run', fixture('core.bpfel.o'), '--btf', '/dev/zero', '--no-tty', '--no-metrics', '--duration', '1s'],
      ['run', fixture('core.bpfel.o'), '--btf', fifo, '--no-tty', '--no-metrics', '--duration', '1s'],
    ]) {
      const r = spawnSync(process.execPath, [cli, ...args], { encoding: 'utf8', timeout: 40_000 });
      expect(r.signal, `${args.join(' ')} hung`).toBeNull();
      expect(r.status, args.join(' ')).not.toBe(0);
      expect(r.stderr, args.join(' ')).toMatch(/must be a regular file, and this is a (character device|FIFO)/);
    }
  });
});

describe('the run formatter is memoized and bounded', () => {
  /** s_k = struct { s_{k-1} a; s_{k-1} b; } over a u16: 2^(k+1) bytes, 2^k values, k+2 types. */
  function pairs(depth: number) {
    const types: BtfType[] = [{ kind: BtfKind.Void, id: 0, name: '' }, int(1, 'u16', 2, false)];
    for (let k = 1; k <= depth; k++) {
      const prev = types.length - 1;
      const size = 2 << k;
      types.push({
        kind: BtfKind.Struct,
        id: types.length,
        name: `s${k}`,
        size,
        kflag: false,
        members: [
          { name: 'a', type: prev, bitOffset: 0, bitfieldSize: 0 },
          { name: 'b', type: prev, bitOffset: (size / 2) * 8, bitfieldSize: 0 },
        ],
      });
    }
    types.push({ kind: BtfKind.Ptr, id: types.length, name: '', type: 0 }); // unused: keeps ids honest
    return { btf: parseBtf(encodeBtf(types)), top: depth + 1 };
  }

  it('each BTF type is compiled once: a 128 KiB struct of nested pairs looks up O(types), not O(2^depth)', () => {
    const { btf, top } = pairs(16);
    let lookups = 0;
    const typeById = btf.typeById.bind(btf);
    btf.typeById = ((id: number) => {
      lookups++;
      return typeById(id);
    }) as typeof btf.typeById;
    const f = compileFormatter(btf, top);
    expect(lookups).toBeLessThan(500); // without memoization: 2^17 compiles
    const v = f(new DataView(new ArrayBuffer(2 << 16)), 0) as Record<string, unknown>;
    expect(Object.keys(flattenLabels(v as never))).toHaveLength(MAX_FORMAT_VALUES);
  });

  it('a legal 2 MiB struct (a million values per record) is refused by planWatches with an error naming the map', () => {
    const { btf, top } = pairs(20);
    expect(btf.sizeof(top)).toBe(2 << 20);
    expect(() => compileFormatter(btf, top)).toThrow(FormatError);
    const spec = { btf, maps: [{ name: 'print_big', section: '.maps', source: 'btf', type: MapType.RINGBUF, valueTypeId: top, keySize: 0, valueSize: 0 }] } as unknown as ObjectSpec;
    expect(() => planWatches(spec)).toThrow(/map 'print_big': record: struct 's17' \(262144 bytes\) formats to 131072 values, more than the 65536 bee-ts prints/);
  });
});
