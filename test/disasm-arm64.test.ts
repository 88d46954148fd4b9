// The arm64 decoder on bytes (no arm64 kernel here): the JIT's prologue, calls and atomics with
// LLVM's text for each, then 30000 random instructions of every class the arm64 JIT emits
// (arch/arm64/net/bpf_jit.h's A64_* encodings, all other bits random) through LLVM 16 with every
// ISA extension on (as bpftool disassembles arm64; test/peers/llvm-jited.c, built now): the
// same text, or both refuse (ours: a 4-byte `(bad)`).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { jitedText, arm64Decoder } from '../src/cli/jited.js';
import { arm64Text, decodeArm64 } from '../src/disasm/arm64.js';
import type { ProgInfo } from '../src/syscall/info.js';
import { hasCommand, need, root } from './helpers.js';

const word = (w: number, pc = 0) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(w >>> 0);
  return arm64Text(decodeArm64(b, 0, pc));
};

describe('arm64 decoder', () => {
  it("the JIT's prologue, moves, loads, calls, atomics and hints", () => {
    expect(word(0xa9bf7bfd)).toBe('\tstp\tx29, x30, [sp, #-16]!');
    expect(word(0x910003fd)).toBe('\tmov\tx29, sp');
    expect(word(0xd2800200)).toBe('\tmov\tx0, #16');
    expect(word(0xf2a24680)).toBe('\tmovk\tx0, #4660, lsl #16');
    expect(word(0x14000002, 0x10)).toBe('\tb\t0x18');
    expect(word(0x54000040, 0x18)).toBe('\tb.eq\t0x20');
    expect(word(0xd65f03c0)).toBe('\tret');
    expect(word(0xd503201f)).toBe('\tnop');
    expect(word(0xd503233f)).toBe('\tpaciasp');
    expect(word(0xd503245f)).toBe('\tbti\tc');
    expect(word(0xf9400420)).toBe('\tldr\tx0, [x1, #8]');
    expect(word(0x91004020)).toBe('\tadd\tx0, x1, #16');
    expect(word(0x92401c00)).toBe('\tand\tx0, x0, #0xff');
    expect(word(0xd37df020)).toBe('\tlsl\tx0, x1, #3');
    expect(word(0xd343fc20)).toBe('\tlsr\tx0, x1, #3');
    expect(word(0xf100141f)).toBe('\tcmp\tx0, #5');
    expect(word(0xd538d08a)).toBe('\tmrs\tx10, TPIDR_EL1');
    expect(word(0xf8e00041)).toBe('\tldaddal\tx0, x1, [x2]');
    expect(word(0xd4202000)).toBe('\tbrk\t#0x100');
    expect(word(0xaa0103e0)).toBe('\tmov\tx0, x1');
  });

  it('unknown words and a cut-off tail are (bad), never an exception', () => {
    const b = Buffer.from([0xff, 0xff, 0xff, 0xff, 0x1f, 0x20]);
    const i = decodeArm64(b, 0, 0);
    expect([i.bad, i.len, arm64Text(i)]).toEqual([true, 4, '\t(bad)']);
    expect(decodeArm64(b, 4, 4)).toMatchObject({ bad: true, len: 2 });
    // A whole dump: names, pcs, (bad) and on.
    const d = { info: { id: 1 } as ProgInfo, image: Buffer.from('1f2003d5ffffffffc0035fd6', 'hex'), jitedKsyms: [0x10n], funcLens: [12], funcInfo: [], lineInfo: [], jitedLineInfo: [] };
    expect(jitedText(d, undefined, {}, arm64Decoder)).toMatch(/^\S+:\n {3}0:\tnop\n {3}4:\t\(bad\)\n {3}8:\tret\n\n$/);
  });
});

const LLVM = '/usr/lib/llvm-16';
const skip = need(hasCommand('gcc') && fs.existsSync(`${LLVM}/include/llvm-c/Disassembler.h`) && fs.existsSync('/usr/include/bpf/libbpf.h'), 'the LLVM peer needs gcc, llvm-16-dev and libbpf-dev');

