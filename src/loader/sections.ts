// SEC() name → program type, expected attach type and load flags, following libbpf's table (level
// with libbpf 1.7's section_defs, same order; test/sections.test.ts compares it with the installed
// libbpf's libbpf_prog_type_by_name) and matching rules: entries are tried in order and the first match wins.
//   `x+`  matches `x` exactly or `x/...`
//   `x/`  needs a suffix: `x/...`
//   `x`   matches exactly
// Each row names its attach hook (src/link: its kind, auto-attach rule and attach function, like
// libbpf's SEC_DEF(..., attach_fn)); a new attach kind is one file in src/link and its rows here
// (`npm run api` then writes the public AttachKind / AttachOptions from the table).
import { AttachType, ProgType } from '../syscall/constants.js';
import type { AttachKind, AttachOptions } from '../link/attach-api.js';
import type { AttachHook, TargetOption } from '../link/kinds.js';
import { cgroupExplicitHook, cgroupHook } from '../link/cgroup.js';
import { iterHook } from '../link/iter.js';
import { kprobeHook, kretprobeHook, kretsyscallHook, ksyscallHook } from '../link/kprobe.js';
import { kprobeMultiHook, kprobeSessionHook, kretprobeMultiHook } from '../link/kprobe-multi.js';
import { lircHook } from '../link/lirc.js';
import { lwtHook } from '../link/lwt.js';
import { netfilterHook } from '../link/netfilter.js';
import { netkitHook } from '../link/netkit.js';
import { noAttach } from '../link/none.js';
import { perfEventHook } from '../link/perf-event.js';
import { netnsHook, sockMapExplicitHook, sockMapHook, socketHook } from '../link/sock.js';
import { structOpsHook } from '../link/struct-ops.js';
import { tcActionHook, tcxHook } from '../link/tcx.js';
import { rawTracepointHook, tracepointHook } from '../link/tracepoint.js';
import { lsmHook, tracingHook } from '../link/tracing.js';
import { uprobeHook, uretprobeHook } from '../link/uprobe.js';
import { uprobeMultiHook, uprobeSessionHook, uretprobeMultiHook } from '../link/uprobe-multi.js';
import { usdtHook } from '../link/usdt.js';
import { xdpHook } from '../link/xdp.js';

export const SEC_ATTACH_BTF = 1 << 0;
export const SEC_SLEEPABLE = 1 << 1;
export const SEC_XDP_FRAGS = 1 << 2;
export const SEC_USDT = 1 << 3;

type AnyHook = AttachHook<any>;

export interface SecDef<H extends AnyHook = AnyHook> {
  prefix: string;
  progType: number;
  attachType?: number;
  flags: number;
  /** How programs of this section attach (and whether they can with no options). */
  hook: H;
}

const P = ProgType;
const A = AttachType;
const def = <H extends AnyHook>(prefix: string, progType: number, hook: H, attachType?: number, flags = 0): SecDef<H> => ({
  prefix,
  progType,
  attachType,
  flags,
  hook,
});

