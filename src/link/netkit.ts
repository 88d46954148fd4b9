// netkit (6.7+): programs on a netkit device's primary or peer side, through a netkit BPF link
// on the device's ifindex (multi-program, like TCX).
import { BeeTsError, NotSupportedError } from '../errors.js';
import { sys } from '../syscall/backend.js';
import { linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EINVAL, ENODEV, ENXIO, EOPNOTSUPP } from '../syscall/errno.js';
import { type AttachableProgram, defineHook, ifindexOf } from './kinds.js';
import { BaseLink, type Link } from './link.js';

export function attachNetkit(p: AttachableProgram, ifindex: number, iface: string): Link {
  const attachType = p.expectedAttachType === AttachType.NETKIT_PEER ? AttachType.NETKIT_PEER : AttachType.NETKIT_PRIMARY;
  const side = attachType === AttachType.NETKIT_PEER ? 'peer' : 'primary';
  try {
    return new BaseLink('netkit', p.name, `${iface} ${side}`, linkCreate({ progFd: p.fd.value, targetFd: ifindex, attachType }, `program '${p.name}': netkit ${side} on ${iface}`));
  } catch (e) {
    if (e instanceof BpfError && (e.errno === EINVAL || e.errno === EOPNOTSUPP) && !kernelAtLeast(6, 7))
      throw new NotSupportedError('netkit links', '6.7', sys().uname().release, `program '${p.name}'`, { cause: e });
    if (e instanceof BpfError && (e.errno === ENXIO || e.errno === EINVAL || e.errno === ENODEV)) throw new BeeTsError('ATTACH', `program '${p.name}': ${iface} is not a netkit device, or this kernel has no netkit driver (CONFIG_NETKIT): ${e.code}`, { cause: e });
    throw e;
  }
}

/** Whether the running kernel is at least major.minor (from uname's release). */
export function kernelAtLeast(major: number, minor: number): boolean {
  const m = /^(\d+)\.(\d+)/.exec(sys().uname().release);
  if (!m) return true;
  return Number(m[1]) > major || (Number(m[1]) === major && Number(m[2]) >= minor);
}

export interface NetkitOptions {
  /** The netkit device: name or index. */
  iface?: string | number;
}

/** SEC("netkit/primary"), SEC("netkit/peer"): the device comes from { iface }. */
export const netkitHook = defineHook('netkit', 'never', (p, _target, o: NetkitOptions) => attachNetkit(p, ifindexOf(o.iface, p.name), String(o.iface)));
