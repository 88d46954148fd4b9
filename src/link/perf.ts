// The two ways of attaching a BPF program to an opened perf event (tracepoints, kprobes, uprobes,
// sampling events): a BPF link (5.15+) or PERF_EVENT_IOC_SET_BPF. perf_event_open itself is in
// src/syscall/perf.ts.
import { linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EBADF, EINVAL } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { ioctl, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF } from '../syscall/perf.js';

let perfLinks: boolean | undefined;

/**
 * Attach a program to an opened perf event. Prefers a BPF link (pinnable, 5.15+); falls back
 * to PERF_EVENT_IOC_SET_BPF where the perf fd itself owns the attachment. Returns the link fd
 * or undefined (the perf fd then carries the attachment).
 */
export function attachPerfEvent(perf: Fd, progFd: number, what: string, cookie = 0n): Fd | undefined {
  let link: Fd | undefined;
  if (perfLinks !== false) {
    try {
      link = linkCreate({ progFd, targetFd: perf.value, attachType: AttachType.PERF_EVENT, extra: (a) => a.u64(16, cookie) }, what);
      perfLinks = true;
    } catch (e) {
      if (!(e instanceof BpfError) || (e.errno !== EINVAL && e.errno !== EBADF) || perfLinks === true) throw e;
      perfLinks = false;
    }
  }
  if (!link) ioctl(perf, PERF_EVENT_IOC_SET_BPF, progFd, what);
  ioctl(perf, PERF_EVENT_IOC_ENABLE, 0, what);
  return link;
}
