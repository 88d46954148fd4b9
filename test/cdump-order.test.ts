// The C dumper's ordering in WebAssembly (src/btf/order-wasm.ts, assembled by hand) against the
// JavaScript ordering it stands in for (CDumper.orderAll, still the path for a dump of some ids and
// where WebAssembly is missing): the same queue of definitions on the kernel's own BTF, a module's
// split BTF and every fixture object, and the JavaScript's errors where the graph is malformed.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Btf, parseBtf, parseKernelBtf } from '../src/btf/btf.js';
import { CDumper, dumpC } from '../src/btf/cdump.js';
import { encodeBtf } from '../src/btf/encode.js';
import { flatBtf } from '../src/btf/flat.js';
import { orderTypesWasm } from '../src/btf/order-wasm.js';
import { BtfKind, type BtfType } from '../src/btf/types.js';
import { parseElf } from '../src/elf/reader.js';
import { readBtfBytes } from '../src/loader/btf-files.js';
import { debianKernel } from './debian-kernels.js';
import { ALL_OBJECTS, isRoot, need, readFixture } from './helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

function expectSameQueue(btf: Btf): number {
  const wasm = orderTypesWasm(flatBtf(btf));
  expect(wasm).toBeDefined();
  const js = new CDumper(btf, () => {}).orderAll();
  expect(Array.from(wasm!)).toEqual(js);
  return js.length;
}

describe('C dump ordering: WebAssembly and JavaScript', () => {
  it("the running kernel's BTF: the same queue", () => {
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const btf = parseKernelBtf(fs.readFileSync(VMLINUX), { file: VMLINUX });
    expect(expectSameQueue(btf)).toBeGreaterThan(5000);
  });

  it('every fixture object with BTF: the same queue', () => {
    let n = 0;
    for (const f of ALL_OBJECTS) {
      const sec = parseElf(readFixture(f)).sectionByName('.BTF');
      if (!sec) continue;
      expectSameQueue(parseBtf(sec.data, { file: f }));
      n++;
    }
    expect(n).toBeGreaterThan(10);
  });

  it("a module's split BTF (Debian 6.12 nf_conntrack.ko): the same queue over base and module ids", () => {
    if (need(isRoot, 'the Debian kernel cache is root-only')) return;
    const k = debianKernel('6.12');
    const base = parseKernelBtf(readBtfBytes(k.vmlinux), { file: k.vmlinux });
    const mod = parseKernelBtf(readBtfBytes(k.module), { file: k.module, base });
    expect(mod.firstId).toBeGreaterThan(1000);
    expectSameQueue(mod);
  }, 600_000);

  it('a malformed graph: no queue from WebAssembly, and the dump throws the JavaScript ordering error', () => {
    const int: BtfType = { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 };
    const self = (id: number, name: string): BtfType =>
      ({ kind: BtfKind.Struct, id, name, size: 8, kflag: false, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'me', type: id, bitOffset: 32, bitfieldSize: 0 }] }) as BtfType;
    // parseKernelBtf does not check the graph (parseBtf refuses both).
    const btf = parseKernelBtf(encodeBtf([{ kind: BtfKind.Void, id: 0, name: '' }, int, self(2, 'loop')]), { file: 'self.btf' });
    expect(orderTypesWasm(flatBtf(btf))).toBeUndefined();
    expect(() => dumpC(btf, () => {})).toThrow("struct 'loop' (id 2) contains itself by value");
    // Nesting past the JavaScript's bound (2048) through arrays of arrays.
    const deep: BtfType[] = [{ kind: BtfKind.Void, id: 0, name: '' }, int];
    for (let id = 2; id < 2200; id++) deep.push({ kind: BtfKind.Array, id, name: '', type: id - 1, indexType: 1, nelems: 1 });
    deep.push({ kind: BtfKind.Typedef, id: 2200, name: 'deep', type: 2199 });
    const d = parseKernelBtf(encodeBtf(deep), { file: 'deep.btf' });
    expect(orderTypesWasm(flatBtf(d))).toBeUndefined();
    expect(() => dumpC(d, () => {})).toThrow('nests too deeply');
  });
});
