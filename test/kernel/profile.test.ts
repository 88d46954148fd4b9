// `bee-ts prog profile` on this kernel. This host refuses fentry/fexit programs to root (EPERM
// at BPF_PROG_LOAD), so the command must say that, naming the feature, exit 1 and leave nothing;
// a kernel that allows them (the VMs: test/vm/profile.test.ts) must profile instead. Which case
// holds is probed independently, by loading a fixture's fentry program on a BPF program here.
import '../../src/syscall/native.js';
import { describe, expect, it } from 'vitest';
import { BpfObject } from '../../src/loader/object.js';
import { progLoadRaw } from '../../src/syscall/bpf.js';
import { BpfError, EPERM } from '../../src/syscall/errno.js';
import { Fd } from '../../src/syscall/fd.js';
import { progInfo } from '../../src/syscall/info.js';
import { bpftoolIds, fixture, hasCommand, need, needKernel, runCli, waitUntil } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool lists the maps a failed run could leave (apt-get install bpftool)');
const PROFILER_MAPS = ['entry_values', 'sums', 'runs', 'events'];

/** Does this kernel let root load an fentry program on a BPF program? (EPERM: refused.) */
function fentryRefused(targetFd: number): boolean {
  using o = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['on_target'] });
  o.programSpec('on_target').setAttachTarget('target_xdp', targetFd);
  try {
    o.load();
    return false;
  } catch (e) {
    if (e instanceof BpfError && e.errno === EPERM) return true;
    throw e;
  }
}

describe.skipIf(skip)('prog profile on this kernel', () => {
  it('refused fentry: one clear line naming the feature, exit 1 (JSON error under -j), nothing left; else it profiles', async () => {
    using t = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['target_xdp'] }).load();
    const target = t.program('target_xdp');
    const id = progInfo(target.fd.value).id;
    const pin = `/sys/fs/bpf/bee-profile-${process.pid}`;
    target.pin(pin);
    try {
      const before = bpftoolIds('map', PROFILER_MAPS);
      const args = ['prog', 'profile', 'pinned', pin, 'duration', '0', 'cpu_clock'];
      if (fentryRefused(target.fd.value)) {
        const r = runCli(args);
        expect(r.status).toBe(1);
        expect(r.stdout).toBe('');
        expect(r.stderr).toBe(
          `Error: prog profile: cannot load the fentry/fexit profiler on 'target_xdp' (pinned ${pin}): this kernel refuses fentry/fexit (BPF_PROG_TYPE_TRACING) programs even to root (EPERM from BPF_PROG_LOAD: kernel lockdown or another LSM forbids them); prog profile needs them\n`,
        );
        const j = runCli(['-j', 'prog', 'profile', 'id', String(id), 'duration', '0', 'cycles']);
        expect(j.status).toBe(1);
        expect((JSON.parse(j.stdout) as { error: string }).error).toMatch(/^prog profile: cannot load the fentry\/fexit profiler on 'target_xdp' \(id \d+\): this kernel refuses fentry\/fexit/);
      } else {
        const r = runCli(args);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toMatch(/^\n {17}0 run_cnt {13}\n {17}0 cpu_clock {11} {41}\n$/);
      }
      // The maps the profiler made are gone with the process.
      let left: number[] = [];
      await waitUntil(() => (left = bpftoolIds('map', PROFILER_MAPS).filter((m) => !before.includes(m))).length === 0, 20_000, 200).catch(() => undefined);
      expect(left).toEqual([]);
    } finally {
      (await import('node:fs')).rmSync(pin, { force: true });
    }
  });

  it('a program without BTF is refused before anything is loaded (exit 1)', () => {
    // A socket filter loaded from raw instructions carries no BTF.
    const insns = new Uint8Array([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    const r = progLoadRaw({ type: 1, insns, license: 'GPL' });
    expect(r.fd).toBeGreaterThan(0);
    using fd = new Fd(r.fd, 'no-BTF socket filter');
    const id = progInfo(fd.value).id;
    const c = runCli(['prog', 'profile', 'id', String(id), 'cpu_clock']);
    expect(c.status).toBe(1);
    expect(c.stderr).toBe(`Error: prog profile: program id ${id} was loaded without BTF; profiling attaches fentry/fexit to its function and needs its BTF (build it with clang -g)\n`);
  });

  it('a missing program is a run-time failure (exit 1)', () => {
    const r = runCli(['prog', 'profile', 'id', '4000000000', 'cycles']);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/^Error: prog id 4000000000: BPF_PROG_GET_FD_BY_ID: ENOENT/);
  });
});
