// SEC() name → program type, expected attach type and load flags, following libbpf's table (level
// with libbpf 1.7's section_defs, same order; test/sections.test.ts compares it with the installed
// libbpf's libbpf_prog_type_by_name) and matching rules: entries are tried in order and the first match wins.
//   `x+`  matches `x` exactly or `x/...`
//   `x/`  needs a suffix: `x/...`
//   `x`   matches exactly
import { AttachType, ProgType } from '../syscall/constants.js';
import type { AttachKind } from '../link/kinds.js';

export type { AttachKind };

export const SEC_ATTACH_BTF = 1 << 0;
export const SEC_SLEEPABLE = 1 << 1;
export const SEC_XDP_FRAGS = 1 << 2;
export const SEC_USDT = 1 << 3;

export interface SecDef {
  prefix: string;
  progType: number;
  attachType?: number;
  flags: number;
  attach: AttachKind;
}

const P = ProgType;
const A = AttachType;
const def = (prefix: string, progType: number, attach: AttachKind, attachType?: number, flags = 0): SecDef => ({
  prefix,
  progType,
  attachType,
  flags,
  attach,
});

export const SECTION_DEFS: readonly SecDef[] = [
  def('socket', P.SOCKET_FILTER, 'socket'),
  def('sk_reuseport/migrate', P.SK_REUSEPORT, 'socket', A.SK_REUSEPORT_SELECT_OR_MIGRATE),
  def('sk_reuseport', P.SK_REUSEPORT, 'socket', A.SK_REUSEPORT_SELECT),
  def('kprobe+', P.KPROBE, 'kprobe'),
  def('uprobe+', P.KPROBE, 'uprobe'),
  def('uprobe.s+', P.KPROBE, 'uprobe', undefined, SEC_SLEEPABLE),
  def('kretprobe+', P.KPROBE, 'kretprobe'),
  def('uretprobe+', P.KPROBE, 'uretprobe'),
  def('uretprobe.s+', P.KPROBE, 'uretprobe', undefined, SEC_SLEEPABLE),
  def('kprobe.multi+', P.KPROBE, 'kprobe.multi', A.TRACE_KPROBE_MULTI),
  def('kretprobe.multi+', P.KPROBE, 'kretprobe.multi', A.TRACE_KPROBE_MULTI),
  def('kprobe.session+', P.KPROBE, 'kprobe.session', A.TRACE_KPROBE_SESSION),
  def('uprobe.multi+', P.KPROBE, 'uprobe.multi', A.TRACE_UPROBE_MULTI),
  def('uretprobe.multi+', P.KPROBE, 'uretprobe.multi', A.TRACE_UPROBE_MULTI),
  def('uprobe.session+', P.KPROBE, 'uprobe.session', A.TRACE_UPROBE_SESSION),
  def('uprobe.multi.s+', P.KPROBE, 'uprobe.multi', A.TRACE_UPROBE_MULTI, SEC_SLEEPABLE),
  def('uretprobe.multi.s+', P.KPROBE, 'uretprobe.multi', A.TRACE_UPROBE_MULTI, SEC_SLEEPABLE),
  def('uprobe.session.s+', P.KPROBE, 'uprobe.session', A.TRACE_UPROBE_SESSION, SEC_SLEEPABLE),
  def('ksyscall+', P.KPROBE, 'ksyscall'),
  def('kretsyscall+', P.KPROBE, 'kretsyscall'),
  def('usdt+', P.KPROBE, 'usdt', undefined, SEC_USDT),
  def('usdt.s+', P.KPROBE, 'usdt', undefined, SEC_USDT | SEC_SLEEPABLE),
  def('tc/ingress', P.SCHED_CLS, 'tcx', A.TCX_INGRESS),
  def('tc/egress', P.SCHED_CLS, 'tcx', A.TCX_EGRESS),
  def('tcx/ingress', P.SCHED_CLS, 'tcx', A.TCX_INGRESS),
  def('tcx/egress', P.SCHED_CLS, 'tcx', A.TCX_EGRESS),
  def('tc', P.SCHED_CLS, 'none'),
  def('classifier', P.SCHED_CLS, 'none'),
  def('action', P.SCHED_ACT, 'none'),
  def('netkit/primary', P.SCHED_CLS, 'netkit', A.NETKIT_PRIMARY),
  def('netkit/peer', P.SCHED_CLS, 'netkit', A.NETKIT_PEER),
  def('tracepoint+', P.TRACEPOINT, 'tracepoint'),
  def('tp+', P.TRACEPOINT, 'tracepoint'),
  def('raw_tracepoint+', P.RAW_TRACEPOINT, 'raw_tracepoint'),
  def('raw_tp+', P.RAW_TRACEPOINT, 'raw_tracepoint'),
  def('raw_tracepoint.w+', P.RAW_TRACEPOINT_WRITABLE, 'raw_tracepoint'),
  def('raw_tp.w+', P.RAW_TRACEPOINT_WRITABLE, 'raw_tracepoint'),
  def('tp_btf+', P.TRACING, 'tracing', A.TRACE_RAW_TP, SEC_ATTACH_BTF),
  def('fentry+', P.TRACING, 'tracing', A.TRACE_FENTRY, SEC_ATTACH_BTF),
  def('fmod_ret+', P.TRACING, 'tracing', A.MODIFY_RETURN, SEC_ATTACH_BTF),
  def('fexit+', P.TRACING, 'tracing', A.TRACE_FEXIT, SEC_ATTACH_BTF),
  def('fentry.s+', P.TRACING, 'tracing', A.TRACE_FENTRY, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('fmod_ret.s+', P.TRACING, 'tracing', A.MODIFY_RETURN, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('fexit.s+', P.TRACING, 'tracing', A.TRACE_FEXIT, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('fsession+', P.TRACING, 'tracing', A.TRACE_FSESSION, SEC_ATTACH_BTF),
  def('fsession.s+', P.TRACING, 'tracing', A.TRACE_FSESSION, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('freplace+', P.EXT, 'tracing', undefined, SEC_ATTACH_BTF),
  def('lsm+', P.LSM, 'lsm', A.LSM_MAC, SEC_ATTACH_BTF),
  def('lsm.s+', P.LSM, 'lsm', A.LSM_MAC, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('lsm_cgroup+', P.LSM, 'none', A.LSM_CGROUP, SEC_ATTACH_BTF),
  def('iter+', P.TRACING, 'iter', A.TRACE_ITER, SEC_ATTACH_BTF),
  def('iter.s+', P.TRACING, 'iter', A.TRACE_ITER, SEC_ATTACH_BTF | SEC_SLEEPABLE),
  def('syscall', P.SYSCALL, 'none', undefined, SEC_SLEEPABLE),
  def('xdp.frags/devmap', P.XDP, 'none', A.XDP_DEVMAP, SEC_XDP_FRAGS),
  def('xdp/devmap', P.XDP, 'none', A.XDP_DEVMAP),
  def('xdp.frags/cpumap', P.XDP, 'none', A.XDP_CPUMAP, SEC_XDP_FRAGS),
  def('xdp/cpumap', P.XDP, 'none', A.XDP_CPUMAP),
  def('xdp.frags', P.XDP, 'xdp', A.XDP, SEC_XDP_FRAGS),
  def('xdp', P.XDP, 'xdp', A.XDP),
  def('perf_event', P.PERF_EVENT, 'perf_event'),
  def('lwt_in', P.LWT_IN, 'none'),
  def('lwt_out', P.LWT_OUT, 'none'),
  def('lwt_xmit', P.LWT_XMIT, 'none'),
  def('lwt_seg6local', P.LWT_SEG6LOCAL, 'none'),
  def('sockops', P.SOCK_OPS, 'cgroup', A.CGROUP_SOCK_OPS),
  def('sk_skb/stream_parser', P.SK_SKB, 'sockmap', A.SK_SKB_STREAM_PARSER),
  def('sk_skb/stream_verdict', P.SK_SKB, 'sockmap', A.SK_SKB_STREAM_VERDICT),
  def('sk_skb/verdict', P.SK_SKB, 'sockmap', A.SK_SKB_VERDICT),
  def('sk_skb', P.SK_SKB, 'none'),
  def('sk_msg', P.SK_MSG, 'sockmap', A.SK_MSG_VERDICT),
  def('lirc_mode2', P.LIRC_MODE2, 'none', A.LIRC_MODE2),
  def('flow_dissector', P.FLOW_DISSECTOR, 'netns', A.FLOW_DISSECTOR),
  def('cgroup_skb/ingress', P.CGROUP_SKB, 'cgroup', A.CGROUP_INET_INGRESS),
  def('cgroup_skb/egress', P.CGROUP_SKB, 'cgroup', A.CGROUP_INET_EGRESS),
  def('cgroup/skb', P.CGROUP_SKB, 'none'),
  def('cgroup/sock_create', P.CGROUP_SOCK, 'cgroup', A.CGROUP_INET_SOCK_CREATE),
  def('cgroup/sock_release', P.CGROUP_SOCK, 'cgroup', A.CGROUP_INET_SOCK_RELEASE),
  def('cgroup/sock', P.CGROUP_SOCK, 'cgroup', A.CGROUP_INET_SOCK_CREATE),
  def('cgroup/post_bind4', P.CGROUP_SOCK, 'cgroup', A.CGROUP_INET4_POST_BIND),
  def('cgroup/post_bind6', P.CGROUP_SOCK, 'cgroup', A.CGROUP_INET6_POST_BIND),
  def('cgroup/bind4', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_INET4_BIND),
  def('cgroup/bind6', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_INET6_BIND),
  def('cgroup/connect4', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_INET4_CONNECT),
  def('cgroup/connect6', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_INET6_CONNECT),
  def('cgroup/connect_unix', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_UNIX_CONNECT),
  def('cgroup/sendmsg4', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_UDP4_SENDMSG),
  def('cgroup/sendmsg6', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_UDP6_SENDMSG),
  def('cgroup/sendmsg_unix', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_UNIX_SENDMSG),
  def('cgroup/recvmsg4', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_UDP4_RECVMSG),
  def('cgroup/recvmsg6', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_UDP6_RECVMSG),
  def('cgroup/recvmsg_unix', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_UNIX_RECVMSG),
  def('cgroup/getpeername4', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_INET4_GETPEERNAME),
  def('cgroup/getpeername6', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_INET6_GETPEERNAME),
  def('cgroup/getpeername_unix', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_UNIX_GETPEERNAME),
  def('cgroup/getsockname4', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_INET4_GETSOCKNAME),
  def('cgroup/getsockname6', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_INET6_GETSOCKNAME),
  def('cgroup/getsockname_unix', P.CGROUP_SOCK_ADDR, 'cgroup', A.CGROUP_UNIX_GETSOCKNAME),
  def('cgroup/sysctl', P.CGROUP_SYSCTL, 'cgroup', A.CGROUP_SYSCTL),
  def('cgroup/getsockopt', P.CGROUP_SOCKOPT, 'cgroup', A.CGROUP_GETSOCKOPT),
  def('cgroup/setsockopt', P.CGROUP_SOCKOPT, 'cgroup', A.CGROUP_SETSOCKOPT),
  def('cgroup/dev', P.CGROUP_DEVICE, 'cgroup', A.CGROUP_DEVICE),
  def('struct_ops+', P.STRUCT_OPS, 'struct_ops'),
  def('struct_ops.s+', P.STRUCT_OPS, 'struct_ops', undefined, SEC_SLEEPABLE),
  def('sk_lookup', P.SK_LOOKUP, 'netns', A.SK_LOOKUP),
  def('netfilter', P.NETFILTER, 'netfilter', A.NETFILTER),
];

export interface SectionMatch {
  def: SecDef;
  /** What follows the matched prefix and its `/`: `syscalls/sys_enter_openat` for `tp/syscalls/...`. */
  target: string;
}

export function matchSection(section: string): SectionMatch | undefined {
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
