// bee-ts feature probe against bpftool 7.1 and the kernel's own test_bpftool.py (Linux 6.1's
// selftests, fetched at test time), and each answer where the two differ checked by a load.
// Where the kernel differs (this host refuses fentry and says "cannot use helper" in words libbpf
// 1.1 does not know; Debian's 6.1 and 6.12 in the VMs load fentry), a load made here says which
// answer bpftool 7.1 must give.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { selftestsSource, REL } from '../compat/selftests.js';
import { EINVAL, EPERM } from '../../src/syscall/errno.js';
import { childBound, cli, hasCommand, kernelHasFunc, need, needKernel, runCli } from '../helpers.js';

const skip = needKernel() ?? need(hasCommand('bpftool'), 'bpftool is not installed') ?? need(hasCommand('python3'), 'python3 is not installed');
const bpftool = (...args: string[]) => execFileSync('bpftool', args, { encoding: 'utf8', maxBuffer: 1 << 26 });
const bee = (...args: string[]) => {
  const r = runCli(args);
  if (r.status !== 0) throw new Error(`bee-ts ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
};

/** Where bee-ts answers differently from bpftool 7.1 on purpose (README's feature table). */
const NEWER_PROG_TYPES = ['netfilter']; // libbpf 1.1 does not know these; the kernel does
const NEWER_MAP_TYPES = ['cgrp_storage', 'arena'];

// A refused helper, said the 6.18 way or the older ways (libbpf 1.1 only knows the older ones).
const REFUSED = /cannot use helper|unknown func |invalid func |helper call is not allowed in probe/;

describe.skipIf(skip)('feature probe', () => {
  let ours: Record<string, Record<string, unknown>>;
  let theirs: Record<string, Record<string, unknown>>;
  let sys: typeof import('../../src/syscall/features.js');
  let consts: typeof import('../../src/syscall/constants.js');
  /** bpftool's raw dump of vmlinux BTF, and its ids by kind and name (`[id] KIND 'name'` lines). */
  let vmlinuxDump: string;
  let btfIds: Map<string, number>;
  /** Does this kernel refuse fentry programs to root (EPERM loading one on bpf_fentry_test1)? */
  let fentryRefused: boolean;
  const ret0 = Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
  beforeAll(async () => {
    ours = JSON.parse(bee('-j', 'feature', 'probe'));
    theirs = JSON.parse(bpftool('-j', 'feature', 'probe'));
    await import('../../src/syscall/native.js');
    sys = await import('../../src/syscall/features.js');
    consts = await import('../../src/syscall/constants.js');
    vmlinuxDump = execFileSync('bpftool', ['btf', 'dump', 'file', '/sys/kernel/btf/vmlinux'], { encoding: 'utf8', maxBuffer: 1 << 28 });
    btfIds = new Map([...vmlinuxDump.matchAll(/^\[(\d+)\] \w+ '(\w+)'/gm)].map((m) => [`${m[0].split(' ')[1]} ${m[2]}`, Number(m[1])]));
    const target = btfIds.get('FUNC bpf_fentry_test1');
    if (target === undefined) throw new Error('vmlinux BTF has no FUNC bpf_fentry_test1 (the fentry probe\'s target)');
    const fentry = sys.probeLoad(consts.ProgType.TRACING, ret0, { expectedAttachType: consts.AttachType.TRACE_FENTRY, attachBtfId: target, log: true });
    // Loaded, or refused as a whole (EPERM): anything else means the probe itself is wrong.
    expect(fentry.ok || fentry.errno === EPERM, fentry.log).toBe(true);
    fentryRefused = !fentry.ok;
  });

  /** A raw load from the test itself: `call id; exit` as `type`, with the verifier's log. */
  const callLog = (type: number, id: number, extra: { expectedAttachType?: number; flags?: number; attachBtfId?: number } = {}) => {
    const insns = Buffer.alloc(16);
    insns[0] = 0x85;
    insns.writeInt32LE(id, 4);
    insns[8] = 0x95;
    return sys.probeLoad(type, insns, { ...extra, log: true });
  };

  it("the kernel's test_bpftool.py passes against bee-ts (bpf_probe_write_user aside where the kernel refuses it)", () => {
    const src = selftestsSource();
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'bee-bpftool-py-'));
    try {
      fs.copyFileSync(path.join(src, REL, 'test_bpftool.py'), path.join(tmp, 'test_bpftool.py'));
      // The suite runs `bpftool` from PATH: point it at bee-ts.
      fs.mkdirSync(path.join(tmp, 'bin'));
      fs.writeFileSync(path.join(tmp, 'bin', 'bpftool'), `#!/bin/sh\nexec '${process.execPath}' '${cli}' "$@"\n`, { mode: 0o755 });
      const runSuite = (pathDir?: string) =>
        spawnSync('python3', ['-m', 'unittest', '-v', 'test_bpftool'], { cwd: tmp, encoding: 'utf8', env: { ...process.env, PATH: `${pathDir ? `${pathDir}:` : ''}${process.env.PATH}` }, timeout: childBound(300_000) });
      // test_feature_dev_json probes the first interface that is not lo, and errors (for bpftool
      // itself: IfaceNotFoundError) where there is none, as in the VMs, which have only lo (QEMU's
      // e1000 has no driver loaded there). There this test makes one, a veth pair of its own, for
      // both runs; the host's own interface is used as it is.
      const dev = fs.readdirSync('/sys/class/net').some((d) => d !== 'lo') ? undefined : `bfp${process.pid % 100000}`;
      if (dev) execFileSync('ip', ['link', 'add', dev, 'type', 'veth', 'peer', 'name', `${dev}p`]);
      let peer: ReturnType<typeof runSuite>;
      let r: ReturnType<typeof runSuite>;
      try {
        peer = runSuite();
        r = runSuite(path.join(tmp, 'bin'));
      } finally {
        if (dev) execFileSync('ip', ['link', 'del', dev]);
      }
      expect(peer.stderr, 'bpftool itself').toMatch(/Ran 5 tests[\s\S]*\nOK\n/);
      expect(r.stderr).toMatch(/Ran 5 tests/);
      // bpf_probe_write_user: the kernel refuses it for every tracing type when locked down.
      const writeUser = [consts.ProgType.KPROBE, consts.ProgType.TRACEPOINT, consts.ProgType.RAW_TRACEPOINT, consts.ProgType.PERF_EVENT].map((t) => callLog(t, 36));
      if (writeUser.every((l) => REFUSED.test(l.log))) {
        const failed = [...r.stderr.matchAll(/^FAIL: (\w+)/gm)].map((m) => m[1]);
        expect(failed.sort()).toEqual(['test_feature_kernel_full', 'test_feature_kernel_full_vs_not_full']);
        for (const block of r.stderr.split(/^=+$/m).filter((b) => b.includes('FAIL:'))) expect(block).toMatch(/bpf_probe_write_user|False is not true/);
        expect(r.stderr).not.toMatch(/^ERROR:/m);
      } else expect(r.stderr).toMatch(/\nOK\n/);
    } finally {
      fs.rmSync(tmp, { recursive: true, force: true });
    }
  }, childBound(400_000));

  it('JSON: the same sections and keys as bpftool, booleans, and the same values but for documented differences', () => {
    expect(Object.keys(ours)).toEqual(Object.keys(theirs));
    expect(ours.system_config).toEqual(theirs.system_config);
    expect(ours.syscall_config).toEqual(theirs.syscall_config);
    expect(ours.misc).toEqual(theirs.misc);
    for (const [sec, newer, suffix] of [
      ['program_types', NEWER_PROG_TYPES, '_prog_type'],
      ['map_types', NEWER_MAP_TYPES, '_map_type'],
    ] as const) {
      const extra = Object.keys(ours[sec]!).filter((k) => !(k in theirs[sec]!));
      expect(extra).toEqual(newer.map((n) => `have_${n}${suffix}`));
      for (const v of Object.values(ours[sec]!)) expect(typeof v).toBe('boolean');
      // have_tracing_prog_type: bpftool 7.1 says no where the kernel refuses fentry (next test).
      for (const [k, v] of Object.entries(theirs[sec]!)) if (k !== 'have_tracing_prog_type' || !fentryRefused) expect(ours[sec]![k], k).toBe(v);
    }
  });

  it('tracing: bee-ts loads a tp_btf program; bpftool 7.1 probes with fentry, so it says NOT available exactly where the kernel refuses fentry', () => {
    const { ProgType, AttachType } = consts;
    expect(ours.program_types.have_tracing_prog_type).toBe(true);
    const id = btfIds.get('TYPEDEF btf_trace_sys_enter')!;
    expect(sys.probeLoad(ProgType.TRACING, ret0, { expectedAttachType: AttachType.TRACE_RAW_TP, attachBtfId: id, log: true })).toMatchObject({ ok: true });
    expect(theirs.program_types.have_tracing_prog_type).toBe(!fentryRefused);
    // bpftool 7.1's own probe: fentry on BTF id 1 (not a function): EINVAL where fentry loads, EPERM where it is refused.
    const probe = sys.probeLoad(ProgType.TRACING, ret0, { expectedAttachType: AttachType.TRACE_FENTRY, attachBtfId: 1, log: true });
    expect(probe.ok).toBe(false);
    expect(probe.errno).toBe(fentryRefused ? EPERM : EINVAL);
  });

  it('syscall programs need BPF_F_SLEEPABLE, stack_trace needs 8-byte values, local storage needs BTF: all true, as bee-ts loads them', () => {
    const { ProgType } = consts;
    const ret0 = Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);
    expect(sys.probeLoad(ProgType.SYSCALL, ret0).ok).toBe(false);
    expect(sys.probeLoad(ProgType.SYSCALL, ret0, { flags: 1 << 4 }).ok).toBe(true);
    for (const k of ['have_syscall_prog_type', 'have_struct_ops_prog_type']) expect(ours.program_types[k], k).toBe(true);
    for (const k of ['have_stack_trace_map_type', 'have_struct_ops_map_type', 'have_sk_storage_map_type', 'have_inode_storage_map_type', 'have_task_storage_map_type'])
      expect(ours.map_types[k], k).toBe(true);
  });

  // Cgroup local storage came in 6.2 (bpf_cgrp_storage_get with it): the 6.1 VM skips this.
  it.skipIf(needKernel('6.2', 'BPF_MAP_TYPE_CGRP_STORAGE', () => kernelHasFunc('bpf_cgrp_storage_get')))('cgrp_storage (6.2): available, as bee-ts creates one; bpftool 7.1 does not know the type', () => {
    expect(ours.map_types.have_cgrp_storage_map_type).toBe(true);
    expect(theirs.map_types).not.toHaveProperty('have_cgrp_storage_map_type');
  });

  it('helpers: each one bee-ts leaves out is refused by the verifier for that program type; bpftool 7.1 lists them all', () => {
    const { ProgType, AttachType } = consts;
    const helpers = ours.helpers as Record<string, string[]>;
    const all = new Set(Object.values(theirs.helpers as Record<string, string[]>).flat());
    const ids = new Map<string, number>();
    for (const m of vmlinuxDump.matchAll(/^\s+'BPF_FUNC_([a-z0-9_]+)' val=(\d+)$/gm)) if (m[1] !== 'unspec') ids.set(`bpf_${m[1]}`, Number(m[2]));
    // libbpf 1.1 (bpftool 7.1) knows a refused helper by "invalid func " or "unknown func " only: where
    // the kernel says it otherwise (6.18: "program of this type cannot use helper"), bpftool lists
    // every helper it knows for every type it probes.
    const override = callLog(ProgType.SOCKET_FILTER, ids.get('bpf_override_return')!);
    expect(override.log).toMatch(REFUSED);
    if (/invalid func |unknown func /.test(override.log)) expect((theirs.helpers as Record<string, string[]>).socket_filter_available_helpers).not.toContain('bpf_override_return');
    else expect((theirs.helpers as Record<string, string[]>).socket_filter_available_helpers).toContain('bpf_override_return');
    expect(helpers.socket_filter_available_helpers).not.toContain('bpf_override_return');
    expect(helpers.kprobe_available_helpers).toContain('bpf_get_current_pid_tgid');
    expect(helpers.xdp_available_helpers).toContain('bpf_xdp_adjust_head');
    expect(helpers.kprobe_available_helpers).not.toContain('bpf_xdp_adjust_head');
    expect(helpers.sched_cls_available_helpers).toContain('bpf_skb_store_bytes');
    for (const [type, attach] of [
      [ProgType.SOCKET_FILTER, 0],
      [ProgType.KPROBE, 0],
      [ProgType.XDP, 0],
      [ProgType.CGROUP_SOCK_ADDR, AttachType.CGROUP_INET4_CONNECT],
    ] as const) {
      const key = `${consts.progTypeName(type).toLowerCase()}_available_helpers`;
      const listed = new Set(helpers[key]);
      expect(listed.size).toBeGreaterThan(10);
      for (const [name, id] of ids) {
        if (['bpf_trace_printk', 'bpf_trace_vprintk', 'bpf_probe_write_user'].includes(name)) continue;
        const r = callLog(type, id, { expectedAttachType: attach });
        expect(listed.has(name), `${key} ${name}: ${r.log.split('\n')[2] ?? r.log}`).toBe(r.ok || !REFUSED.test(r.log));
        if (!listed.has(name) && all.has(name)) expect(r.log).toMatch(REFUSED);
      }
    }
  });

  it('text, macros and dev forms are bpftool\'s, line for line, but for the documented differences', () => {
    const diffLines = (a: string, b: string) => {
      const A = a.split('\n');
      const B = new Set(b.split('\n'));
      return A.filter((l) => !B.has(l));
    };
    const documented = (l: string) =>
      /tracing|TRACING|netfilter|NETFILTER|cgrp_storage|CGRP_STORAGE|arena|ARENA/.test(l) || /^\t- bpf_|^#define \w*BPF__PROG_TYPE_/.test(l) || l === '\tProgram type not supported';
    const text = bee('feature', 'probe');
    const peer = bpftool('feature', 'probe');
    expect(diffLines(text, peer).filter((l) => !documented(l))).toEqual([]);
    expect(diffLines(peer, text).filter((l) => !documented(l))).toEqual([]);
    // The sections themselves, in order.
    const heads = (s: string) => s.split('\n').filter((l) => l.startsWith('Scanning'));
    expect(heads(text)).toEqual(heads(peer));
    const macros = bee('feature', 'probe', 'macros', 'prefix', `BEE${process.pid}_`);
    const peerMacros = bpftool('feature', 'probe', 'macros', 'prefix', `BEE${process.pid}_`);
    expect(diffLines(macros, peerMacros).filter((l) => !documented(l))).toEqual([]);
    expect(diffLines(peerMacros, macros).filter((l) => !documented(l))).toEqual([]);
    expect(bee('feature', 'probe', 'dev', 'lo')).toBe(bpftool('feature', 'probe', 'dev', 'lo'));
    expect(bee('-j', 'feature', 'probe', 'dev', 'lo')).toBe(bpftool('-j', 'feature', 'probe', 'dev', 'lo'));
    // `feature` alone is `feature probe`; prefixes work.
    expect(Object.keys(JSON.parse(bee('-j', 'feature')))).toEqual(Object.keys(theirs));
    expect(bee('feature', 'pr', 'k', 'mac')).toBe(bee('feature', 'probe', 'kernel', 'macros'));
    // Six `bee-ts feature` processes (the command owns its process: runCli starts each): 136 s in
    // the 6.12 VM under TCG.
  }, childBound(120_000));

  it('unprivileged: what a user without privileges gets, as bpftool reports it', () => {
    const text = bee('feature', 'probe', 'unprivileged');
    const peer = bpftool('feature', 'probe', 'unprivileged');
    const drop = (s: string) => s.split('\n').filter((l) => !/netfilter|cgrp_storage|arena|^\t- |^\tProgram type not supported/.test(l));
    expect(drop(text)).toEqual(drop(peer));
    const bad = runCli(['feature', 'probe', 'bogus']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/expected no more arguments, 'kernel', 'dev'/);
  }, 120_000);
});
