// AArch64 disassembler for what Linux's BPF JIT for arm64 emits (arch/arm64/net/bpf_jit.h's
// A64_* encodings: add/sub/logical (immediate and shifted register), move wide, bitfield moves
// and their shift/extend aliases, multiply/divide, variable shifts, rev, loads and stores
// (unsigned offset, unscaled, pre/post-index, register offset, pairs), exclusive and LSE atomics,
// branches, hints (nop, paciasp/autiasp, bti), dmb, mrs, brk/udf), in LLVM's notation with
// every ISA extension on (`+all`, as bpftool disassembles arm64): aliases as LLVM prefers them
// (`mov`, `cmp`, `tst`, `lsl`, `uxtb`, `mul`, `stadd`...), decimal immediates but hexadecimal
// logical masks, branch targets as hex addresses from the function start. Pure; an encoding it
// does not know is a 4-byte `(bad)`.
import { type Insn, insnText } from './insn.js';

const COND = ['eq', 'ne', 'hs', 'lo', 'mi', 'pl', 'vs', 'vc', 'hi', 'ls', 'ge', 'lt', 'gt', 'le', 'al', 'nv'];

class Bad extends Error {}

/** The instruction has these bits (JavaScript's & is signed: compare unsigned). */
const is = (w: number, mask: number, value: number) => (w & mask) >>> 0 === value;
const bits = (w: number, lo: number, n: number) => (w >>> lo) & ((1 << n) - 1);
const sext = (v: number, n: number) => (v << (32 - n)) >> (32 - n);
/** General register n (31 = zero register, or sp where the encoding means sp). */
const R = (n: number, x: boolean, sp = false) => (n === 31 ? (sp ? (x ? 'sp' : 'wsp') : x ? 'xzr' : 'wzr') : `${x ? 'x' : 'w'}${n}`);
const target = (pc: bigint, off: number) => `0x${BigInt.asUintN(64, BigInt.asIntN(32, pc + BigInt(off))).toString(16)}`;

/** DecodeBitMasks (the Arm ARM's), for logical immediates; undefined when reserved. */
function bitmask(n: number, immr: number, imms: number, width: 32 | 64): bigint | undefined {
  const combined = (n << 6) | (~imms & 0x3f);
  let len = -1;
  for (let i = 6; i >= 0; i--)
    if (combined & (1 << i)) {
      len = i;
      break;
    }
  if (len < 1) return undefined;
  const size = 1 << len;
  if (size > width) return undefined;
  const levels = size - 1;
  const s = imms & levels;
  const r = immr & levels;
  if (s === levels) return undefined;
  let elem = (1n << BigInt(s + 1)) - 1n;
  const mask = (1n << BigInt(size)) - 1n;
  if (r) elem = ((elem >> BigInt(r)) | (elem << BigInt(size - r))) & mask;
  let v = 0n;
  for (let i = 0; i < width; i += size) v |= elem << BigInt(i);
  return v;
}

const isMovz = (v: bigint, shift: number, width: number) => {
  if (width === 32) v &= 0xffffffffn;
  if (v === 0n && shift !== 0) return false;
  return (v & ~(0xffffn << BigInt(shift))) === 0n;
};
const anyMovz = (v: bigint, width: number) => {
  for (let s = 0; s <= width - 16; s += 16) if (isMovz(v, s, width)) return true;
  return false;
};
const notW = (v: bigint, width: number) => BigInt.asUintN(width, ~v);
const signed = (v: bigint, width: number) => BigInt.asIntN(width, v);

export function decodeArm64(code: Uint8Array, off: number, pc: bigint | number = BigInt(off), end = code.length): Insn {
  if (off + 4 > end) return { len: Math.max(1, end - off), mnemonic: '(bad)', operands: [], bad: true };
  const w = (code[off]! | (code[off + 1]! << 8) | (code[off + 2]! << 16) | (code[off + 3]! << 24)) >>> 0;
  try {
    const [mnemonic, ...operands] = decode(w, BigInt(pc));
    return { len: 4, mnemonic: mnemonic!, operands };
  } catch (e) {
    if (e instanceof Bad) return { len: 4, mnemonic: '(bad)', operands: [], bad: true };
    throw e;
  }
}

/** A shift suffix (`, lsl #3`), left out for lsl #0. */
const shiftOp = (type: number, amount: number) => (type === 0 && amount === 0 ? [] : [`${['lsl', 'lsr', 'asr', 'ror'][type]} #${amount}`]);

