// The Map API and codecs over the fake syscall backend: no root needed, and the fake records
// what crossed the seam (attr sizes per command).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cmd } from '../src/syscall/bpf.js';
import { useBackend } from '../src/syscall/backend.js';
import { FakeBackend } from '../src/syscall/fake.js';
import { Fd } from '../src/syscall/fd.js';
import { parseObject } from '../src/loader/spec.js';
import { BpfMap } from '../src/maps/map.js';
import { MapType } from '../src/syscall/constants.js';
import { readFixture } from './helpers.js';

const fake = new FakeBackend(4);
let restore: () => void;
beforeAll(() => {
  restore = useBackend(fake);
});
afterAll(() => restore());

const spec = parseObject(readFixture('maps.bpfel.o'), { file: 'maps.o' });

describe('BpfMap over the fake backend', () => {
  it('encodes struct keys and decodes values through BTF', () => {
    const s = spec.maps.find((m) => m.name === 'counts')!;
    using m = BpfMap.create({ type: s.type, keySize: s.keySize, valueSize: s.valueSize, maxEntries: s.maxEntries, name: s.name }, { btf: spec.btf, keyTypeId: s.keyTypeId, valueTypeId: s.valueTypeId });
    m.update({ pid: 7, comm: 'node' }, 3n);
    expect(m.lookup({ pid: 7, comm: 'node' })).toBe(3n);
    expect([...m.entries()]).toEqual([[{ pid: 7, comm: 'node' }, 3n]]);
    expect(m.delete({ pid: 7, comm: 'node' })).toBe(true);
    expect(m.lookup({ pid: 7, comm: 'node' })).toBeUndefined();
  });

  it('sizes each attr to the last field its command uses', () => {
    fake.calls = [];
    using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 8, name: 'sized' });
    m.update(1, 2);
    m.lookup(1);
    m.freeze();
    const size = (cmd: number) => fake.calls.find((c) => c.cmd === cmd)!.size;
    expect(size(Cmd.MAP_CREATE)).toBe(72);
    expect(size(Cmd.MAP_UPDATE_ELEM)).toBe(32);
    expect(size(Cmd.MAP_LOOKUP_ELEM)).toBe(32);
    expect(size(Cmd.MAP_FREEZE)).toBe(4);
    expect(() => m.update(1, 3)).toThrow(/map 'sized': BPF_MAP_UPDATE_ELEM: EPERM/);
  });

  it('per-CPU values: one per possible CPU, 8-byte aligned', () => {
    using m = BpfMap.create({ type: MapType.PERCPU_ARRAY, keySize: 4, valueSize: 4, maxEntries: 2, name: 'pc' });
    expect(m.valueBufSize).toBe(32);
    m.update(0, Uint8Array.from([9, 0, 0, 0]));
    expect((m.lookup(0) as Uint8Array[]).map((b) => b[0])).toEqual([9, 9, 9, 9]);
  });

  it('rejects keys it cannot encode with a clear message', () => {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 12, valueSize: 4, maxEntries: 8, name: 'opaque' });
    expect(() => m.lookup({ a: 1 })).toThrow(/map 'opaque' key: the map has no BTF type for it; pass a Uint8Array of 12 bytes/);
    expect(() => m.lookup(new Uint8Array(3))).toThrow(/expected 12 bytes, got 3/);
  });

  it('closes fds exactly once', () => {
    const before = Fd.open;
    const m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 4, maxEntries: 8 });
    expect(Fd.open).toBe(before + 1);
    m.close();
    m.close();
    expect(Fd.open).toBe(before);
    expect(fake.fds.size).toBe(0);
  });
});

describe('kernel version from the seam', () => {
  it('reads uname through the backend (Debian version strings win over the release)', async () => {
    const { linuxKernelVersion } = await import('../src/loader/kconfig.js');
    expect(linuxKernelVersion()).toBe((6 << 16) | (18 << 8)); // the fake's 6.18.0-fake
    expect(linuxKernelVersion('6.1.0-56-amd64', '#1 SMP PREEMPT_DYNAMIC Debian 6.1.192-2')).toBe((6 << 16) | (1 << 8) | 192);
    expect(linuxKernelVersion('5.4.300', '#1')).toBe((5 << 16) | (4 << 8) | 255);
  });
});
