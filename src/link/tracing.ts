// BTF-typed tracing programs (tp_btf, fentry, fexit, fmod_ret, fsession, freplace) and LSM
// programs: the attach point was fixed at load (attach BTF id), so attaching is a tracing BPF
// link, or BPF_RAW_TRACEPOINT_OPEN with no name on kernels without one.
import { linkCreate, rawTracepointOpen } from '../syscall/bpf.js';
import { BpfError, EINVAL, EOPNOTSUPP } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { type AttachableProgram, defineHook } from './kinds.js';
import { BaseLink, type Link } from './link.js';

function attachTracing(p: AttachableProgram, kind: string): Link {
  const attachType = p.expectedAttachType ?? 0;
  let fd: Fd;
  try {
    fd = linkCreate({ progFd: p.fd.value, targetFd: 0, attachType }, `${kind} ${p.section}`);
  } catch (e) {
    if (!(e instanceof BpfError) || (e.errno !== EINVAL && e.errno !== EOPNOTSUPP)) throw e;
    fd = rawTracepointOpen(null, p.fd.value, `${kind} ${p.section}`);
  }
  return new BaseLink(kind, p.name, p.spec.attachTarget, fd);
}

/** The link's kind is the section's prefix (`fentry`, `tp_btf`, ...). */
export const tracingHook = defineHook('tracing', 'always', (p) => attachTracing(p, p.section.split('/')[0]!));
export const lsmHook = defineHook('lsm', 'always', (p) => attachTracing(p, 'lsm'));
