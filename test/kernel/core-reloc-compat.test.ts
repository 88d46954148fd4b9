// libbpf-compatibility suite (cilium/ebpf's TestLibBPFCompat is the model): every case of the
// kernel's own prog_tests/core_reloc.c (Linux 6.1, fetched at test time) runs through bee-ts and
// through libbpf-dev (test/peers/core_reloc_libbpf.c, which compiles the fetched case table), and
// both must give the table's result: the same load verdict and the same output bytes. Then every
// relocation value libbpf's debug log reports as patched must equal the value bee-ts patched in.
// The same again against targets minimized by `bpftool gen min_core_btf`.
//
// Cases that cannot run here: module_probed and module_direct need the bpf_testmod kernel module
// (built only inside a kernel tree); the peer reports them as skipped and so do we.
import '../../src/syscall/native.js';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BtfKind, type CompositeType } from '../../src/btf/types.js';
import { BpfObject, type CoreRelocationReport } from '../../src/loader/object.js';
import type { Btf } from '../../src/btf/btf.js';
import { minCoreBtfCommand } from '../../src/cli/min-core-btf.js';
import { readBtfFile } from '../../src/loader/btf-files.js';
import { cli, hasCommand, need, needKernel } from '../helpers.js';
import { type Build, buildCoreReloc } from '../compat/selftests.js';

const skip = needKernel() ?? need(hasCommand('clang-16') && hasCommand('gcc') && hasCommand('bpftool') && fs.existsSync('/usr/include/bpf/libbpf.h'), 'clang-16, gcc, bpftool and libbpf-dev are needed for the libbpf-compatibility suite');

interface PeerCase {
  case: string;
  obj: string;
  btf: string | null;
  prog: string;
  tp: string | null;
  fails: boolean;
  btfgenFails: boolean;
  input: string;
  expected: string;
  skip: string | null;
  load: boolean | null;
  progSkip: boolean;
  out: string;
}

interface Patch {
  /** `<prog>#<insn>` */
  key: string;
  /** `<prog>#<relo index>` for poison lines */
  relo: string;
  what: 'imm' | 'off' | 'imm64' | 'mem_sz' | 'poison';
  value: bigint;
}

interface PeerRun {
  cases: PeerCase[];
  /** libbpf's patched values by case. */
  patches: Map<string, Patch[]>;
}

const PATCH = /prog '([^']+)': relo #\d+: patched insn #(\d+) \([^)]*\) (imm64|imm|off|mem_sz) (\d+) -> (\d+)/;
// Poisoning an ld_imm64 prints one line per half; the relocation is at the lower index.
const SUBST = /prog '([^']+)': relo #(\d+): substituting insn #(\d+) w\/ invalid insn/;

function runPeer(b: Build, args: string[]): PeerRun {
  const out = execFileSync(b.peer, args, { cwd: b.dir, encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'pipe'] });
  const cases: PeerCase[] = [];
  const patches = new Map<string, Patch[]>();
  for (const line of out.split('\n')) {
    if (line.startsWith('{')) cases.push(JSON.parse(line) as PeerCase);
    else if (line.startsWith('LOG\t')) {
      const [, name, msg] = line.split('\t') as [string, string, string];
      let p: Patch | undefined;
      const m = PATCH.exec(msg);
      if (m) p = { key: `${m[1]}#${m[2]}`, relo: '', what: m[3] as Patch['what'], value: BigInt(m[5]!) };
      const list = patches.get(name) ?? [];
      patches.set(name, list);
      const s = SUBST.exec(msg);
      if (s) {
        const prev = list.find((x) => x.relo === `${s[1]}#${s[2]}` && x.what === 'poison');
        if (prev) {
          prev.key = `${s[1]}#${Math.min(Number(s[3]), Number(prev.key.split('#')[1]))}`;
          continue;
        }
        p = { key: `${s[1]}#${s[3]}`, relo: `${s[1]}#${s[2]}`, what: 'poison', value: 0n };
      }
      if (p) list.push(p);
    }
  }
  return { cases, patches };
}

interface OurResult {
  load: boolean;
  error?: string;
  out: string;
  progSkip: boolean;
  relos: CoreRelocationReport[];
}

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

