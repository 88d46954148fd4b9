// TC programs on an interface: a TCX link (6.6+) on ingress or egress, or a netlink clsact bpf
// filter (tc.ts) where TCX is missing or when asked. SEC("tc/ingress"), "tcx/egress"... name the
// direction; the interface comes from { iface }.
import { NotSupportedError } from '../errors.js';
import { sys } from '../syscall/backend.js';
import { linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { linkFeatures } from '../syscall/features.js';
import { NetlinkError } from '../syscall/netlink.js';
import { type AttachableProgram, AttachError, defineHook, ifindexOf } from './kinds.js';
import { BaseLink, type Link } from './link.js';
import { tcAttachNetlink, tcDetachNetlink, type TcDirection } from './tc.js';
import { noSuchLink } from './xdp.js';

export interface TcOptions {
  /** Interface name or index. */
  iface?: string | number;
  /** Which hook (default: the section's, tc/egress → egress, else ingress). */
  tcDirection?: TcDirection;
  /** A TCX link (6.6+), a netlink clsact bpf filter, or auto: TCX, netlink where TCX is missing. */
  tcMode?: 'auto' | 'tcx' | 'netlink';
  /** Netlink filter priority (default: the kernel picks). */
  tcPriority?: number;
}

export function attachTc(p: AttachableProgram, o: TcOptions): Link {
  const ifindex = ifindexOf(o.iface, p.name);
  const direction: TcDirection = o.tcDirection ?? (p.expectedAttachType === AttachType.TCX_EGRESS ? 'egress' : 'ingress');
  const mode = o.tcMode ?? 'auto';
  const where = `${o.iface ?? ifindex} ${direction}`;
  if (mode !== 'netlink') {
    try {
      const attachType = direction === 'egress' ? AttachType.TCX_EGRESS : AttachType.TCX_INGRESS;
      const fd = linkCreate({ progFd: p.fd.value, targetFd: ifindex, attachType }, `TCX on ifindex ${ifindex}`);
      return new BaseLink('tcx', p.name, where, fd);
    } catch (e) {
      // Asked for TCX where the kernel has none (its probe says so): say which feature is missing.
      if (mode === 'tcx' && noSuchLink(e) && !linkFeatures.tcx()) throw new NotSupportedError('TCX links', '6.6', sys().uname().release, `program '${p.name}': ${(e as Error).message}; tcMode 'netlink' attaches a clsact filter`, { cause: e });
      if (mode === 'tcx' || !noSuchLink(e)) throw e;
    }
  }
  const filter = tcAttachNetlink(p.fd.value, p.name, ifindex, direction, { priority: o.tcPriority });
  return new BaseLink('tc', p.name, `${where} (clsact, prio ${filter.priority} handle 0x${filter.handle.toString(16)})`, undefined, { detach: () => tcDetachNetlink(filter) });
}

/** The section names a direction but no interface: never automatic. */
export const tcxHook = defineHook('tcx', 'never', (p, _target, o: TcOptions) => attachTc(p, o));

/**
 * SEC("action") (a TC action, BPF_PROG_TYPE_SCHED_ACT): act_bpf as the one action of a matchall
 * filter on the interface's clsact ingress (default) or egress hook, as `tc filter add dev DEV
 * ingress matchall action bpf fd N` adds it; deleting the filter detaches it. Needs act_bpf and
 * cls_matchall (CONFIG_NET_ACT_BPF, CONFIG_NET_CLS_MATCHALL; modules the kernel loads on demand).
 */
export function attachTcAction(p: AttachableProgram, o: TcOptions): Link {
  if (o.iface === undefined) throw new AttachError(p.name, `a TC action runs on an interface's ingress or egress: pass { iface: 'eth0', tcDirection: 'ingress' }`);
  if (o.tcMode === 'tcx') throw new AttachError(p.name, `a TC action has no TCX link: it attaches through netlink (a matchall filter with a bpf action)`);
  const ifindex = ifindexOf(o.iface, p.name);
  const direction: TcDirection = o.tcDirection ?? 'ingress';
  let filter;
  try {
    filter = tcAttachNetlink(p.fd.value, p.name, ifindex, direction, { priority: o.tcPriority, action: true });
  } catch (e) {
    // A kernel without the filter kind or the action answers ENOENT ("unknown filter kind", "failed to load TC action module").
    if (e instanceof NetlinkError && (e.code === 'ENOENT' || e.code === 'EOPNOTSUPP'))
      throw new NotSupportedError('TC BPF actions (act_bpf on a matchall filter: CONFIG_NET_ACT_BPF, CONFIG_NET_CLS_MATCHALL)', '4.8', sys().uname().release, `program '${p.name}': ${e.message}`, { cause: e });
    throw e;
  }
  return new BaseLink('tc_action', p.name, `${o.iface} ${direction} (clsact matchall, prio ${filter.priority} handle 0x${filter.handle.toString(16)})`, undefined, { detach: () => tcDetachNetlink(filter) });
}

export const tcActionHook = defineHook('tc_action', 'never', (p, _target, o: TcOptions) => attachTcAction(p, o));