function decode(w: number, pc: bigint): string[] {
  const sf = (w >>> 31) === 1;
  const rd = bits(w, 0, 5);
  const rn = bits(w, 5, 5);
  const rm = bits(w, 16, 5);
  // Branches and system instructions.
  if (is(w, 0x7c000000, 0x14000000)) return [w >>> 31 ? 'bl' : 'b', target(pc, sext(bits(w, 0, 26), 26) * 4)];
  if (is(w, 0xff000010, 0x54000000)) return [`b.${COND[w & 15]}`, target(pc, sext(bits(w, 5, 19), 19) * 4)];
  if (is(w, 0x7e000000, 0x34000000)) return [bits(w, 24, 1) ? 'cbnz' : 'cbz', R(rd, sf), target(pc, sext(bits(w, 5, 19), 19) * 4)];
  if (is(w, 0xfffffc1f, 0xd61f0000)) return ['br', R(rn, true)];
  if (is(w, 0xfffffc1f, 0xd63f0000)) return ['blr', R(rn, true)];
  if (is(w, 0xfffffc1f, 0xd65f0000)) return rn === 30 ? ['ret'] : ['ret', R(rn, true)];
  if (is(w, 0xfffff01f, 0xd503201f)) {
    const hint = bits(w, 5, 7);
    const named: Record<number, string> = { 0: 'nop', 1: 'yield', 2: 'wfe', 3: 'wfi', 4: 'sev', 5: 'sevl', 25: 'paciasp', 29: 'autiasp', 27: 'pacibsp', 31: 'autibsp' };
    if (named[hint]) return [named[hint]];
    if (hint >= 32 && hint <= 38 && !(hint & 1)) return ['bti', ...(hint === 32 ? [] : [['', 'c', 'j', 'jc'][(hint - 32) >> 1]!])];
    throw new Bad(); // other hints: LLVM names several; the JIT emits none of them
  }
  if (is(w, 0xfffff0ff, 0xd50330bf)) {
    const crm = bits(w, 8, 4);
    const names: Record<number, string> = { 1: 'oshld', 2: 'oshst', 3: 'osh', 5: 'nshld', 6: 'nshst', 7: 'nsh', 9: 'ishld', 10: 'ishst', 11: 'ish', 13: 'ld', 14: 'st', 15: 'sy' };
    return ['dmb', names[crm] ?? `#${crm}`];
  }
  if (is(w, 0xfff00000, 0xd5300000)) {
    const op0 = 2 + bits(w, 19, 1);
    const [op1, crn, crm, op2] = [bits(w, 16, 3), bits(w, 12, 4), bits(w, 8, 4), bits(w, 5, 3)];
    const key = `${op0}_${op1}_${crn}_${crm}_${op2}`;
    const names: Record<string, string> = { '3_0_13_0_4': 'TPIDR_EL1', '3_4_13_0_2': 'TPIDR_EL2', '3_3_13_0_2': 'TPIDR_EL0', '3_0_4_1_0': 'SP_EL0' };
    if (!names[key]) throw new Bad();
    return ['mrs', R(rd, true), names[key]];
  }
  if (is(w, 0xffe0001f, 0xd4200000)) return ['brk', `#0x${bits(w, 5, 16).toString(16)}`];
  if (w >>> 16 === 0) return ['udf', `#${w & 0xffff}`];
  // Data processing, immediate.
  if (is(w, 0x1f000000, 0x11000000)) {
    const [op, s, sh, imm] = [bits(w, 30, 1), bits(w, 29, 1), bits(w, 22, 2), bits(w, 10, 12)];
    if (sh > 1) throw new Bad();
    const shift = sh ? ['lsl #12'] : [];
    if (!op && !s && sh === 0 && imm === 0 && (rd === 31 || rn === 31)) return ['mov', R(rd, sf, true), R(rn, sf, true)];
    if (s && rd === 31) return [op ? 'cmp' : 'cmn', R(rn, sf, true), `#${imm}`, ...shift];
    return [`${op ? 'sub' : 'add'}${s ? 's' : ''}`, R(rd, sf, !s), R(rn, sf, true), `#${imm}`, ...shift];
  }
  if (is(w, 0x1f800000, 0x12000000)) {
    const opc = bits(w, 29, 2);
    const n = bits(w, 22, 1);
    if (!sf && n) throw new Bad();
    const width = sf ? 64 : 32;
    const v = bitmask(n, bits(w, 16, 6), bits(w, 10, 6), width);
    if (v === undefined) throw new Bad();
    const hex = `#0x${v.toString(16)}`;
    if (opc === 1 && rn === 31 && !(anyMovz(v, width) || anyMovz(notW(v, width), width))) return ['mov', R(rd, sf, true), `#${signed(v, width)}`];
    if (opc === 3 && rd === 31) return ['tst', R(rn, sf), hex];
    return [['and', 'orr', 'eor', 'ands'][opc]!, R(rd, sf, opc !== 3), R(rn, sf), hex];
  }
  if (is(w, 0x1f800000, 0x12800000)) {
    const opc = bits(w, 29, 2);
    const hw = bits(w, 21, 2);
    const imm = bits(w, 5, 16);
    const width = sf ? 64 : 32;
    if (opc === 1 || (!sf && hw > 1)) throw new Bad();
    const shift = hw * 16;
    const lsl = hw ? [`lsl #${shift}`] : [];
    if (opc === 3) return ['movk', R(rd, sf), `#${imm}`, ...lsl];
    if (opc === 2) {
      const v = BigInt(imm) << BigInt(shift);
      if (isMovz(v, shift, width)) return ['mov', R(rd, sf), `#${signed(v, width)}`];
      return ['movz', R(rd, sf), `#${imm}`, ...lsl];
    }
    const v = notW(BigInt(imm) << BigInt(shift), width);
    if (!anyMovz(v, width) && isMovz(notW(v, width), shift, width)) return ['mov', R(rd, sf), `#${signed(v, width)}`];
    return ['movn', R(rd, sf), `#${imm}`, ...lsl];
  }
  if (is(w, 0x1f800000, 0x13000000)) {
    const opc = bits(w, 29, 2);
    const n = bits(w, 22, 1);
    const immr = bits(w, 16, 6);
    const imms = bits(w, 10, 6);
    if (opc === 3 || opc === 1 || n !== (sf ? 1 : 0) || (!sf && (immr > 31 || imms > 31))) throw new Bad(); // bfm: not JIT output
    const signedOp = opc === 0;
    const size = sf ? 64 : 32;
    const top = size - 1;
    if (immr === 0) {
      if (imms === 7 && (signedOp || !sf)) return [signedOp ? 'sxtb' : 'uxtb', R(rd, sf), R(rn, false)];
      if (imms === 15 && (signedOp || !sf)) return [signedOp ? 'sxth' : 'uxth', R(rd, sf), R(rn, false)];
      if (imms === 31 && sf && signedOp) return ['sxtw', R(rd, sf), R(rn, false)];
    }
    if (!signedOp && imms !== top && imms + 1 === immr) return ['lsl', R(rd, sf), R(rn, sf), `#${top - imms}`];
    if (imms === top) return [signedOp ? 'asr' : 'lsr', R(rd, sf), R(rn, sf), `#${immr}`];
    if (immr > imms) return [signedOp ? 'sbfiz' : 'ubfiz', R(rd, sf), R(rn, sf), `#${size - immr}`, `#${imms + 1}`];
    return [signedOp ? 'sbfx' : 'ubfx', R(rd, sf), R(rn, sf), `#${immr}`, `#${imms - immr + 1}`];
  }
  // Data processing, register.
  if (is(w, 0x1f000000, 0x0a000000)) {
    const opc = bits(w, 29, 2);
    const nbit = bits(w, 21, 1);
    const type = bits(w, 22, 2);
    const amount = bits(w, 10, 6);
    if (!sf && amount > 31) throw new Bad();
    const sh = shiftOp(type, amount);
    const name = [['and', 'bic'], ['orr', 'orn'], ['eor', 'eon'], ['ands', 'bics']][opc]![nbit]!;
    if (name === 'orr' && rn === 31 && type === 0 && amount === 0) return ['mov', R(rd, sf), R(rm, sf)];
    if (name === 'orn' && rn === 31) return ['mvn', R(rd, sf), R(rm, sf), ...sh];
    if (name === 'ands' && rd === 31) return ['tst', R(rn, sf), R(rm, sf), ...sh];
    return [name, R(rd, sf), R(rn, sf), R(rm, sf), ...sh];
  }
  if (is(w, 0x1f200000, 0x0b000000)) {
    const [op, s, type, amount] = [bits(w, 30, 1), bits(w, 29, 1), bits(w, 22, 2), bits(w, 10, 6)];
    if (type === 3 || (!sf && amount > 31)) throw new Bad();
    const sh = shiftOp(type, amount);
    if (s && rd === 31) return [op ? 'cmp' : 'cmn', R(rn, sf), R(rm, sf), ...sh];
    if (op && rn === 31) return [s ? 'negs' : 'neg', R(rd, sf), R(rm, sf), ...sh];
    return [`${op ? 'sub' : 'add'}${s ? 's' : ''}`, R(rd, sf), R(rn, sf), R(rm, sf), ...sh];
  }
  if (is(w, 0x7fe00000, 0x1ac00000)) {
    const names: Record<number, string> = { 2: 'udiv', 3: 'sdiv', 8: 'lsl', 9: 'lsr', 10: 'asr', 11: 'ror' };
    const name = names[bits(w, 10, 6)];
    if (!name) throw new Bad();
    return [name, R(rd, sf), R(rn, sf), R(rm, sf)];
  }
  if (is(w, 0x7fe00000, 0x1b000000)) {
    const ra = bits(w, 10, 5);
    const o0 = bits(w, 15, 1);
    if (ra === 31) return [o0 ? 'mneg' : 'mul', R(rd, sf), R(rn, sf), R(rm, sf)];
    return [o0 ? 'msub' : 'madd', R(rd, sf), R(rn, sf), R(rm, sf), R(ra, sf)];
  }
  if (is(w, 0x7ffff000, 0x5ac00000)) {
    const opc = bits(w, 10, 2);
    const name = sf ? ['rbit', 'rev16', 'rev32', 'rev'][opc]! : ['rbit', 'rev16', 'rev', ''][opc]!;
    if (!name) throw new Bad();
    return [name, R(rd, sf), R(rn, sf)];
  }
  // Loads and stores.
  if (is(w, 0x3f000000, 0x08000000)) return exclusive(w);
  if (is(w, 0x3a000000, 0x28000000)) return pair(w);
  if (is(w, 0x3b000000, 0x39000000) || is(w, 0x3b200000, 0x38000000) || is(w, 0x3b200c00, 0x38200800) || is(w, 0x3b200c00, 0x38200000)) return loadStore(w);
  throw new Bad();
}

