// The disassembler in the kernel verifier's notation, for instruction forms the fixture programs
// do not contain (atomics, v4 ISA, legacy packet loads). Each expectation is the kernel's printf
// format filled in by hand (kernel/bpf/disasm.c).
import { describe, expect, it } from 'vitest';
import { formatInsn, type Insn, insnAt } from '../src/loader/disasm.js';
import { InsnBuffer } from '../src/loader/insn.js';

const I = (code: number, dst = 0, src = 0, off = 0, imm = 0): Insn => ({ code, dst, src, off, imm });
const f = (i: Insn, next?: Insn) => formatInsn(i, next, 0);

describe('BPF disassembler', () => {
  it('ALU and ALU64: registers, immediates, neg, endianness, signed div/mod, sign-extending moves, bswap', () => {
    expect(f(I(0xbf, 6, 1))).toBe('(bf) r6 = r1');
    expect(f(I(0xbc, 1, 2))).toBe('(bc) w1 = w2');
    expect(f(I(0x07, 1, 0, 0, -8))).toBe('(07) r1 += -8');
    expect(f(I(0x04, 3, 0, 0, 1))).toBe('(04) w3 += 1');
    expect(f(I(0x87, 2))).toBe('(87) r2 = -r2');
    expect(f(I(0x84, 2))).toBe('(84) w2 = -w2');
    expect(f(I(0xdc, 1, 0, 0, 16))).toBe('(dc) r1 = be16 r1');
    expect(f(I(0xd4, 1, 0, 0, 64))).toBe('(d4) r1 = le64 r1');
    expect(f(I(0xd7, 1, 0, 0, 32))).toBe('(d7) r1 = bswap32 r1');
    expect(f(I(0x3f, 1, 2, 1))).toBe('(3f) r1 s/= r2');
    expect(f(I(0x97, 1, 0, 1, 7))).toBe('(97) r1 s%= 7');
    expect(f(I(0xbf, 1, 2, 8))).toBe('(bf) r1 = (s8)r2');
    expect(f(I(0xbf, 1, 2, 32))).toBe('(bf) r1 = (s32)r2');
    expect(f(I(0xbc, 1, 2, 16))).toBe('(bc) w1 = (s16)w2');
    expect(f(I(0xc7, 1, 0, 0, 3))).toBe('(c7) r1 s>>= 3');
    expect(f(I(0xbf, 1, 2, 1, 0x00010002))).toBe('(bf) r1 = addr_space_cast(r2, 1, 2)');
  });

  it('loads, stores, sign-extending loads, atomics, nospec', () => {
    expect(f(I(0x79, 1, 6, 16))).toBe('(79) r1 = *(u64 *)(r6 +16)');
    expect(f(I(0x61, 1, 6, -4))).toBe('(61) r1 = *(u32 *)(r6 -4)');
    expect(f(I(0x91, 1, 6, 2))).toBe('(91) r1 = *(s8 *)(r6 +2)');
    expect(f(I(0x7b, 10, 1, -8))).toBe('(7b) *(u64 *)(r10 -8) = r1');
    expect(f(I(0x62, 10, 0, -4, 7))).toBe('(62) *(u32 *)(r10 -4) = 7');
    expect(f(I(0xdb, 1, 2, 0, 0x00))).toBe('(db) lock *(u64 *)(r1 +0) += r2');
    expect(f(I(0xc3, 1, 2, 8, 0x50))).toBe('(c3) lock *(u32 *)(r1 +8) &= r2');
    expect(f(I(0xdb, 1, 2, 0, 0x41))).toBe('(db) r2 = atomic64_fetch_or((u64 *)(r1 +0), r2)');
    expect(f(I(0xc3, 1, 2, 0, 0xa1))).toBe('(c3) r2 = atomic_fetch_xor((u32 *)(r1 +0), r2)');
    expect(f(I(0xdb, 1, 2, 0, 0xe1))).toBe('(db) r2 = atomic64_xchg((u64 *)(r1 +0), r2)');
    expect(f(I(0xdb, 1, 2, 0, 0xf1))).toBe('(db) r0 = atomic64_cmpxchg((u64 *)(r1 +0), r0, r2)');
    expect(f(I(0xc2))).toBe('(c2) nospec');
    expect(f(I(0x28, 0, 0, 0, 12))).toBe('(28) r0 = *(u16 *)skb[12]');
    expect(f(I(0x40, 0, 3, 0, 2))).toBe('(40) r0 = *(u32 *)skb[r3 + 2]');
  });

  it('64-bit immediates, jumps, calls, exit', () => {
    expect(f(I(0x18, 1, 0, 0, 0x89abcdef | 0), I(0, 0, 0, 0, 0x1234567))).toBe('(18) r1 = 0x123456789abcdef');
    expect(formatInsn(I(0x18, 1, 1, 0, 7), I(0), 0, { imm64: (i) => `map[id:${i.imm}]` })).toBe('(18) r1 = map[id:7]');
    expect(f(I(0x05, 0, 0, -3))).toBe('(05) goto pc-3');
    expect(f(I(0x06, 0, 0, 0, 100000))).toBe('(06) gotol pc+100000');
    expect(f(I(0xe5, 0, 0, 4))).toBe('(e5) may_goto pc+4');
    expect(f(I(0x15, 1, 0, 2, 0))).toBe('(15) if r1 == 0x0 goto pc+2');
    expect(f(I(0x65, 1, 0, 2, -1))).toBe('(65) if r1 s> 0xffffffff goto pc+2');
    expect(f(I(0x2d, 1, 2, -7))).toBe('(2d) if r1 > r2 goto pc-7');
    expect(f(I(0xa6, 3, 0, 1, 9))).toBe('(a6) if w3 < 0x9 goto pc+1');
    expect(f(I(0x85, 0, 1, 0, 5))).toBe('(85) call pc+5');
    expect(formatInsn(I(0x85, 0, 0, 0, 12), undefined, 0, { call: () => 'bpf_tail_call' })).toBe('(85) call bpf_tail_call#12');
    expect(f(I(0x85, 0, 2, 0, 123))).toBe('(85) call kernel-function#123');
    expect(f(I(0x95))).toBe('(95) exit');
  });

  it('decodes both byte orders of the register nibbles', () => {
    const le = new Uint8Array([0xbf, 0x16, 0, 0, 0, 0, 0, 0]);
    const be = new Uint8Array([0xbf, 0x61, 0, 0, 0, 0, 0, 0]);
    expect(insnAt(new InsnBuffer(le), 0)).toMatchObject({ dst: 6, src: 1 });
    expect(insnAt(new InsnBuffer(be, false), 0)).toMatchObject({ dst: 6, src: 1 });
  });
});