/** One case through bee-ts, as the selftest's runner does it with libbpf. */
function runOurs(b: Build, c: PeerCase, btf: string | undefined): OurResult {
  const relos: CoreRelocationReport[] = [];
  let obj: BpfObject | undefined;
  try {
    obj = BpfObject.open(path.join(b.dir, c.obj), { btfPath: btf, onCoreRelocation: (r) => relos.push(r) });
    obj.load();
  } catch (e) {
    obj?.close();
    return { load: false, error: (e as Error).message, out: '', progSkip: false, relos };
  }
  try {
    const spec = obj.spec;
    const bss = spec.dataSections.find((d) => d.section === '.bss')!;
    const v = bss.variables.find((x) => x.name === 'data')!;
    const t = spec.btf!.resolve(v.typeId) as CompositeType;
    expect(t.kind).toBe(BtfKind.Struct);
    const member = (n: string) => t.members.find((m) => m.name === n);
    const off = (n: string) => v.offset + member(n)!.bitOffset / 8;
    const dv = obj.dataView(bss, true);
    const bytes = new Uint8Array(dv.buffer, dv.byteOffset, dv.byteLength);
    bytes.fill(0, v.offset, v.offset + v.size);
    const input = Buffer.from(c.input, 'hex');
    bytes.set(input, off('in'));
    // getpid() | gettid() << 32 (the test runs on the main thread of its worker process), for the
    // programs that only answer their own runner.
    if (member('my_pid_tgid')) dv.setBigUint64(off('my_pid_tgid'), BigInt(process.pid) | (BigInt(process.pid) << 32n), true);
    const link = obj.program(c.prog).attach();
    try {
      fs.statSync('/'); // any syscall on this thread fires sys_enter
    } finally {
      link.close();
    }
    const outOff = off('out');
    return { load: true, out: hex(bytes.subarray(outOff, outOff + c.expected.length / 2)), progSkip: member('skip') !== undefined && bytes[off('skip')] !== 0, relos };
  } finally {
    obj.close();
  }
}

/** The `kernel` case checks the task's comm against "test_progs", the selftest runner's name. */
function withComm<T>(name: string, f: () => T): T {
  const file = `/proc/self/task/${process.pid}/comm`;
  const old = fs.readFileSync(file, 'utf8').trim();
  fs.writeFileSync(file, name);
  try {
    return f();
  } finally {
    fs.writeFileSync(file, old);
  }
}

const asWidth = (what: Patch['what'], v: bigint) => (what === 'imm' ? BigInt.asUintN(32, v) : what === 'off' ? BigInt.asUintN(16, v) : BigInt.asUintN(64, v));

interface Comparison {
  rows: { name: string; expectOk: boolean; libbpfOk: boolean; oursOk: boolean; detail: string }[];
  relosTotal: number;
  relosAgree: number;
  disagreements: string[];
}

function compare(b: Build, peer: PeerRun, btfFor: (c: PeerCase) => string | undefined): Comparison {
  const cmp: Comparison = { rows: [], relosTotal: 0, relosAgree: 0, disagreements: [] };
  for (const c of peer.cases) {
    if (c.skip) continue;
    const btf = btfFor(c);
    const ours = c.case === 'kernel' ? withComm('test_progs', () => runOurs(b, c, btf)) : runOurs(b, c, btf);
    const verdict = (load: boolean | null, out: string) => (c.fails ? load === false : load === true && out === c.expected);
    const libbpfOk = verdict(c.load, c.out);
    const oursOk = verdict(ours.load, ours.out) && ours.load === c.load && (!ours.load || ours.out === c.out);
    cmp.rows.push({ name: c.case, expectOk: true, libbpfOk, oursOk, detail: ours.load ? `out ${ours.out}\n want ${c.expected}` : `load failed: ${ours.error}` });
    // Per relocation: each value libbpf patched must be what bee-ts patched.
    const mine = new Map<string, CoreRelocationReport>();
    for (const r of ours.relos) mine.set(`${r.function}#${r.insn}`, r);
    for (const p of peer.patches.get(c.case) ?? []) {
      cmp.relosTotal++;
      const r = mine.get(p.key);
      let ok = false;
      let got = 'no relocation';
      if (r) {
        if (p.what === 'poison') ok = r.poison;
        else if (p.what === 'mem_sz') ok = !r.poison && BigInt(r.memSize ?? -1) === p.value;
        else ok = !r.poison && asWidth(p.what, BigInt(r.value)) === p.value;
        got = r.poison ? `poison (${r.reason})` : `${r.value}${r.memSize ? ` mem_sz ${r.memSize}` : ''}`;
      }
      if (ok) cmp.relosAgree++;
      else cmp.disagreements.push(`${c.case}: ${p.key} ${r?.description ?? ''}: libbpf ${p.what} ${p.what === 'poison' ? '' : p.value}, bee-ts ${got}`);
    }
  }
  return cmp;
}

