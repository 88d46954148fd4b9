// x86-64 disassembler for what Linux's BPF JIT emits (arch/x86/net/bpf_jit_comp.c), printing
// LLVM's AT&T notation as `bpftool prog dump jited` shows it when built with LLVM: size suffixes
// on every mnemonic that has one (`movq`, `pushq`, `callq`, `retq`), signed decimal immediates
// and displacements, no zero displacement and no scale 1 (`(%rax,%rax)`), branch and call
// targets as hex addresses relative to the function start, and a lock prefix as its own
// one-byte instruction (LLVM's C API decodes it so). Pure: bytes in, text out. Bytes it does not
// know decode as a one-byte `(bad)`, never an exception.

import { type Insn, insnText } from './insn.js';

export type X86Insn = Insn;

/** LLVM's line for an instruction: `\tmnemonic\top1, op2` (no operands: `\tmnemonic`). */
export const x86Text = insnText;

const R64 = ['rax', 'rcx', 'rdx', 'rbx', 'rsp', 'rbp', 'rsi', 'rdi', 'r8', 'r9', 'r10', 'r11', 'r12', 'r13', 'r14', 'r15'];
const R32 = ['eax', 'ecx', 'edx', 'ebx', 'esp', 'ebp', 'esi', 'edi', 'r8d', 'r9d', 'r10d', 'r11d', 'r12d', 'r13d', 'r14d', 'r15d'];
const R16 = ['ax', 'cx', 'dx', 'bx', 'sp', 'bp', 'si', 'di', 'r8w', 'r9w', 'r10w', 'r11w', 'r12w', 'r13w', 'r14w', 'r15w'];
const R8REX = ['al', 'cl', 'dl', 'bl', 'spl', 'bpl', 'sil', 'dil', 'r8b', 'r9b', 'r10b', 'r11b', 'r12b', 'r13b', 'r14b', 'r15b'];
const R8LEGACY = ['al', 'cl', 'dl', 'bl', 'ah', 'ch', 'dh', 'bh'];
const CC = ['o', 'no', 'b', 'ae', 'e', 'ne', 'be', 'a', 's', 'ns', 'p', 'np', 'l', 'ge', 'le', 'g'];
const ALU = ['add', 'or', 'adc', 'sbb', 'and', 'sub', 'xor', 'cmp'];
const SHIFT = ['rol', 'ror', 'rcl', 'rcr', 'shl', 'shr', 'shl', 'sar'];

/** Operand size: 1, 2, 4 or 8 bytes. */
type Size = 1 | 2 | 4 | 8;
const SUFFIX: Record<Size, string> = { 1: 'b', 2: 'w', 4: 'l', 8: 'q' };

class Bad extends Error {}

class Reader {
  pos: number;
  constructor(
    private readonly b: Uint8Array,
    start: number,
    private readonly end: number,
  ) {
    this.pos = start;
  }
  u8(): number {
    if (this.pos >= this.end) throw new Bad();
    return this.b[this.pos++]!;
  }
  peek(): number | undefined {
    return this.pos < this.end ? this.b[this.pos] : undefined;
  }
  /** Little-endian signed immediate of n bytes. */
  imm(n: 1 | 2 | 4 | 8): bigint {
    let v = 0n;
    for (let i = 0; i < n; i++) v |= BigInt(this.u8()) << BigInt(8 * i);
    return BigInt.asIntN(n * 8, v);
  }
}

interface Prefixes {
  opsize: boolean;
  seg?: string;
  rep?: 'f2' | 'f3';
  rex: number;
  w: boolean;
  r: number;
  x: number;
  b: number;
}

function reg(n: number, size: Size, rex: boolean): string {
  switch (size) {
    case 8:
      return `%${R64[n]}`;
    case 4:
      return `%${R32[n]}`;
    case 2:
      return `%${R16[n]}`;
    case 1:
      return `%${rex ? R8REX[n] : R8LEGACY[n]}`;
  }
}

interface ModRM {
  mod: number;
  /** The reg field with REX.R. */
  reg: number;
  /** The r/m register with REX.B (mod 3 only). */
  rm: number;
  /** The memory operand (mod != 3). */
  mem?: string;
}