/** Mnemonic and register width of a load/store by size and opc (undefined: not a GPR access). */
function lsName(size: number, opc: number): [string, boolean] | undefined {
  const t: ([string, boolean] | undefined)[][] = [
    [['strb', false], ['ldrb', false], ['ldrsb', true], ['ldrsb', false]],
    [['strh', false], ['ldrh', false], ['ldrsh', true], ['ldrsh', false]],
    [['str', false], ['ldr', false], ['ldrsw', true], undefined],
    [['str', true], ['ldr', true], undefined, undefined],
  ];
  return t[size]![opc];
}

function loadStore(w: number): string[] {
  const size = bits(w, 30, 2);
  const opc = bits(w, 22, 2);
  const rt = bits(w, 0, 5);
  const rn = bits(w, 5, 5);
  if (bits(w, 26, 1)) throw new Bad(); // SIMD&FP
  const base = R(rn, true, true);
  if (is(w, 0x3b000000, 0x39000000)) {
    const n = lsName(size, opc);
    if (!n) throw new Bad();
    const o = bits(w, 10, 12) << size;
    return [n[0], R(rt, n[1]), o ? `[${base}, #${o}]` : `[${base}]`];
  }
  if (is(w, 0x3b200c00, 0x38200000)) {
    // LSE atomics: ld<op>/swp with acquire (a), release (l); st<op> when the result is discarded.
    const a = bits(w, 23, 1);
    const r = bits(w, 22, 1);
    const o3 = bits(w, 15, 1);
    const op = bits(w, 12, 3);
    const rs = bits(w, 16, 5);
    if (o3 && op !== 0) throw new Bad();
    const x = size === 3;
    const sfx = `${a ? 'a' : ''}${r ? 'l' : ''}${['b', 'h', '', ''][size]}`;
    const name = o3 ? 'swp' : ['add', 'clr', 'eor', 'set', 'smax', 'smin', 'umax', 'umin'][op]!;
    if (!o3 && rt === 31 && !a) return [`st${name}${r ? 'l' : ''}${['b', 'h', '', ''][size]}`, R(rs, x), `[${base}]`];
    // LLVM notes when an acquire cannot take effect.
    const note = a && rt === 31 ? ' // acquire semantics dropped since destination is zero' : '';
    return [`${o3 ? '' : 'ld'}${name}${sfx}`, R(rs, x), R(rt, x), `[${base}]${note}`];
  }
  const n = lsName(size, opc);
  if (!n) throw new Bad();
  if (is(w, 0x3b200c00, 0x38200800)) {
    const option = bits(w, 13, 3);
    const s = bits(w, 12, 1);
    const rm = bits(w, 16, 5);
    const amount = s ? ` #${size}` : '';
    if (option === 3) return [n[0], R(rt, n[1]), s ? `[${base}, ${R(rm, true)}, lsl #${size}]` : `[${base}, ${R(rm, true)}]`];
    const ext = { 2: 'uxtw', 6: 'sxtw', 7: 'sxtx' }[option];
    if (!ext) throw new Bad();
    return [n[0], R(rt, n[1]), `[${base}, ${R(rm, option === 7)}, ${ext}${amount}]`];
  }
  const imm9 = sext(bits(w, 12, 9), 9);
  const mode = bits(w, 10, 2);
  if (mode === 0) return [n[0].replace(/^(ld|st)r/, '$1ur'), R(rt, n[1]), imm9 ? `[${base}, #${imm9}]` : `[${base}]`];
  if ((mode === 1 || mode === 3) && (opc === 1 || opc === 3) && rn === rt && rn !== 31) throw new Bad(); // a load writing back into its own base: unpredictable, LLVM refuses it
  if (mode === 1) return [n[0], R(rt, n[1]), `[${base}]`, `#${imm9}`];
  if (mode === 3) return [n[0], R(rt, n[1]), `[${base}, #${imm9}]!`];
  throw new Bad(); // ldtr/sttr
}

