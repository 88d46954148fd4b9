// `bee-ts prog dump xlated PROG [opcodes | linum | file FILE] [--json]`: the program as the
// verifier left it, in bpftool's layout — a `int name(args):` line at each function (BTF
// func_info), `; source` lines (BTF line_info), `%4d: (code) text` per instruction. Helper and
// kfunc calls are named from /proc/kallsyms (`__bpf_call_base + imm`), subprogram calls by their
// JIT symbol, map references by map id.
import fs from 'node:fs';
import type { Btf } from '../btf/btf.js';
import { BtfKind } from '../btf/types.js';
import { formatInsn, type Insn, insnAt } from '../loader/disasm.js';
import { BPF_PSEUDO_CALL, BPF_PSEUDO_FUNC, BPF_PSEUDO_MAP_FD, BPF_PSEUDO_MAP_IDX_VALUE, BPF_PSEUDO_MAP_VALUE, InsnBuffer, OP_LD_IMM64 } from '../loader/insn.js';
import type { LineInfoRec, ProgXlated } from '../syscall/info.js';
import { INCLUDE_DIR } from './paths.js';

/**
 * /proc/kallsyms lookups by exact address. The text is searched per address (a dump needs a few
 * dozen) instead of parsing its ~120k lines into a map: the file is the slow part of a dump.
 * One snapshot per command (readKallsyms), as bpftool reads the file per dump: every program
 * loaded since adds its `bpf_prog_<tag>_<name>` symbols, so a snapshot kept for the process (it
 * was, once) printed a later program's subprogram calls as bare addresses in a process that runs
 * several commands (the in-process CLI, found running test/kernel/bpftool-parity.test.ts after
 * inspect-cli in one VM worker).
 */
export class Kallsyms {
  private readonly text: string;
  private readonly found = new Map<bigint, string | undefined>();
  readonly callBase: bigint;
  constructor() {
    let text = '';
    try {
      text = fs.readFileSync('/proc/kallsyms', 'latin1');
    } catch {
      /* no kallsyms: addresses print as numbers */
    }
    this.text = text;
    const at = text.indexOf(' __bpf_call_base\n');
    const start = at < 0 ? -1 : text.lastIndexOf('\n', at) + 1;
    this.callBase = at < 0 ? 0n : BigInt(`0x${text.slice(start, text.indexOf(' ', start))}`);
  }
  name(addr: bigint): string | undefined {
    if (this.found.has(addr)) return this.found.get(addr);
    let result: string | undefined;
    if (addr > 0n && addr < 1n << 64n) {
      const key = `${addr.toString(16).padStart(16, '0')} `;
      for (let i = this.text.indexOf(key); i >= 0; i = this.text.indexOf(key, i + 1)) {
        if (i !== 0 && this.text.charCodeAt(i - 1) !== 10) continue;
        const nameStart = i + key.length + 2; // past "T "
        let end = this.text.indexOf('\n', nameStart);
        if (end < 0) end = this.text.length;
        const tab = this.text.indexOf('\t', nameStart);
        result = this.text.slice(nameStart, tab >= 0 && tab < end ? tab : end);
        break;
      }
    }
    this.found.set(addr, result);
    return result;
  }
}
/** A fresh snapshot of /proc/kallsyms, for one command. */
export const readKallsyms = (): Kallsyms => new Kallsyms();

let helperNamesCache: Map<number, string> | undefined;
/**
 * Helper names by id, from the bpf_helper_defs.h bee-ts ships (generated from the uapi header).
 * Calls the kernel did not rewrite to an address (bpf_tail_call) keep their helper id.
 */
function helperNames(): Map<number, string> {
  if (helperNamesCache) return helperNamesCache;
  helperNamesCache = new Map();
  try {
    const file = `${INCLUDE_DIR}/bpf/bpf_helper_defs.h`;
    for (const m of fs.readFileSync(file, 'utf8').matchAll(/\(\* const (bpf_\w+)\)\(.*\) = \(void \*\) (\d+);/g)) helperNamesCache.set(Number(m[2]), m[1]!);
  } catch {
    /* no header: such calls print as addresses */
  }
  return helperNamesCache;
}

