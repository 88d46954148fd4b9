// TC (sched_cls) and XDP attachment through rtnetlink, for kernels without the BPF links that
// attach.ts prefers (TCX needs 6.6, XDP links 5.9). TC: make sure the interface has a clsact
// qdisc, add a direct-action `bpf` filter on its ingress or egress hook, and on close delete that
// filter (and the qdisc, when this process created it and nothing else is attached to it). The
// kernel picks the filter's priority and handle; NLM_F_ECHO hands them back for the delete.
import { AttachError } from './kinds.js';
import {
  type Attr,
  attrString,
  ETH_P_ALL,
  IFLA_IFNAME,
  IFLA_XDP_ATTACHED,
  IFLA_XDP_DRV_PROG_ID,
  IFLA_XDP_HW_PROG_ID,
  IFLA_XDP_PROG_ID,
  IFLA_XDP_SKB_PROG_ID,
  RTM_GETLINK,
  RTM_GETQDISC,
  TC_H_INGRESS,
  TCA_BPF_ID,
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
  RTM_NEWLINK,
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
import { EEXIST, EINVAL, ENODEV, ENOENT } from '../syscall/errno.js';

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
  /** The filter's kind: `bpf` (a direct-action classifier), `matchall` (holding a bpf action). */
  kind?: string;
}

const parentOf = (d: TcDirection) => tcHandle(TC_H_CLSACT, d === 'ingress' ? TC_H_MIN_INGRESS : TC_H_MIN_EGRESS);

/** Add a direct-action bpf filter for progFd on ifindex's ingress/egress (creating clsact). */
export function tcAttachNetlink(progFd: number, progName: string, ifindex: number, direction: TcDirection, opts: { priority?: number; handle?: number; action?: boolean } = {}): TcFilter {
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
      opts.action ? matchallWithBpfAction(progFd, progName) : [strAttr(TCA_KIND, 'bpf'), [TCA_OPTIONS, [u32Attr(TCA_BPF_FD, progFd), strAttr(TCA_BPF_NAME, progName), u32Attr(TCA_BPF_FLAGS, TCA_BPF_FLAG_ACT_DIRECT)]]],
      `tc ${direction} ${opts.action ? 'matchall filter with a bpf action' : 'bpf filter'} on ifindex ${ifindex}`,
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
    throw new AttachError(progName, `tc ${direction} filter on ifindex ${ifindex}: the kernel did not echo the new filter's priority; cannot detach it later, so it was not kept`);
  }
  return { ifindex, direction, priority: prio, handle, createdQdisc, kind: opts.action ? 'matchall' : 'bpf' };
}

const TCA_MATCHALL_ACT = 2;
const TCA_ACT_KIND = 1;
const TCA_ACT_OPTIONS = 2;
const TCA_ACT_BPF_PARMS = 2;
const TCA_ACT_BPF_FD = 5;
const TCA_ACT_BPF_NAME = 6;
const TC_ACT_PIPE = 3;

/**
 * A matchall filter whose one action is act_bpf running the program (`tc filter add ... matchall
 * action bpf fd N`): TCA_OPTIONS { TCA_MATCHALL_ACT { 1: { kind "bpf", options { parms, fd, name } } } }.
 * parms is struct tc_act_bpf (tc_gen: index, capab, action, refcnt, bindcnt); its action, the
 * verdict when the program returns TC_ACT_UNSPEC, is pipe (on to the next action).
 */
function matchallWithBpfAction(progFd: number, progName: string): Attr[] {
  const parms = new Uint8Array(20);
  new DataView(parms.buffer).setInt32(8, TC_ACT_PIPE, true);
  const act: Attr[] = [strAttr(TCA_ACT_KIND, 'bpf'), [TCA_ACT_OPTIONS, [[TCA_ACT_BPF_PARMS, parms], u32Attr(TCA_ACT_BPF_FD, progFd), strAttr(TCA_ACT_BPF_NAME, progName)]]];
  return [strAttr(TCA_KIND, 'matchall'), [TCA_OPTIONS, [[TCA_MATCHALL_ACT, [[1, act]]]]]];
}

function deleteQdisc(nl: RtNetlink, ifindex: number): void {
  nl.request(RTM_DELQDISC, NLM_F_ACK, tcmsg(ifindex, CLSACT_HANDLE, TC_H_CLSACT, 0), [strAttr(TCA_KIND, 'clsact')], `clsact qdisc on ifindex ${ifindex}`);
}

export interface TcFilterInfo {
  priority: number;
  handle: number;
  kind: string;
  /** TCA_BPF_NAME: the name given at attach (a program name, or tc's `file:[section]`). */
  name?: string;
  /** TCA_BPF_ID: the program id. */
  id?: number;
}