export const SECTION_DEFS = [
  def('socket', P.SOCKET_FILTER, socketHook),
  def('sk_reuseport/migrate', P.SK_REUSEPORT, socketHook, A.SK_REUSEPORT_SELECT_OR_MIGRATE),
  def('sk_reuseport', P.SK_REUSEPORT, socketHook, A.SK_REUSEPORT_SELECT),
  def('kprobe+', P.KPROBE, kprobeHook),
  def('uprobe+', P.KPROBE, uprobeHook),
  def('uprobe.s+', P.KPROBE, uprobeHook, undefined, SEC_SLEEPABLE),
  def('kretprobe+', P.KPROBE, kretprobeHook),
  def('uretprobe+', P.KPROBE, uretprobeHook),
  def('uretprobe.s+', P.KPROBE, uretprobeHook, undefined, SEC_SLEEPABLE),
  def('kprobe.multi+', P.KPROBE, kprobeMultiHook, A.TRACE_KPROBE_MULTI),
  def('kretprobe.multi+', P.KPROBE, kretprobeMultiHook, A.TRACE_KPROBE_MULTI),
  def('kprobe.session+', P.KPROBE, kprobeSessionHook, A.TRACE_KPROBE_SESSION),
  def('uprobe.multi+', P.KPROBE, uprobeMultiHook, A.TRACE_UPROBE_MULTI),
  def('uretprobe.multi+', P.KPROBE, uretprobeMultiHook, A.TRACE_UPROBE_MULTI),
  def('uprobe.session+', P.KPROBE, uprobeSessionHook, A.TRACE_UPROBE_SESSION),
  def('uprobe.multi.s+', P.KPROBE, uprobeMultiHook, A.TRACE_UPROBE_MULTI, SEC_SLEEPABLE),
  def('uretprobe.multi.s+', P.KPROBE, uretprobeMultiHook, A.TRACE_UPROBE_MULTI, SEC_SLEEPABLE),
  def('uprobe.session.s+', P.KPROBE, uprobeSessionHook, A.TRACE_UPROBE_SESSION, SEC_SLEEPABLE),
  def('ksyscall+', P.KPROBE, ksyscallHook),
  def('kretsyscall+', P.KPROBE, kretsyscallHook),
  def('usdt+', P.KPROBE, usdtHook, undefined, SEC_USDT),
  def('usdt.s+', P.KPROBE, usdtHook, undefined, SEC_USDT | SEC_SLEEPABLE),
  def('tc/ingress', P.SCHED_CLS, tcxHook, A.TCX_INGRESS),
  def('tc/egress', P.SCHED_CLS, tcxHook, A.TCX_EGRESS),
  def('tcx/ingress', P.SCHED_CLS, tcxHook, A.TCX_INGRESS),
  def('tcx/egress', P.SCHED_CLS, tcxHook, A.TCX_EGRESS),
  def('tc', P.SCHED_CLS, noAttach),
  def('classifier', P.SCHED_CLS, noAttach),
  def('action', P.SCHED_ACT, tcActionHook),
  def('netkit/primary', P.SCHED_CLS, netkitHook, A.NETKIT_PRIMARY),
  def('netkit/peer', P.SCHED_CLS, netkitHook, A.NETKIT_PEER),
  def('tracepoint+', P.TRACEPOINT, tracepointHook),
  def('tp+', P.TRACEPOINT, tracepointHook),
  def('raw_tracepoint+', P.RAW_TRACEPOINT, rawTracepointHook),
  def('raw_tp+', P.RAW_TRACEPOINT, rawTracepointHook),
  def('raw_tracepoint.w+', P.RAW_TRACEPOINT_WRITABLE, rawTracepointHook),
  def('raw_tp.w+', P.RAW_TRACEPOINT_WRITABLE, rawTracepointHook),
  def('tp_btf+', P.TRACING, tracingHook, A.TRACE_RAW_TP, SEC_ATTACH_BTF),
  def('fentry+', P.TRACING, tracingHook, A.TRACE_FENTRY, SEC_ATTACH_BTF),
  def('fmod_ret+', P.TRACING, tracingHook, A.MODIFY_RETURN, SEC_ATTACH_BTF),
  def('fexit+', P.TRACING, tracingHook, A.TRACE_FEXIT, SEC_ATTACH_BTF),
  def('fentry.s+', P.TRACING, tracingHook, A.TRACE_FENTRY, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('fmod_ret.s+', P.TRACING, tracingHook, A.MODIFY_RETURN, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('fexit.s+', P.TRACING, tracingHook, A.TRACE_FEXIT, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('fsession+', P.TRACING, tracingHook, A.TRACE_FSESSION, SEC_ATTACH_BTF),
  def('fsession.s+', P.TRACING, tracingHook, A.TRACE_FSESSION, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('freplace+', P.EXT, tracingHook, undefined, SEC_ATTACH_BTF),
  def('lsm+', P.LSM, lsmHook, A.LSM_MAC, SEC_ATTACH_BTF),
  def('lsm.s+', P.LSM, lsmHook, A.LSM_MAC, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('lsm_cgroup+', P.LSM, cgroupHook, A.LSM_CGROUP, SEC_ATTACH_BTF),
  def('iter+', P.TRACING, iterHook, A.TRACE_ITER, SEC_ATTACH_BTF),
  def('iter.s+', P.TRACING, iterHook, A.TRACE_ITER, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('syscall', P.SYSCALL, noAttach, undefined, SEC_SLEEPABLE),
  def('xdp.frags/devmap', P.XDP, noAttach, A.XDP_DEVMAP, SEC_XDP_FRAGS),
  def('xdp/devmap', P.XDP, noAttach, A.XDP_DEVMAP),
  def('xdp.frags/cpumap', P.XDP, noAttach, A.XDP_CPUMAP, SEC_XDP_FRAGS),
  def('xdp/cpumap', P.XDP, noAttach, A.XDP_CPUMAP),
  def('xdp.frags', P.XDP, xdpHook, A.XDP, SEC_XDP_FRAGS),
  def('xdp', P.XDP, xdpHook, A.XDP),
  def('perf_event', P.PERF_EVENT, perfEventHook),
  def('lwt_in', P.LWT_IN, lwtHook),
  def('lwt_out', P.LWT_OUT, lwtHook),
  def('lwt_xmit', P.LWT_XMIT, lwtHook),
  def('lwt_seg6local', P.LWT_SEG6LOCAL, lwtHook),
  def('sockops', P.SOCK_OPS, cgroupHook, A.CGROUP_SOCK_OPS),
  def('sk_skb/stream_parser', P.SK_SKB, sockMapHook, A.SK_SKB_STREAM_PARSER),
  def('sk_skb/stream_verdict', P.SK_SKB, sockMapHook, A.SK_SKB_STREAM_VERDICT),
  def('sk_skb/verdict', P.SK_SKB, sockMapHook, A.SK_SKB_VERDICT),
  def('sk_skb', P.SK_SKB, sockMapExplicitHook),
  def('sk_msg', P.SK_MSG, sockMapHook, A.SK_MSG_VERDICT),
  def('lirc_mode2', P.LIRC_MODE2, lircHook, A.LIRC_MODE2),
  def('flow_dissector', P.FLOW_DISSECTOR, netnsHook, A.FLOW_DISSECTOR),
  def('cgroup_skb/ingress', P.CGROUP_SKB, cgroupHook, A.CGROUP_INET_INGRESS),
  def('cgroup_skb/egress', P.CGROUP_SKB, cgroupHook, A.CGROUP_INET_EGRESS),
  def('cgroup/skb', P.CGROUP_SKB, cgroupExplicitHook),
  def('cgroup/sock_create', P.CGROUP_SOCK, cgroupHook, A.CGROUP_INET_SOCK_CREATE),
  def('cgroup/sock_release', P.CGROUP_SOCK, cgroupHook, A.CGROUP_INET_SOCK_RELEASE),
  def('cgroup/sock', P.CGROUP_SOCK, cgroupHook, A.CGROUP_INET_SOCK_CREATE),
  def('cgroup/post_bind4', P.CGROUP_SOCK, cgroupHook, A.CGROUP_INET4_POST_BIND),
  def('cgroup/post_bind6', P.CGROUP_SOCK, cgroupHook, A.CGROUP_INET6_POST_BIND),
  def('cgroup/bind4', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_INET4_BIND),
  def('cgroup/bind6', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_INET6_BIND),
  def('cgroup/connect4', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_INET4_CONNECT),
  def('cgroup/connect6', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_INET6_CONNECT),
  def('cgroup/connect_unix', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_UNIX_CONNECT),
  def('cgroup/sendmsg4', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_UDP4_SENDMSG),
  def('cgroup/sendmsg6', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_UDP6_SENDMSG),
  def('cgroup/sendmsg_unix', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_UNIX_SENDMSG),
  def('cgroup/recvmsg4', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_UDP4_RECVMSG),
  def('cgroup/recvmsg6', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_UDP6_RECVMSG),
  def('cgroup/recvmsg_unix', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_UNIX_RECVMSG),
  def('cgroup/getpeername4', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_INET4_GETPEERNAME),
  def('cgroup/getpeername6', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_INET6_GETPEERNAME),
  def('cgroup/getpeername_unix', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_UNIX_GETPEERNAME),
  def('cgroup/getsockname4', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_INET4_GETSOCKNAME),
  def('cgroup/getsockname6', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_INET6_GETSOCKNAME),
  def('cgroup/getsockname_unix', P.CGROUP_SOCK_ADDR, cgroupHook, A.CGROUP_UNIX_GETSOCKNAME),
  def('cgroup/sysctl', P.CGROUP_SYSCTL, cgroupHook, A.CGROUP_SYSCTL),
  def('cgroup/getsockopt', P.CGROUP_SOCKOPT, cgroupHook, A.CGROUP_GETSOCKOPT),
  def('cgroup/setsockopt', P.CGROUP_SOCKOPT, cgroupHook, A.CGROUP_SETSOCKOPT),
  def('cgroup/dev', P.CGROUP_DEVICE, cgroupHook, A.CGROUP_DEVICE),
  def('struct_ops+', P.STRUCT_OPS, structOpsHook),
  def('struct_ops.s+', P.STRUCT_OPS, structOpsHook, undefined, SEC_SLEEPABLE),
  def('sk_lookup', P.SK_LOOKUP, netnsHook, A.SK_LOOKUP),
  def('netfilter', P.NETFILTER, netfilterHook, A.NETFILTER),
] as const satisfies readonly SecDef[];

type Hooks = (typeof SECTION_DEFS)[number]['hook'];
type OptionsOf<H> = H extends AttachHook<infer O> ? O : never;
type Intersection<U> = (U extends unknown ? (x: U) => void : never) extends (x: infer I) => void ? I : never;

export type { AttachKind, AttachOptions };

// AttachKind and AttachOptions are spelled out in src/link/attach-api.ts for the public API (its
// report and reference list each kind and options interface), generated from this table by
// scripts/gen-attach-api.mjs (`npm run api`). A row added without regenerating it is a compile
// error here: run `npm run api`.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
true satisfies Same<AttachKind, Hooks['kind']>;
true satisfies Same<AttachOptions, TargetOption & Intersection<OptionsOf<Hooks>>>;
// (Every option is optional, so the types above would agree without a hook's options: the keys must too.)
true satisfies Same<keyof AttachOptions, keyof (TargetOption & Intersection<OptionsOf<Hooks>>)>;

/** The hook of a section: its row's, or none (no attach point) for a section the table does not know. */
export function sectionHook(section: string): AnyHook {
  return matchSection(section)?.def.hook ?? noAttach;
}

export interface SectionMatch {
  def: (typeof SECTION_DEFS)[number];
  /** What follows the matched prefix and its `/`: `syscalls/sys_enter_openat` for `tp/syscalls/...`. */
  target: string;
}

export function matchSection(section: string): SectionMatch | undefined {
  // A leading '?' (libbpf) only turns autoload off; the rest names the program type.
  if (section.startsWith('?')) section = section.slice(1);
  for (const d of SECTION_DEFS) {
    const p = d.prefix;
    if (p.endsWith('+')) {
      const base = p.slice(0, -1);
      if (section === base) return { def: d, target: '' };
      if (section.startsWith(base + '/')) return { def: d, target: section.slice(base.length + 1) };
    } else if (p.endsWith('/')) {
      if (section.startsWith(p) && section.length > p.length) return { def: d, target: section.slice(p.length) };
    } else if (section === p) {
      return { def: d, target: '' };
    }
  }
  return undefined;
}