function summary(label: string, cmp: Comparison): string {
  const n = cmp.rows.length;
  const lib = cmp.rows.filter((r) => r.libbpfOk).length;
  const ours = cmp.rows.filter((r) => r.oursOk).length;
  return `${label}: cases ${n}; libbpf ${lib}/${n}, bee-ts ${ours}/${n}; relocation values equal to libbpf's ${cmp.relosAgree}/${cmp.relosTotal}`;
}

// Under TCG (npm run test:vm) each phase below is minutes of CPU: the phases run one per test, so
// each prints its line when it ends (the VM runner kills a boot after 10 min of silence), and
// the hooks get the VM's longer bound.
const phaseMs = process.env.BEE_IN_VM === '1' ? 2_400_000 : 900_000;

describe.skipIf(skip)("libbpf compatibility: the kernel's core_reloc selftests (Linux 6.1)", () => {
  let b: Build;
  let direct: Comparison;
  let peerDirect: PeerRun;
  let tmp = '';

  beforeAll(() => {
    b = buildCoreReloc();
    peerDirect = runPeer(b, ['run']);
    direct = compare(b, peerDirect, (c) => (c.btf ? path.join(b.dir, c.btf) : undefined));
    console.log(summary('core_reloc', direct));
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bee-ts-btfgen-${process.pid}-`));
  }, phaseMs);
  afterAll(() => {
    if (b) fs.rmSync(b.dir, { recursive: true, force: true });
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  /** btfgen: bpftool minimizes each target for its object; both loaders then use that file (once, for the tests that need it). */
  let minimizedMemo: Comparison | undefined;
  const minimizedFor = (): Comparison => {
    if (minimizedMemo) return minimizedMemo;
    for (const c of peerDirect.cases) {
      if (c.skip || !c.btf || c.btfgenFails) continue;
      execFileSync('bpftool', ['gen', 'min_core_btf', c.btf, path.join(tmp, `${c.case}.btf`), c.obj], { cwd: b.dir, stdio: 'ignore' });
    }
    const peerMin = runPeer(b, ['btfgen', tmp]);
    minimizedMemo = compare(b, peerMin, (c) => path.join(tmp, `${c.case}.btf`));
    console.log(summary('core_reloc btfgen', minimizedMemo));
    return minimizedMemo;
  };
  /**
   * bee-ts's own gen min_core_btf on the same inputs: the same bytes as bpftool's file, the same
   * failures; then both loaders run against bee-ts's files.
   */
  let oursMemo: { btfgenCases: { name: string; same: boolean; error?: string; bytes: number }[]; minimizedOurs: Comparison } | undefined;
  const minimizedByOurs = () => {
    if (oursMemo) return oursMemo;
    const btfgenCases: { name: string; same: boolean; error?: string; bytes: number }[] = [];
    fs.mkdirSync(path.join(tmp, 'ours'));
    for (const c of peerDirect.cases) {
      if (c.skip || !c.btf) continue;
      const out = path.join(tmp, 'ours', `${c.case}.btf`);
      let error: string | undefined;
      try {
        minCoreBtfCommand([path.join(b.dir, c.btf), out, path.join(b.dir, c.obj)]);
      } catch (e) {
        error = (e as Error).message;
      }
      const ours = error === undefined ? fs.readFileSync(out) : undefined;
      // bpftool on every case (also those the table runs no btfgen load for).
      const peerFile = path.join(tmp, 'ours', `${c.case}.peer`);
      const ok = spawnSync('bpftool', ['gen', 'min_core_btf', c.btf, peerFile, c.obj], { cwd: b.dir, stdio: 'ignore' }).status === 0;
      const peer = ok ? fs.readFileSync(peerFile) : undefined;
      btfgenCases.push({ name: c.case, same: ours !== undefined && peer !== undefined ? Buffer.compare(ours, peer) === 0 : ours === peer, error, bytes: ours?.length ?? 0 });
    }
    const peerOurs = runPeer(b, ['btfgen', path.join(tmp, 'ours')]);
    const minimizedOurs = compare(b, peerOurs, (c) => path.join(tmp, 'ours', `${c.case}.btf`));
    console.log(summary("core_reloc btfgen by bee-ts's gen min_core_btf", minimizedOurs));
    oursMemo = { btfgenCases, minimizedOurs };
    return oursMemo;
  };

  it('the table runs here: every case but the two bpf_testmod ones, and libbpf passes them all', () => {
    const skipped = peerDirect.cases.filter((c) => c.skip).map((c) => c.case);
    expect(skipped).toEqual(['module_probed', 'module_direct']);
    expect(direct.rows.length).toBeGreaterThanOrEqual(70);
    expect(direct.rows.filter((r) => !r.libbpfOk).map((r) => r.name)).toEqual([]);
  });

  it('bee-ts gives the same result as libbpf in every case (load verdict and output bytes)', () => {
    const bad = direct.rows.filter((r) => !r.oursOk).map((r) => `${r.name}: ${r.detail}`);
    expect(bad).toEqual([]);
  });

  it('every relocation value libbpf patches, bee-ts patches the same', () => {
    expect(direct.relosTotal).toBeGreaterThan(900);
    expect(direct.disagreements).toEqual([]);
  });

  it('against targets minimized by bpftool gen min_core_btf: same results as libbpf', () => {
    const minimized = minimizedFor();
    expect(minimized.rows.length).toBeGreaterThan(40);
    expect(minimized.rows.filter((r) => !r.libbpfOk).map((r) => r.name)).toEqual([]);
    expect(minimized.rows.filter((r) => !r.oursOk).map((r) => `${r.name}: ${r.detail}`)).toEqual([]);
    expect(minimized.disagreements).toEqual([]);
  }, phaseMs);

  it("bee-ts's gen min_core_btf: bpftool's bytes for every case bpftool minimizes, failing where bpftool fails; both loaders pass against its files", () => {
    const minimized = minimizedFor();
    const { btfgenCases, minimizedOurs } = minimizedByOurs();
    expect(btfgenCases.length).toBeGreaterThan(40);
    expect(btfgenCases.filter((c) => !c.same).map((c) => `${c.name}: ${c.error ?? 'bytes differ'}`)).toEqual([]);
    // Some cases keep real types (not just an empty BTF).
    expect(btfgenCases.filter((c) => c.bytes > 100).length).toBeGreaterThan(20);
    expect(minimizedOurs.rows.length).toBe(minimized.rows.length);
    expect(minimizedOurs.rows.filter((r) => !r.libbpfOk).map((r) => r.name)).toEqual([]);
    expect(minimizedOurs.rows.filter((r) => !r.oursOk).map((r) => `${r.name}: ${r.detail}`)).toEqual([]);
    expect(minimizedOurs.disagreements).toEqual([]);
    expect(minimizedOurs.relosTotal).toBe(minimized.relosTotal);
  }, phaseMs);

  it("gen min_core_btf of vmlinux for all the selftest objects at once: bpftool's bytes; each object relocates against it as against the full vmlinux", () => {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `bee-ts-btfgen-vmlinux-${process.pid}-`));
    try {
      const objs = fs.readdirSync(b.dir).filter((f) => /^test_core_reloc_.*\.bpf\.o$/.test(f)).sort();
      expect(objs.length).toBeGreaterThan(10);
      const ours = path.join(tmp, 'ours.btf');
      const peer = path.join(tmp, 'peer.btf');
      execFileSync('bpftool', ['gen', 'min_core_btf', '/sys/kernel/btf/vmlinux', peer, ...objs], { cwd: b.dir, stdio: 'ignore' });
      const r = spawnSync(process.execPath, [cli, 'gen', 'min_core_btf', '/sys/kernel/btf/vmlinux', ours, ...objs], { cwd: b.dir, encoding: 'utf8' });
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(fs.readFileSync(ours).equals(fs.readFileSync(peer))).toBe(true);
      expect(fs.statSync(ours).size).toBeGreaterThan(1000);
      let relocated = 0;
      for (const o of objs) {
        // A target type id is an id in that target: compare the type it names (kind and name).
        const named = (btf: Btf, x: CoreRelocationReport) => (x.description.startsWith('target_type_id') && !x.poison ? `${btf.typeById(Number(x.value)).kind}:${btf.typeById(Number(x.value)).name}` : `${x.value}`);
        const run = (btfPath?: string) => {
          const target = readBtfFile(btfPath ?? '/sys/kernel/btf/vmlinux');
          const relos: CoreRelocationReport[] = [];
          let loaded = true;
          try {
            BpfObject.open(path.join(b.dir, o), { btfPath, onCoreRelocation: (x) => relos.push(x) }).load().close();
          } catch {
            loaded = false;
          }
          return { loaded, relos: relos.map((x) => `${x.function}#${x.insn} ${x.description} ${x.poison ? 'poison' : `${named(target, x)} ${x.memSize ?? ''}`}`) };
        };
        const full = run();
        expect(run(ours), o).toEqual(full);
        relocated += full.relos.filter((x) => !x.endsWith('poison')).length;
      }
      expect(relocated).toBeGreaterThan(5);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, phaseMs);
});
