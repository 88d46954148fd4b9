// gen object (static linking + BTF dedup) side by side with bpftool 7.1, whole output files byte
// for byte, on inputs nobody here wrote: the kernel's linker selftests (linked_funcs, linked_vars,
// linked_maps) and a corpus of other Linux 6.1 selftest programs (tools/testing/selftests/bpf,
// fetched at test time, built with clang-16 against this kernel's vmlinux.h), each linked alone
// and in groups; plus examples/ and fixtures paired. Where bpftool refuses a link, bee-ts must
// refuse it too. Then the linked selftests are loaded by bee-ts as libbpf's selftests load them
// (linked_funcs' `?raw_tp` programs turned on, `.rodata` set) and compute what the selftests expect.
import '../../src/syscall/native.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { linkObjects } from '../../src/loader/linker.js';
import { BpfObject } from '../../src/loader/object.js';
import { cachedBuild } from '../build-cache.js';
import { selftestObjectStep } from '../compat/selftests.js';
import { cli, hasCommand, need, needKernel, root } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('clang-16') && hasCommand('bpftool') && fs.existsSync('/usr/include/bpf/bpf_helpers.h'), 'clang-16, bpftool and libbpf-dev are needed');

const PAIRS = ['funcs', 'vars', 'maps'] as const;
// Selftest programs that build with clang-16 and this kernel's vmlinux.h: iterators (many FWDs
// of kernel structs resolved across inputs), kfuncs and ksyms, BTF tags, struct_ops, CO-RE.
const CORPUS = [
  'bpf_iter_task',
  'bpf_iter_task_vma',
  'bpf_iter_netlink',
  'bpf_iter_ipv6_route',
  'bpf_iter_udp4',
  'bpf_iter_unix',
  'bpf_iter_bpf_map',
  'bpf_iter_test_kern4',
  'btf_dump_test_case_syntax',
  'btf_dump_test_case_ordering',
  'btf_type_tag',
  'test_btf_decl_tag',
  'test_core_read_macros',
  'test_skb_helpers',
  'test_skc_to_unix_sock',
  'lsm_cgroup',
  'setget_sockopt',
  'tcp_ca_write_sk_pacing',
  'test_ksyms_btf',
  'test_ksyms_weak',
  'map_kptr',
  'test_d_path',
  'cgroup_iter',
  'task_local_storage',
];

// In the VMs (npm run test:vm) only what depends on the kernel runs: the linker selftests built
// against that kernel's vmlinux.h (prebuilt on the host from the kernel image it boots), linked by
// both tools and loaded there. Linking the corpus, examples and fixtures is the same work on every
// kernel and costs minutes of bpftool start-ups and dedups under TCG: the host runs it.
const hostPart = process.env.BEE_IN_VM === '1' ? 'linking bytes of the corpus, examples and fixtures do not depend on the kernel: the host runs them' : undefined;

