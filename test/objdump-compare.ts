// Instruction-by-instruction comparison of bee-ts's x86-64 disassembly (LLVM's AT&T notation)
// with binutils objdump's (GNU AT&T notation) on the same bytes. Only these documented notation
// differences are normalised; everything else (every instruction's address, length, mnemonic and
// each operand) must match:
//  1. Size suffixes: LLVM prints one on every mnemonic that has a size (`movq`, `pushq`, `callq`,
//     `retq`, `jmpq *`, `movabsq`, `shlxq`); objdump leaves it out where a register operand fixes
//     the size. Ours may be objdump's mnemonic plus one of b/w/l/q.
//  2. `66 90`: LLVM `nop`, objdump `xchg %ax,%ax` (the same instruction).
//  3. A lock prefix: LLVM's C API (and so bpftool) decodes it as a one-byte `lock` instruction;
//     objdump prints `lock cmpxchg ...` as one. Ours is joined with the next instruction.
//  4. Numbers: LLVM prints signed decimal, objdump hex. Immediates and branch targets are compared
//     as the same number at the operand's width (8, 16, 32 or 64 bits: `movb $-1` is `$0xff`,
//     `movq $-1` is `$0xffffffffffffffff`, `movl $4294967295` is `$0xffffffff`).
//  5. Memory operands: LLVM leaves out a zero displacement and a scale of 1 (`(%rax,%rax)`),
//     objdump prints them (`0x0(%rax,%rax,1)`); segment prefixes objdump prints as a word before
//     the mnemonic (`cs nopw`) belong to the memory operand (`%cs:`). Compared as (segment,
//     displacement, base, index, scale); an absolute address (no base, no index, as in
//     `%gs:ADDR`) objdump prints as an unsigned 64-bit number, so it is compared as in 4.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { decodeX86, type X86Insn } from '../src/disasm/x86.js';

export interface Theirs {
  pc: number;
  len: number;
  text: string;
}

/**
 * objdump -D -b binary -m i386:x86-64 on each of `codes`, each decoded from its own start as objdump decodes a file, in one
 * objdump run per 256 of them (objdump takes many files): one process per function was most of
 * the comparison's time under TCG (270 s of QEMU CPU for the fixtures' functions in the 6.12 VM).
 */
export function objdumpAll(codes: readonly Uint8Array[], dir: string, name = 'code.bin'): Theirs[][] {
  const files = codes.map((code, i) => {
    const file = path.join(dir, `${i}-${name}`);
    fs.writeFileSync(file, code, { flag: 'w', mode: 0o600 });
    return file;
  });
  const index = new Map(files.map((f, i) => [f, i]));
  const all: Theirs[][] = codes.map(() => []);
  for (let at = 0; at < files.length; at += 256) {
    const out = execFileSync('objdump', ['-D', '-b', 'binary', '-m', 'i386:x86-64', '--insn-width=16', ...files.slice(at, at + 256)], { encoding: 'utf8', maxBuffer: 1 << 28 });
    let rows: Theirs[] | undefined;
    for (const line of out.split('\n')) {
      const head = /^(.*):\s+file format binary$/.exec(line);
      if (head) {
        const i = index.get(head[1]!);
        if (i === undefined) throw new Error(`objdump printed a file it was not given: ${head[1]}`);
        rows = all[i];
        continue;
      }
      const m = /^ *([0-9a-f]+):\t((?:[0-9a-f]{2} )+) *\t?(.*)$/.exec(line);
      if (!m) continue;
      if (!rows) throw new Error(`objdump printed an instruction before a file header: ${line}`);
      rows.push({ pc: parseInt(m[1]!, 16), len: m[2]!.trim().split(' ').length, text: m[3]!.trim() });
    }
  }
  for (const f of files) fs.rmSync(f);
  return all;
}

export interface Ours {
  pc: number;
  len: number;
  insn: X86Insn;
}