function modrm(r: Reader, p: Prefixes): ModRM {
  const m = r.u8();
  const mod = m >> 6;
  const regf = ((m >> 3) & 7) | (p.r << 3);
  const rm = m & 7;
  if (mod === 3) return { mod, reg: regf, rm: rm | (p.b << 3) };
  let base: string | undefined;
  let index: string | undefined;
  let scale = 1;
  let disp = 0n;
  let rip = false;
  if (rm === 4) {
    const sib = r.u8();
    scale = 1 << (sib >> 6);
    const idx = ((sib >> 3) & 7) | (p.x << 3);
    const bs = sib & 7;
    if (bs === 5 && mod === 0) disp = r.imm(4);
    else base = R64[bs | (p.b << 3)];
    if (idx !== 4) index = R64[idx];
    // A SIB byte without an index that the base did not need (only rsp and r12 do), or with a
    // scale: LLVM names the zero register as the index.
    else if (scale !== 1 || (base !== undefined && base !== 'rsp' && base !== 'r12')) index = 'riz';
  } else if (rm === 5 && mod === 0) {
    rip = true;
    disp = r.imm(4);
  } else base = R64[rm | (p.b << 3)];
  if (mod === 1) disp = r.imm(1);
  else if (mod === 2) disp = r.imm(4);
  let s = p.seg ? `%${p.seg}:` : '';
  if (rip) s += `${disp !== 0n ? disp : ''}(%rip)`;
  else {
    if (disp !== 0n || (!base && !index)) s += String(disp);
    if (base || index) s += `(${base ? `%${base}` : ''}${index ? `,%${index}${scale !== 1 ? `,${scale}` : ''}` : ''})`;
  }
  return { mod, reg: regf, rm: 0, mem: s };
}

/** The r/m operand of a decoded ModRM at `size`. */
const rmOp = (m: ModRM, size: Size, p: Prefixes) => m.mem ?? reg(m.rm, size, p.rex !== 0);
const regOp = (m: ModRM, size: Size, p: Prefixes) => reg(m.reg, size, p.rex !== 0);
const vsize = (p: Prefixes): Size => (p.w ? 8 : p.opsize ? 2 : 4);
/** Immediate of operand size `size` as encoded (`Iz`: at most 4 bytes, sign-extended). */
const immz = (r: Reader, size: Size) => r.imm(size === 8 ? 4 : size);
/**
 * An immediate as LLVM prints it. Byte immediates (`Ib`, sign-extended to the operand: `addl
 * $-14`, `imull $-31`) and `retq`'s word are signed: call without `size`. Operand-sized ones
 * (`Iv`/`Iz`) are unsigned at 16 and 32 bits (`movl $4294967295, %eax`, `xorw $45634, %ax`) and
 * signed at 64 (`movq $-1, %rax`, `movabsq`): pass the operand size.
 */
const imm = (v: bigint, size: Size = 8) => `$${size === 8 || size === 1 ? v : BigInt.asUintN(size * 8, v)}`;
/** An immediate that is a count (shift and rotate counts): unsigned as encoded. */
const uimm = (v: bigint, bytes: number) => `$${BigInt.asUintN(bytes * 8, v)}`;

/** Branch target as LLVM prints it: (int)(pc + len + rel), as an unsigned 64-bit hex number. */
function target(pc: bigint, r: Reader, start: number, rel: bigint): string {
  const t = BigInt.asIntN(32, pc + BigInt(r.pos - start) + rel);
  return `0x${BigInt.asUintN(64, t).toString(16)}`;
}

/**
 * Decode one instruction at `off` (not past `end`). `pc` is the address LLVM is given for it
 * (bpftool passes the offset in the function), which branch targets are relative to.
 */
export function decodeX86(code: Uint8Array, off: number, pc: bigint | number = BigInt(off), end = code.length): X86Insn {
  try {
    return decode(code, off, BigInt(pc), end);
  } catch (e) {
    if (e instanceof Bad) return { len: 1, mnemonic: '(bad)', operands: [], bad: true };
    throw e;
  }
}

