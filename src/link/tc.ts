// TC (sched_cls) and XDP attachment through rtnetlink, for kernels without the BPF links that
// attach.ts prefers (TCX needs 6.6, XDP links 5.9). TC: make sure the interface has a clsact
// qdisc, add a direct-action `bpf` filter on its ingress or egress hook, and on close delete that
// filter (and the qdisc, when this process created it and nothing else is attached to it). The
// kernel picks the filter's priority and handle; NLM_F_ECHO hands them back for the delete.
import {
  ETH_P_ALL,
  IFLA_XDP,
  IFLA_XDP_EXPECTED_FD,
  IFLA_XDP_FD,
  IFLA_XDP_FLAGS,
  ifinfomsg,
  NetlinkError,
  NLM_F_ACK,
  NLM_F_CREATE,
  NLM_F_DUMP,
  NLM_F_ECHO,
  NLM_F_EXCL,
  parseAttrs,
  RTM_DELQDISC,
  RTM_DELTFILTER,
  RTM_GETTFILTER,
  RTM_NEWQDISC,
  RTM_NEWTFILTER,
  RTM_SETLINK,
  RtNetlink,
  strAttr,
  TC_H_CLSACT,
  TC_H_MIN_EGRESS,
  TC_H_MIN_INGRESS,
  TCA_BPF_FD,
  TCA_BPF_FLAG_ACT_DIRECT,
  TCA_BPF_FLAGS,
  TCA_BPF_NAME,
  TCA_KIND,
  TCA_OPTIONS,
  tcHandle,
  tcmsg,
  u32Attr,
} from '../syscall/netlink.js';
import { EEXIST } from '../syscall/errno.js';

export type TcDirection = 'ingress' | 'egress';

const CLSACT_HANDLE = tcHandle(TC_H_CLSACT, 0); // ffff:0000
const htons = (v: number) => ((v & 0xff) << 8) | ((v >> 8) & 0xff);

export interface TcFilter {
  ifindex: number;
  direction: TcDirection;
  priority: number;
  handle: number;
  /** Whether this attachment created the clsact qdisc. */
  createdQdisc: boolean;
}

const parentOf = (d: TcDirection) => tcHandle(TC_H_CLSACT, d === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);

/** Add a direct-action bpf filter for progFd on ifindex's ingress/egress (creating clsact). */
export function tcAttachNetlink(progFd: number, progName: string, ifindex: number, direction: TcDirection, opts: { priority?: number; handle?: number } = {}): TcFilter {
  using nl = new RtNetlink();
  let createdQdisc = false;
  try {
    nl.request(RTM_NEWQDISC, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0), [strAttr(TCA_KIND, 'clsact')], `clsact qdisc on ifindex ${ifindex}`);
    createdQdisc = true;
  } catch (e) {
    if (!(e instanceof NetlinkError && e.errno === EEXIST)) throw e;
  }
  const priority = opts.priority ?? 0;
  const info = tcHandle((priority & 0xffff) << 16, htons(ETH_P_ALL));
  let replies;
  try {
    replies = nl.request(
      RTM_NEWTFILTER,
      NLM_F_ACK | NLM_F_ECHO | NLM_F_CREATE | NLM_F_EXCL,
      tcmsg(ifindex, opts.handle ?? 0, parentOf(direction), info),
      [strAttr(TCA_KIND, 'bpf'), [TCA_OPTIONS, [u32Attr(TCA_BPF_FD, progFd), strAttr(TCA_BPF_NAME, progName), u32Attr(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT)]]],
      `tc ${direction} bpf filter on ifindex ${ifindex}`,
    );
  } catch (e) {
    if (createdQdisc) deleteQdisc(nl, ifindex);
    throw e;
  }
  const echo = replies.find((m) => m.type === RTM_NEWTFILTER);
  let handle = opts.handle ?? 0;
  let prio = priority;
  if (echo) {
    const dv = new DataView(echo.payload.buffer, echo.payload.byteOffset, echo.payload.byteLength);
    handle = dv.getUint32(8, true);
    prio = dv.getUint32(16, true) >>> 16;
  }
  if (!prio) {
    if (createdQdisc) deleteQdisc(nl, ifindex);
    throw new Error(`tc ${direction} filter on ifindex ${ifindex}: the kernel did not echo the new filter's priority; cannot detach it later, so it was not kept`);
  }
  return { ifindex, direction, priority: prio, handle, createdQdisc };
}

