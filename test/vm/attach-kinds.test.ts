// Runs inside Debian's kernel (npm run test:vm): attach kinds this host refuses (fentry/fexit/
// freplace are EPERM here, no fprobe) or lacks, each with its event observed, or refused with an
// error naming the kernel it needs.
import '../../src/syscall/native.js';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import koffi from 'koffi';
import { describe, expect, it } from 'vitest';
import { NotSupportedError } from '../../src/errors.js';
import type { Link } from '../../src/link/link.js';
import { linuxKernelVersion } from '../../src/loader/kconfig.js';
import { BpfObject } from '../../src/loader/object.js';
import { linkFeatures } from '../../src/syscall/features.js';
import { ifinfomsg, RTM_NEWLINK, RtNetlink, strAttr } from '../../src/syscall/netlink.js';
import { fixture, need, needKernel, thrown } from '../helpers.js';
import { expectedElemLines, walkMapElems } from '../iter-elem.js';

const skip = needKernel() ?? need(process.env.BEE_IN_VM === '1', 'VM-only tests: run `npm run test:vm`');
const getppid = koffi.load('libc.so.6').func('int getppid()');
const atLeast = (major: number, minor: number) => linuxKernelVersion() >= ((major << 16) | (minor << 8));
const xdpIn = () => ({ dataIn: new Uint8Array(64) });