function decode(code: Uint8Array, start: number, pc: bigint, end: number): X86Insn {
  const r = new Reader(code, start, end);
  const p: Prefixes = { opsize: false, rex: 0, w: false, r: 0, x: 0, b: 0 };
  const done = (mnemonic: string, operands: string[] = []): X86Insn => ({ len: r.pos - start, mnemonic, operands });
  if (r.peek() === 0xf0) {
    r.u8();
    return done('lock');
  }
  for (;;) {
    const b = r.peek();
    if (b === 0x66) p.opsize = true;
    else if (b === 0x2e) p.seg = 'cs';
    else if (b === 0x36) p.seg = 'ss';
    else if (b === 0x3e) p.seg = 'ds';
    else if (b === 0x26) p.seg = 'es';
    else if (b === 0x64) p.seg = 'fs';
    else if (b === 0x65) p.seg = 'gs';
    else if (b === 0xf2) p.rep = 'f2';
    else if (b === 0xf3) p.rep = 'f3';
    else break;
    r.u8();
  }
  let op = r.u8();
  if (op >= 0x40 && op <= 0x4f) {
    p.rex = op;
    p.w = (op & 8) !== 0;
    p.r = (op >> 2) & 1;
    p.x = (op >> 1) & 1;
    p.b = op & 1;
    op = r.u8();
  }
  if (op === 0xc4 || op === 0xc5) return vex(r, p, op, done);
  if (p.rep && !(op === 0x0f && p.rep === 'f3' && r.peek() === 0x1e)) throw new Bad();
  const sz = vsize(p);
  const rexed = p.rex !== 0;
  if (op < 0x40 && (op & 7) < 6) {
    const name = ALU[op >> 3]!;
    const size: Size = op & 1 ? sz : 1;
    switch (op & 7) {
      case 0:
      case 1: {
        const m = modrm(r, p);
        return done(name + SUFFIX[size], [regOp(m, size, p), rmOp(m, size, p)]);
      }
      case 2:
      case 3: {
        const m = modrm(r, p);
        return done(name + SUFFIX[size], [rmOp(m, size, p), regOp(m, size, p)]);
      }
      case 4:
        return done(name + 'b', [imm(r.imm(1), 1), '%al']);
      default:
        return done(name + SUFFIX[sz], [imm(immz(r, sz), sz), reg(0, sz, rexed)]);
    }
  }
  if (p.opsize && ((op >= 0x50 && op <= 0x5f) || (op >= 0x70 && op <= 0x7f) || [0x63, 0x68, 0x6a, 0xc2, 0xc3, 0xe8, 0xe9, 0xeb].includes(op))) throw new Bad();
  if (op >= 0x50 && op <= 0x57) return done('pushq', [reg((op & 7) | (p.b << 3), p.opsize ? 2 : 8, rexed)]);
  if (op >= 0x58 && op <= 0x5f) return done('popq', [reg((op & 7) | (p.b << 3), p.opsize ? 2 : 8, rexed)]);
  if (op >= 0x70 && op <= 0x7f) {
    const rel = r.imm(1);
    return done(`j${CC[op & 15]}`, [target(pc, r, start, rel)]);
  }
  if (op >= 0x91 && op <= 0x97) return done('xchg' + SUFFIX[sz], [reg((op & 7) | (p.b << 3), sz, rexed), reg(0, sz, rexed)]);
  if (op >= 0xb0 && op <= 0xb7) return done('movb', [imm(r.imm(1), 1), reg((op & 7) | (p.b << 3), 1, rexed)]);
  if (op >= 0xb8 && op <= 0xbf) {
    const dst = reg((op & 7) | (p.b << 3), sz, rexed);
    if (p.w) return done('movabsq', [imm(r.imm(8)), dst]);
    return done('mov' + SUFFIX[sz], [imm(r.imm(sz === 2 ? 2 : 4), sz), dst]);
  }
  switch (op) {
    case 0x0f:
      return twoByte(r, p, pc, start, done);
    case 0x63: {
      const m = modrm(r, p);
      return done('movslq', [rmOp(m, 4, p), regOp(m, p.w ? 8 : 4, p)]);
    }
    case 0x68:
      return done('pushq', [imm(r.imm(4))]);
    case 0x6a:
      return done('pushq', [imm(r.imm(1))]);
    case 0x69:
    case 0x6b: {
      const m = modrm(r, p);
      const v = op === 0x6b ? r.imm(1) : immz(r, sz);
      return done('imul' + SUFFIX[sz], [op === 0x6b ? imm(v) : imm(v, sz), rmOp(m, sz, p), regOp(m, sz, p)]);
    }
    case 0x80:
    case 0x81:
    case 0x83: {
      const size: Size = op === 0x80 ? 1 : sz;
      const m = modrm(r, p);
      const v = op === 0x81 ? immz(r, size) : r.imm(1);
      return done(ALU[m.reg & 7]! + SUFFIX[size], [op === 0x81 ? imm(v, size) : imm(v), rmOp(m, size, p)]);
    }
    case 0x84:
    case 0x85:
    case 0x86:
    case 0x87: {
      const size: Size = op & 1 ? sz : 1;
      const m = modrm(r, p);
      // LLVM names a register-register xchg's operands the other way round.
      if (op >= 0x86 && !m.mem) return done('xchg' + SUFFIX[size], [rmOp(m, size, p), regOp(m, size, p)]);
      return done((op < 0x86 ? 'test' : 'xchg') + SUFFIX[size], [regOp(m, size, p), rmOp(m, size, p)]);
    }
    case 0x88:
    case 0x89: {
      const size: Size = op & 1 ? sz : 1;
      const m = modrm(r, p);
      return done('mov' + SUFFIX[size], [regOp(m, size, p), rmOp(m, size, p)]);
    }
    case 0x8a:
    case 0x8b: {
      const size: Size = op & 1 ? sz : 1;
      const m = modrm(r, p);
      return done('mov' + SUFFIX[size], [rmOp(m, size, p), regOp(m, size, p)]);
    }
    case 0x8d: {
      const m = modrm(r, p);
      if (!m.mem) throw new Bad();
      return done('lea' + SUFFIX[sz], [m.mem, regOp(m, sz, p)]);
    }
    case 0x90:
      if (p.b) return done('xchg' + SUFFIX[sz], [reg(8, sz, rexed), reg(0, sz, rexed)]);
      return done('nop');
    case 0x98:
      return done(p.w ? 'cltq' : p.opsize ? 'cbtw' : 'cwtl');
    case 0x99:
      return done(p.w ? 'cqto' : p.opsize ? 'cwtd' : 'cltd');
    case 0xa8:
      return done('testb', [imm(r.imm(1), 1), '%al']);
    case 0xa9:
      return done('test' + SUFFIX[sz], [imm(immz(r, sz), sz), reg(0, sz, rexed)]);
    case 0xc0:
    case 0xc1:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      const size: Size = op & 1 ? sz : 1;
      const m = modrm(r, p);
      if ((m.reg & 7) === 6) throw new Bad(); // sal's alias encoding: LLVM does not decode it
      const name = SHIFT[m.reg & 7]! + SUFFIX[size];
      const dst = rmOp(m, size, p);
      if (op <= 0xc1) return done(name, [uimm(r.imm(1), 1), dst]);
      if (op <= 0xd1) return done(name, [dst]);
      return done(name, ['%cl', dst]);
    }
    case 0xc2:
      return done('retq', [imm(r.imm(2))]);
    case 0xc3:
      return done('retq');
    case 0xc6:
    case 0xc7: {
      const size: Size = op & 1 ? sz : 1;
      if (r.peek() === 0xf8) {
        // RTM's xabort / xbegin (not JIT output; decoded so that LLVM and bee-ts agree).
        r.u8();
        if (op === 0xc6) return done('xabort', [imm(r.imm(1))]);
        if (p.opsize) throw new Bad();
        return done('xbegin', [target(pc, r, start, r.imm(4))]);
      }
      const m = modrm(r, p);
      if ((m.reg & 7) !== 0) throw new Bad();
      return done('mov' + SUFFIX[size], [imm(immz(r, size), size), rmOp(m, size, p)]);
    }
    case 0xc9:
      return done('leave');
    case 0xcc:
      return done('int3');
    case 0xe8:
      return done('callq', [target(pc, r, start, r.imm(4))]);
    case 0xe9:
      return done('jmp', [target(pc, r, start, r.imm(4))]);
    case 0xeb:
      return done('jmp', [target(pc, r, start, r.imm(1))]);
    case 0xf6:
    case 0xf7: {
      const size: Size = op & 1 ? sz : 1;
      const m = modrm(r, p);
      const sub = m.reg & 7;
      const dst = rmOp(m, size, p);
      if (sub === 1) throw new Bad(); // test's alias encoding: LLVM does not decode it
      if (sub === 0) return done('test' + SUFFIX[size], [imm(immz(r, size), size), dst]);
      return done(['', '', 'not', 'neg', 'mul', 'imul', 'div', 'idiv'][sub]! + SUFFIX[size], [dst]);
    }
    case 0xfe:
    case 0xff: {
      const size: Size = op & 1 ? sz : 1;
      const m = modrm(r, p);
      const sub = m.reg & 7;
      if (sub < 2) return done((sub ? 'dec' : 'inc') + SUFFIX[size], [rmOp(m, size, p)]);
      if (op === 0xfe) throw new Bad();
      // 66 makes push 16-bit unless REX.W; LLVM ignores it on near indirect calls and jumps.
      const w16 = p.opsize && !p.w;
      if (sub === 6) return done(w16 ? 'pushw' : 'pushq', [rmOp(m, w16 ? 2 : 8, p)]);
      if (sub === 2) return done('callq', [`*${rmOp(m, 8, p)}`]);
      if (sub === 4) return done('jmpq', [`*${rmOp(m, 8, p)}`]);
      if ((sub === 3 || sub === 5) && m.mem) return done(`l${sub === 3 ? 'call' : 'jmp'}${SUFFIX[sz]}`, [`*${m.mem}`]);
      throw new Bad();
    }
  }
  throw new Bad();
}

