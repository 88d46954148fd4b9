import '../../src/syscall/native.js';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBtf } from '../../src/btf/btf.js';
import { encodeBtf } from '../../src/btf/encode.js';
import { BtfKind, type BtfType } from '../../src/btf/types.js';
import { loadObjectBtf } from '../../src/loader/btf-load.js';
import { parseObject, type MapSpec } from '../../src/loader/spec.js';
import { createMap, createOrReusePinned, MapIncompatibleError, roundRingbufSize } from '../../src/maps/create.js';
import { BpfMap } from '../../src/maps/map.js';
import { objGet, progLoadRaw } from '../../src/syscall/bpf.js';
import { BPF_EXIST, BPF_NOEXIST, MapType, ProgType } from '../../src/syscall/constants.js';
import { BpfError } from '../../src/syscall/errno.js';
import { Fd } from '../../src/syscall/fd.js';
import { needKernel, openFdCount, readFixture } from '../helpers.js';

const skip = needKernel();
const spec = parseObject(readFixture('maps.bpfel.o'), { file: 'maps.bpfel.o' });
const mapSpec = (name: string) => spec.maps.find((m) => m.name === name)!;
let btfFd: Fd;
const pinDir = `/sys/fs/bpf/bee-ts-test-${process.pid}`;

describe.skipIf(skip)('maps on the real kernel', () => {
  beforeAll(() => {
    btfFd = loadObjectBtf(spec.btf!);
    fs.mkdirSync(pinDir, { recursive: true });
  });
  afterAll(() => {
    btfFd?.close();
    fs.rmSync(pinDir, { recursive: true, force: true });
  });

  it('hash with BTF struct keys: update, lookup, flags, iterate, delete, batch dump', () => {
    using m = createMap(mapSpec('counts'), { btf: spec.btf, btfFd });
    expect(m.lookup({ pid: 1, comm: 'a' })).toBeUndefined();
    m.update({ pid: 1, comm: 'init' }, 10n);
    m.update({ pid: 2, comm: 'kthreadd' }, 20n, BPF_NOEXIST);
    expect(() => m.update({ pid: 2, comm: 'kthreadd' }, 1n, BPF_NOEXIST)).toThrow(/EEXIST/);
    expect(() => m.update({ pid: 3, comm: 'x' }, 1n, BPF_EXIST)).toThrow(/ENOENT/);
    expect(m.lookup({ pid: 1, comm: 'init' })).toBe(10n);
    const entries = new Map([...m.entries()].map(([k, v]) => [(k as { pid: number }).pid, v]));
    expect(entries).toEqual(new Map([[1, 10n], [2, 20n]]));
    expect(m.dump().length).toBe(2);
    expect(m.delete({ pid: 1, comm: 'init' })).toBe(true);
    expect(m.delete({ pid: 1, comm: 'init' })).toBe(false);
    expect([...m.keys()]).toEqual([{ pid: 2, comm: 'kthreadd' }]);
  });

  it('array: all keys exist, values update in place, batch update and lookup', () => {
    using m = createMap(mapSpec('pinned_array'), { btf: spec.btf, btfFd });
    expect([...m.keys()].length).toBe(4);
    expect(m.lookup(0)).toEqual({ ts: 0n, pid: 0, kind: 0, comm: '' });
    m.update(2, { ts: 123n, pid: 9, kind: 3, comm: 'bee' });
    expect(m.lookup(2)).toEqual({ ts: 123n, pid: 9, kind: 3, comm: 'bee' });
    m.updateBatch([
      [0, { ts: 1n, pid: 1, kind: 1, comm: 'one' }],
      [1, { ts: 2n, pid: 2, kind: 2, comm: 'two' }],
    ]);
    expect(m.dump().map(([k, v]) => [k, (v as { comm: string }).comm])).toEqual([
      [0, 'one'],
      [1, 'two'],
      [2, 'bee'],
      [3, ''],
    ]);
    expect(() => m.delete(0)).toThrow(BpfError);
  });

  it('per-CPU hash: one value per possible CPU', () => {
    using m = createMap(mapSpec('sized_percpu'));
    expect(m.percpu).toBe(true);
    m.update(7, 5n);
    const v = m.lookup(7) as Uint8Array[];
    expect(v.length).toBe(m.ncpu);
    for (const x of v) expect(Buffer.from(x).readBigUInt64LE()).toBe(5n);
    const per = Array.from({ length: m.ncpu }, (_, i) => BigInt(i + 1));
    m.update(8, per.map((x) => { const b = Buffer.alloc(8); b.writeBigUInt64LE(x); return new Uint8Array(b); }));
    expect((m.lookup(8) as Uint8Array[]).map((b) => Buffer.from(b).readBigUInt64LE())).toEqual(per);
  });

  it('LRU hash evicts instead of failing when full', () => {
    using m = createMap(mapSpec('lru'), { btf: spec.btf, btfFd });
    for (let i = 0; i < 500; i++) m.update(i, i);
    const n = [...m.keys()].length;
    expect(n).toBeGreaterThan(0);
    expect(n).toBeLessThanOrEqual(500);
    expect(m.lookup(499)).toBe(499);
  });

  it('ring buffer: created with key/value size 0 and the size rounded to pages', () => {
    const s: MapSpec = { ...mapSpec('events'), maxEntries: 10000 };
    const warnings: string[] = [];
    using m = createMap(s, { btf: spec.btf, btfFd, onWarning: (w) => warnings.push(w) });
    expect(m.type).toBe(MapType.RINGBUF);
    expect(m.maxEntries).toBe(roundRingbufSize(10000));
    expect(m.maxEntries % 4096).toBe(0);
    expect(warnings[0]).toMatch(/rounded up/);
    const info = BpfMap.fromId(m.id);
    expect(info.keySize).toBe(0);
    expect(info.valueSize).toBe(0);
    info.close();
  });

  it('prog array: holds program fds', () => {
    using m = createMap(mapSpec('jumps'));
    const exit0 = Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    const r = progLoadRaw({ type: ProgType.RAW_TRACEPOINT, insns: exit0, license: 'GPL' });
    expect(r.fd).toBeGreaterThan(0);
    using prog = new Fd(r.fd, 'prog');
    m.update(0, prog.value);
    expect(Buffer.from(m.lookupRaw(Buffer.from([0, 0, 0, 0]))!).readUInt32LE()).toBeGreaterThan(0); // the prog id
    expect(m.delete(0)).toBe(true);
  });

  it('freeze makes a map read-only from user space', () => {
    using m = createMap(mapSpec('pinned_array'), { btf: spec.btf, btfFd });
    m.update(0, { ts: 1n, pid: 1, kind: 1, comm: 'x' });
    m.freeze();
    expect(() => m.update(0, { ts: 2n, pid: 2, kind: 2, comm: 'y' })).toThrow(/EPERM/);
    expect((m.lookup(0) as { pid: number }).pid).toBe(1);
  });

  it('pins, reopens, reuses compatible pins and refuses incompatible ones', () => {
    const p = path.join(pinDir, 'counts');
    const first = createOrReusePinned(mapSpec('counts'), p, { btf: spec.btf, btfFd }, (x) => objGet(x));
    expect(first.reused).toBe(false);
    first.map.update({ pid: 5, comm: 'pinned' }, 55n);
    const again = createOrReusePinned(mapSpec('counts'), p, { btf: spec.btf, btfFd }, (x) => objGet(x));
    expect(again.reused).toBe(true);
    expect(again.map.lookup({ pid: 5, comm: 'pinned' })).toBe(55n);
    const other: MapSpec = { ...mapSpec('counts'), maxEntries: 99 };
    expect(() => createOrReusePinned(other, p, { btf: spec.btf, btfFd }, (x) => objGet(x))).toThrow(MapIncompatibleError);
    expect(() => createOrReusePinned(other, p, { btf: spec.btf, btfFd }, (x) => objGet(x))).toThrow(/max_entries 1024 vs 99/);
    const opened = BpfMap.openPinned(p);
    expect(opened.maxEntries).toBe(1024);
    opened.close();
    first.map.close();
    again.map.close();
  });

  it('1000 create/close cycles leak no fd', () => {
    const before = openFdCount();
    const openBefore = Fd.open;
    for (let i = 0; i < 1000; i++) {
      const m = createMap(mapSpec('lru'), { btf: spec.btf, btfFd });
      m.update(1, 1);
      m.close();
    }
    expect(Fd.open).toBe(openBefore);
    expect(openFdCount()).toBe(before);
  });

  it('errors name the map and the errno', () => {
    try {
      createMap({ ...mapSpec('counts'), name: 'too_big', maxEntries: 0 });
      expect.fail('should throw');
    } catch (e) {
      expect(e).toBeInstanceOf(BpfError);
      expect((e as Error).message).toMatch(/^map 'too_big' \(hash\): BPF_MAP_CREATE: EINVAL/);
    }
  });
});

