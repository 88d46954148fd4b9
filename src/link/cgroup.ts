// cgroup programs (cgroup_skb, cgroup/sock*, cgroup/connect4, sockops, sysctl, sockopt, dev...):
// a cgroup BPF link on a cgroup v2 directory (5.7+), else BPF_PROG_ATTACH with BPF_F_ALLOW_MULTI
// (detached by PROG_DETACH).
import fs from 'node:fs';
import { linkCreate, progAttach, progDetach } from '../syscall/bpf.js';
import { BpfError, EINVAL, EOPNOTSUPP } from '../syscall/errno.js';
import { AttachError, type AttachableProgram, defineHook } from './kinds.js';
import { BaseLink, type Link } from './link.js';

export interface CgroupOptions {
  /** The cgroup v2 directory (default: the cgroup2 mount point). */
  cgroup?: string;
}

/** Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems). */
export function cgroup2Root(): string {
  try {
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f[2] === 'cgroup2') return f[1]!;
    }
  } catch {
    /* fall through */
  }
  return '/sys/fs/cgroup';
}

export const cgroupHook = defineHook('cgroup', 'always', (p, _target, o: CgroupOptions) => attachCgroup(p, o.cgroup ?? cgroup2Root()));

/**
 * SEC("cgroup/skb"): no attach type in the section, so no automatic attach (libbpf: SEC_NONE, no
 * attach function). Given a cgroup it attaches with the program's expected attach type, which is
 * 0 = BPF_CGROUP_INET_INGRESS unless set with programSpec(name).setType() before load, as libbpf's
 * bpf_program__attach_cgroup does.
 */
export const cgroupExplicitHook = defineHook('cgroup', 'never', (p, _target, o: CgroupOptions) => {
  if (o.cgroup === undefined)
    throw new AttachError(p.name, `section '${p.section}' names no attach type, so it does not attach by itself (libbpf alike): pass { cgroup: '/sys/fs/cgroup/...' } to attach at ingress, or set the type before load with programSpec('${p.name}').setType(ProgType.CGROUP_SKB, AttachType.CGROUP_INET_EGRESS)`);
  return attachCgroup(p, o.cgroup);
});

function attachCgroup(p: AttachableProgram, dir: string): Link {
  let cg: number;
  try {
    cg = fs.openSync(dir, 'r');
  } catch (e) {
    throw new AttachError(p.name, `cannot open cgroup ${dir}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const attachType = p.expectedAttachType ?? 0;
  try {
    const fd = linkCreate({ progFd: p.fd.value, targetFd: cg, attachType }, `cgroup ${dir}`);
    return new BaseLink('cgroup', p.name, dir, fd);
  } catch (e) {
    if (!(e instanceof BpfError) || (e.errno !== EINVAL && e.errno !== EOPNOTSUPP)) throw e;
    // No cgroup links (before 5.7): the attachment lives on the cgroup until detached.
    progAttach(cg, p.fd.value, attachType, 2 /* BPF_F_ALLOW_MULTI */, `cgroup ${dir}`);
    const progFd = p.fd.value;
    const cgFd = fs.openSync(dir, 'r');
    return new BaseLink('cgroup', p.name, dir, undefined, {
      detach: () => {
        progDetach(cgFd, progFd, attachType);
        fs.closeSync(cgFd);
      },
    });
  } finally {
    fs.closeSync(cg);
  }
}
