// The x86-64 decoder without a kernel: the instructions of the JIT's prologue, calls, atomics and
// BMI2 shifts (the encodings bpf_jit_comp.c emits, with LLVM 16's text for each, checked against
// LLVM itself by test/kernel/jited.test.ts), and bytes it does not know: a one-byte `(bad)`,
// never an exception, never a read past the end. Also the jited line-info placement rules
// (libbpf's bpf_prog_linfo) on made-up records.
import { describe, expect, it } from 'vitest';
import { dissectJitedLinfo, jitedJson, jitedText } from '../src/cli/jited.js';
import { decodeX86, x86Text } from '../src/disasm/x86.js';
import type { ProgJited, ProgInfo } from '../src/syscall/info.js';

const hex = (s: string) => Uint8Array.from(s.split(' ').map((b) => parseInt(b, 16)));
const one = (s: string, pc = 0) => {
  const i = decodeX86(hex(s), 0, pc);
  return `${x86Text(i)} (${i.len})`;
};

describe('x86-64 decoder', () => {
  it('the JIT prologue, epilogue and calls', () => {
    expect(one('0f 1f 44 00 00')).toBe('\tnopl\t(%rax,%rax) (5)');
    expect(one('0f 1f 00')).toBe('\tnopl\t(%rax) (3)');
    expect(one('66 90')).toBe('\tnop (2)');
    expect(one('f3 0f 1e fa')).toBe('\tendbr64 (4)');
    expect(one('55')).toBe('\tpushq\t%rbp (1)');
    expect(one('48 89 e5')).toBe('\tmovq\t%rsp, %rbp (3)');
    expect(one('48 81 ec 20 00 00 00')).toBe('\tsubq\t$32, %rsp (7)');
    expect(one('41 55')).toBe('\tpushq\t%r13 (2)');
    expect(one('c9')).toBe('\tleave (1)');
    expect(one('c3')).toBe('\tretq (1)');
    expect(one('cc')).toBe('\tint3 (1)');
    // Targets: (int)(pc + length + rel) as an unsigned 64-bit hex number.
    expect(one('e8 37 fc 51 c1', 0x18)).toBe('\tcallq\t0xffffffffc151fc54 (5)');
    expect(one('e8 2f 01 00 00', 0x6c)).toBe('\tcallq\t0x1a0 (5)');
    expect(one('74 05')).toBe('\tje\t0x7 (2)');
    expect(one('0f 86 10 00 00 00', 0x20)).toBe('\tjbe\t0x36 (6)');
    expect(one('ff e1')).toBe('\tjmpq\t*%rcx (2)');
    expect(one('0f ae e8')).toBe('\tlfence (3)');
  });

  it('loads, stores, immediates, atomics and BMI2 shifts', () => {
    expect(one('48 89 7d f8')).toBe('\tmovq\t%rdi, -8(%rbp) (4)');
    expect(one('8b 77 00')).toBe('\tmovl\t(%rdi), %esi (3)');
    expect(one('48 bf 00 e0 d8 01 00 c9 ff ff')).toBe('\tmovabsq\t$-60473108537344, %rdi (10)');
    expect(one('b8 ff ff ff ff')).toBe('\tmovl\t$4294967295, %eax (5)');
    expect(one('48 c7 c0 ff ff ff ff')).toBe('\tmovq\t$-1, %rax (7)');
    expect(one('48 83 c7 ff')).toBe('\taddq\t$-1, %rdi (4)');
    expect(one('40 88 7e 08')).toBe('\tmovb\t%dil, 8(%rsi) (4)');
    expect(one('48 0f b6 7f 02')).toBe('\tmovzbq\t2(%rdi), %rdi (5)');
    expect(one('48 63 c7')).toBe('\tmovslq\t%edi, %rax (3)');
    expect(one('66 c1 cf 08')).toBe('\trorw\t$8, %di (4)');
    expect(one('48 0f c8')).toBe('\tbswapq\t%rax (3)');
    expect(one('4c 8b 0c d6')).toBe('\tmovq\t(%rsi,%rdx,8), %r9 (4)');
    expect(one('65 4c 03 0c 25 10 00 00 00')).toBe('\taddq\t%gs:16, %r9 (9)');
    expect(one('f0 48 0f b1 56 08')).toBe('\tlock (1)');
    expect(one('48 0f b1 56 08')).toBe('\tcmpxchgq\t%rdx, 8(%rsi) (5)');
    expect(one('49 87 06')).toBe('\txchgq\t%rax, (%r14) (3)');
    expect(one('48 0f c1 06')).toBe('\txaddq\t%rax, (%rsi) (4)');
    expect(one('c4 e2 c9 f7 f6')).toBe('\tshlxq\t%rsi, %rsi, %rsi (5)');
    expect(one('48 99')).toBe('\tcqto (2)');
    expect(one('48 f7 f7')).toBe('\tdivq\t%rdi (3)');
  });

  it('unknown or cut-off bytes are a one-byte (bad), never an exception', () => {
    for (const s of ['06', '0f 0f', 'd6', 'f0', '48', 'e8 00 00', '48 8b', '48 8b 44', 'c4 e2', '0f 1e fb']) {
      const b = hex(s);
      const i = decodeX86(b, 0, 0);
      if (s === 'f0') expect(x86Text(i)).toBe('\tlock');
      else {
        expect(i.bad, s).toBe(true);
        expect(x86Text(i)).toBe('\t(bad)');
        expect(i.len).toBe(1);
      }
    }
    // Random bytes: every instruction is 1..15 bytes, inside the buffer, and decoding ends.
    let seed = 7;
    const b = new Uint8Array(1 << 16).map(() => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 16) & 0xff);
    let n = 0;
    for (let pc = 0; pc < b.length; n++) {
      const i = decodeX86(b, pc, pc);
      expect(i.len >= 1 && i.len <= 15 && pc + i.len <= b.length).toBe(true);
      pc += i.len;
    }
    expect(n).toBeGreaterThan(1000);
    // The end bound is honoured: a movabs cut at the bound is bad, not read past it.
    expect(decodeX86(hex('48 bf 00 e0 d8 01 00 c9 ff ff'), 0, 0, 6).bad).toBe(true);
  });
});

