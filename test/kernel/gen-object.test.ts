// gen object (static linking) side by side with bpftool 7.1 on the kernel's own linker selftests
// (linked_funcs, linked_vars, linked_maps from Linux 6.1's tools/testing/selftests/bpf, fetched
// at test time, built with clang-16 against this kernel's vmlinux.h): every ELF section but .BTF
// byte for byte, the same symbols, the same DATASECs and .BTF.ext records; both tools load bee-ts's
// output as they load bpftool's, and linked_vars computes what its selftest expects from either.
import '../../src/syscall/native.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Btf, parseBtf } from '../../src/btf/btf.js';
import { parseBtfExt } from '../../src/btf/ext.js';
import { BtfKind } from '../../src/btf/types.js';
import { parseElf } from '../../src/elf/reader.js';
import { BpfObject } from '../../src/loader/object.js';
import { REL, selftestsSource } from '../compat/selftests.js';
import { cli, hasCommand, need, needKernel } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('clang-16') && hasCommand('bpftool') && hasCommand('readelf') && fs.existsSync('/usr/include/bpf/bpf_helpers.h'), 'clang-16, bpftool, binutils and libbpf-dev are needed');

const PAIRS = ['funcs', 'vars', 'maps'] as const;

describe.skipIf(skip)("gen object: the kernel's linker selftests, linked by bee-ts and by bpftool", () => {
  let dir = '';
  const linked = (who: 'bpftool' | 'bee', t: string) => path.join(dir, `${who}_${t}.o`);
  beforeAll(() => {
    const st = path.join(selftestsSource(), REL);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `bee-ts-link-${process.pid}-`));
    fs.writeFileSync(path.join(dir, 'vmlinux.h'), execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 28 }));
    for (const t of PAIRS) {
      const objs = [1, 2].map((n) => {
        const o = path.join(dir, `linked_${t}${n}.o`);
        execFileSync('clang-16', ['-g', '-O2', '-target', 'bpf', '-mcpu=v3', '-D__TARGET_ARCH_x86', '-I', dir, '-I', st, '-c', path.join(st, 'progs', `linked_${t}${n}.c`), '-o', o], { stdio: 'pipe' });
        return o;
      });
      execFileSync('bpftool', ['gen', 'object', linked('bpftool', t), ...objs], { stdio: 'pipe' });
      const r = spawnSync(process.execPath, [cli, 'gen', 'object', linked('bee', t), ...objs], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`bee-ts gen object ${t}: ${r.stderr}`);
    }
  }, 300_000);
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  const elfOf = (f: string) => parseElf(fs.readFileSync(f), f);
  const btfOf = (f: string) => parseBtf(elfOf(f).sectionByName('.BTF')!.data, { file: f });

  it('every section but .BTF and .BTF.ext byte for byte (code, relocations, data, maps, string and symbol tables), the same headers', () => {
    for (const t of PAIRS) {
      const [a, b] = [elfOf(linked('bpftool', t)), elfOf(linked('bee', t))];
      const hdr = (s: (typeof a.sections)[number]) => ({ name: s.name, type: s.type, flags: s.flags, align: s.addralign, entsize: s.entsize, link: s.link, info: s.info, size: s.name === '.BTF' ? 0 : s.size });
      expect(b.sections.map(hdr), t).toEqual(a.sections.map(hdr));
      for (const s of a.sections) {
        if (s.name === '.BTF' || s.name === '.BTF.ext') continue;
        expect(Buffer.from(b.sectionByName(s.name)!.data).equals(Buffer.from(s.data)), `${t}: ${s.name}`).toBe(true);
      }
      const readelf = (f: string) => execFileSync('readelf', ['-sW', f], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).split('\n').slice(3).join('\n');
      expect(readelf(linked('bee', t))).toBe(readelf(linked('bpftool', t)));
    }
  });

  it('BTF: the same DATASECs (merged offsets and sizes, one entry per global) and the same .BTF.ext records; every named type bpftool keeps', () => {
    const datasecs = (btf: Btf) =>
      btf.types
        .filter((x) => x.kind === BtfKind.Datasec)
        .map((d) => ({ name: d.name, size: (d as { size: number }).size, vars: (d as { vars: { type: number; offset: number; size: number }[] }).vars.map((v) => `${btf.typeById(v.type).name}@${v.offset}+${v.size}`) }));
    const ext = (f: string) => {
      const btf = btfOf(f);
      const e = parseBtfExt(elfOf(f).sectionByName('.BTF.ext')!.data, btf, f);
      const out: string[] = [];
      for (const [sec, recs] of e.funcInfo) for (const r of recs) out.push(`func ${sec} ${r.insnOff} ${btf.typeById(r.typeId).name}`);
      for (const [sec, recs] of e.lineInfo) for (const r of recs) out.push(`line ${sec} ${r.insnOff} ${r.fileName}:${r.lineNum}:${r.column} ${r.line}`);
      for (const [sec, recs] of e.coreRelos) for (const r of recs) out.push(`core ${sec} ${r.insnOff} ${btf.typeById(r.typeId).name} ${r.accessStr} ${r.kind}`);
      return out;
    };
    for (const t of PAIRS) {
      const [a, b] = [btfOf(linked('bpftool', t)), btfOf(linked('bee', t))];
      expect(datasecs(b), t).toEqual(datasecs(a));
      expect(ext(linked('bee', t)), t).toEqual(ext(linked('bpftool', t)));
      const named = (btf: Btf) => new Set(btf.types.filter((x) => x.name).map((x) => `${x.kind}:${x.name}${x.kind === BtfKind.Func || x.kind === BtfKind.Var ? `:${(x as { linkage: number }).linkage}` : ''}`));
      expect([...named(b)].sort(), t).toEqual([...named(a)].sort());
    }
  });

  it('both tools load bee-ts\'s output as they load bpftool\'s (same verdicts)', () => {
    const pin = (who: string, t: string, tool: string) => `/sys/fs/bpf/bee-link-${process.pid}-${who}-${t}-${tool}`;
    const verdicts: Record<string, boolean[]> = {};
    for (const t of PAIRS) {
      for (const who of ['bpftool', 'bee'] as const) {
        const row: boolean[] = [];
        for (const tool of ['bpftool', 'bee']) {
          const p = pin(who, t, tool);
          fs.rmSync(p, { recursive: true, force: true });
          const r = tool === 'bpftool' ? spawnSync('bpftool', ['prog', 'loadall', linked(who, t), p]) : spawnSync(process.execPath, [cli, 'prog', 'loadall', linked(who, t), p]);
          fs.rmSync(p, { recursive: true, force: true });
          row.push(r.status === 0);
        }
        verdicts[`${t} ${who}`] = row;
      }
      expect(verdicts[`${t} bee`], t).toEqual(verdicts[`${t} bpftool`]);
    }
    // linked_vars loads with both tools from either linker.
    expect(verdicts['vars bee']).toEqual([true, true]);
  });

  it("linked_vars from bee-ts's object computes what the selftest expects, as from bpftool's", () => {
    const run = (f: string) => {
      const o = BpfObject.open(f);
      try {
        o.load();
        o.globals.set('input_bss1', 1000);
        o.globals.set('input_bss2', 2000);
        o.globals.set('input_bss_weak', 3000);
        const links = [...o.programs.values()].map((p) => p.attach());
        try {
          fs.statSync('/');
        } finally {
          for (const l of links) l.close();
        }
        return ['output_bss1', 'output_bss2', 'output_data1', 'output_data2', 'output_rodata1', 'output_rodata2'].map((n) => o.globals.get(n));
      } finally {
        o.close();
      }
    };
    const want = [6000, 6000, 13, 13, 133, 133];
    expect(run(linked('bpftool', 'vars'))).toEqual(want);
    expect(run(linked('bee', 'vars'))).toEqual(want);
  });
});