function pair(w: number): string[] {
  const opc = bits(w, 30, 2);
  const type = bits(w, 23, 2);
  const l = bits(w, 22, 1);
  if (bits(w, 26, 1) || opc === 3 || (opc === 1 && !l) || type === 0) throw new Bad();
  const x = opc === 2 || opc === 1;
  const scale = opc === 2 ? 8 : 4;
  const imm = sext(bits(w, 15, 7), 7) * scale;
  const rt = bits(w, 0, 5);
  const rt2 = bits(w, 10, 5);
  const base = R(bits(w, 5, 5), true, true);
  const rn = bits(w, 5, 5);
  // Unpredictable encodings LLVM refuses: a load of both into one register, write-back to a register moved.
  if ((l && rt === rt2) || (type !== 2 && rn !== 31 && (rn === rt || rn === rt2))) throw new Bad();
  const name = opc === 1 ? 'ldpsw' : l ? 'ldp' : 'stp';
  const regs = [R(rt, x), R(rt2, x)];
  if (type === 1) return [name, ...regs, `[${base}]`, `#${imm}`];
  if (type === 3) return [name, ...regs, `[${base}, #${imm}]!`];
  return [name, ...regs, imm ? `[${base}, #${imm}]` : `[${base}]`];
}

function exclusive(w: number): string[] {
  const size = bits(w, 30, 2);
  const [o2, l, o1, o0] = [bits(w, 23, 1), bits(w, 22, 1), bits(w, 21, 1), bits(w, 15, 1)];
  const rs = bits(w, 16, 5);
  const rt2 = bits(w, 10, 5);
  const rt = bits(w, 0, 5);
  const base = `[${R(bits(w, 5, 5), true, true)}]`;
  const x = size === 3;
  const bh = ['b', 'h', '', ''][size];
  if (o2 && o1) {
    // CAS: compare and swap (Rs is the compare value, then the new value, as LLVM prints).
    if (rt2 !== 31) throw new Bad();
    return [`cas${l ? 'a' : ''}${o0 ? 'l' : ''}${bh}`, R(rs, x), R(rt, x), base];
  }
  if (o1 || rt2 !== 31) throw new Bad(); // exclusive pairs
  if (!o2) {
    if (l && rs === 31) return [`ld${o0 ? 'a' : ''}xr${bh}`, R(rt, x), base];
    if (l) throw new Bad();
    return [`st${o0 ? 'l' : ''}xr${bh}`, R(rs, false), R(rt, x), base];
  }
  if (!o0 || rs !== 31) throw new Bad(); // ldlar/stllr
  return [l ? `ldar${bh}` : `stlr${bh}`, R(rt, x), base];
}

/** LLVM's line for an instruction. */
export const arm64Text = insnText;
