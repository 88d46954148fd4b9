// TC programs on an interface: a TCX link (6.6+) on ingress or egress, or a netlink clsact bpf
// filter (tc.ts) where TCX is missing or when asked. SEC("tc/ingress"), "tcx/egress"... name the
// direction; the interface comes from { iface }.
import { linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { type AttachableProgram, defineHook, ifindexOf } from './kinds.js';
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
      if (mode === 'tcx' || !noSuchLink(e)) throw e;
    }
  }
  const filter = tcAttachNetlink(p.fd.value, p.name, ifindex, direction, { priority: o.tcPriority });
  return new BaseLink('tc', p.name, `${where} (clsact, prio ${filter.priority} handle 0x${filter.handle.toString(16)})`, undefined, { detach: () => tcDetachNetlink(filter) });
}

/** The section names a direction but no interface: never automatic. */
export const tcxHook = defineHook('tcx', 'never', (p, _target, o: TcOptions) => attachTc(p, o));