type Done = (mnemonic: string, operands?: string[]) => X86Insn;

function twoByte(r: Reader, p: Prefixes, pc: bigint, start: number, done: Done): X86Insn {
  const op = r.u8();
  const sz = vsize(p);
  if (op >= 0x80 && op <= 0x8f) {
    const rel = r.imm(4);
    return done(`j${CC[op & 15]}`, [target(pc, r, start, rel)]);
  }
  if (op >= 0x40 && op <= 0x4f) {
    const m = modrm(r, p);
    return done(`cmov${CC[op & 15]}${SUFFIX[sz]}`, [rmOp(m, sz, p), regOp(m, sz, p)]);
  }
  if (op >= 0x90 && op <= 0x9f) {
    const m = modrm(r, p);
    return done(`set${CC[op & 15]}`, [rmOp(m, 1, p)]);
  }
  if (op >= 0xc8 && op <= 0xcf) return done('bswap' + SUFFIX[sz], [reg((op & 7) | (p.b << 3), sz, p.rex !== 0)]);
  switch (op) {
    case 0x0b:
      return done('ud2');
    case 0x1e:
      if (p.rep === 'f3' && r.u8() === 0xfa) return done('endbr64');
      throw new Bad();
    case 0x1f: {
      const m = modrm(r, p);
      return done('nop' + SUFFIX[sz], [rmOp(m, sz, p)]);
    }
    case 0xae: {
      if (p.opsize && !p.w) throw new Bad();
      const m = r.u8();
      if (m === 0xe8) return done('lfence');
      if (m === 0xf0) return done('mfence');
      if (m === 0xf8) return done('sfence');
      throw new Bad();
    }
    case 0xaf: {
      const m = modrm(r, p);
      return done('imul' + SUFFIX[sz], [rmOp(m, sz, p), regOp(m, sz, p)]);
    }
    case 0xb0:
    case 0xb1:
    case 0xc0:
    case 0xc1: {
      const size: Size = op & 1 ? sz : 1;
      const m = modrm(r, p);
      return done((op < 0xc0 ? 'cmpxchg' : 'xadd') + SUFFIX[size], [regOp(m, size, p), rmOp(m, size, p)]);
    }
    case 0xb6:
    case 0xb7:
    case 0xbe:
    case 0xbf: {
      const from: Size = op & 1 ? 2 : 1;
      const m = modrm(r, p);
      return done(`mov${op < 0xbe ? 'z' : 's'}${SUFFIX[from]}${SUFFIX[sz]}`, [rmOp(m, from, p), regOp(m, sz, p)]);
    }
  }
  throw new Bad();
}

