// `prog dump jited` on every fixture program that loads here, side by side with two peers on the
// same JIT images:
//  - LLVM 16's disassembler driven the way bpftool 7.1 drives it when built with LLVM
//    (test/peers/llvm-jited.c, compiled now against libLLVM and libbpf: Debian's bpftool has no
//    disassembler). bee-ts's text must be identical: function names, `; source` lines, every
//    instruction and its bytes; and bee-ts's JSON is bpftool's JSON of that text.
//  - binutils objdump, instruction by instruction, after the notation differences listed in
//    test/objdump-compare.ts.
// Plus random JIT-like byte strings through both decoders (same text, same length, or both
// refuse: ours prints `(bad)`).
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { btfById } from '../../src/cli/objects.js';
import { jitedJson, jitedText } from '../../src/cli/jited.js';
import { funcPrototype } from '../../src/cli/xlated.js';
import { decodeX86, x86Text } from '../../src/disasm/x86.js';
import { BpfObject } from '../../src/loader/object.js';
import { type ProgJited, progJited } from '../../src/syscall/info.js';
import { ALL_OBJECTS, fixture, hasCommand, need, needKernel, runCli } from '../helpers.js';
import { compare, objdumpAll, ours } from '../objdump-compare.js';
import { LLVM, llvmJitedPeer } from '../vm-prebuild.js';

const skip =
  needKernel() ??
  need(process.arch === 'x64', 'the x86-64 disassembler is checked on an x86-64 kernel') ??
  need(hasCommand('objdump'), 'objdump is not installed (apt-get install binutils)') ??
  need(hasCommand('gcc') && fs.existsSync(`${LLVM}/include/llvm-c/Disassembler.h`) && fs.existsSync('/usr/include/bpf/libbpf.h'), 'the LLVM peer needs gcc, llvm-16-dev and libbpf-dev');

/** The peer prints no BTF prototypes (bpftool's own printer, which the xlated tests compare): drop ours. */
function withoutProtos(d: ProgJited, text: string): string {
  const btf = d.info.btfId ? btfById(d.info.btfId) : undefined;
  const protos = new Set(btf ? d.funcInfo.map((f) => `${funcPrototype(btf, f.typeId)}:`) : []);
  return text
    .split('\n')
    .filter((l, i, all) => !(protos.has(l) && /^bpf_prog_[0-9a-f]{16}_\w*:$/.test(all[i + 1] ?? '')))
    .join('\n');
}

interface Loaded {
  label: string;
  id: number;
  d: ProgJited;
}