function deleteQdisc(nl: RtNetlink, ifindex: number): void {
  nl.request(RTM_DELQDISC, NLM_F_ACK, tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0), [strAttr(TCA_KIND, 'clsact')], `clsact qdisc on ifindex ${ifindex}`);
}

/** bpf filters on one clsact hook (kind, priority, handle, and the program's name). */
export function tcListFilters(ifindex: number, direction: TcDirection): { priority: number; handle: number; kind: string; name?: string }[] {
  using nl = new RtNetlink();
  const msgs = nl.request(RTM_GETTFILTER, NLM_F_DUMP, tcmsg(ifindex, 0, parentOf(direction), 0), [], `tc ${direction} filters on ifindex ${ifindex}`);
  const out: { priority: number; handle: number; kind: string; name?: string }[] = [];
  for (const m of msgs) {
    if (m.type !== 44 /* RTM_NEWTFILTER */) continue;
    const dv = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
    const handle = dv.getUint32(8, true);
    if (handle === 0) continue; // the per-priority chain head, not a filter
    const attrs = parseAttrs(m.payload, 20, m.payload.length);
    const kind = new TextDecoder().decode(attrs.get(TCA_KIND) ?? new Uint8Array()).replace(/\0.*$/s, '');
    const opts = attrs.get(TCA_OPTIONS);
    const nameBytes = opts ? parseAttrs(opts, 0, opts.length).get(TCA_BPF_NAME) : undefined;
    out.push({ priority: dv.getUint32(16, true) >>> 16, handle, kind, name: nameBytes ? new TextDecoder().decode(nameBytes).replace(/\0.*$/s, '') : undefined });
  }
  return out;
}

/** Delete the filter; then the qdisc when this attachment created it and no filter is left on either hook. */
export function tcDetachNetlink(f: TcFilter): void {
  using nl = new RtNetlink();
  const info = tcHandle(f.priority << 16, htons(ETH_P_ALL));
  try {
    nl.request(RTM_DELTFILTER, NLM_F_ACK, tcmsg(f.ifindex, f.handle, parentOf(f.direction), info), [strAttr(TCA_KIND, 'bpf')], `tc ${f.direction} bpf filter on ifindex ${f.ifindex}`);
  } catch (e) {
    // The interface (or the qdisc) is already gone: nothing left to detach.
    if (e instanceof NetlinkError && (e.errno === 19 /* ENODEV */ || e.errno === 2 /* ENOENT */ || e.errno === 22 /* EINVAL */)) return;
    throw e;
  }
  if (f.createdQdisc && tcListFilters(f.ifindex, 'ingress').length === 0 && tcListFilters(f.ifindex, 'egress').length === 0) deleteQdisc(nl, f.ifindex);
}

export const XDP_FLAGS_UPDATE_IF_NOEXIST = 1;
export const XDP_FLAGS_REPLACE = 16;

/** XDP through RTM_SETLINK/IFLA_XDP (progFd -1 detaches; expectedFd guards a detach). */
export function xdpSetNetlink(ifindex: number, progFd: number, flags: number, expectedFd?: number): void {
  using nl = new RtNetlink();
  const xdp = [u32Attr(IFLA_XDP_FD, progFd), u32Attr(IFLA_XDP_FLAGS, flags)];
  if (expectedFd !== undefined) xdp.push(u32Attr(IFLA_XDP_EXPECTED_FD, expectedFd));
  nl.request(RTM_SETLINK, NLM_F_ACK, ifinfomsg(ifindex), [[IFLA_XDP, xdp]], `XDP on ifindex ${ifindex}`);
}
