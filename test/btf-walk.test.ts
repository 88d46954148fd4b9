// parseKernelBtf's record walk in WebAssembly (src/btf/walk-wasm.ts, assembled by hand) against the
// JavaScript walk it replaces (walkTypes, still the path without WebAssembly): the same offsets,
// kinds, name keys and kind counts on the kernel's own BTF and a module's split BTF, with records
// cut across chunk boundaries, and the same refusals of malformed type sections.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseKernelBtf, walkTypes } from '../src/btf/btf.js';
import { KIND_FLAGS, KIND_HEAD, KIND_STRIDE } from '../src/btf/record.js';
import { walkTypesWasm } from '../src/btf/walk-wasm.js';
import { readBtfBytes } from '../src/loader/btf-files.js';
import { debianKernel } from './debian-kernels.js';
import { isRoot, need } from './helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** The type section words and string bytes of a BTF blob (host-order little-endian input). */
function sections(bytes: Uint8Array): { w: Uint32Array; str: Uint8Array } {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hdr = dv.getUint32(4, true);
  const typeOff = dv.getUint32(8, true);
  const typeLen = dv.getUint32(12, true);
  const strOff = dv.getUint32(16, true);
  const strLen = dv.getUint32(20, true);
  const w = new Uint32Array(typeLen >>> 2);
  for (let i = 0; i < w.length; i++) w[i] = dv.getUint32(hdr + typeOff + 4 * i, true);
  return { w, str: bytes.slice(hdr + strOff, hdr + strOff + strLen) };
}

function walkBoth(w: Uint32Array, str: Uint8Array, baseLen: number, window?: number) {
  const run = (wasm: boolean) => {
    const cap = Math.ceil(w.length / 3) + 1;
    const out = { offs: new Int32Array(cap), kinds: new Uint8Array(cap), keys: new Uint32Array(cap), counts: new Uint32Array(32), n: 0 };
    const n = wasm ? walkTypesWasm(w, out.offs, out.kinds, out.keys, out.counts, str, baseLen, window) : walkTypes(w, out.offs, out.kinds, out.keys, out.counts, KIND_FLAGS, KIND_HEAD, KIND_STRIDE, str, baseLen);
    expect(n).not.toBeUndefined();
    out.n = n!;
    return out;
  };
  return { js: run(false), wasm: run(true) };
}

function expectSame(w: Uint32Array, str: Uint8Array, baseLen: number, window?: number): number {
  const { js, wasm } = walkBoth(w, str, baseLen, window);
  expect(wasm.n).toBe(js.n);
  if (js.n < 0) return js.n;
  expect(Buffer.from(wasm.offs.buffer, 0, 4 * js.n).equals(Buffer.from(js.offs.buffer, 0, 4 * js.n))).toBe(true);
  expect(Buffer.from(wasm.kinds.buffer, 0, js.n).equals(Buffer.from(js.kinds.buffer, 0, js.n))).toBe(true);
  expect(Buffer.from(wasm.keys.buffer, 0, 4 * js.n).equals(Buffer.from(js.keys.buffer, 0, 4 * js.n))).toBe(true);
  expect([...wasm.counts]).toEqual([...js.counts]);
  return js.n;
}

describe('BTF record walk: WebAssembly against JavaScript', () => {
  it('the kernel BTF: the same records, keys and counts, whole and cut into chunks of 3, 7, 1000 and 65536 words', () => {
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const { w, str } = sections(fs.readFileSync(VMLINUX));
    const n = expectSame(w, str, 0);
    expect(n).toBe(parseKernelBtf(fs.readFileSync(VMLINUX), { file: VMLINUX }).count - 1);
    expect(n).toBeGreaterThan(1000);
    for (const window of [3, 7, 1000, 65536]) expect(expectSame(w, str, 0, window)).toBe(n);
  });

  it("a module's split BTF (Debian 6.12 nf_conntrack.ko): names in the base's strings get the base mark", () => {
    if (need(isRoot, 'the Debian kernel cache is root-only')) return;
    const k = debianKernel('6.12');
    const base = sections(readBtfBytes(k.vmlinux));
    const mod = sections(readBtfBytes(k.module));
    const n = expectSame(mod.w, mod.str, base.str.length);
    expect(n).toBeGreaterThan(100);
    expect(expectSame(mod.w, mod.str, base.str.length, 11)).toBe(n);
    const { wasm } = walkBoth(mod.w, mod.str, base.str.length);
    expect(wasm.keys.subarray(0, n).some((k) => (k & 0xffff) === 0xffff)).toBe(true);
  }, 600_000);

  it('malformed type sections: both refuse the same ones (-1)', () => {
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const { w, str } = sections(fs.readFileSync(VMLINUX));
    // The first 200 records, whole: up to where record 200 starts.
    const { js: all } = walkBoth(w, str, 0);
    const whole = w.slice(0, all.offs[200]!);
    expect(expectSame(whole, str, 0)).toBeGreaterThan(10);
    const cases: [string, (x: Uint32Array) => Uint32Array][] = [
      ['an unknown kind', (x) => ((x[all.offs[5]! + 1] = (x[all.offs[5]! + 1]! & 0xe0ffffff) | (30 << 24)), x)],
      ['a name past the strings, late', (x) => ((x[all.offs[150]!] = str.length + 7), x)],
      ['a name past the strings', (x) => ((x[0] = str.length), x)],
      ['one word left over', (x) => Uint32Array.from([...x, 0])],
      ['two words left over', (x) => Uint32Array.from([...x, 0, 0])],
      ['a last record cut short', (x) => x.slice(0, x.length - 1)],
    ];
    for (const [what, mutate] of cases) {
      const bad = mutate(whole.slice());
      for (const window of [undefined, 5, 64]) expect(expectSame(bad, str, 0, window), what).toBe(-1);
    }
  });

  it('a wasm memory the process cannot have (a low ulimit -v): the JavaScript walk, same types', () => {
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const bytes = fs.readFileSync(VMLINUX);
    const api = (globalThis as unknown as { WebAssembly: { Memory: unknown } }).WebAssembly;
    const real = api.Memory;
    let refused = 0;
    api.Memory = function Memory() {
      refused++;
      throw new RangeError('WebAssembly.Memory(): could not allocate memory');
    };
    try {
      const { w, str } = sections(bytes);
      const cap = Math.ceil(w.length / 3) + 1;
      expect(walkTypesWasm(w, new Int32Array(cap), new Uint8Array(cap), new Uint32Array(cap), new Uint32Array(32), str, 0)).toBeUndefined();
      const btf = parseKernelBtf(bytes, { file: VMLINUX });
      expect(refused).toBe(2);
      expect(btf.find('task_struct', 4)?.name).toBe('task_struct');
    } finally {
      api.Memory = real;
    }
  });
});