/** bpftool's one-line type text (btf_dumper_type_only): `struct prod_req *`, `int`, `char[16]`. */
function typeOnly(btf: Btf, id: number, out: string[]): boolean {
  if (id === 0) {
    out.push('void ');
    return true;
  }
  const t = btf.typeOrUndefined(id);
  if (!t) return false;
  switch (t.kind) {
    case BtfKind.Int:
    case BtfKind.Typedef:
    case BtfKind.Float:
      out.push(`${t.name} `);
      return true;
    case BtfKind.Struct:
      out.push(`struct ${t.name} `);
      return true;
    case BtfKind.Union:
      out.push(`union ${t.name} `);
      return true;
    case BtfKind.Enum:
      out.push(`enum ${t.name} `);
      return true;
    case BtfKind.Array:
      if (!typeOnly(btf, t.type, out)) return false;
      out.push(`[${t.nelems}]`);
      return true;
    case BtfKind.Ptr:
      if (!typeOnly(btf, t.type, out)) return false;
      out.push('* ');
      return true;
    case BtfKind.Fwd:
      out.push(`${t.union ? 'union' : 'struct'} ${t.name} `);
      return true;
    case BtfKind.Volatile:
    case BtfKind.Const:
    case BtfKind.Restrict:
      out.push(`${t.kind === BtfKind.Volatile ? 'volatile' : t.kind === BtfKind.Const ? 'const' : 'restrict'} `);
      return typeOnly(btf, t.type, out);
    case BtfKind.FuncProto:
      return funcSig(btf, id, undefined, out);
    case BtfKind.Func:
      return funcSig(btf, t.type, t.name, out);
    default:
      return false; // bpftool 7.1 prints no prototype for kinds it does not know (type tags, enum64)
  }
}

function funcSig(btf: Btf, protoId: number, name: string | undefined, out: string[]): boolean {
  const p = btf.typeOrUndefined(protoId);
  if (!p || p.kind !== BtfKind.FuncProto) return false;
  if (!typeOnly(btf, p.returnType, out)) return false;
  out.push(name !== undefined ? `${name}(` : '(');
  p.params.forEach((a, i) => {
    if (i) out.push(', ');
    if (a.type) {
      typeOnly(btf, a.type, out);
      if (a.name) out.push(a.name);
      else {
        // "Remove unnecessary space" for unnamed parameters.
        const last = out[out.length - 1]!;
        if (last.endsWith(' ')) out[out.length - 1] = last.slice(0, -1);
      }
    } else out.push('...');
  });
  out.push(')');
  return true;
}

export function funcPrototype(btf: Btf, funcId: number): string {
  const out: string[] = [];
  return typeOnly(btf, funcId, out) ? out.join('') : '';
}

export interface XlatedOptions {
  opcodes?: boolean;
  linum?: boolean;
}

interface Row {
  index: number;
  proto?: string;
  line?: LineInfoRec;
  disasm: string;
  bytes: Uint8Array;
}

function rows(x: ProgXlated, btf: Btf | undefined, ks: Kallsyms): Row[] {
  const n = x.insns.length / 8;
  const view = new InsnBuffer(x.insns);
  const insns: Insn[] = Array.from({ length: n }, (_, i) => insnAt(view, i));
  const names = {
    call: (insn: Insn) => {
      if (insn.src === BPF_PSEUDO_CALL) {
        // Subprogram: off is the pc-relative target, imm the subprogram's index in jited_ksyms.
        const rel = insn.off >= 0 ? `+${insn.off}` : String(insn.off);
        if (x.jitedKsyms.length === 0) return rel;
        const addr = insn.imm >>> 0 < x.jitedKsyms.length ? x.jitedKsyms[insn.imm]! : ks.callBase + BigInt(insn.imm);
        const sym = ks.name(addr);
        return sym ? `${rel}#${sym}` : `${rel}#0x${addr.toString(16)}`;
      }
      if (insn.src === 0 && insn.imm >= 0) {
        const helper = helperNames().get(insn.imm);
        if (helper) return helper;
      }
      const addr = ks.callBase + BigInt(insn.imm);
      return ks.name(addr) ?? `0x${BigInt.asUintN(64, addr).toString(16)}`;
    },
    imm64: (insn: Insn, next: Insn, full: bigint) => {
      switch (insn.src) {
        case BPF_PSEUDO_MAP_FD:
          return `map[id:${insn.imm >>> 0}]`;
        case BPF_PSEUDO_MAP_VALUE:
          return `map[id:${insn.imm >>> 0}][0]+${next.imm >>> 0}`;
        case BPF_PSEUDO_MAP_IDX_VALUE:
          return `map[idx:${insn.imm >>> 0}]+${next.imm >>> 0}`;
        case BPF_PSEUDO_FUNC:
          return `subprog[${insn.imm >= 0 ? '+' : ''}${insn.imm}]`;
        default:
          return `0x${full.toString(16)}`;
      }
    },
  };
  const out: Row[] = [];
  let fi = 0;
  let nrSkip = 0;
  for (let i = 0; i < n; i++) {
    const insn = insns[i]!;
    const double = insn.code === OP_LD_IMM64;
    const row: Row = { index: i, disasm: formatInsn(insn, double ? insns[i + 1] : undefined, i, names), bytes: x.insns.subarray(i * 8, (i + (double ? 2 : 1)) * 8) };
    if (btf && fi < x.funcInfo.length && x.funcInfo[fi]!.insnOff === i) {
      const sig = funcPrototype(btf, x.funcInfo[fi]!.typeId);
      if (sig) row.proto = sig;
      fi++;
    }
    if (btf) {
      // libbpf's bpf_prog_linfo__lfind: the first unprinted record that starts here.
      // The kernel keeps line info sorted by instruction: stop at the first record past this one.
      for (let k = nrSkip; k < x.lineInfo.length && x.lineInfo[k]!.insnOff <= i; k++) {
        if (x.lineInfo[k]!.insnOff === i) {
          row.line = x.lineInfo[k];
          nrSkip++;
          break;
        }
      }
    }
    out.push(row);
    if (double) i++;
  }
  return out;
}