describe('jited dump layout (bpftool with LLVM)', () => {
  const info = { id: 1, ifindex: 0, btfId: 0 } as ProgInfo;
  // Two functions: 0x55 0xc3 (push, ret) and 0x90 0x06 (nop, bad).
  const d: ProgJited = {
    info,
    image: hex('55 c3 90 06'),
    jitedKsyms: [0x1000n, 0x2000n],
    funcLens: [2, 2],
    funcInfo: [],
    lineInfo: [],
    jitedLineInfo: [],
  };

  it('names, pcs, opcodes; (bad) goes on; JSON as printf_json cuts the text', () => {
    const t = jitedText(d, undefined, { opcodes: true });
    expect(t).toMatch(/^(\S+):\n {3}0:\tpushq\t%rbp\n\t55 \n {3}1:\tretq\n\tc3 \n\n(\S+):\n {3}0:\tnop\n\t90 \n {3}1:\t\(bad\)\n\t06 \n\n$/);
    const j = jitedJson(d, undefined, { opcodes: true }) as { insns: unknown[] }[];
    expect(j[0]!.insns).toEqual([
      { pc: '0x0', operation: 'pushq', operands: ['%rbp'], opcodes: ['0x55'] },
      { pc: '0x1', operation: 'retq', operands: [null], opcodes: ['0xc3'] },
    ]);
    // No function lengths (old kernels): one image, no names.
    expect(jitedText({ ...d, funcLens: [], jitedKsyms: [] }, undefined)).toBe('   0:\tpushq\t%rbp\n   1:\tretq\n   2:\tnop\n   3:\t(bad)\n');
  });

  it("line records per function as libbpf's bpf_prog_linfo splits them, or none when they do not fit", () => {
    const rec = (insnOff: number) => ({ insnOff, fileNameOff: 0, lineOff: 0, line: 1, col: 1 });
    const withLines = { ...d, lineInfo: [rec(0), rec(1), rec(3)], jitedLineInfo: [0x1000n, 0x1001n, 0x2000n] };
    expect(dissectJitedLinfo(withLines)).toEqual({ start: [0, 2], count: [2, 1] });
    // The first record must be at the first function; addresses must grow within a function.
    expect(dissectJitedLinfo({ ...withLines, jitedLineInfo: [0x1001n, 0x1001n, 0x2000n] })).toBeUndefined();
    expect(dissectJitedLinfo({ ...withLines, jitedLineInfo: [0x1000n, 0x0fffn, 0x2000n] })).toBeUndefined();
    // A record past the end of its function.
    expect(dissectJitedLinfo({ ...withLines, jitedLineInfo: [0x1000n, 0x1005n, 0x2000n] })).toBeUndefined();
    // A function with no record.
    expect(dissectJitedLinfo({ ...withLines, jitedLineInfo: [0x1000n, 0x1001n, 0x1002n] })).toBeUndefined();
  });
});
