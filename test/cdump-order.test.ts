// The C dumper's ordering in WebAssembly (src/btf/order-wasm.ts, assembled by hand) against the
// JavaScript ordering it stands in for (CDumper.orderAll, still the path for a dump of some ids and
// where WebAssembly is missing): the same queue of definitions on the kernel's own BTF, a module's
// split BTF and every fixture object (and every struct's alignment and packing: TypeLayout's), and
// the JavaScript's errors where the graph is malformed.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type Btf, parseBtf, parseKernelBtf } from '../src/btf/btf.js';
import { CDumper, dumpC } from '../src/btf/cdump.js';
import { encodeBtf } from '../src/btf/encode.js';
import { flatBtf } from '../src/btf/flat.js';
import { prepareCDumpWasm } from '../src/btf/order-wasm.js';
import { BtfKind, type BtfType } from '../src/btf/types.js';
import { parseElf } from '../src/elf/reader.js';
import { readBtfBytes } from '../src/loader/btf-files.js';
import { debianKernel } from './debian-kernels.js';
import { ALL_OBJECTS, isRoot, need, readFixture } from './helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

/** Returns the queue's length plus the number of structs and unions checked. */
function expectSameQueue(btf: Btf): number {
  const wasm = prepareCDumpWasm(flatBtf(btf));
  expect(wasm).toBeDefined();
  const js = new CDumper(btf, () => {}).orderAll();
  expect(Array.from(wasm!.queue)).toEqual(js);
  // The layout of every struct and union, and of every type whose alignment it computed: TypeLayout's.
  expect(wasm!.align).toBeDefined();
  let n = 0;
  for (let id = 1; id < btf.count; id++) {
    const k = btf.kindOf(id);
    if (k === BtfKind.Struct || k === BtfKind.Union) {
      expect(wasm!.packed![id]).toBe(btf.isPacked(btf.typeById(id) as never) ? 2 : 1);
      n++;
    }
    if (wasm!.align![id]) expect(wasm!.align![id]).toBe(btf.alignof(id));
  }
  return js.length + n;
}

describe('C dump ordering: WebAssembly and JavaScript', () => {
  it("the running kernel's BTF: the same queue", () => {
    if (need(fs.existsSync(VMLINUX), `${VMLINUX} is missing`)) return;
    const btf = parseKernelBtf(fs.readFileSync(VMLINUX), { file: VMLINUX });
    expect(expectSameQueue(btf)).toBeGreaterThan(15000);
  });

  it('every fixture object with BTF: the same queue', () => {
    let n = 0;
    let checked = 0;
    for (const f of ALL_OBJECTS) {
      const sec = parseElf(readFixture(f)).sectionByName('.BTF');
      if (!sec) continue;
      checked += expectSameQueue(parseBtf(sec.data, { file: f }));
      n++;
    }
    expect(n).toBeGreaterThan(10);
    expect(checked).toBeGreaterThan(100);
  });

  it("a module's split BTF (Debian 6.12 nf_conntrack.ko): the same queue over base and module ids", () => {
    if (need(isRoot, 'the Debian kernel cache is root-only')) return;
    const k = debianKernel('6.12');
    const base = parseKernelBtf(readBtfBytes(k.vmlinux), { file: k.vmlinux });
    const mod = parseKernelBtf(readBtfBytes(k.module), { file: k.module, base });
    expect(mod.firstId).toBeGreaterThan(1000);
    expectSameQueue(mod);
  }, 600_000);

  it('a malformed graph: no queue (or no layout) from WebAssembly, and the dump throws the JavaScript error', () => {
    const int: BtfType = { kind: BtfKind.Int, id: 1, name: 'int', size: 4, encoding: 1, bitOffset: 0, bits: 32 };
    const self = (id: number, name: string): BtfType =>
      ({ kind: BtfKind.Struct, id, name, size: 8, kflag: false, members: [{ name: 'a', type: 1, bitOffset: 0, bitfieldSize: 0 }, { name: 'me', type: id, bitOffset: 32, bitfieldSize: 0 }] }) as BtfType;
    // parseKernelBtf does not check the graph (parseBtf refuses both).
    const btf = parseKernelBtf(encodeBtf([{ kind: BtfKind.Void, id: 0, name: '' }, int, self(2, 'loop')]), { file: 'self.btf' });
    expect(prepareCDumpWasm(flatBtf(btf))).toBeUndefined();
    expect(() => dumpC(btf, () => {})).toThrow("struct 'loop' (id 2) contains itself by value");
    // Nesting past the JavaScript's bound (2048) through arrays of arrays.
    const deep: BtfType[] = [{ kind: BtfKind.Void, id: 0, name: '' }, int];
    for (let id = 2; id < 2200; id++) deep.push({ kind: BtfKind.Array, id, name: '', type: id - 1, indexType: 1, nelems: 1 });
    deep.push({ kind: BtfKind.Typedef, id: 2200, name: 'deep', type: 2199 });
    const d = parseKernelBtf(encodeBtf(deep), { file: 'deep.btf' });
    expect(prepareCDumpWasm(flatBtf(d))).toBeUndefined();
    expect(() => dumpC(d, () => {})).toThrow('nests too deeply');
    // A layout TypeLayout refuses (a bitfield of a type with no size): the queue, but no layout
    // from WebAssembly, and the dump throws TypeLayout's error.
    const bad = parseKernelBtf(
      encodeBtf([
        { kind: BtfKind.Void, id: 0, name: '' },
        int,
        { kind: BtfKind.FuncProto, id: 2, name: '', returnType: 1, params: [] },
        { kind: BtfKind.Struct, id: 3, name: 'odd', size: 4, kflag: true, members: [{ name: 'f', type: 2, bitOffset: 0, bitfieldSize: 3 }] },
      ] as BtfType[]),
      { file: 'odd.btf' },
    );
    const prep = prepareCDumpWasm(flatBtf(bad));
    expect(Array.from(prep!.queue)).toEqual([3]);
    expect(prep!.align).toBeUndefined();
    expect(() => dumpC(bad, () => {})).toThrow('has no size');
  });
});
