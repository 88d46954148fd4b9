// The attach table: every SEC() row names a hook (src/link, one file per hook), every hook in
// src/link is named by some row, and each hook's auto-attach rule gives what libbpf's auto-attach
// does for the section (no kernel: the rules read only the program's section and object).
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { attachProgram, canAutoAttach } from '../src/link/attach.js';
import { AttachError, type AttachableProgram } from '../src/link/kinds.js';
import { matchSection, SECTION_DEFS, sectionHook } from '../src/loader/sections.js';
import { ProgType } from '../src/syscall/constants.js';
import { Fd } from '../src/syscall/fd.js';
import { root } from './helpers.js';

function prog(section: string, sockMaps = 0): AttachableProgram {
  const m = matchSection(section);
  return {
    name: 'p',
    section,
    fd: new Fd(99, 'prog'),
    type: m?.def.progType ?? 0,
    expectedAttachType: m?.def.attachType,
    hook: sectionHook(section),
    spec: { attachTarget: m?.target ?? '', progType: m?.def.progType ?? 0 },
    object: {
      map: () => {
        throw new Error('no maps');
      },
      sockMaps: () => Array.from({ length: sockMaps }, (_, i) => ({ name: `m${i}`, fd: new Fd(90 + i, 'map') })),
    },
  };
}

describe('the attach table', () => {
  it('every SEC() row names a hook, and every hook src/link defines is named by a row', async () => {
    const inTable = new Set(SECTION_DEFS.map((d) => d.hook));
    for (const d of SECTION_DEFS) expect(typeof d.hook.attach, d.prefix).toBe('function');
    const dir = path.join(root, 'src', 'link');
    const defined: string[] = [];
    for (const f of fs.readdirSync(dir).filter((x) => x.endsWith('.ts'))) {
      const mod = (await import(path.join(dir, f))) as Record<string, unknown>;
      for (const [name, v] of Object.entries(mod)) {
        if (!v || typeof v !== 'object' || typeof (v as { attach?: unknown }).attach !== 'function' || typeof (v as { auto?: unknown }).auto !== 'function') continue;
        defined.push(`${f}:${name}`);
        expect(inTable.has(v as never), `${f} exports hook ${name}, which no SEC() row names`).toBe(true);
      }
    }
    expect(defined.length).toBe(inTable.size);
  });

  it('auto-attach rules: a target when the kind needs one, never where the attach point must be given', () => {
    const cases: [string, boolean][] = [
      ['kprobe/do_sys_openat2', true],
      ['kprobe', false],
      ['kretprobe/x', true],
      ['ksyscall/openat', true],
      ['uprobe/libc.so.6:malloc', true],
      ['uprobe', false],
      ['uprobe.multi/libc.so.6:get*', true],
      ['uprobe.session', false],
      ['kprobe.multi/tcp_*', true],
      ['usdt/a:b:c', true],
      ['tp/syscalls/sys_enter_openat', true],
      ['tracepoint', false],
      ['raw_tp/sched_switch', true],
      ['fentry/do_unlinkat', true],
      ['tp_btf/sched_switch', true],
      ['lsm/file_open', true],
      ['iter/task', true],
      ['cgroup/connect4', true],
      ['sockops', true],
      ['xdp', false],
      ['tc/ingress', false],
      ['tcx/egress', false],
      ['tc', false],
      ['netkit/peer', false],
      ['perf_event', false],
      ['sk_lookup', false],
      ['flow_dissector', false],
      ['socket', false],
      ['struct_ops/ssthresh', false],
      ['syscall', false],
      ['xdp/devmap', false],
      ['netfilter', false],
      ['lwt_in', false],
      ['lwt_xmit', false],
      ['no_such_section', false],
    ];
    for (const [section, auto] of cases) expect(canAutoAttach(prog(section)), section).toBe(auto);
    // sk_msg / sk_skb: automatic when the object has exactly one sockmap.
    expect([0, 1, 2].map((n) => canAutoAttach(prog('sk_msg', n)))).toEqual([false, true, false]);
  });

  it('sections with no attach point say so; a SCHED_CLS program given an interface goes to TC', () => {
    // Sections that once had none: each names its hook now, and none attaches by itself.
    for (const [s, kind] of [['lwt_seg6local', 'lwt'], ['action', 'tc_action'], ['lirc_mode2', 'lirc_mode2'], ['sk_skb', 'sockmap'], ['cgroup/skb', 'cgroup']]) {
      expect(sectionHook(s!).kind, s).toBe(kind);
      expect(canAutoAttach(prog(s!)), s).toBe(false);
    }
    for (const s of ['syscall', 'xdp/devmap', 'xdp/cpumap', 'no_such_section']) {
      expect(sectionHook(s).kind).toBe('none');
      expect(() => attachProgram(prog(s))).toThrow(AttachError);
      expect(() => attachProgram(prog(s))).toThrow(/has no automatic attach point \(none\); attach it explicitly/);
    }
    // lwt_seg6local has one now (an SRv6 End.BPF route, f88cece): a route to attach to, never automatic.
    expect(sectionHook('lwt_seg6local').kind).toBe('lwt');
    expect(() => attachProgram(prog('lwt_seg6local'))).toThrow(/runs as a route's encapsulation: pass \{ lwt: \{ route:/);
    // Legacy SEC("tc"): with an interface that does not exist, the TC path answers (not "no attach point").
    expect(prog('tc').spec.progType).toBe(ProgType.SCHED_CLS);
    expect(() => attachProgram(prog('tc'), { iface: `bee-none-${process.pid}` })).toThrow(/network interface 'bee-none-\d+' does not exist/);
  });
});