/** bpf filters on one clsact hook (kind, priority, handle, the program's name and id). */
export function tcListFilters(nl: RtNetlink, ifindex: number, direction: TcDirection | 'ingress-qdisc'): TcFilterInfo[] {
  const parent = direction === 'ingress-qdisc' ? tcHandle(TC_H_INGRESS, 0) : parentOf(direction);
  const msgs = nl.request(RTM_GETTFILTER, NLM_F_DUMP, tcmsg(ifindex, 0, parent, 0), [], `tc ${direction} filters on ifindex ${ifindex}`);
  const out: TcFilterInfo[] = [];
  for (const m of msgs) {
    if (m.type !== RTM_NEWTFILTER) continue;
    const dv = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
    const handle = dv.getUint32(8, true);
    if (handle === 0) continue; // the per-priority chain head, not a filter
    const attrs = parseAttrs(m.payload, 20, m.payload.length);
    const kind = attrString(attrs.get(TCA_KIND)) ?? '';
    const opts = attrs.get(TCA_OPTIONS);
    const bpf = opts ? parseAttrs(opts, 0, opts.length) : undefined;
    const idBytes = bpf?.get(TCA_BPF_ID);
    out.push({
      priority: dv.getUint32(16, true) >>> 16,
      handle,
      kind,
      name: attrString(bpf?.get(TCA_BPF_NAME)),
      id: idBytes && idBytes.length >= 4 ? new DataView(idBytes.buffer, idBytes.byteOffset, 4).getUint32(0, true) : undefined,
    });
  }
  return out;
}

/** Delete the filter; then the qdisc when this attachment created it and no filter is left on either hook. */
export function tcDetachNetlink(f: TcFilter): void {
  using nl = new RtNetlink();
  const info = tcHandle(f.priority << 16, htons(ETH_P_ALL));
  try {
    nl.request(RTM_DELTFILTER, NLM_F_ACK, tcmsg(f.ifindex, f.handle, parentOf(f.direction), info), [strAttr(TCA_KIND, f.kind ?? 'bpf')], `tc ${f.direction} ${f.kind ?? 'bpf'} filter on ifindex ${f.ifindex}`);
  } catch (e) {
    // The interface (or the qdisc) is already gone: nothing left to detach.
    if (e instanceof NetlinkError && (e.errno === ENODEV || e.errno === ENOENT || e.errno === EINVAL)) return;
    throw e;
  }
  if (f.createdQdisc && tcListFilters(nl, f.ifindex, 'ingress').length === 0 && tcListFilters(nl, f.ifindex, 'egress').length === 0) deleteQdisc(nl, f.ifindex);
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

/** The kinds of qdisc an interface has (bpftool looks for clsact and ingress). */
export function qdiscKinds(nl: RtNetlink, ifindex: number): string[] {
  const msgs = nl.request(RTM_GETQDISC, NLM_F_DUMP, tcmsg(ifindex, 0, 0, 0), [], `qdiscs on ifindex ${ifindex}`);
  const out: string[] = [];
  for (const m of msgs) {
    const dv = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
    if (dv.getInt32(4, true) !== ifindex) continue;
    out.push(attrString(parseAttrs(m.payload, 20, m.payload.length).get(TCA_KIND)) ?? '');
  }
  return out;
}

export interface NetDevice {
  ifindex: number;
  name: string;
  /** XDP programs by mode (generic = SKB, driver = DRV, offload = HW). */
  xdp: { mode: 'generic' | 'driver' | 'offload'; id: number }[];
}

const XDP_MODES = ['', 'driver', 'generic', 'offload'] as const;

/** Every interface in this network namespace with its XDP programs (RTM_GETLINK dump). */
export function netDevices(nl: RtNetlink): NetDevice[] {
  const msgs = nl.request(RTM_GETLINK, NLM_F_DUMP, ifinfomsg(0), [], 'network interfaces');
  const out: NetDevice[] = [];
  const u32 = (b: Uint8Array | undefined) => (b && b.length >= 4 ? new DataView(b.buffer, b.byteOffset, 4).getUint32(0, true) : 0);
  for (const m of msgs) {
    if (m.type !== RTM_NEWLINK) continue;
    const ifindex = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).getInt32(4, true);
    const attrs = parseAttrs(m.payload, 16, m.payload.length);
    const dev: NetDevice = { ifindex, name: attrString(attrs.get(IFLA_IFNAME)) ?? String(ifindex), xdp: [] };
    const x = attrs.get(IFLA_XDP);
    if (x) {
      const xa = parseAttrs(x, 0, x.length);
      const attached = xa.get(IFLA_XDP_ATTACHED)?.[0] ?? 0;
      if (attached === 4 /* XDP_ATTACHED_MULTI */) {
        for (const [mode, t] of [['generic', IFLA_XDP_SKB_PROG_ID], ['driver', IFLA_XDP_DRV_PROG_ID], ['offload', IFLA_XDP_HW_PROG_ID]] as const) {
          const id = u32(xa.get(t));
          if (id) dev.xdp.push({ mode, id });
        }
      } else if (attached >= 1 && attached <= 3) {
        dev.xdp.push({ mode: XDP_MODES[attached] as 'generic' | 'driver' | 'offload', id: u32(xa.get(IFLA_XDP_PROG_ID)) });
      }
    }
    out.push(dev);
  }
  return out.sort((a, b) => a.ifindex - b.ifindex);
}
