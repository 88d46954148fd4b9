// USDT argument specs (x86-64 SDT syntax) → struct __bpf_usdt_spec fields, without a kernel.
import { describe, expect, it } from 'vitest';
import { encodeUsdtSpec, parseUsdtArg } from '../src/link/usdt.js';

describe('USDT argument specs', () => {
  it('registers of every width map to their pt_regs slot', () => {
    expect(parseUsdtArg('-4@%edi', 'x64')).toEqual({ type: 1, valOff: 0n, regOff: 112, signed: true, bitshift: 32 });
    expect(parseUsdtArg('8@%rdi', 'x64').regOff).toBe(112);
    expect(parseUsdtArg('2@%di', 'x64').regOff).toBe(112);
    expect(parseUsdtArg('1@%dil', 'x64')).toMatchObject({ regOff: 112, bitshift: 56, signed: false });
    expect(parseUsdtArg('8@%r8', 'x64').regOff).toBe(72);
    expect(parseUsdtArg('-4@%r12d', 'x64').regOff).toBe(24);
    expect(parseUsdtArg('1@%al', 'x64').regOff).toBe(80);
    expect(parseUsdtArg('8@%rsp', 'x64').regOff).toBe(152);
  });

  it('memory operands, constants, and what is refused', () => {
    expect(parseUsdtArg('-8@-16(%rbp)', 'x64')).toEqual({ type: 2, valOff: BigInt.asUintN(64, -16n), regOff: 32, signed: true, bitshift: 0 });
    expect(parseUsdtArg('4@(%rax)', 'x64')).toMatchObject({ type: 2, valOff: 0n, regOff: 80 });
    expect(parseUsdtArg('8@0x10(%rip)', 'x64')).toMatchObject({ type: 2, valOff: 16n, regOff: 128 });
    expect(parseUsdtArg('-4@$42', 'x64')).toMatchObject({ type: 0, valOff: 42n });
    expect(parseUsdtArg('-4@$-1', 'x64').valOff).toBe(0xffffffffffffffffn);
    expect(() => parseUsdtArg('8@8(%rax,%rbx,4)', 'x64')).toThrow(/not supported/);
    expect(() => parseUsdtArg('3@%eax', 'x64')).toThrow(/not SIZE@LOCATION/);
    expect(() => parseUsdtArg('4@%xmm0', 'x64')).toThrow(/register %xmm0 is not supported/);
    expect(() => parseUsdtArg('4@%eax', 'riscv64')).toThrow(/x86-64 and arm64/);
  });

  it('arm64 syntax: x/w registers, sp, [reg, off] memory operands, bare constants', () => {
    expect(parseUsdtArg('-4@x0', 'arm64')).toEqual({ type: 1, valOff: 0n, regOff: 0, signed: true, bitshift: 32 });
    expect(parseUsdtArg('8@x30', 'arm64').regOff).toBe(240);
    expect(parseUsdtArg('4@w7', 'arm64').regOff).toBe(56);
    expect(parseUsdtArg('8@sp', 'arm64').regOff).toBe(248);
    expect(parseUsdtArg('-8@[sp, 16]', 'arm64')).toEqual({ type: 2, valOff: 16n, regOff: 248, signed: true, bitshift: 0 });
    expect(parseUsdtArg('-4@[x29, -12]', 'arm64')).toMatchObject({ type: 2, valOff: BigInt.asUintN(64, -12n), regOff: 232 });
    expect(parseUsdtArg('8@[x1]', 'arm64')).toMatchObject({ type: 2, valOff: 0n, regOff: 8 });
    expect(parseUsdtArg('-4@-15', 'arm64')).toMatchObject({ type: 0, valOff: BigInt.asUintN(64, -15n) });
    expect(() => parseUsdtArg('8@x31', 'arm64')).toThrow(/register x31 is not supported/);
    expect(() => parseUsdtArg('8@[x1, x2]', 'arm64')).toThrow(/not supported/);
  });

  it("encodes libbpf's struct __bpf_usdt_spec layout (208 bytes)", () => {
    const b = encodeUsdtSpec([parseUsdtArg('-8@-16(%rbp)', 'x64'), parseUsdtArg('4@$7', 'x64')], 99n);
    const dv = new DataView(b.buffer);
    expect(b.length).toBe(208);
    expect(dv.getBigUint64(0, true)).toBe(BigInt.asUintN(64, -16n));
    expect(dv.getUint32(8, true)).toBe(2);
    expect(dv.getInt16(12, true)).toBe(32);
    expect(dv.getUint8(14)).toBe(1);
    expect(dv.getInt8(15)).toBe(0);
    expect(dv.getBigUint64(16, true)).toBe(7n);
    expect(dv.getUint32(24, true)).toBe(0);
    expect(dv.getInt8(31)).toBe(32);
    expect(dv.getBigUint64(192, true)).toBe(99n);
    expect(dv.getInt16(200, true)).toBe(2);
    expect(() => encodeUsdtSpec(Array(13).fill(parseUsdtArg('4@$1', 'x64')))).toThrow(/at most 12/);
  });
});
