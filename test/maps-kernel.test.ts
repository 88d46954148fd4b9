// Map element calls against the real kernel, compared with bpftool: number keys of 1/2/4/8 bytes
// (the encodeInto fast path, truncating as BigInt.asUintN does), the reused attr across
// different key/value buffers, and batch dumps (dumpFlat/dumpRaw) in one call and across chunk
// boundaries down to one-entry chunks (where the kernel's hash buckets answer ENOSPC).
import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import '../src/syscall/native.js';
import { BpfMap } from '../src/maps/map.js';
import { MapType } from '../src/syscall/constants.js';
import { sys, useBackend } from '../src/syscall/backend.js';
import { Cmd } from '../src/syscall/bpf.js';
import { ENOENT, ENOSPC } from '../src/syscall/errno.js';
import { hasCommand, need, needKernel } from './helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool is the reference for map contents');
const le = (size: number, v: bigint) => {
  const b = new Uint8Array(size);
  for (let i = 0; i < size; i++) b[i] = Number((BigInt.asUintN(size * 8, v) >> BigInt(8 * i)) & 0xffn);
  return b;
};

describe.skipIf(skip)('map element calls (kernel)', () => {
  it('number keys of 1, 2, 4 and 8 bytes hit the same entries as their little-endian bytes', () => {
    for (const size of [1, 2, 4, 8]) {
      using m = BpfMap.create({ type: MapType.HASH, keySize: size, valueSize: 4, maxEntries: 64, name: `bt_numkey${size}_${process.pid % 1000}` });
      const keys = [0, 1, 200, -1, 0x1234, 0x7fffffff, 0x80000001, 2 ** 32 + 5, 2 ** 40 + 3, Number.MAX_SAFE_INTEGER];
      keys.forEach((k, i) => m.update(k, new Uint8Array([i, 0, 0, 0])));
      for (const k of keys) {
        const last = keys.findLastIndex((x) => BigInt.asUintN(size * 8, BigInt(x)) === BigInt.asUintN(size * 8, BigInt(k)));
        expect(m.lookupRaw(le(size, BigInt(k)))?.[0], `size ${size} key ${k}`).toBe(last);
        expect(m.lookupRaw(le(size, BigInt(k)))?.[0]).toBe((m.lookup(k) as Uint8Array)[0]);
        // lookupInto takes the same number keys, the value into the caller's buffer.
        const out = new Uint8Array(4).fill(0xee);
        expect(m.lookupInto(k, out)).toBe(true);
        expect(out[0], `lookupInto size ${size} key ${k}`).toBe(last);
      }
      const out = new Uint8Array(4).fill(0xee);
      const absent = size === 1 ? 99 : 4242;
      expect(m.lookupInto(absent, out)).toBe(false);
      expect(out[0]).toBe(0xee);
      // bigint keys still take the BigInt path and agree
      expect((m.lookup(BigInt(keys[4]!)) as Uint8Array)[0]).toBe(4);
    }
  });

  it('reused attr: alternating key/value buffers and flags each reach the kernel', () => {
    using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: 8, name: `bt_attr_${process.pid % 100000}` });
    const a = new Uint8Array([1, 0, 0, 0]);
    const b = new Uint8Array([2, 0, 0, 0]);
    m.updateRaw(a, new Uint8Array(8).fill(0xa));
    m.updateRaw(b, new Uint8Array(8).fill(0xb));
    const outA = new Uint8Array(8);
    const outB = new Uint8Array(8);
    expect(m.lookupInto(a, outA)).toBe(true);
    expect(m.lookupInto(b, outB)).toBe(true);
    expect(m.lookupInto(a, outB)).toBe(true);
    expect([outA[0], outB[0]]).toEqual([0xa, 0xa]);
    // BPF_NOEXIST (1) on an existing key fails: the flags word is written on every call
    expect(() => m.updateRaw(a, new Uint8Array(8), 1)).toThrow(/EEXIST|exists/i);
    m.updateRaw(a, new Uint8Array(8).fill(0xc), 0);
    expect(m.lookupRaw(a)?.[0]).toBe(0xc);
  });

  it('batch dump in one call and across chunks returns every entry, as bpftool map dump does', () => {
    const n = 9000;
    using m = BpfMap.create({ type: MapType.HASH, keySize: 4, valueSize: 8, maxEntries: n, name: `bt_dump_${process.pid % 100000}` });
    const v = new Uint8Array(8);
    const vdv = new DataView(v.buffer);
    for (let k = 0; k < n; k++) {
      vdv.setUint32(0, k * 7 + 1, true);
      m.update(k, v);
    }
    const ref = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'dump', 'id', String(m.id)], { maxBuffer: 1 << 26 }).toString()) as { key: string[]; value: string[] }[];
    expect(ref.length).toBe(n);
    const bytes = (h: string[]) => h.map((x) => parseInt(x, 16));
    const refMap = new Map(ref.map((e) => [Buffer.from(bytes(e.key)).readUInt32LE(0), Buffer.from(bytes(e.value)).readUInt32LE(0)]));
    const defaultBytes = BpfMap.batchBytes;
    // What the kernel answered each BPF_MAP_LOOKUP_BATCH, through a backend that passes every call on.
    const native = sys();
    let answers: number[] = [];
    const restore = useBackend({ ...native, bpf: (cmd, attr, size) => {
      const r = native.bpf(cmd, attr, size);
      if (cmd === Cmd.MAP_LOOKUP_BATCH) answers.push(r);
      return r;
    } });
    try {
      // whole map in one call; 1000-entry chunks; one-entry chunks (a bucket of two answers ENOSPC and the chunk doubles)
      for (const chunk of [0, 1000, 1]) {
        if (chunk) BpfMap.batchBytes = chunk * 12;
        answers = [];
        const d = m.dumpRaw();
        if (chunk === 0) expect(answers).toEqual([-ENOENT]);
        if (chunk === 1) expect(answers).toContain(-ENOSPC);
        expect(answers.at(-1)).toBe(-ENOENT);
        expect(d.length, `chunk ${chunk}`).toBe(n);
        const got = new Map(d.map(([k, val]) => [new DataView(k.buffer, k.byteOffset, 4).getUint32(0, true), new DataView(val.buffer, val.byteOffset, 8).getUint32(0, true)]));
        expect(got.size).toBe(n);
        for (let k = 0; k < n; k += 97) expect(got.get(k)).toBe(k * 7 + 1);
        expect(got).toEqual(refMap);
        const f = m.dumpFlat();
        expect(f.count).toBe(n);
        const fk = new DataView(f.keys.buffer, f.keys.byteOffset, f.keys.byteLength);
        const fv = new DataView(f.values.buffer, f.values.byteOffset, f.values.byteLength);
        for (let i = 0; i < n; i += 89) expect(fv.getUint32(i * 8, true)).toBe(refMap.get(fk.getUint32(i * 4, true)));
      }
    } finally {
      restore();
      BpfMap.batchBytes = defaultBytes;
    }
  });
});
