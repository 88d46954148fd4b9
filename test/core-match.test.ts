// CO-RE matching against the running kernel's BTF without loading anything: every relocation of
// the shipped examples resolves (none poisoned), including accesses through anonymous members
// (sock.__sk_common.skc_dport lives in an anonymous struct inside an anonymous union).
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseBtf } from '../src/btf/btf.js';
import { CoreRelocKind } from '../src/btf/ext.js';
import { BtfKind, type CompositeType } from '../src/btf/types.js';
import { resolveCoreRelo } from '../src/loader/core.js';
import { parseObject } from '../src/loader/spec.js';
import { need, root } from './helpers.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';

describe('CO-RE matching on this kernel', () => {
  it('resolves every relocation of the kprobe examples, through anonymous members', () => {
    if (need(fs.existsSync(VMLINUX), 'no kernel BTF')) return;
    const k = parseBtf(fs.readFileSync(VMLINUX));
    const targets = { *btfs() { yield { name: 'vmlinux', btf: k }; } };
    let checked = 0;
    for (const ex of ['tcpconnect', 'activeconn', 'execsnoop']) {
      const spec = parseObject(fs.readFileSync(`${root}/examples/kprobe/${ex}.o`), { file: ex });
      for (const p of spec.programs) {
        for (const c of p.coreRelos) {
          const r = resolveCoreRelo(spec.btf!, c.typeId, c.accessStr, c.kind, targets);
          expect(r.poison, `${ex}: ${r.description}: ${r.reason}`).toBe(false);
          checked++;
        }
      }
    }
    expect(checked).toBeGreaterThan(5);
    // The anonymous path lands where the kernel's struct says skc_dport is.
    const spec = parseObject(fs.readFileSync(`${root}/examples/kprobe/tcpconnect.o`), { file: 'tcpconnect' });
    const relos = spec.programs.flatMap((p) => p.coreRelos).filter((c) => c.kind === CoreRelocKind.FieldByteOffset);
    const dport = relos.map((c) => resolveCoreRelo(spec.btf!, c.typeId, c.accessStr, c.kind, targets)).find((r) => r.description.endsWith('skc_dport'));
    expect(dport).toBeDefined();
    const find = (t: CompositeType, name: string, base = 0): number | undefined => {
      for (const m of t.members) {
        if (m.name === name) return base + m.bitOffset / 8;
        const mt = k.resolve(m.type);
        if (!m.name && (mt.kind === BtfKind.Struct || mt.kind === BtfKind.Union)) {
          const r = find(mt, name, base + m.bitOffset / 8);
          if (r !== undefined) return r;
        }
      }
      return undefined;
    };
    const sockCommon = k.find('sock_common', BtfKind.Struct)!;
    expect(dport!.newVal).toBe(find(sockCommon, 'skc_dport'));
  });
});