describe.skipIf(skip)('gen object: bee-ts and bpftool 7.1 write the same bytes', () => {
  let dir = '';
  const linked = (who: 'bpftool' | 'bee', t: string) => path.join(dir, `${who}_${t}.o`);
  let vmlinuxH: Buffer;
  /** progs/<name>.c built against this kernel's vmlinux.h (through the build cache), at dir/<name>.o. */
  const build = (name: string) => {
    const out = path.join(dir, `${name}.o`);
    fs.copyFileSync(path.join(cachedBuild(selftestObjectStep(name, vmlinuxH)).dir, `${name}.o`), out);
    return out;
  };
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), `bee-ts-link-${process.pid}-`));
    vmlinuxH = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux', 'format', 'c'], { maxBuffer: 1 << 28 });
    for (const t of PAIRS) {
      const objs = [1, 2].map((n) => build(`linked_${t}${n}`));
      execFileSync('bpftool', ['gen', 'object', linked('bpftool', t), ...objs], { stdio: 'pipe' });
      const r = spawnSync(process.execPath, [cli, 'gen', 'object', linked('bee', t), ...objs], { encoding: 'utf8' });
      if (r.status !== 0) throw new Error(`bee-ts gen object ${t}: ${r.stderr}`);
    }
    if (!hostPart) for (const n of CORPUS) build(n);
  }, 600_000);
  afterAll(() => {
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("the kernel's linker selftests: bee-ts's `gen object` output is bpftool's, every byte (code, relocations, symbols, deduplicated .BTF and .BTF.ext)", () => {
    for (const t of PAIRS) {
      const [a, b] = [fs.readFileSync(linked('bpftool', t)), fs.readFileSync(linked('bee', t))];
      expect(b.length, t).toBe(a.length);
      expect(b.equals(a), t).toBe(true);
    }
  });

  /** Link `inputs` with both tools: bpftool's bytes (undefined when it refuses) and bee-ts's (or its error). */
  const both = (inputs: string[]) => {
    const out = path.join(dir, `ref-${process.pid}.o`);
    fs.rmSync(out, { force: true });
    const r = spawnSync('bpftool', ['gen', 'object', out, ...inputs], { stdio: 'ignore' });
    const ref = r.status === 0 ? fs.readFileSync(out) : undefined;
    let bee: Buffer | undefined;
    let err = '';
    try {
      bee = Buffer.from(linkObjects(inputs.map((f) => ({ file: f, bytes: fs.readFileSync(f) }))));
    } catch (e) {
      err = (e as Error).message;
    }
    return { ref, bee, err };
  };
  const compare = (groups: string[][]) => {
    const rows: string[] = [];
    let identical = 0;
    for (const g of groups) {
      const { ref, bee, err } = both(g);
      const name = g.map((f) => path.basename(f)).join('+');
      if (!ref) rows.push(`${name}: bpftool refuses, bee-ts ${bee ? 'links' : 'refuses'}`);
      else if (!bee) rows.push(`${name}: bpftool links, bee-ts refuses (${err})`);
      else if (bee.equals(ref)) identical++;
      else rows.push(`${name}: ${bee.length} bytes differ from bpftool's ${ref.length}`);
    }
    return { identical, rows };
  };

  it.skipIf(hostPart)('Linux 6.1 selftest programs, each alone, in consecutive pairs and in groups of 3–5: the same bytes as bpftool', () => {
    const objs = CORPUS.map((n) => path.join(dir, `${n}.o`));
    const groups = [...objs.map((o) => [o]), ...objs.slice(1).map((o, i) => [objs[i]!, o])];
    for (let i = 0; i + 5 <= objs.length; i += 4) groups.push(objs.slice(i, i + 3 + (i % 3)));
    const { identical, rows } = compare(groups);
    // Groups both tools refuse (e.g. two strong definitions of one global) agree; nothing else may be listed.
    expect(rows.filter((r) => !r.includes('bpftool refuses, bee-ts refuses'))).toEqual([]);
    expect(identical).toBeGreaterThanOrEqual(CORPUS.length + 10);
  }, 300_000);

  it.skipIf(hostPart)('examples/ and fixtures: each alone and each example with fixtures, the same bytes as bpftool (or both refuse)', () => {
    const ex = fs.readdirSync(path.join(root, 'examples')).filter((f) => f.endsWith('.o')).map((f) => path.join(root, 'examples', f)).sort();
    const fx = fs.readdirSync(path.join(root, 'test', 'fixtures')).filter((f) => f.endsWith('.bpfel.o')).map((f) => path.join(root, 'test', 'fixtures', f)).sort();
    const groups = [...ex.map((e) => [e]), ...fx.map((f) => [f]), ...ex.flatMap((e, i) => fx.filter((_, j) => j % ex.length === i).slice(0, 6).map((f) => [e, f])), ex];
    const { identical, rows } = compare(groups);
    expect(rows.filter((r) => !r.includes('bpftool refuses, bee-ts refuses'))).toEqual([]);
    expect(identical).toBeGreaterThanOrEqual(ex.length + 20);
  }, 300_000);

  const libc = koffi.load('libc.so.6');
  const getpgid = libc.func('int getpgid(int)');
  const gettid = libc.func('int gettid()');
  const SYS_getpgid = 121;

  /** Open `f`, set it up (before and after load, as the selftest does), attach every loaded program, trigger, read `outputs`. */
  const run = (f: string, o: { open?: (obj: BpfObject) => void; loaded?: (obj: BpfObject) => void; trigger: () => void; outputs: string[] }) => {
    const obj = BpfObject.open(f);
    try {
      o.open?.(obj);
      obj.load();
      o.loaded?.(obj);
      const links = [...obj.programs.values()].map((p) => p.attach());
      try {
        o.trigger();
      } finally {
        for (const l of links) l.close();
      }
      return o.outputs.map((n) => obj.globals.get(n));
    } finally {
      obj.close();
    }
  };

  it("linked_funcs loads as its selftest loads it (the `?raw_tp` programs turned on) and computes the selftest's values, from either linker's output", () => {
    const funcs = (f: string) =>
      run(f, {
        open: (o) => {
          o.programSpec('handler1').setAutoload(true);
          o.programSpec('handler2').setAutoload(true);
          o.setConstant('my_tid', gettid());
          o.globals.set('syscall_id', SYS_getpgid);
        },
        trigger: () => getpgid(0),
        outputs: ['output_val1', 'output_ctx1', 'output_weak1', 'output_val2', 'output_ctx2', 'output_weak2'],
      });
    const want = [2000 + 2000, SYS_getpgid, 42, 2 * 1000 + 2 * (2 * 1000), SYS_getpgid, 0];
    expect(funcs(linked('bpftool', 'funcs'))).toEqual(want);
    expect(funcs(linked('bee', 'funcs'))).toEqual(want);
  });

  it("linked_vars and linked_maps compute what their selftests expect, from either linker's output", () => {
    for (const who of ['bpftool', 'bee'] as const) {
      const vars = run(linked(who, 'vars'), {
        loaded: (o) => {
          o.globals.set('input_bss1', 1000);
          o.globals.set('input_bss2', 2000);
          o.globals.set('input_bss_weak', 3000);
        },
        trigger: () => fs.statSync('/'),
        outputs: ['output_bss1', 'output_bss2', 'output_data1', 'output_data2', 'output_rodata1', 'output_rodata2'],
      });
      expect(vars, who).toEqual([6000, 6000, 13, 13, 133, 133]);
      const maps = run(linked(who, 'maps'), { trigger: () => getpgid(0), outputs: ['output_first1', 'output_second1', 'output_weak1'] });
      expect(maps, who).toEqual([2000, 2, 2]);
    }
  });
});
