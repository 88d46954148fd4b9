// `bee-ts prog dump jited PROG [opcodes | linum | file FILE] [--json]`: the machine code the
// kernel's JIT made, disassembled by bee-ts's own x86-64 or arm64 decoder (src/disasm) in the notation of
// bpftool built with LLVM: per function its BTF prototype and kallsyms name, `; source` lines
// placed by jited_line_info (libbpf's bpf_prog_linfo rules), `%4x:\tinsn` lines, and with
// `opcodes` the bytes. Unlike bpftool, bytes the decoder does not know print as `(bad)` and the
// dump goes on (LLVM stops at the first).
import type { Btf } from '../btf/btf.js';
import { decodeArm64 } from '../disasm/arm64.js';
import { type Insn, insnText } from '../disasm/insn.js';
import { decodeX86 } from '../disasm/x86.js';
import type { LineInfoRec, ProgJited } from '../syscall/info.js';
import { funcPrototype, type Kallsyms, linfoJson, linfoPlain, readKallsyms } from './xlated.js';

export interface JitedOptions {
  opcodes?: boolean;
  linum?: boolean;
}

/** A decoder for this machine's JIT: (function bytes, offset) → one instruction. */
export type Decoder = (code: Uint8Array, off: number) => Insn;

export const x86Decoder: Decoder = (code, off) => decodeX86(code, off, off);
export const arm64Decoder: Decoder = (code, off) => decodeArm64(code, off, off);

/** The decoder for this machine's JIT, or undefined when bee-ts has none. */
export function hostDecoder(arch: string = process.arch): Decoder | undefined {
  return arch === 'x64' ? x86Decoder : arch === 'arm64' ? arm64Decoder : undefined;
}

/**
 * libbpf's bpf_prog_linfo for jited programs: per function, the index of its first
 * jited_line_info record and how many it has; undefined when the records do not fit the
 * functions (libbpf then fails and bpftool prints no source lines).
 */
export interface JitedLinfo {
  start: number[];
  count: number[];
}

export function dissectJitedLinfo(d: ProgJited): JitedLinfo | undefined {
  const nrFunc = d.jitedKsyms.length;
  const jl = d.jitedLineInfo;
  const nrLinfo = d.lineInfo.length;
  if (!nrFunc || jl.length !== nrLinfo || d.funcLens.length !== nrFunc || nrLinfo === 0) return undefined;
  const ks = d.jitedKsyms;
  if (ks[0] !== jl[0]) return undefined;
  const start = [0];
  const count: number[] = [];
  let prev = 0;
  let f = 1;
  for (let i = 1; i < nrLinfo && f < nrFunc; i++) {
    const last = jl[i - 1]!;
    if (ks[f] === jl[i]) {
      start[f] = i;
      if (last - ks[f - 1]! + 1n > BigInt(d.funcLens[f - 1]!)) return undefined;
      count[f - 1] = i - prev;
      prev = i;
      f++;
    } else if (jl[i]! <= last) return undefined;
  }
  if (f !== nrFunc) return undefined;
  count[nrFunc - 1] = nrLinfo - prev;
  return { start, count };
}

/** libbpf's bpf_prog_linfo__lfind_addr_func: the last record at or before addr, from nrSkip on. */
function lfindAddr(d: ProgJited, li: JitedLinfo, addr: bigint, func: number, nrSkip: number): LineInfoRec | undefined {
  if (func >= li.start.length) return undefined;
  let n = li.count[func]!;
  if (nrSkip >= n) return undefined;
  const start = li.start[func]! + nrSkip;
  if (addr < d.jitedLineInfo[start]!) return undefined;
  n -= nrSkip;
  let i = 0;
  for (; i < n; i++) if (addr < d.jitedLineInfo[start + i]!) break;
  return d.lineInfo[start + i - 1];
}

interface Line {
  pc: number;
  line?: LineInfoRec;
  insn: Insn;
  bytes: Uint8Array;
}

interface Func {
  proto?: string;
  name?: string;
  lines: Line[];
}

