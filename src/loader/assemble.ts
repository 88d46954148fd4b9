// Linking one program: flatten it with every subprogram it calls (or takes the address of), then
// relocate its instructions: map and global-data references to map fds and values, calls to
// their placed subprograms, externs (__kconfig slots, __ksym addresses or BTF ids, kfunc BTF ids,
// __weak misses poisoned), and CO-RE against the target BTF. Kernel-free given its inputs: the
// fds of the maps already created and the target BTF are passed in.
//
// Relocation stays index-based (instruction indexes in each function, rebased by the function's
// placement), as libbpf does, rather than instructions as values with symbolic references
// (cilium/ebpf's asm): the spec keeps each function's bytes as clang wrote them, so
// `describe`/`xlated` read the same instructions the relocations index, and a program is linked
// once, at load. Tests: test/assemble.test.ts links and relocates fixture programs with no kernel.
import type { Btf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';
import type { Fd } from '../syscall/fd.js';
import { kernelBtf, coreTargets } from './btf-files.js';
import { type CandidateCache, type CoreResult, type CoreTargets, patchInsn, POISON_HELPER, resolveCoreRelo } from './core.js';
import { BPF_PSEUDO_BTF_ID, BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_KFUNC_CALL, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_VALUE, InsnBuffer } from './insn.js';
import { kallsymsAddress } from './kconfig.js';
import { LoadError } from './load-error.js';
import type { PoisonNote, SourceLine } from './prog-load.js';
import type { FunctionSpec, ObjectSpec, ProgramSpec } from './spec.js';

/** One resolved CO-RE relocation: where it is and what was patched in. */
export interface CoreRelocationReport {
  /** The program being assembled and the function (program or subprogram) holding the instruction. */
  program: string;
  function: string;
  /** Instruction index inside `function`. */
  insn: number;
  /** Human form, e.g. `byte_off struct task_struct.pid`. */
  description: string;
  poison: boolean;
  /** The value the instruction carried (computed on local types) and the one patched in. */
  origValue: number | bigint;
  value: number | bigint;
  /** A load's new memory size in bytes when it changes; otherwise undefined. */
  memSize?: number;
  reason?: string;
}

/** What linking a program reads: the object's spec, the maps load created, the CO-RE target. */
export interface AssembleInputs {
  readonly spec: ObjectSpec;
  /** Created maps by name (one with autocreate off is absent and named in `noAutocreate`). */
  readonly maps: ReadonlyMap<string, { readonly fd: Fd }>;
  readonly noAutocreate: ReadonlySet<string>;
  /** Global-data maps by section name. */
  readonly dataMaps: ReadonlyMap<string, { readonly map: { readonly fd: Fd } }>;
  /** The .kconfig map and each extern's offset in its value. */
  readonly kconfig?: { readonly map: { readonly fd: Fd }; readonly offsets: ReadonlyMap<string, number> };
  /** CO-RE candidates per local type, kept across an object's programs (libbpf's cand_cache). */
  readonly coreCandidates: CandidateCache;
  readonly opts: { readonly btfPath?: string; onCoreRelocation?: (r: CoreRelocationReport) => void };
  /** The kernel BTF for ksyms and kfuncs (default: the running kernel's). */
  readonly kernelBtf?: () => Btf | undefined;
  /** The CO-RE targets (default: the running kernel's BTF and its modules, or opts.btfPath). */
  readonly coreTargets?: () => CoreTargets;
}

/** A linked program: its instructions, func/line info rebased to them, and the poisoned calls. */
export interface AssembledProgram {
  insns: Uint8Array;
  funcInfo: number[][];
  lineInfo: SourceLine[];
  lineRaw: number[][];
  poisons: PoisonNote[];
}

function findFunction(spec: ObjectSpec, section: string, insn: number): FunctionSpec | undefined {
  return spec.functions.find((f) => f.section === section && insn >= f.sectionOffset && insn < f.sectionOffset + f.insns.length / 8);
}

/** Flatten a program with every subprogram it reaches, then relocate. */
export function assembleProgram(p: ProgramSpec, inp: AssembleInputs): AssembledProgram {
  const pieces: { fn: FunctionSpec; at: number }[] = [{ fn: p, at: 0 }];
  const placed = new Map<FunctionSpec, number>([[p, 0]]);
  let total = p.insns.length / 8;
  for (let i = 0; i < pieces.length; i++) {
    for (const r of pieces[i]!.fn.relocations) {
      if (r.kind !== 'call' && r.kind !== 'func') continue;
      const target = findFunction(inp.spec, r.target, r.offset);
      if (!target) throw new LoadError(inp.spec.file, `program '${p.name}': call target at ${r.target}+${r.offset} is not a function`);
      if (!placed.has(target)) {
        placed.set(target, total);
        pieces.push({ fn: target, at: total });
        total += target.insns.length / 8;
      }
    }
  }
  const buf = new Uint8Array(total * 8);
  for (const pc of pieces) buf.set(pc.fn.insns, pc.at * 8);
  const insns = new InsnBuffer(buf, inp.spec.littleEndian);
  const poisons: PoisonNote[] = [];
  const btf = inp.spec.btf;
  let targets: CoreTargets | undefined;

  for (const pc of pieces) {
    for (const r of pc.fn.relocations) {
      const i = pc.at + r.insn;
      switch (r.kind) {
        case 'call':
        case 'func': {
          const target = findFunction(inp.spec, r.target, r.offset)!;
          const dest = placed.get(target)! + (r.offset - target.sectionOffset);
          insns.setSrc(i, r.kind === 'call' ? BPF_PSEUDO_CALL : BPF_PSEUDO_FUNC);
          insns.setImm(i, dest - (i + 1));
          if (r.kind === 'func') insns.setImm(i + 1, 0);
          break;
        }
        case 'map': {
          const m = inp.maps.get(r.target);
          if (!m)
            throw new LoadError(inp.spec.file, `program '${p.name}' uses map '${r.target}', which was not created${inp.noAutocreate.has(r.target) ? ' (autocreate is off: setAutocreate(false)); turn autoload off for this program too' : ''}`);
          insns.setSrc(i, BPF_PSEUDO_MAP_FD);
          insns.setImm(i, m.fd.value);
          insns.setImm(i + 1, 0);
          break;
        }
        case 'data': {
          const dm = inp.dataMaps.get(r.target);
          if (!dm) throw new LoadError(inp.spec.file, `program '${p.name}' uses ${r.target}, which has no map`);
          insns.setSrc(i, BPF_PSEUDO_MAP_VALUE);
          insns.setImm(i, dm.map.fd.value);
          insns.setImm(i + 1, r.offset);
          break;
        }
        case 'extern':
          relocateExtern(inp, p, insns, i, r.target, poisons);
          break;
      }
    }
    if (pc.fn.coreRelos.length && btf) {
      targets ??= inp.coreTargets?.() ?? coreTargets(inp.opts.btfPath);
      for (const c of pc.fn.coreRelos) {
        const i = pc.at + c.insn;
        let poisoned: boolean;
        let res: CoreResult | undefined;
        try {
          res = resolveCoreRelo(btf, c.typeId, c.accessStr, c.kind, targets, inp.spec.littleEndian, inp.coreCandidates);
          poisoned = patchInsn(insns, i, res);
        } catch (e) {
          const what = res ? `CO-RE relocation ${res.description}: ` : '';
          throw new LoadError(inp.spec.file, `program '${p.name}': ${what}${(e as Error).message}`);
        }
        if (poisoned)
          poisons.push({ insn: i, helper: POISON_HELPER, message: `CO-RE relocation ${res.description} failed: ${res.reason ?? (res.failMemszAdjust ? `the field is ${res.newSize} bytes in the target, not ${res.origSize}, and is not a pointer or unsigned integer` : 'no match')}` });
        inp.opts.onCoreRelocation?.({
          program: p.name,
          function: pc.fn.name,
          insn: c.insn,
          description: res.description,
          poison: poisoned,
          origValue: res.origVal,
          value: res.newVal,
          memSize: !poisoned && res.newSize !== res.origSize ? res.newSize : undefined,
          reason: res.reason,
        });
      }
    }
  }
  const funcInfo: number[][] = [];
  const lineRaw: number[][] = [];
  const lineInfo: SourceLine[] = [];
  for (const pc of pieces) {
    for (const f of pc.fn.funcInfo) funcInfo.push([pc.at + f.insn, f.typeId]);
    for (const l of pc.fn.lineInfo) {
      lineRaw.push([pc.at + l.insn, l.fileNameOff, l.lineOff, (l.lineNum << 10) | l.column]);
      lineInfo.push({ insn: pc.at + l.insn, fileName: l.fileName, lineNum: l.lineNum, column: l.column, line: l.line });
    }
  }
  return { insns: buf, funcInfo, lineInfo, lineRaw, poisons };
}

/** func_info and line_info as BPF_PROG_LOAD takes them (8- and 16-byte records; line_info sorted by instruction). */
export function extInfoRecords(a: AssembledProgram): { fi: Uint8Array; li: Uint8Array } {
  const fi = new Uint8Array(a.funcInfo.length * 8);
  const fdv = new DataView(fi.buffer);
  a.funcInfo.forEach(([insn, id], k) => {
    fdv.setUint32(k * 8, insn!, true);
    fdv.setUint32(k * 8 + 4, id!, true);
  });
  a.lineRaw.sort((x, y) => x[0]! - y[0]!);
  const li = new Uint8Array(a.lineRaw.length * 16);
  const ldv = new DataView(li.buffer);
  a.lineRaw.forEach((r, k) => r.forEach((v, j) => ldv.setUint32(k * 16 + j * 4, v >>> 0, true)));
  return { fi, li };
}

/** kfuncs and typed ksyms of vmlinux use BTF ids directly; module BTF (an fd_array slot) is not supported yet. */
function relocateExtern(inp: AssembleInputs, p: ProgramSpec, insns: InsnBuffer, i: number, name: string, poisons: PoisonNote[]): void {
  const ext = inp.spec.externs.find((e) => e.name === name)!;
  switch (ext.kind) {
    case 'kconfig': {
      const kc = inp.kconfig;
      const off = kc?.offsets.get(name);
      if (off === undefined || !kc) throw new LoadError(inp.spec.file, `extern '${name}' has no kconfig slot`);
      insns.setSrc(i, BPF_PSEUDO_MAP_VALUE);
      insns.setImm(i, kc.map.fd.value);
      insns.setImm(i + 1, off + insns.imm(i + 1));
      return;
    }
    case 'ksym': {
      const btf = inp.spec.btf!;
      const typed = ext.typeId !== undefined && btf.resolve(ext.typeId).kind !== BtfKind.Void;
      if (typed) {
        const k = (inp.kernelBtf ?? kernelBtf)();
        const v = k?.find(name, BtfKind.Var);
        if (!v) {
          if (ext.weak) {
            insns.setImm64(i, 0n);
            return;
          }
          throw new LoadError(inp.spec.file, `extern '${name}' (__ksym) is not a variable in the kernel BTF`);
        }
        insns.setSrc(i, BPF_PSEUDO_BTF_ID);
        insns.setImm(i, v.id);
        insns.setImm(i + 1, 0);
        return;
      }
      const addr = kallsymsAddress(name);
      if (addr === undefined && !ext.weak) throw new LoadError(inp.spec.file, `extern '${name}' (__ksym) is not in /proc/kallsyms`);
      insns.setImm64(i, addr ?? 0n);
      return;
    }
    case 'kfunc': {
      const k = (inp.kernelBtf ?? kernelBtf)();
      const f = k?.find(name, BtfKind.Func);
      if (insns.isLdImm64(i)) {
        // `if (bpf_some_kfunc)`: an existence test on a __weak kfunc reads as a constant.
        if (!f && !ext.weak) throw new LoadError(inp.spec.file, `program '${p.name}' refers to kfunc '${name}', which this kernel does not have`);
        insns.setSrc(i, 0);
        insns.setImm64(i, f ? 1n : 0n);
        return;
      }
      if (!f) {
        if (ext.weak) {
          const idx = inp.spec.externs.indexOf(ext);
          const helper = 2002000000 + idx;
          poisons.push({ insn: i, helper, message: `kfunc '${name}' (__weak) is not in this kernel and was called` });
          insns.setSrc(i, 0);
          insns.setImm(i, helper);
          return;
        }
        throw new LoadError(inp.spec.file, `program '${p.name}' calls kfunc '${name}', which this kernel does not have`);
      }
      insns.setSrc(i, BPF_PSEUDO_KFUNC_CALL);
      insns.setImm(i, f.id);
      insns.setOff(i, 0);
      return;
    }
    default:
      throw new LoadError(inp.spec.file, `program '${p.name}' refers to undefined symbol '${name}' (not a __kconfig, __ksym or kfunc extern)`);
  }
}
