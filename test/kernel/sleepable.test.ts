// Sleepable and frags section variants on this kernel: uprobe.s, uretprobe.s, uprobe.multi.s,
// uretprobe.multi.s and iter.s/task each run for this process and read the test's memory with
// bpf_copy_from_user (which the verifier allows only in sleepable programs); xdp.frags (loaded
// with BPF_F_XDP_HAS_FRAGS) counts packets on a veth the test makes.
import '../../src/syscall/native.js';
import { execSync } from 'node:child_process';
import dgram from 'node:dgram';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import type { IterLink } from '../../src/link/iter.js';
import { BpfObject } from '../../src/loader/object.js';
import { sys } from '../../src/syscall/backend.js';
import { progInfo } from '../../src/syscall/info.js';
import { fixture, needKernel } from '../helpers.js';
import { linkFeatures } from '../../src/syscall/features.js';

const skip = needKernel('6.6', 'sleepable uprobe.multi links', linkFeatures.uprobeMulti);
const getppid = koffi.load('libc.so.6').func('int getppid()');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const VALUE = 0x1122334455667788n;
const UPROBES = ['s_uprobe', 's_uretprobe', 's_uprobe_multi', 's_uretprobe_multi'];

/** 8 bytes of this process's memory the programs copy, and its address. */
function userValue(): { buf: Buffer; addr: bigint } {
  const buf = Buffer.alloc(8);
  buf.writeBigUInt64LE(VALUE);
  return { buf, addr: sys().addressOf(buf) };
}

describe.skipIf(skip)('sleepable and frags variants', () => {
  it('uprobe.s, uretprobe.s, uprobe.multi.s, uretprobe.multi.s: each runs on every call and copies user memory', () => {
    const { buf, addr } = userValue();
    using o = BpfObject.open(fixture('sleepable.bpfel.o'), { autoload: UPROBES });
    o.setConstant('target_tgid', process.pid).setConstant('user_addr', addr);
    o.load();
    const links = o.attachAll();
    try {
      expect(links.map((l) => l.kind).sort()).toEqual(['uprobe', 'uprobe.multi', 'uretprobe', 'uretprobe.multi']);
      for (let i = 0; i < 3; i++) getppid();
    } finally {
      for (const l of links) l.close();
    }
    for (const n of UPROBES) expect([o.globals.get(`${n}_hits`), o.globals.get(`${n}_copied`)], n).toEqual([3n, VALUE]);
    expect(buf.readBigUInt64LE()).toBe(VALUE); // kept alive (and unmoved) until here
  });

  it.skipIf(needKernel('6.13', 'uprobe.session links', linkFeatures.uprobeSession))('uprobe.session.s: a sleepable session program runs at entry and return of every call', () => {
    const { buf, addr } = userValue();
    using o = BpfObject.open(fixture('sleepable.bpfel.o'), { autoload: ['s_uprobe_session'] });
    o.setConstant('target_tgid', process.pid).setConstant('user_addr', addr);
    o.load();
    {
      using l = o.program('s_uprobe_session').attach();
      expect(l.kind).toBe('uprobe.session');
      for (let i = 0; i < 4; i++) getppid();
    }
    expect([o.globals.get('s_session_entries'), o.globals.get('s_session_returns'), o.globals.get('s_session_copied')]).toEqual([4n, 4n, VALUE]);
    expect(buf.length).toBe(8);
  });

  it('iter.s/task: a sleepable iterator lists this process with the value it copied from it', () => {
    const { buf, addr } = userValue();
    using o = BpfObject.open(fixture('sleepable.bpfel.o'), { autoload: ['s_iter_task'] });
    o.setConstant('target_tgid', process.pid).setConstant('user_addr', addr);
    o.load();
    using l = o.program('s_iter_task').attach({ iter: { pid: process.pid } }) as IterLink;
    const lines = l.read().split('\n').filter(Boolean);
    expect(lines).toContain(`${process.pid} ${VALUE}`);
    expect(buf.length).toBe(8);
  });

  it('xdp.frags: loaded with BPF_F_XDP_HAS_FRAGS, counts what arrives on a veth the test makes', async () => {
    const ns = `beesl${process.pid}`;
    const [a, b] = [`bsl${process.pid % 10000}a`, `bsl${process.pid % 10000}b`];
    const sh = (c: string) => execSync(c, { stdio: 'pipe' });
    sh(`ip netns add ${ns}`);
    try {
      sh(`ip link add ${a} type veth peer name ${b} && ip link set ${b} netns ${ns}`);
      sh(`ip addr add 10.216.0.1/24 dev ${a} && ip link set ${a} up`);
      sh(`ip -n ${ns} addr add 10.216.0.2/24 dev ${b} && ip -n ${ns} link set ${b} up`);
      using o = BpfObject.open(fixture('sleepable.bpfel.o'), { autoload: ['count_frags'] }).load();
      expect(progInfo(o.program('count_frags').fd.value).type).toBe(6 /* BPF_PROG_TYPE_XDP */);
      using l = o.program('count_frags').attach({ iface: a });
      expect(l.kind).toBe('xdp');
      // UDP to the peer: its ARP replies (and ICMP port-unreachable answers) arrive on a.
      const s = dgram.createSocket('udp4');
      try {
        for (let deadline = Date.now() + 15_000; (o.globals.get('frags_hits') as bigint) < 1n && Date.now() < deadline; await sleep(50)) await new Promise<void>((r) => s.send('bee', 9, '10.216.0.2', () => r()));
      } finally {
        s.close();
      }
      expect(o.globals.get('frags_hits') as bigint).toBeGreaterThanOrEqual(1n);
    } finally {
      execSync(`ip link del ${a} 2>/dev/null; ip netns del ${ns}`, { stdio: 'pipe' });
    }
  });
});