const ltrim = (s: string) => s.replace(/^[ \t\n\v\f\r]+/, '');

/** bpftool's btf_dump_linfo_plain: `; source` (with `linum`: `[file:F line_num:N line_col:C]`). */
export function linfoPlain(btf: Btf, rec: LineInfoRec, linum: boolean): string | undefined {
  const src = btf.strAt(rec.lineOff);
  if (src === undefined) return undefined;
  let l = `; ${ltrim(src)}`;
  if (linum) l += ` [file:${btf.strAt(rec.fileNameOff) ?? ''} line_num:${rec.line} line_col:${rec.col}]`;
  return l;
}

/** bpftool's btf_dump_linfo_json: `src`, and with `linum` `file`, `line_num`, `line_col` (when not 0). */
export function linfoJson(btf: Btf, rec: LineInfoRec, linum: boolean, j: Record<string, unknown>): void {
  const src = btf.strAt(rec.lineOff);
  if (src !== undefined) j.src = ltrim(src);
  if (linum) {
    const file = btf.strAt(rec.fileNameOff);
    if (file !== undefined) j.file = file;
    if (rec.line) j.line_num = rec.line;
    if (rec.col) j.line_col = rec.col;
  }
}
const hexBytes = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join(' ');

export function xlatedText(x: ProgXlated, btf: Btf | undefined, o: XlatedOptions = {}, ks: Kallsyms = readKallsyms()): string {
  const lines: string[] = [];
  for (const r of rows(x, btf, ks)) {
    if (r.proto) lines.push(`${r.proto}:`);
    if (r.line && btf) {
      const l = linfoPlain(btf, r.line, !!o.linum);
      if (l !== undefined) lines.push(l);
    }
    lines.push(`${String(r.index).padStart(4)}: ${r.disasm}`);
    if (o.opcodes) lines.push(`       ${hexBytes(r.bytes)}`);
  }
  return lines.length ? lines.join('\n') + '\n' : '';
}

export function xlatedJson(x: ProgXlated, btf: Btf | undefined, o: XlatedOptions = {}, ks: Kallsyms = readKallsyms()): Record<string, unknown>[] {
  return rows(x, btf, ks).map((r) => {
    const j: Record<string, unknown> = {};
    if (r.proto) j.proto = r.proto;
    if (r.line && btf) linfoJson(btf, r.line, !!o.linum, j);
    j.disasm = r.disasm;
    if (o.opcodes) {
      const b = r.bytes;
      const h = (v: number, pad: number) => `0x${v.toString(16).padStart(pad, '0')}`;
      j.opcodes = {
        code: h(b[0]!, 2),
        src_reg: h(b[1]! >> 4, 1),
        dst_reg: h(b[1]! & 0xf, 1),
        off: [h(b[2]!, 2), h(b[3]!, 2)],
        imm: [...b.subarray(4, b.length > 8 ? 16 : 8)].map((v) => h(v, 2)),
      };
    }
    return j;
  });
}
