// Linking and relocation without a kernel (src/loader/assemble.ts): fixture programs are
// flattened with their subprograms and relocated against fds and a CO-RE target the test gives,
// and every rewritten instruction is checked against the relocation that asked for it.
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { type AssembleInputs, assembleProgram, type CoreRelocationReport } from '../src/loader/assemble.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, InsnBuffer } from '../src/loader/insn.js';
import { LoadError } from '../src/loader/load-error.js';
import { type ObjectSpec, parseObject } from '../src/loader/spec.js';
import type { Fd } from '../src/syscall/fd.js';
import { fixture } from './helpers.js';

const fd = (value: number) => ({ fd: { value } as Fd });
const open = (name: string) => parseObject(fs.readFileSync(fixture(name)), { file: name });

function inputs(spec: ObjectSpec, extra: Partial<AssembleInputs> = {}): AssembleInputs {
  return {
    spec,
    maps: new Map(spec.maps.filter((m) => !m.dataSection).map((m, i) => [m.name, fd(500 + i)])),
    noAutocreate: new Set(),
    dataMaps: new Map(spec.dataSections.map((d, i) => [d.section, { map: fd(600 + i) }])),
    kconfig: { map: fd(700), offsets: new Map(spec.externs.filter((e) => e.kind === 'kconfig').map((e, i) => [e.name, i * 8])) },
    coreCandidates: new Map(),
    opts: {},
    kernelBtf: () => undefined,
    coreTargets: () => ({ *btfs() {} }),
    ...extra,
  };
}

describe('linking a program (no kernel)', () => {
  it('places every subprogram once, points each call at its start, and rebases func/line info', () => {
    const spec = open('globals.bpfel.o');
    const p = spec.programs.find((x) => x.name === 'use_globals')!;
    const a = assembleProgram(p, inputs(spec));
    const insns = new InsnBuffer(a.insns, true);
    const n = a.insns.length / 8;
    // One func_info record per placed function, at its first instruction, in placement order.
    const placed = a.funcInfo.map(([insn, id]) => [insn!, spec.btf!.typeById(id!).name] as const);
    expect(placed.map(([, name]) => name).sort()).toEqual(['global_sub', 'loop_cb', 'static_sub', 'use_globals']);
    expect(placed[0]).toEqual([0, 'use_globals']);
    const size = (name: string) => spec.functions.find((f) => f.name === name)!.insns.length / 8;
    expect(n).toBe(['global_sub', 'loop_cb', 'static_sub', 'use_globals'].reduce((s, f) => s + size(f), 0));
    const starts = new Map(placed.map(([insn, name]) => [insn, name]));
    const calls: string[] = [];
    for (let i = 0; i < n; i++) {
      if (insns.code(i) === 0x85 && insns.src(i) === BPF_PSEUDO_CALL) calls.push(starts.get(i + 1 + insns.imm(i))!);
      if (insns.code(i) === 0x18 && insns.src(i) === BPF_PSEUDO_FUNC) calls.push(`&${starts.get(i + 1 + insns.imm(i))}`);
    }
    // use_globals calls static_sub and takes loop_cb's address; static_sub calls global_sub.
    expect(calls.sort()).toEqual(['&loop_cb', 'global_sub', 'static_sub']);
    for (const l of a.lineInfo) expect(l.insn).toBeLessThan(n);
    expect(a.lineRaw.map((r) => r[0])).toEqual(a.lineInfo.map((l) => l.insn));
  });

  it('global data and kconfig references become map values at their offsets; map references become fds', () => {
    const spec = open('globals.bpfel.o');
    const p = spec.programs.find((x) => x.name === 'use_globals')!;
    const inp = inputs(spec);
    const a = assembleProgram(p, inp);
    const insns = new InsnBuffer(a.insns, true);
    const dataFds = new Set([...inp.dataMaps.values()].map((d) => d.map.fd.value));
    const seen = new Map<number, number>();
    for (let i = 0; i < a.insns.length / 8; i++) {
      if (!insns.isLdImm64(i) || insns.src(i) !== BPF_PSEUDO_MAP_VALUE) continue;
      const f = insns.imm(i);
      expect(dataFds.has(f) || f === 700, `ld_imm64 at ${i} names fd ${f}`).toBe(true);
      seen.set(f, (seen.get(f) ?? 0) + 1);
    }
    // Every data relocation of the placed functions (use_globals, static_sub, global_sub) is rewritten.
    const relos = ['use_globals', 'static_sub', 'global_sub', 'loop_cb'].flatMap((n) => spec.functions.find((f) => f.name === n)!.relocations);
    const dataRelos = relos.filter((r) => r.kind === 'data').length + relos.filter((r) => r.kind === 'extern' && spec.externs.find((e) => e.name === r.target)?.kind === 'kconfig').length;
    expect([...seen.values()].reduce((s, x) => s + x, 0)).toBe(dataRelos);
    expect(seen.get(700)).toBeGreaterThan(0); // LINUX_KERNEL_VERSION, CONFIG_HZ, CONFIG_BPF_SYSCALL

    const core = open('core.bpfel.o');
    const cp = core.programs[0]!;
    const ci = inputs(core);
    const mapInsns = assembleProgram(cp, { ...ci, coreTargets: () => ({ *btfs() { yield { name: 'self', btf: core.btf! }; } }) });
    const ib = new InsnBuffer(mapInsns.insns, true);
    const mapRefs = [];
    for (let i = 0; i < mapInsns.insns.length / 8; i++) if (ib.isLdImm64(i) && ib.src(i) === BPF_PSEUDO_MAP_FD) mapRefs.push(ib.imm(i));
    expect(mapRefs.length).toBe(cp.relocations.filter((r) => r.kind === 'map').length);
    expect(new Set(mapRefs)).toEqual(new Set([ci.maps.get('core_results')!.fd.value]));
    // A map that was not created is named, with the autocreate hint.
    expect(() => assembleProgram(cp, { ...ci, maps: new Map(), noAutocreate: new Set(['core_results']) })).toThrow(LoadError);
    expect(() => assembleProgram(cp, { ...ci, maps: new Map(), noAutocreate: new Set(['core_results']) })).toThrow(/uses map 'core_results', which was not created \(autocreate is off/);
  });

  it('CO-RE against the object\'s own BTF reports every relocation, and what matches keeps its value', () => {
    const core = open('core.bpfel.o');
    const cp = core.programs[0]!;
    const reports: CoreRelocationReport[] = [];
    const self = () => ({ *btfs() { yield { name: 'self', btf: core.btf! }; } });
    const a = assembleProgram(cp, { ...inputs(core), coreTargets: self, opts: { onCoreRelocation: (r) => reports.push(r) } });
    expect(reports.length).toBe(cp.coreRelos.length);
    expect(reports.every((r) => r.program === cp.name)).toBe(true);
    const kept = reports.filter((r) => !r.poison && r.reason === undefined);
    expect(kept.length).toBeGreaterThan(0);
    for (const r of kept) expect(r.value, r.description).toEqual(r.origValue);
    // No CO-RE target at all: every relocation is poisoned (a call to the poison helper), none is silent.
    const none: CoreRelocationReport[] = [];
    const b = assembleProgram(cp, { ...inputs(core), opts: { onCoreRelocation: (r) => none.push(r) } });
    expect(none.length).toBe(cp.coreRelos.length);
    expect(b.poisons.length).toBeGreaterThan(0);
    expect(a.insns.length).toBe(b.insns.length);
  });
});
