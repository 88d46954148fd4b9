// The attach calls of the newer attach kinds, behind the syscall seam (no root): what reaches
// bpf(2) is read back at the offsets the running kernel's BTF gives (union bpf_attr,
// union bpf_iter_link_info), so targets that only a VM kernel or no kernel here can run are
// still checked field by field.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Btf, parseBtf } from '../src/btf/btf.js';
import { BtfKind, type CompositeType } from '../src/btf/types.js';
import { attachProgram } from '../src/link/attach.js';
import type { AttachableProgram } from '../src/link/kinds.js';
import { matchSection, sectionHook } from '../src/loader/sections.js';
import { type SyscallBackend, useBackend } from '../src/syscall/backend.js';
import { Cmd } from '../src/syscall/bpf.js';
import { AttachType, ProgType } from '../src/syscall/constants.js';
import { Fd } from '../src/syscall/fd.js';
import { parseAttrs } from '../src/syscall/netlink.js';
import { need } from './helpers.js';
import { Recorder } from './recorder.js';

const VMLINUX = '/sys/kernel/btf/vmlinux';
const skip = need(fs.existsSync(VMLINUX), `${VMLINUX} (kernel BTF) is needed for the bpf_attr layouts`);

let btf: Btf;
/** Byte offset of a dotted member path inside a struct/union (anonymous members looked through). */
function offsetOf(typeName: string, path: string): number {
  const root = (btf.find(typeName, BtfKind.Union) ?? btf.find(typeName, BtfKind.Struct)) as CompositeType;
  const walk = (t: CompositeType, names: string[], base: number): number | undefined => {
    for (const m of t.members) {
      const mt = btf.resolve(m.type) as CompositeType;
      if (m.name === names[0]) return names.length === 1 ? base + m.bitOffset / 8 : walk(mt, names.slice(1), base + m.bitOffset / 8);
      if (m.name === '' && (mt.kind === BtfKind.Struct || mt.kind === BtfKind.Union)) {
        const r = walk(mt, names, base + m.bitOffset / 8);
        if (r !== undefined) return r;
      }
    }
    return undefined;
  };
  const r = walk(root, path.split('.'), 0);
  if (r === undefined) throw new Error(`${typeName} has no ${path}`);
  return r;
}

const rec = new Recorder();
let restore: () => void;

/** A loaded program of this section, as the loader would give it (its hook and target from the SEC() table). */
function prog(section: string, type: number, expected?: number): AttachableProgram {
  return {
    name: 'kinds',
    section,
    fd: new Fd(60, 'prog'),
    type,
    expectedAttachType: expected,
    hook: sectionHook(section),
    spec: { attachTarget: matchSection(section)?.target ?? '', progType: type },
    object: {
      map: () => {
        throw new Error('no maps');
      },
    },
  };
}