/** bee-ts's instructions over `code`, lock prefixes joined to what follows (difference 3). */
export function ours(code: Uint8Array): { pc: number; len: number; mnemonic: string; operands: string[] }[] {
  const out: { pc: number; len: number; mnemonic: string; operands: string[] }[] = [];
  let lock: number | undefined;
  for (let pc = 0; pc < code.length; ) {
    const i = decodeX86(code, pc, pc);
    if (i.mnemonic === 'lock' && lock === undefined) lock = pc;
    else {
      const start = lock ?? pc;
      out.push({ pc: start, len: pc + i.len - start, mnemonic: (lock !== undefined ? 'lock ' : '') + i.mnemonic, operands: i.operands });
      lock = undefined;
    }
    pc += i.len;
  }
  return out;
}

/** Operands split at top-level commas. */
function splitOps(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of s) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      out.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

const num = (s: string) => (s.startsWith('-') ? -BigInt(s.slice(1)) : BigInt(s));

/** The same number at one of the operand widths (difference 4). */
function sameNumber(a: bigint, b: bigint): boolean {
  return [8, 16, 32, 64].some((w) => BigInt.asUintN(w, a) === BigInt.asUintN(w, b) && a >= -(1n << BigInt(w)) && a < 1n << BigInt(w) && b >= -(1n << BigInt(w)) && b < 1n << BigInt(w));
}

interface Mem {
  seg: string;
  disp: bigint;
  base: string;
  index: string;
  scale: number;
}

function mem(s: string, seg = ''): Mem | undefined {
  const m = /^(?:%(\w\w):)?(-?(?:0x[0-9a-f]+|\d+))?(?:\((%\w+)?(?:,(%\w+)(?:,(\d))?)?\))?$/.exec(s);
  if (!m || (!m[2] && !m[3] && !m[4])) return undefined;
  return { seg: m[1] ?? seg, disp: m[2] ? num(m[2]) : 0n, base: m[3] ?? '', index: m[4] ?? '', scale: m[5] ? Number(m[5]) : 1 };
}

function sameOperand(a: string, b: string, seg: string): boolean {
  if (a === b) return true;
  if (a.startsWith('$') && b.startsWith('$')) return sameNumber(num(a.slice(1)), num(b.slice(1)));
  if (a.startsWith('*') && b.startsWith('*')) return sameOperand(a.slice(1), b.slice(1), seg);
  if (/^-?(0x[0-9a-f]+|\d+)$/.test(a) && /^-?(0x[0-9a-f]+|\d+)$/.test(b)) return sameNumber(num(a), num(b));
  const ma = mem(a);
  const mb = mem(b, seg);
  return !!ma && !!mb && ma.seg === mb.seg && (ma.disp === mb.disp || (!ma.base && !ma.index && sameNumber(ma.disp, mb.disp))) && ma.base === mb.base && ma.index === mb.index && ma.scale === mb.scale;
}

/** undefined when the two agree after the documented normalisation, else what differs. */
export function compare(o: { pc: number; len: number; mnemonic: string; operands: string[] }, t: Theirs): string | undefined {
  const where = `at 0x${o.pc.toString(16)}: ours '${o.mnemonic} ${o.operands.join(', ')}' (${o.len} bytes), objdump '${t.text}' (${t.len} bytes)`;
  if (o.pc !== t.pc || o.len !== t.len) return `address or length differ ${where}`;
  let text = t.text.replace(/\s+#.*$/, '');
  if (text === 'xchg   %ax,%ax') text = 'nop'; // difference 2
  let seg = '';
  const words = text.split(/\s+/);
  let k = 0;
  let lock = '';
  for (; k < words.length; k++) {
    if (/^(cs|ds|ss|es|fs|gs)$/.test(words[k]!)) seg = words[k]!;
    else if (words[k] === 'lock') lock = 'lock ';
    else break;
  }
  const mnem = lock + (words[k] ?? '');
  const ops = splitOps(words.slice(k + 1).join(' '));
  const okMnem = o.mnemonic === mnem || (o.mnemonic.length === mnem.length + 1 && o.mnemonic.startsWith(mnem) && 'bwlq'.includes(o.mnemonic.slice(-1)));
  if (!okMnem) return `mnemonic differs ${where}`;
  if (ops.length !== o.operands.length) return `operand count differs ${where}`;
  for (let i = 0; i < ops.length; i++) if (!sameOperand(o.operands[i]!, ops[i]!, seg)) return `operand ${i + 1} differs ${where}`;
  return undefined;
}
