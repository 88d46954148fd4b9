// `bee-ts prog profile` inside Debian's kernels (npm run test:vm), where fentry/fexit on a BPF
// program attach (this host refuses them: test/kernel/profile.test.ts). The profiled program is
// this test's own XDP program, run a known number of times with BPF_PROG_TEST_RUN: run_cnt must
// equal those runs exactly, and the counter sums must be counted. Under QEMU's TCG there is no
// PMU ("software events only"), so bpftool's hardware metrics cannot open there: the test checks
// that refusal, and counts with bee-ts's cpu_clock (software) metric; where a PMU exists it
// checks instructions too.
import '../../src/syscall/native.js';
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { fdById } from '../../src/syscall/bpf.js';
import { BpfError, ENOENT } from '../../src/syscall/errno.js';
import { progInfo } from '../../src/syscall/info.js';
import { cli, fdInfos, fixture, need, needKernel, waitUntil } from '../helpers.js';

const skip = needKernel() ?? need(process.env.BEE_IN_VM === '1', 'VM-only tests: run `npm run test:vm`');
const xdpIn = () => ({ dataIn: new Uint8Array(64) });
/** A CPU PMU driver registered: bpftool's hardware metrics can open. */
const hasPmu = fs.existsSync('/sys/bus/event_source/devices/cpu');

interface Child {
  proc: ChildProcess;
  out: () => string;
  err: () => string;
  exit: Promise<number | null>;
}

function start(args: string[]): Child {
  const proc = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  proc.stdout!.on('data', (d) => (out += d));
  proc.stderr!.on('data', (d) => (err += d));
  const exit = new Promise<number | null>((res) => proc.once('exit', (code) => res(code)));
  return { proc, out: () => out, err: () => err, exit };
}

/** The program, map and link ids a process holds (its fdinfo). */
function held(pid: number): { progs: number[]; maps: number[]; tracingLinks: number } {
  const progs = new Set<number>();
  const maps = new Set<number>();
  let tracingLinks = 0;
  for (const info of fdInfos(pid)) {
    const p = /^prog_id:\s*(\d+)/m.exec(info);
    if (p) progs.add(Number(p[1]));
    const m = /^map_id:\s*(\d+)/m.exec(info);
    if (m) maps.add(Number(m[1]));
    if (/^link_type:\s*tracing/m.test(info)) tracingLinks++;
  }
  return { progs: [...progs], maps: [...maps], tracingLinks };
}

/** Ids of `kind` still in the kernel after up to 30 s (frees can be deferred). */
async function stillThere(kind: 'prog' | 'map', ids: number[]): Promise<number[]> {
  const exists = (id: number) => {
    try {
      fdById(kind, id).close();
      return true;
    } catch (e) {
      if (e instanceof BpfError && e.errno === ENOENT) return false;
      throw e;
    }
  };
  let left = ids;
  await waitUntil(() => (left = left.filter(exists)).length === 0, 30_000, 200).catch(() => undefined);
  return left;
}

/** Parse bpftool's plain printout: run_cnt and each metric's count. */
function parseText(s: string): Record<string, bigint> {
  const out: Record<string, bigint> = {};
  for (const line of s.split('\n')) {
    const m = /^ *(\d+) (\w+)/.exec(line);
    if (m) out[m[2]!] = BigInt(m[1]!);
  }
  return out;
}

describe.skipIf(skip)('prog profile in the VM', () => {
  it('run_cnt equals the runs made, cpu_clock counts them; Ctrl-C prints, exits 0 and leaves nothing', async () => {
    using t = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['target_xdp'] }).load();
    const target = t.program('target_xdp');
    const id = progInfo(target.fd.value).id;
    const c = start(['prog', 'profile', 'id', String(id), 'cpu_clock']);
    // Attached once the child holds its two tracing links.
    let ids = { progs: [] as number[], maps: [] as number[], tracingLinks: 0 };
    await waitUntil(() => (ids = held(c.proc.pid!)).tracingLinks === 2 || c.proc.exitCode !== null, 600_000, 100);
    expect(ids.tracingLinks, c.err()).toBe(2);
    const ours = ids.progs.filter((p) => p !== id);
    expect(ours.length).toBe(2); // profile_entry, profile_exit
    const runs = 503;
    const tr = target.testRun({ ...xdpIn(), repeat: runs });
    expect(tr.retval).toBe(2);
    c.proc.kill('SIGINT');
    expect(await c.exit, c.err()).toBe(0);
    console.log(`prog profile id ${id} cpu_clock, ${runs} runs (BPF_PROG_TEST_RUN: ${tr.duration} ns per run):${c.out()}`);
    const r = parseText(c.out());
    expect(c.out().startsWith('\n')).toBe(true);
    expect(r.run_cnt).toBe(BigInt(runs));
    expect(c.out()).toMatch(/^\n {15}503 run_cnt {13}\n {2,}\d+ cpu_clock {11} {41}\n$/);
    // Nanoseconds from fentry to fexit: more than zero, and no more than the kernel's own timing of
    // the same runs (BPF_PROG_TEST_RUN times the whole call, trampoline included; the average it
    // reports is rounded down, hence +1; 5% for the two clocks' rates).
    expect(r.cpu_clock).toBeGreaterThan(0n);
    expect(Number(r.cpu_clock)).toBeLessThanOrEqual((tr.duration + 1) * runs * 1.05);
    // Nothing of the profiler left: its programs and maps are gone, the target still runs, untraced.
    expect(await stillThere('prog', ours)).toEqual([]);
    expect(await stillThere('map', ids.maps)).toEqual([]);
    expect(target.testRun(xdpIn()).retval).toBe(2);
  });

  it('duration D ends by itself, -j prints bpftool\'s JSON array; no runs: run_cnt 0', async () => {
    using t = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['target_xdp'] }).load();
    const id = progInfo(t.program('target_xdp').fd.value).id;
    const c = start(['-j', 'prog', 'profile', 'id', String(id), 'duration', '2', 'cpu']);
    expect(await c.exit, c.err()).toBe(0);
    const j = JSON.parse(c.out()) as Record<string, unknown>[];
    expect(j).toEqual([{ metric: 'cpu_clock', run_cnt: 0, value: 0, enabled: 0, running: 0 }]);
  });

  it("bpftool's hardware metrics: without a PMU (TCG) a clear refusal naming the counter, exit 1; with one, instructions are counted", async () => {
    using t = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['target_xdp'] }).load();
    const target = t.program('target_xdp');
    const id = progInfo(target.fd.value).id;
    if (!hasPmu) {
      const c = start(['prog', 'profile', 'id', String(id), 'duration', '1', 'cycles', 'instructions']);
      expect(await c.exit).toBe(1);
      console.log(`no PMU here: ${c.err()}`);
      expect(c.err()).toMatch(/^Error: failed to create event cycles on cpu 0: this CPU offers no such hardware counter \(no PMU driver/);
      expect(c.out()).toBe('');
      return;
    }
    const c = start(['prog', 'profile', 'id', String(id), 'instructions', 'cycles']);
    await waitUntil(() => held(c.proc.pid!).tracingLinks === 2 || c.proc.exitCode !== null, 600_000, 100);
    target.testRun({ ...xdpIn(), repeat: 100 });
    c.proc.kill('SIGINT');
    expect(await c.exit, c.err()).toBe(0);
    const r = parseText(c.out());
    expect(r.run_cnt).toBe(100n);
    expect(r.instructions).toBeGreaterThan(0n);
    expect(c.out()).toMatch(/instructions {8}# +\d+\.\d\d insns per cycle/);
  });
});