describe.skipIf(skip)('attach kinds in the VM', () => {
  it('fentry, fexit, tp_btf, fmod_ret (on a security_* hook) and lsm on kernel functions: each counts this process', () => {
    using o = BpfObject.open(fixture('tracing.bpfel.o'));
    o.setConstant('target_tgid', process.pid);
    o.load();
    const links = o.attachAll();
    expect(links.map((l) => l.kind).sort()).toEqual(['fentry', 'fexit', 'fmod_ret', 'lsm', 'tp_btf']);
    for (let i = 0; i < 3; i++) fs.closeSync(fs.openSync('/proc/self/stat', 'r'));
    for (const l of links) l.close();
    expect(o.globals.get('fentry_hits') as bigint).toBeGreaterThanOrEqual(3n);
    expect(o.globals.get('fexit_hits') as bigint).toBeGreaterThanOrEqual(3n);
    expect(o.globals.get('tp_btf_hits') as bigint).toBeGreaterThanOrEqual(6n);
    expect(o.globals.get('fmod_ret_hits') as bigint).toBeGreaterThanOrEqual(3n);
    expect(o.globals.get('lsm_hits') as bigint).toBeGreaterThanOrEqual(3n);
  });

  it('fentry, fexit and freplace against a BPF program (setAttachTarget(func, targetProgram)): runs counted, the verdict replaced', () => {
    using t = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['target_xdp'] }).load();
    const target = t.program('target_xdp');
    expect(target.testRun(xdpIn()).retval).toBe(2); // XDP_PASS

    using tr = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['on_target', 'after_target'] });
    tr.programSpec('on_target').setAttachTarget('target_xdp', target);
    tr.programSpec('after_target').setAttachTarget('target_xdp', target);
    tr.load();
    {
      using _a = tr.program('on_target').attach();
      using _b = tr.program('after_target').attach();
      for (let i = 0; i < 4; i++) target.testRun(xdpIn());
      expect(tr.globals.get('fentry_hits')).toBe(4n);
      expect(tr.globals.get('fexit_hits')).toBe(4n);
    }

    using rep = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['replace_verdict'] });
    rep.programSpec('replace_verdict').setAttachTarget('verdict', target);
    rep.load();
    {
      using _l = rep.program('replace_verdict').attach();
      expect(target.testRun(xdpIn()).retval).toBe(1); // XDP_DROP: the global function was replaced
    }
    expect(target.testRun(xdpIn()).retval).toBe(2);
  });

  it('freplace without a target program, and a target function the program lacks, are clear errors', () => {
    using t = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['target_xdp'] }).load();
    expect(() => BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['replace_verdict'] }).load()).toThrow(/setAttachTarget\('<function>', targetProgram\)/);
    const o = BpfObject.open(fixture('prog_target.bpfel.o'), { autoload: ['replace_verdict'] });
    o.programSpec('replace_verdict').setAttachTarget('no_such_func', t.program('target_xdp'));
    expect(() => o.load()).toThrow(/has no function 'no_such_func'/);
  });

  it('kprobe.multi / kretprobe.multi / kprobe.session fire where the kernel has fprobe (session from 6.10); else refused naming what is missing', () => {
    using o = BpfObject.open(fixture('kprobe_multi.bpfel.o'));
    o.setConstant('target_tgid', process.pid);
    o.load();
    let multi: Link | undefined;
    try {
      multi = o.program('multi_entry').attach();
    } catch (e) {
      // Debian's 6.1 is built without CONFIG_FPROBE: every kind is refused, naming it.
      expect(e).toBeInstanceOf(NotSupportedError);
      expect((e as Error).message).toMatch(/kprobe.multi links \(CONFIG_FPROBE\)/);
      expect(() => o.program('multi_return').attach()).toThrow(/CONFIG_FPROBE/);
      expect(() => o.program('session').attach()).toThrow(atLeast(6, 10) ? /CONFIG_FPROBE/ : /kprobe.session links (\(CONFIG_FPROBE\) )?needs Linux 6.10/);
      return;
    }
    {
      using _b = o.program('multi_return').attach();
      for (let i = 0; i < 3; i++) getppid();
      multi.close();
    }
    expect(o.globals.get('multi_hits')).toBe(3n);
    expect(o.globals.get('multi_ret_hits')).toBe(3n);
    if (atLeast(6, 10)) {
      using _s = o.program('session').attach();
      for (let i = 0; i < 3; i++) getppid();
      expect(o.globals.get('session_entries')).toBe(3n);
      expect(o.globals.get('session_returns')).toBe(3n);
    } else {
      expect(() => o.program('session').attach()).toThrow(NotSupportedError);
      expect(() => o.program('session').attach()).toThrow(/kprobe.session links needs Linux 6.10/);
    }
  });

  it('ksyscall / kretsyscall: a syscall named without its arch wrapper is probed, entry and return', () => {
    using o = BpfObject.open(fixture('ksyscall.bpfel.o'));
    o.setConstant('target_tgid', process.pid);
    o.load();
    const links = o.attachAll();
    expect(links.map((l) => `${l.kind} ${l.target}`).sort()).toEqual(['kprobe __x64_sys_getppid', 'kretprobe __x64_sys_getppid']);
    for (let i = 0; i < 4; i++) getppid();
    for (const l of links) l.close();
    expect(o.globals.get('sys_entries')).toBe(4n);
    expect(o.globals.get('sys_returns')).toBe(4n);
    expect(o.globals.get('sys_last_ret')).toBe(BigInt(process.ppid));
  });

  it('iter/bpf_map_elem walks the hash map the link names: one line per element, key and value', () => {
    expect(walkMapElems()).toEqual(expectedElemLines());
  });

  it('uprobe.session fires from 6.13 and is refused naming 6.13 before', () => {
    using o = BpfObject.open(fixture('uprobe_session.bpfel.o'));
    o.setConstant('target_tgid', process.pid);
    expect(linkFeatures.uprobeSession()).toBe(atLeast(6, 13));
    if (!atLeast(6, 13)) {
      // 6.10-6.12 have bpf_session_is_return for kprobe sessions only: the verifier refuses the
      // program, and the load says what is missing (the verifier's words kept as the cause).
      if (atLeast(6, 10)) {
        const err = thrown(() => o.load());
        expect(err).toBeInstanceOf(NotSupportedError);
        expect((err as Error).message).toMatch(/uprobe.session programs needs Linux 6.13 .*program 'on_getppid'/);
        expect(String(((err as Error).cause as Error).message)).toMatch(/calling kernel function bpf_session_is_return is not allowed/);
        return;
      }
      o.load();
      expect(() => o.program('on_getppid').attach()).toThrow(/uprobe.session links needs Linux 6.13/);
      return;
    }
    o.load();
    using _l = o.program('on_getppid').attach();
    for (let i = 0; i < 5; i++) getppid();
    expect(o.globals.get('entries')).toBe(5n);
    expect(o.globals.get('returns')).toBe(5n);
  });

  it('netkit: from 6.7 a program on a netkit pair (made over rtnetlink) counts what the peer sends; before 6.7 refused naming 6.7', () => {
    using o = BpfObject.open(fixture('netkit.bpfel.o')).load();
    if (!atLeast(6, 7)) {
      expect(() => o.program('count_netkit').attach({ iface: 'lo' })).toThrow(/netkit links needs Linux 6.7/);
      return;
    }
    expect(() => o.program('count_netkit').attach({ iface: 'lo' })).toThrow(/not a netkit device/);
    const [a, b] = [`bnk${process.pid % 10000}a`, `bnk${process.pid % 10000}b`];
    {
      using nl = new RtNetlink();
      // RTM_NEWLINK kind netkit, the peer named in IFLA_NETKIT_PEER_INFO (an ifinfomsg, then IFLA_IFNAME).
      const peer = new Uint8Array([...ifinfomsg(0), 4 + b.length + 1, 0, 3, 0, ...new TextEncoder().encode(b), 0, ...new Uint8Array((4 - ((4 + b.length + 1) % 4)) % 4)]);
      nl.request(RTM_NEWLINK, 0x400 | 0x200 | 0x4 /* CREATE|EXCL|ACK */, ifinfomsg(0), [strAttr(3, a), [18 /* IFLA_LINKINFO */, [strAttr(1 /* IFLA_INFO_KIND */, 'netkit'), [2 /* IFLA_INFO_DATA */, [[1 /* IFLA_NETKIT_PEER_INFO */, peer]]]]]], `create netkit ${a}`);
    }
    const ns = `bee-nk-${process.pid}`;
    try {
      // The peer in a namespace of its own, so traffic between the two really crosses the pair.
      execFileSync('sh', ['-c', `ip netns add ${ns} && ip link set ${b} netns ${ns} && ip link set ${a} up && ip addr add 10.211.0.1/24 dev ${a} && ip -n ${ns} link set ${b} up && ip -n ${ns} addr add 10.211.0.2/24 dev ${b}`]);
      using _l = o.program('count_netkit').attach({ iface: a });
      // Out of the peer: the primary's programs run on the peer's transmit.
      const send = `const s=require('dgram').createSocket('udp4');let n=0;const go=()=>s.send('x',9,'10.211.0.1',()=>{if(++n<5)go();else s.close()});go();`;
      execFileSync('ip', ['netns', 'exec', ns, process.execPath, '-e', send]);
      expect(o.globals.get('netkit_hits') as bigint).toBeGreaterThanOrEqual(5n);
    } finally {
      execFileSync('sh', ['-c', `ip link del ${a}; ip netns del ${ns}`]);
    }
  });
});
