// BPF instruction text in the kernel verifier's notation (the one `bpftool prog dump xlated` and
// verifier logs use): `(bf) r6 = r1`, `(85) call bpf_ktime_get_ns#274096`, `(18) r1 = map[id:7]`.
// Pure: instructions in, strings out; names of calls and 64-bit immediates come from callbacks.
import { BPF_PSEUDO_CALL, BPF_PSEUDO_KFUNC_CALL, type InsnBuffer } from './insn.js';

export interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number;
  imm: number;
}

/** Instruction i of a buffer, read through the loader's InsnBuffer (it knows the byte order). */
export function insnAt(v: InsnBuffer, i: number): Insn {
  return { code: v.code(i), dst: v.dst(i), src: v.src(i), off: v.off(i), imm: v.imm(i) };
}

export interface DisasmNames {
  /** Text after `call ` for helpers/kfuncs (without `#imm`), or after `call pc` for subprogram calls. */
  call?(insn: Insn, index: number): string | undefined;
  /** Text for a 64-bit immediate load (map references, function addresses); undefined → 0x<hex>. */
  imm64?(insn: Insn, next: Insn, full: bigint): string | undefined;
}

const ALU = ['+=', '-=', '*=', '/=', '|=', '&=', '<<=', '>>=', 'neg', '%=', '^=', '=', 's>>=', 'endian'];
const ATOMIC_ALU: Record<number, string> = { 0x00: 'add', 0x50: 'and', 0x40: 'or', 0xa0: 'xor' };
const LDST = ['u32', 'u16', 'u8', 'u64'];
const LDSX = ['s32', 's16', 's8'];
const JMP = ['jmp', '==', '>', '>=', '&', '!=', 's>', 's>=', 'call', 'exit', '<', '<=', 's<', 's<='];
const CLASS = ['ld', 'ldx', 'st', 'stx', 'alu', 'jmp', 'jmp32', 'alu64'];

const hex2 = (n: number) => n.toString(16).padStart(2, '0');
/** printf("%+d") */
const signed = (n: number) => (n >= 0 ? `+${n}` : String(n));

/** One instruction as the kernel prints it, without the index. `next` is the second half of ld_imm64. */
export function formatInsn(insn: Insn, next: Insn | undefined, index: number, names: DisasmNames = {}): string {
  const { code, dst, src, off, imm } = insn;
  const cls = code & 7;
  const op = code & 0xf0;
  const x = (code & 0x08) !== 0;
  const size = (code >> 3) & 3;
  const mode = code & 0xe0;
  const c = `(${hex2(code)})`;
  if (cls === 4 || cls === 7) {
    const r = cls === 4 ? 'w' : 'r';
    if (op === 0xd0) return cls === 7 ? `${c} r${dst} = bswap${imm} r${dst}` : `${c} r${dst} = ${x ? 'be' : 'le'}${imm} r${dst}`;
    if (op === 0x80) return `${c} ${r}${dst} = -${r}${dst}`;
    if (code === 0xbf && off === 1) return `${c} r${dst} = addr_space_cast(r${src}, ${imm >>> 16}, ${imm & 0xffff})`;
    const sdiv = (op === 0x30 || op === 0x90) && off === 1;
    const o = sdiv ? (op === 0x30 ? 's/=' : 's%=') : ALU[op >> 4];
    if (x) {
      const movsx = op === 0xb0 && (off === 8 || off === 16 || off === 32) ? ['(s8)', '(s16)', '', '(s32)'][(off >> 3) - 1] : '';
      return `${c} ${r}${dst} ${o} ${movsx}${r}${src}`;
    }
    return `${c} ${r}${dst} ${o} ${imm}`;
  }
  if (cls === 3) {
    const t = LDST[size];
    if (mode === 0x60) return `${c} *(${t} *)(r${dst} ${signed(off)}) = r${src}`;
    if (mode === 0xc0) {
      const w = size === 3 ? '64' : '';
      if (imm in ATOMIC_ALU && (imm & 1) === 0) return `${c} lock *(${t} *)(r${dst} ${signed(off)}) ${ALU[imm >> 4]} r${src}`;
      if ((imm & 1) === 1 && (imm & ~1) in ATOMIC_ALU) return `${c} r${src} = atomic${w}_fetch_${ATOMIC_ALU[imm & ~1]}((${t} *)(r${dst} ${signed(off)}), r${src})`;
      if (imm === 0xf1) return `${c} r0 = atomic${w}_cmpxchg((${t} *)(r${dst} ${signed(off)}), r0, r${src})`;
      if (imm === 0xe1) return `${c} r${src} = atomic${w}_xchg((${t} *)(r${dst} ${signed(off)}), r${src})`;
    }
    return `BUG_${hex2(code)}`;
  }
  if (cls === 2) {
    if (mode === 0x60) return `${c} *(${LDST[size]} *)(r${dst} ${signed(off)}) = ${imm}`;
    if (mode === 0xc0) return `${c} nospec`;
    return `BUG_st_${hex2(code)}`;
  }
  if (cls === 1) {
    if (mode !== 0x60 && mode !== 0x80) return `BUG_ldx_${hex2(code)}`;
    return `${c} r${dst} = *(${mode === 0x60 ? LDST[size] : LDSX[size]} *)(r${src} ${signed(off)})`;
  }
  if (cls === 0) {
    if (mode === 0x20) return `${c} r0 = *(${LDST[size]} *)skb[${imm}]`;
    if (mode === 0x40) return `${c} r0 = *(${LDST[size]} *)skb[r${src} + ${imm}]`;
    if (mode === 0x00 && size === 3 && next) {
      const full = (BigInt(next.imm >>> 0) << 32n) | BigInt(imm >>> 0);
      return `${c} r${dst} = ${names.imm64?.(insn, next, full) ?? `0x${full.toString(16)}`}`;
    }
    return `BUG_ld_${hex2(code)}`;
  }
  // JMP / JMP32
  if (op === 0x80) {
    if (src === BPF_PSEUDO_CALL) return `${c} call pc${names.call?.(insn, index) ?? signed(imm)}`;
    let name = names.call?.(insn, index);
    if (name === undefined) name = src === BPF_PSEUDO_KFUNC_CALL ? 'kernel-function' : 'unknown';
    return `${c} call ${name}#${imm}`;
  }
  if (code === 0x05) return `${c} goto pc${signed(off)}`;
  if (code === 0xe5 && src === 0) return `${c} may_goto pc${signed(off)}`;
  if (code === 0x06) return `${c} gotol pc${signed(imm)}`;
  if (code === 0x95) return `${c} exit`;
  const r = cls === 6 ? 'w' : 'r';
  if (cls === 5 || cls === 6) {
    if (x) return `${c} if ${r}${dst} ${JMP[op >> 4]} ${r}${src} goto pc${signed(off)}`;
    return `${c} if ${r}${dst} ${JMP[op >> 4]} 0x${(imm >>> 0).toString(16)} goto pc${signed(off)}`;
  }
  return `${c} ${CLASS[cls]}`;
}