function funcs(d: ProgJited, btf: Btf | undefined, decode: Decoder, ks: Kallsyms): Func[] {
  const disasm = (code: Uint8Array, ksym: bigint, idx: number, li: JitedLinfo | undefined): Line[] => {
    const lines: Line[] = [];
    let nrSkip = 0;
    for (let pc = 0; pc < code.length; ) {
      const l: Line = { pc, insn: decode(code, pc), bytes: new Uint8Array() };
      if (li) {
        l.line = lfindAddr(d, li, ksym + BigInt(pc), idx, nrSkip);
        if (l.line) nrSkip++;
      }
      l.bytes = code.subarray(pc, pc + l.insn.len);
      lines.push(l);
      pc += l.insn.len;
    }
    return lines;
  };
  if (!d.funcLens.length) return [{ lines: disasm(d.image, 0n, 0, undefined) }];
  const li = btf ? dissectJitedLinfo(d) : undefined;
  const out: Func[] = [];
  let off = 0;
  d.funcLens.forEach((len, i) => {
    const ksym = d.jitedKsyms[i];
    const name = ksym === undefined ? 'unknown' : (ks.name(ksym) ?? `0x${ksym.toString(16).padStart(16, '0')}`);
    const fi = d.funcInfo[i];
    const proto = btf && fi ? funcPrototype(btf, fi.typeId) : '';
    const code = d.image.subarray(off, Math.min(off + len, d.image.length));
    off += len;
    out.push({ proto: proto || undefined, name, lines: disasm(code, ksym ?? 0n, i, li) });
  });
  return out;
}

const hex2 = (b: number) => b.toString(16).padStart(2, '0');

export function jitedText(d: ProgJited, btf: Btf | undefined, o: JitedOptions = {}, decode: Decoder = x86Decoder, ks: Kallsyms = readKallsyms()): string {
  const out: string[] = [];
  const fs = funcs(d, btf, decode, ks);
  for (const f of fs) {
    if (f.proto) out.push(`${f.proto}:\n`);
    if (f.name !== undefined) out.push(`${f.name}:\n`);
    for (const l of f.lines) {
      if (l.line && btf) {
        const s = linfoPlain(btf, l.line, !!o.linum);
        if (s !== undefined) out.push(`${s}\n`);
      }
      out.push(`${l.pc.toString(16).padStart(4)}:${insnText(l.insn)}`);
      if (o.opcodes) out.push(`\n\t${[...l.bytes].map((b) => `${hex2(b)} `).join('')}`);
      out.push('\n');
    }
    if (f.name !== undefined) out.push('\n');
  }
  return out.join('');
}

/** bpftool's printf_json: the operation, then LLVM's operand text cut at blanks, commas and parentheses. */
function jsonInsn(i: Insn): { operation: string; operands: (string | null)[] } {
  const ops = i.operands.join(', ').split(/[ \t,()]+/).filter(Boolean);
  return { operation: i.mnemonic, operands: ops.length ? ops : [null] };
}

export function jitedJson(d: ProgJited, btf: Btf | undefined, o: JitedOptions = {}, decode: Decoder = x86Decoder, ks: Kallsyms = readKallsyms()): unknown {
  const fs = funcs(d, btf, decode, ks);
  const insns = (f: Func) =>
    f.lines.map((l) => {
      const j: Record<string, unknown> = {};
      if (l.line && btf) linfoJson(btf, l.line, !!o.linum, j);
      j.pc = `0x${l.pc.toString(16)}`;
      Object.assign(j, jsonInsn(l.insn));
      if (o.opcodes) j.opcodes = [...l.bytes].map((b) => `0x${hex2(b)}`);
      return j;
    });
  if (!d.funcLens.length) return insns(fs[0]!);
  return fs.map((f) => {
    const j: Record<string, unknown> = {};
    if (f.proto) j.proto = f.proto;
    j.name = f.name;
    j.insns = insns(f);
    return j;
  });
}