describe.skipIf(skip)('prog dump jited: every fixture program, against LLVM (bpftool) and objdump', () => {
  let tmp = '';
  let pinRoot = '';
  let peer = '';
  const objects: BpfObject[] = [];
  const progs: Loaded[] = [];
  const llvm = (...args: string[]) => execFileSync(peer, args, { encoding: 'utf8', maxBuffer: 1 << 28 });

  beforeAll(() => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bee-jited-${process.pid}-`));
    // maps.c's pinned_array is LIBBPF_PIN_BY_NAME: pinned under a folder of this test's own, not
    // the shared /sys/fs/bpf (it was left there after every run).
    pinRoot = fs.mkdtempSync('/sys/fs/bpf/bee-jited-');
    peer = path.join(tmp, 'llvm-jited');
    llvmJitedPeer(peer);
    const keep = (o: BpfObject, file: string) => {
      objects.push(o);
      for (const [name, p] of o.programs) {
        const d = progJited(p.fd.value);
        progs.push({ label: `${file}:${name}`, id: d.info.id, d });
      }
    };
    for (const file of ALL_OBJECTS.filter((f) => f.endsWith('.bpfel.o'))) {
      let names: string[];
      try {
        names = BpfObject.open(fixture(file)).spec.programs.map((p) => p.name);
      } catch {
        continue; // fixtures of parse errors
      }
      try {
        keep(BpfObject.open(fixture(file), { pinRoot }).load(), file);
        continue;
      } catch {
        /* some program of it does not load here: each on its own */
      }
      for (const name of names) {
        try {
          keep(BpfObject.open(fixture(file), { autoload: [name], pinRoot }).load(), file);
        } catch {
          /* needs what this host refuses (LSM, fentry, newer kernel) */
        }
      }
    }
  }, 300_000);

  afterAll(() => {
    for (const o of objects) o.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    if (pinRoot) fs.rmSync(pinRoot, { recursive: true, force: true });
  });

  it('loads most fixture programs, each with a JIT image, names and line info', () => {
    expect(progs.length).toBeGreaterThan(80);
    for (const p of progs) {
      expect(p.d.image.length, p.label).toBe(p.d.info.jitedProgLen);
      expect(p.d.funcLens.reduce((a, b) => a + b, 0), p.label).toBe(p.d.image.length);
      expect(p.d.jitedKsyms.length, p.label).toBe(p.d.funcLens.length);
    }
    expect(progs.some((p) => p.d.funcLens.length > 1)).toBe(true);
    expect(progs.filter((p) => p.d.jitedLineInfo.length > 0).length).toBeGreaterThan(50);
  });

  /** The peer's text for each program (one run for all of them). */
  const peerDump = (mode: 'plain' | 'linum' | 'opcodes', ids: number[]) => {
    const out = new Map<number, string>();
    for (const part of llvm('prog', mode, ...ids.map(String)).split(/^=== /m).slice(1)) {
      const nl = part.indexOf('\n');
      out.set(Number(part.slice(0, nl)), part.slice(nl + 1));
    }
    return out;
  };

  it("text (opcodes, linum, plain) is LLVM's as bpftool prints it, for every program", () => {
    let insns = 0;
    for (const mode of ['opcodes', 'linum', 'plain'] as const) {
      const want = peerDump(mode, progs.map((p) => p.id));
      for (const p of progs) {
        const btf = p.d.info.btfId ? btfById(p.d.info.btfId) : undefined;
        const text = withoutProtos(p.d, jitedText(p.d, btf, { opcodes: mode === 'opcodes', linum: mode === 'linum' }));
        expect(text, `${p.label} ${mode}`).toBe(want.get(p.id));
        if (mode === 'plain') insns += ours(p.d.image).length;
      }
    }
    expect(insns).toBeGreaterThan(3000);
  });

  it('every instruction of every function agrees with objdump', () => {
    const funcs: { label: string; code: Uint8Array }[] = [];
    for (const p of progs) {
      let off = 0;
      p.d.funcLens.forEach((len, f) => {
        funcs.push({ label: `${p.label} function ${f}`, code: p.d.image.subarray(off, off + len) });
        off += len;
      });
    }
    const theirs = objdumpAll(funcs.map((f) => f.code), tmp);
    let n = 0;
    funcs.forEach(({ label, code }, k) => {
      const a = ours(code);
      const t = theirs[k]!;
      expect(a.length, `${label}: instruction count`).toBe(t.length);
      for (let i = 0; i < a.length; i++) {
        expect(compare(a[i]!, t[i]!), label).toBeUndefined();
        n++;
      }
    });
    expect(n).toBeGreaterThan(3000);
  });

  it('the CLI: text, keywords and prefixes, JSON as bpftool builds it from the same text, file FILE', () => {
    // The programs with the most functions and line records, and one with lock-prefixed atomics.
    const pick = [...progs].sort((a, b) => b.d.funcLens.length - a.d.funcLens.length || b.d.jitedLineInfo.length - a.d.jitedLineInfo.length).slice(0, 2);
    const locked = progs.find((p) => ours(p.d.image).some((i) => i.mnemonic.startsWith('lock ')));
    expect(locked, 'a fixture with atomics').toBeDefined();
    for (const p of [...pick, locked!]) {
      const id = String(p.id);
      for (const [args, mode] of [
        [['prog', 'dump', 'jited', 'id', id], 'plain'],
        [['prog', 'd', 'j', 'i', id, 'op'], 'opcodes'],
        [['prog', 'dump', 'jited', 'id', id, 'linum'], 'linum'],
      ] as const) {
        const r = runCli([...args]);
        expect(r.stderr, args.join(' ')).toBe('');
        expect(r.status).toBe(0);
        expect(withoutProtos(p.d, r.stdout), args.join(' ')).toBe(peerDump(mode, [p.id]).get(p.id));
      }
      // JSON: bpftool's printf_json cuts LLVM's text at blanks, commas and parentheses.
      const r = runCli(['-j', 'prog', 'dump', 'jited', 'id', id, 'opcodes']);
      expect(r.status).toBe(0);
      const json = JSON.parse(r.stdout) as { name: string; proto?: string; insns: { pc: string; operation: string; operands: (string | null)[]; opcodes: string[]; src?: string }[] }[];
      expect(json).toEqual(JSON.parse(JSON.stringify(jitedJson(p.d, p.d.info.btfId ? btfById(p.d.info.btfId) : undefined, { opcodes: true }))));
      const funcs = peerDump('opcodes', [p.id]).get(p.id)!.split('\n\n').filter(Boolean);
      expect(json.length).toBe(funcs.length);
      json.forEach((f, k) => {
        const lines = funcs[k]!.split('\n');
        expect(f.name + ':').toBe(lines[0]);
        const rows = lines.slice(1).filter((l) => /^ *[0-9a-f]+:/.test(l));
        const bytes = lines.slice(1).filter((l) => l.startsWith('\t'));
        expect(f.insns.length).toBe(rows.length);
        f.insns.forEach((insn, i) => {
          const m = /^ *([0-9a-f]+):(.*)$/.exec(rows[i]!)!;
          const toks = m[2]!.split(/[ \t]+/).filter(Boolean);
          const operation = toks[0];
          const operands = m[2]!.trim().slice(operation!.length).split(/[ \t,()]+/).filter(Boolean);
          expect(insn.pc).toBe(`0x${m[1]}`);
          expect(insn.operation).toBe(operation);
          expect(insn.operands).toEqual(operands.length ? operands : [null]);
          expect(insn.opcodes).toEqual(bytes[i]!.trim().split(' ').map((b) => `0x${b}`));
        });
        expect(f.insns.some((i) => i.src !== undefined)).toBe(p.d.jitedLineInfo.length > 0);
      });
      // file FILE: the raw image, mode 0600; JSON prints null.
      const out = path.join(tmp, `image-${id}.bin`);
      const w = runCli(['-j', 'prog', 'dump', 'jited', 'id', id, 'file', out]);
      expect(w.status).toBe(0);
      expect(w.stdout).toBe('null\n');
      expect(new Uint8Array(fs.readFileSync(out))).toEqual(new Uint8Array(p.d.image));
      expect(fs.statSync(out).mode & 0o777).toBe(0o600);
    }
    // A symlink is not followed.
    const link = path.join(tmp, 'link.bin');
    fs.symlinkSync(path.join(tmp, 'elsewhere.bin'), link);
    const r = runCli(['prog', 'dump', 'jited', 'id', String(progs[0]!.id), 'file', link]);
    expect(r.status).toBe(1);
    expect(fs.existsSync(path.join(tmp, 'elsewhere.bin'))).toBe(false);
    // Usage mistakes exit 2.
    expect(runCli(['prog', 'dump', 'jited', 'id', String(progs[0]!.id), 'visual']).status).toBe(2);
    expect(runCli(['prog', 'dump', 'jited', 'id', String(progs[0]!.id), 'opcodes', 'linum']).status).toBe(2);
  });

  it('random JIT-like instructions: the same text and length as LLVM, or both refuse', () => {
    let seed = 20261201;
    const rnd = (n: number) => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return (seed >>> 8) % n;
    };
    // Leading bytes of every instruction form the JIT emits (and their neighbours in the maps).
    const leads: number[][] = [];
    for (let o = 0; o < 0x40; o++) if ((o & 7) < 6) leads.push([o]);
    for (const o of [0x50, 0x58, 0x63, 0x68, 0x69, 0x6a, 0x6b, 0x70, 0x7f, 0x80, 0x81, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8d, 0x90, 0x91, 0x98, 0x99, 0xa8, 0xa9, 0xb0, 0xb8, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc6, 0xc7, 0xc9, 0xcc, 0xd0, 0xd1, 0xd2, 0xd3, 0xe8, 0xe9, 0xeb, 0xf6, 0xf7, 0xfe, 0xff]) leads.push([o]);
    for (const o of [0x0b, 0x1f, 0x40, 0x45, 0x80, 0x85, 0x90, 0x94, 0xaf, 0xb0, 0xb1, 0xb6, 0xb7, 0xbe, 0xbf, 0xc0, 0xc1, 0xc8, 0xcf]) leads.push([0x0f, o]);
    leads.push([0x0f, 0xae, 0xe8], [0xf3, 0x0f, 0x1e, 0xfa], [0xc4, 0xe2], [0xc4, 0xc2], [0xc4, 0x62], [0xc4, 0xe3], [0xf0]);
    // 66 on near branches, push/pop and ret selects 16-bit forms the JIT never emits.
    const no66 = (t: number[]) => [0x50, 0x58, 0x63, 0x68, 0x6a, 0x70, 0x7f, 0xc2, 0xc3, 0xe8, 0xe9, 0xeb].includes(t[0]!) || (t[0] === 0x0f && t[1]! >= 0x80 && t[1]! <= 0x8f);
    const cases: Buffer[] = [];
    for (let i = 0; i < 20000; i++) {
      const t = leads[rnd(leads.length)]!;
      const b: number[] = [];
      if (![0xc4, 0xf0, 0xf3].includes(t[0]!)) {
        if (rnd(10) < 2 && !no66(t)) b.push(0x66);
        if (rnd(20) < 1) b.push(0x65);
        if (rnd(10) < 7) b.push(0x40 + rnd(16));
      }
      b.push(...t);
      if (t[0] === 0xc4) b.push([0xf9, 0xfb, 0xfa, 0x79, 0xc1, 0x41, 0x7b, 0xfb][rnd(8)]!, [0xf7, 0xf0][rnd(2)]!);
      while (b.length < 16) b.push(rnd(4) === 0 ? 0 : rnd(256));
      cases.push(Buffer.from(b));
    }
    const file = path.join(tmp, 'random.bin');
    fs.writeFileSync(file, Buffer.concat(cases), { mode: 0o600 });
    const ref = llvm('raw', 'x86_64-pc-linux-gnu', file, ...cases.map(() => '16')).split('\n\n');
    let refused = 0;
    cases.forEach((c, i) => {
      const lines = ref[i]!.replace(/^\n/, '').split('\n');
      const text = /^ *0:(.*)$/.exec(lines[0]!)![1]!;
      const len = lines[1]!.trim().split(' ').filter(Boolean).length;
      const o = decodeX86(c, 0, 0);
      const hex = [...c].map((x) => x.toString(16).padStart(2, '0')).join(' ');
      if (len === 0) {
        refused++;
        expect(o.bad, `${hex}: LLVM refuses, bee-ts says ${x86Text(o)}`).toBe(true);
        expect(o.len).toBe(1);
      } else {
        expect(`${x86Text(o)} (${o.len})`, hex).toBe(`${text} (${len})`);
      }
    });
    expect(refused).toBeLessThan(cases.length / 10);
  });
});