describe.skipIf(skip)('BTF codecs round-trip through a kernel map', () => {
  // A struct with a bitfield, an enum, a bool, a nested struct, a union and an array, described
  // in hand-built BTF, loaded into the kernel and used as a map value.
  const types: BtfType[] = [
    { kind: BtfKind.Void, id: 0, name: '' },
    { kind: BtfKind.Int, id: 1, name: 'unsigned int', size: 4, encoding: 0, bitOffset: 0, bits: 32 },
    { kind: BtfKind.Int, id: 2, name: '_Bool', size: 1, encoding: 4, bitOffset: 0, bits: 8 },
    { kind: BtfKind.Enum, id: 3, name: 'state', size: 4, signed: false, values: [{ name: 'IDLE', value: 0n }, { name: 'BUSY', value: 7n }] },
    { kind: BtfKind.Struct, id: 4, name: 'inner', size: 8, kflag: false, members: [{ name: 'lo', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'hi', type: 1, bitOffset: 32, bitfieldSize: 0 }] },
    { kind: BtfKind.Int, id: 5, name: 'unsigned char', size: 1, encoding: 0, bitOffset: 0, bits: 8 },
    { kind: BtfKind.Array, id: 6, name: '', type: 5, indexType: 1, nelems: 4 },
    { kind: BtfKind.Int, id: 7, name: 'long long', size: 8, encoding: 1, bitOffset: 0, bits: 64 },
    {
      kind: BtfKind.Struct,
      id: 8,
      name: 'value',
      size: 32,
      kflag: true,
      members: [
        { name: 'flag_a', type: 1, bitOffset: 0, bitfieldSize: 3 },
        { name: 'flag_b', type: 1, bitOffset: 3, bitfieldSize: 13 },
        { name: 'ok', type: 2, bitOffset: 16, bitfieldSize: 0 },
        { name: 'st', type: 3, bitOffset: 32, bitfieldSize: 0 },
        { name: 'in', type: 4, bitOffset: 64, bitfieldSize: 0 },
        { name: 'bytes', type: 6, bitOffset: 128, bitfieldSize: 0 },
        { name: 'big', type: 7, bitOffset: 192, bitfieldSize: 0 },
      ],
    },
  ];
  it('nested struct, bitfields, enum, bool, u8 array and s64 survive update/lookup', () => {
    const btf = parseBtf(encodeBtf(types));
    using fd = loadObjectBtf(btf);
    using m = createMap(
      { name: 'codec_rt', type: MapType.HASH, keySize: 4, valueSize: 32, maxEntries: 4, flags: 0, pinning: 0, mapExtra: 0n, section: '.maps', source: 'btf', keyTypeId: 1, valueTypeId: 8 },
      { btf, btfFd: fd },
    );
    const v = { flag_a: 5, flag_b: 4097, ok: true, st: 'BUSY', in: { lo: 1, hi: 0xffffffff }, bytes: [1, 2, 250, 255], big: -5n };
    m.update(1, v);
    expect(m.lookup(1)).toEqual(v);
    m.update(2, { ...v, st: 0, ok: false, flag_a: 0 });
    expect(m.lookup(2)).toMatchObject({ st: 'IDLE', ok: false, flag_a: 0, flag_b: 4097 });
    // The raw bytes agree with the C layout.
    const raw = Buffer.from(m.lookupRaw(Buffer.from([1, 0, 0, 0]))!);
    expect(raw.readUInt32LE(0) & 0x7).toBe(5);
    expect((raw.readUInt32LE(0) >> 3) & 0x1fff).toBe(4097);
    expect(raw[2]).toBe(1);
    expect(raw.readUInt32LE(4)).toBe(7);
    expect(raw.readBigInt64LE(24)).toBe(-5n);
  });
});