describe.skipIf(skip)('attach calls of the newer kinds, at the kernel BTF offsets', () => {
  beforeAll(() => {
    btf = parseBtf(fs.readFileSync(VMLINUX), { file: VMLINUX });
    restore = useBackend(rec as unknown as SyscallBackend);
  });
  afterAll(() => restore?.());

  it('iterators: LINK_CREATE(TRACE_ITER) with bpf_iter_link_info for a map, a task, a cgroup; ITER_CREATE on the link', () => {
    const lc = (f: string) => offsetOf('bpf_attr', `link_create.${f}`);
    const infoSize = btf.sizeof(btf.find('bpf_iter_link_info', BtfKind.Union)!.id);
    const cases: [Record<string, unknown>, Record<string, number>][] = [
      [{ map: 77 }, { 'map.map_fd': 77 }],
      [{ pid: 1234 }, { 'task.pid': 1234 }],
      [{ tid: 9 }, { 'task.tid': 9 }],
      [{ cgroupFd: 12, cgroupOrder: 'descendants_pre' }, { 'cgroup.cgroup_fd': 12, 'cgroup.order': 2 }],
    ];
    for (const [iter, fields] of cases) {
      const l = attachProgram(prog('iter/bpf_map_elem', ProgType.TRACING, AttachType.TRACE_ITER), { iter });
      const c = rec.last(Cmd.LINK_CREATE).attr;
      expect(c.readUInt32LE(lc('prog_fd'))).toBe(60);
      expect(c.readUInt32LE(lc('attach_type'))).toBe(AttachType.TRACE_ITER);
      expect(c.readUInt32LE(lc('iter_info_len'))).toBe(infoSize);
      const info = Buffer.from(rec.mem(c.readBigUInt64LE(lc('iter_info'))));
      expect(info.length).toBe(infoSize);
      const rest = Buffer.from(info);
      for (const [f, v] of Object.entries(fields)) {
        const off = offsetOf('bpf_iter_link_info', f);
        expect(info.readUInt32LE(off), f).toBe(v);
        rest.fill(0, off, off + 4);
      }
      expect(rest.every((b) => b === 0)).toBe(true);
      l.close();
    }
    // No target object: no link info at all.
    attachProgram(prog('iter/task', ProgType.TRACING, AttachType.TRACE_ITER)).close();
    const plain = rec.last(Cmd.LINK_CREATE).attr;
    expect(plain.readBigUInt64LE(lc('iter_info'))).toBe(0n);
    expect(plain.readUInt32LE(lc('iter_info_len'))).toBe(0);
  });

  it('sockmap programs: a sockmap link on the map fd, or PROG_ATTACH/PROG_DETACH naming the program; sk_lookup as a netns link; uprobe.session with its own attach type', () => {
    const lc = (f: string) => offsetOf('bpf_attr', `link_create.${f}`);
    const pa = (f: string) => offsetOf('bpf_attr', f);
    for (const [section, type, at] of [
      ['sk_msg', ProgType.SK_MSG, AttachType.SK_MSG_VERDICT],
      ['sk_skb/stream_parser', ProgType.SK_SKB, AttachType.SK_SKB_STREAM_PARSER],
      ['sk_skb/stream_verdict', ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT],
      ['sk_skb/verdict', ProgType.SK_SKB, AttachType.SK_SKB_VERDICT],
    ] as const) {
      const p = prog(section, type, at);
      attachProgram(p, { map: 33 }).close();
      const c = rec.last(Cmd.LINK_CREATE).attr;
      expect([c.readUInt32LE(lc('prog_fd')), c.readUInt32LE(lc('target_fd')), c.readUInt32LE(lc('attach_type'))]).toEqual([60, 33, at]);
      const before = rec.calls.length;
      const l = attachProgram(p, { map: 33, attachMode: 'attach' });
      const att = rec.calls.slice(before).find((x) => x.cmd === Cmd.PROG_ATTACH)!.attr;
      // The attach goes through fds of our own (dups), so it survives the caller closing theirs.
      expect(att.readUInt32LE(pa('attach_type'))).toBe(at);
      expect(att.readUInt32LE(pa('target_fd'))).not.toBe(0);
      l.close();
      const det = rec.last(Cmd.PROG_DETACH).attr;
      expect(det.readUInt32LE(pa('attach_type'))).toBe(at);
      expect(det.readUInt32LE(pa('target_fd'))).toBe(att.readUInt32LE(pa('target_fd')));
      expect(det.readUInt32LE(pa('attach_bpf_fd'))).toBe(att.readUInt32LE(pa('attach_bpf_fd')));
    }
    expect(() => attachProgram(prog('sk_msg', ProgType.SK_MSG, AttachType.SK_MSG_VERDICT))).toThrow(/pass \{ map/);

    attachProgram(prog('sk_lookup', ProgType.SK_LOOKUP, AttachType.SK_LOOKUP)).close();
    const nl = rec.last(Cmd.LINK_CREATE).attr;
    expect(nl.readUInt32LE(lc('attach_type'))).toBe(AttachType.SK_LOOKUP);
    expect(nl.readUInt32LE(lc('target_fd'))).not.toBe(0); // /proc/self/ns/net, opened

    const libc = ['/lib/x86_64-linux-gnu/libc.so.6', '/lib/aarch64-linux-gnu/libc.so.6', '/usr/lib/libc.so.6'].find((x) => fs.existsSync(x))!;
    attachProgram(prog(`uprobe.session/${libc}:getppid`, ProgType.KPROBE, AttachType.TRACE_UPROBE_SESSION)).close();
    const us = rec.last(Cmd.LINK_CREATE).attr;
    expect(us.readUInt32LE(lc('attach_type'))).toBe(AttachType.TRACE_UPROBE_SESSION);
    expect(us.readUInt32LE(lc('uprobe_multi.flags'))).toBe(0);
  });

  it('netfilter: LINK_CREATE(NETFILTER) with the family, hook, priority and defrag flag in link_create.netfilter', () => {
    const lc = (f: string) => offsetOf('bpf_attr', `link_create.${f}`);
    const p = prog('netfilter', ProgType.NETFILTER, AttachType.NETFILTER);
    for (const [opts, want] of [
      [{ pf: 'ipv4', hook: 'input' }, [2, 1, 0, 0]],
      [{ pf: 'ipv6', hook: 'postrouting', priority: -5, defrag: true }, [10, 4, -5, 1]],
      [{ pf: 2, hook: 0, priority: 100 }, [2, 0, 100, 0]],
    ] as const) {
      attachProgram(p, { netfilter: opts }).close();
      const c = rec.last(Cmd.LINK_CREATE).attr;
      expect([c.readUInt32LE(lc('prog_fd')), c.readUInt32LE(lc('target_fd')), c.readUInt32LE(lc('attach_type'))]).toEqual([60, 0, AttachType.NETFILTER]);
      expect([c.readUInt32LE(lc('netfilter.pf')), c.readUInt32LE(lc('netfilter.hooknum')), c.readInt32LE(lc('netfilter.priority')), c.readUInt32LE(lc('netfilter.flags'))]).toEqual(want);
    }
  });

  it('lwt_in / lwt_out / lwt_xmit: RTM_NEWROUTE with the program as the route\'s LWTUNNEL_ENCAP_BPF encapsulation, RTM_DELROUTE on close', () => {
    const rt = (f: string) => offsetOf('rtmsg', f);
    const msg = (m: Uint8Array) => {
      const dv = new DataView(m.buffer);
      const attrs = parseAttrs(m, 16 + 12, m.length);
      return { type: dv.getUint16(4, true), flags: dv.getUint16(6, true), rtm: m.subarray(16, 28), attrs };
    };
    const u32 = (b: Uint8Array | undefined) => new DataView(b!.buffer, b!.byteOffset).getUint32(0, true);
    for (const [section, type, nest, route, family, dst, len, headroom] of [
      ['lwt_xmit', ProgType.LWT_XMIT, 3, '198.18.0.1', 2, [198, 18, 0, 1], 32, 16],
      ['lwt_out', ProgType.LWT_OUT, 2, '198.18.4.0/24', 2, [198, 18, 4, 0], 24, undefined],
      ['lwt_in', ProgType.LWT_IN, 1, '2001:db8::7/64', 10, [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7], 64, undefined],
    ] as const) {
      rec.netlink = [];
      const l = attachProgram(prog(section, type), { lwt: { route, dev: 1, table: 1000, headroom } });
      expect(l.kind).toBe('lwt');
      const add = msg(rec.netlink.at(-1)!);
      expect(add.type).toBe(24 /* RTM_NEWROUTE */);
      expect(add.flags & 0x605).toBe(0x605); // REQUEST | ACK | EXCL | CREATE: never replaces a route
      expect([add.rtm[rt('rtm_family')], add.rtm[rt('rtm_dst_len')], add.rtm[rt('rtm_scope')], add.rtm[rt('rtm_type')]]).toEqual([family, len, 253 /* RT_SCOPE_LINK */, 1 /* RTN_UNICAST */]);
      expect([...add.attrs.get(1 /* RTA_DST */)!]).toEqual(dst);
      expect([u32(add.attrs.get(4 /* RTA_OIF */)), u32(add.attrs.get(15 /* RTA_TABLE */))]).toEqual([1, 1000]);
      expect(new DataView(add.attrs.get(21 /* RTA_ENCAP_TYPE */)!.buffer, add.attrs.get(21)!.byteOffset).getUint16(0, true)).toBe(6 /* LWTUNNEL_ENCAP_BPF */);
      const encap = add.attrs.get(22 /* RTA_ENCAP */)!;
      const hooks = parseAttrs(encap, 0, encap.length);
      expect([...hooks.keys()].sort()).toEqual(headroom === undefined ? [nest] : [nest, 4 /* LWT_BPF_XMIT_HEADROOM */]);
      if (headroom !== undefined) expect(u32(hooks.get(4))).toBe(headroom);
      const progAttrs = parseAttrs(hooks.get(nest)!, 0, hooks.get(nest)!.length);
      expect(u32(progAttrs.get(1 /* LWT_BPF_PROG_FD */))).toBe(60);
      expect(Buffer.from(progAttrs.get(2 /* LWT_BPF_PROG_NAME */)!).toString()).toBe('kinds\0');
      l.close();
      const del = msg(rec.netlink.at(-1)!);
      expect(del.type).toBe(25 /* RTM_DELROUTE */);
      expect([del.rtm[rt('rtm_family')], del.rtm[rt('rtm_dst_len')]]).toEqual([family, len]);
      expect([[...del.attrs.get(1)!], u32(del.attrs.get(4)), u32(del.attrs.get(15)), del.attrs.has(22)]).toEqual([dst, 1, 1000, false]);
    }
    rec.netlink = [];
    expect(() => attachProgram(prog('lwt_xmit', ProgType.LWT_XMIT))).toThrow(/pass \{ lwt: \{ route/);
    expect(() => attachProgram(prog('lwt_out', ProgType.LWT_OUT), { lwt: { route: '198.18.0.1', dev: 1, headroom: 8 } })).toThrow(/only lwt_xmit programs take one/);
    for (const route of ['198.18.0.1/33', 'example.org', '198.18.0.1/x', '::ffff:1.2.3.4'])
      expect(() => attachProgram(prog('lwt_out', ProgType.LWT_OUT), { lwt: { route, dev: 1 } }), route).toThrow(/must be an IPv4 or IPv6 prefix/);
    expect(rec.netlink).toEqual([]);
  });
});