/** VEX-encoded BMI2 shifts (shlx/shrx/sarx, rorx), which the JIT uses when the CPU has BMI2. */
function vex(r: Reader, p: Prefixes, op: number, done: Done): X86Insn {
  if (p.rex || p.opsize || p.rep) throw new Bad();
  const b1 = r.u8();
  let map = 1;
  let w = false;
  let b2 = b1;
  if (op === 0xc4) {
    p.r = (~b1 >> 7) & 1;
    p.x = (~b1 >> 6) & 1;
    p.b = (~b1 >> 5) & 1;
    map = b1 & 31;
    b2 = r.u8();
    w = (b2 & 0x80) !== 0;
  } else p.r = (~b1 >> 7) & 1;
  const vvvv = (~b2 >> 3) & 15;
  const l = (b2 >> 2) & 1;
  const pp = b2 & 3;
  p.rex = 0x40; // registers are named as with REX
  const opc = r.u8();
  const size: Size = w ? 8 : 4;
  if (l) throw new Bad();
  if (map === 2 && opc === 0xf7 && pp !== 0) {
    const m = modrm(r, p);
    const name = pp === 1 ? 'shlx' : pp === 2 ? 'sarx' : 'shrx';
    return done(name + SUFFIX[size], [reg(vvvv, size, true), rmOp(m, size, p), regOp(m, size, p)]);
  }
  if (map === 3 && opc === 0xf0 && pp === 3 && vvvv === 0) {
    const m = modrm(r, p);
    return done('rorx' + SUFFIX[size], [uimm(r.imm(1), 1), rmOp(m, size, p), regOp(m, size, p)]);
  }
  throw new Bad();
}
