// XDP on an interface: an XDP BPF link (5.9+), or netlink (RTM_SETLINK IFLA_XDP) where links
// are missing or when asked. SEC("xdp/<iface>") names the interface; else { iface }.
import { sys } from '../syscall/backend.js';
import { linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EINVAL, ENODEV } from '../syscall/errno.js';
import { Fd } from '../syscall/fd.js';
import { NetlinkError } from '../syscall/netlink.js';
import { defineHook, ifindexOf } from './kinds.js';
import { BaseLink } from './link.js';
import { XDP_FLAGS_REPLACE, XDP_FLAGS_UPDATE_IF_NOEXIST, xdpSetNetlink } from './tc.js';

export interface XdpOptions {
  /** Interface name or index (default: the section's, SEC("xdp/eth0")). */
  iface?: string | number;
  /** XDP flags (XDP_FLAGS_SKB_MODE = 2, DRV_MODE = 4). */
  xdpFlags?: number;
  /** A BPF link (5.9+), netlink (RTM_SETLINK), or auto: the link, netlink where links are missing. */
  xdpMode?: 'auto' | 'link' | 'netlink';
}

/** A kernel without this kind of BPF link answers LINK_CREATE with EINVAL: then netlink does it. */
export const noSuchLink = (e: unknown) => e instanceof BpfError && e.errno === EINVAL;

export const xdpHook = defineHook('xdp', 'target', (p, _target, o: XdpOptions) => {
  const ifindex = ifindexOf(o.iface ?? (p.spec.attachTarget || undefined), p.name);
  const target = String(o.iface ?? ifindex);
  const mode = o.xdpMode ?? 'auto';
  if (mode !== 'netlink') {
    try {
      const fd = linkCreate({ progFd: p.fd.value, targetFd: ifindex, attachType: AttachType.XDP, flags: o.xdpFlags ?? 0 }, `XDP on ifindex ${ifindex}`);
      return new BaseLink('xdp', p.name, target, fd);
    } catch (e) {
      if (mode === 'link' || !noSuchLink(e)) throw e;
    }
  }
  // Netlink: only where nothing is attached yet; detach only if ours is still the one attached.
  const flags = o.xdpFlags ?? 0;
  xdpSetNetlink(ifindex, p.fd.value, flags | XDP_FLAGS_UPDATE_IF_NOEXIST);
  // The link keeps its own reference to the program: the detach names it (expected fd), and the
  // program's own fd may be closed first.
  const dup = sys().dupCloexec(p.fd.value, 3);
  if (dup < 0) {
    xdpSetNetlink(ifindex, -1, flags);
    throw new BpfError('fcntl(F_DUPFD_CLOEXEC)', -dup, `program '${p.name}'`);
  }
  const own = new Fd(dup, 'prog');
  const detach = () => {
    try {
      xdpSetNetlink(ifindex, -1, (flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST) | XDP_FLAGS_REPLACE, own.value);
    } catch (e) {
      if (e instanceof NetlinkError && e.errno === ENODEV /* the interface is gone */) return;
      throw e;
    }
  };
  return new BaseLink('xdp', p.name, `${target} (netlink)`, undefined, { owned: [own], detach });
});