describe.skipIf(skip)('arm64 decoder against LLVM 16 (+all)', () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bee-arm64-${process.pid}-`));
  afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

  it('30000 random instructions of the JIT classes: the same text, or both refuse', () => {
    const peer = path.join(tmp, 'llvm-jited');
    execFileSync('gcc', ['-O1', '-o', peer, path.join(root, 'test/peers/llvm-jited.c'), `-I${LLVM}/include`, `-L${LLVM}/lib`, '-lLLVM-16', `-Wl,-rpath,${LLVM}/lib`, '-lbpf']);
    let seed = 20261201;
    const rnd16 = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed >>> 16;
    };
    // [fixed bits, their value]: branches, hints, dmb, mrs, brk/udf, add/sub and logical
    // (immediate, shifted register), move wide, sbfm/ubfm, 2- and 3-source, rev, exclusives and
    // cas, ldar/stlr, pairs, loads/stores (unsigned offset, unscaled/pre/post, register), LSE.
    const classes: [number, number][] = [
      [0x7c000000, 0x14000000], [0xff000010, 0x54000000], [0x7e000000, 0x34000000],
      [0xfffffc1f, 0xd61f0000], [0xfffffc1f, 0xd63f0000], [0xfffffc1f, 0xd65f0000],
      [0xffffffff, 0xd503201f], [0xffffffff, 0xd503233f], [0xffffffff, 0xd50323bf], [0xffffff3f, 0xd503241f],
      [0xfffff0ff, 0xd50330bf], [0xffffffe0, 0xd538d080], [0xffe0001f, 0xd4200000], [0xffff0000, 0x00000000],
      [0x1f800000, 0x11000000], [0x1f800000, 0x12000000], [0x1f800000, 0x12800000], [0x7f800000, 0x13000000], [0x7f800000, 0x53000000],
      [0x1f000000, 0x0a000000], [0x1f200000, 0x0b000000], [0x7fe0f000, 0x1ac02000], [0x7fe0f800, 0x1ac00800], [0x7fe00000, 0x1b000000],
      [0x7ffff000, 0x5ac00000], [0x3fa07c00, 0x08a07c00], [0x3fa07c00, 0x08007c00], [0x3f7ffc00, 0x08dffc00], [0x3f7ffc00, 0x089ffc00],
      [0x3e000000, 0x28000000], [0x3f000000, 0x39000000], [0x3f200000, 0x38000000], [0x3f200c00, 0x38200800], [0x3f208c00, 0x38200000], [0x3f20fc00, 0x38208000],
    ];
    const b = (w: number, lo: number, n: number) => (w >>> lo) & ((1 << n) - 1);
    // Not JIT output, so out of scope: non-temporal and tagged pairs, prefetches, unprivileged loads.
    const outOfScope = (w: number, v: number) =>
      (v === 0x28000000 && (b(w, 23, 2) === 0 || (b(w, 30, 2) === 1 && !b(w, 22, 1)))) ||
      ((v === 0x39000000 || v === 0x38200800) && b(w, 30, 2) === 3 && b(w, 22, 2) >= 2) ||
      (v === 0x38000000 && (b(w, 10, 2) === 2 || (b(w, 30, 2) === 3 && b(w, 22, 2) >= 2)));
    const words: number[] = [];
    for (let i = 0; words.length < 30000; i++) {
      const [m, v] = classes[i % classes.length]!;
      const w = ((((rnd16() << 16) | rnd16()) & ~m) | v) >>> 0;
      if (!outOfScope(w, v)) words.push(w);
    }
    const buf = Buffer.alloc(words.length * 4);
    words.forEach((w, i) => buf.writeUInt32LE(w, i * 4));
    const file = path.join(tmp, 'words.bin');
    fs.writeFileSync(file, buf, { mode: 0o600 });
    const ref = execFileSync(peer, ['raw', 'aarch64-linux-gnu', file, ...words.map(() => '4')], { encoding: 'utf8', maxBuffer: 1 << 28 }).split('\n\n');
    let refused = 0;
    words.forEach((w, i) => {
      const lines = ref[i]!.replace(/^\n/, '').split('\n');
      const text = /^ *0:(.*)$/.exec(lines[0]!)![1]!;
      const n = lines[1]!.trim().split(' ').filter(Boolean).length;
      const o = decodeArm64(buf, i * 4, 0, i * 4 + 4);
      const hex = w.toString(16).padStart(8, '0');
      if (n === 0) {
        refused++;
        expect(o.bad, `${hex}: LLVM refuses, bee-ts says ${arm64Text(o)}`).toBe(true);
      } else expect(arm64Text(o), hex).toBe(text);
    });
    expect(refused).toBeLessThan(words.length / 5); // random bits hit reserved encodings; most are real instructions
  });
});
