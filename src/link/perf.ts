// The two ways of attaching a BPF program to an opened perf event (tracepoints, kprobes, uprobes,
// sampling events): a BPF link (5.15+) or PERF_EVENT_IOC_SET_BPF. perf_event_open itself is in
// src/syscall/perf.ts; perfLink opens one and wraps both in a Link (the kprobe, uprobe,
// tracepoint and USDT hooks use it).
import { linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EBADF, EINVAL } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { ioctl, PERF_EVENT_IOC_ENABLE, PERF_EVENT_IOC_SET_BPF, type PerfAttr, perfEventOpen } from '../syscall/perf.js';
import type { AttachableProgram } from './kinds.js';
import { BaseLink, type Link } from './link.js';
import { probeEventKey, removeProbeEvent } from './tracefs.js';

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

/** Options of the hooks built on perf events. */
export interface PerfCookieOption {
  /** BPF cookie for perf-event based links (5.15+). */
  cookie?: bigint;
}

/**
 * Open a perf event, attach the program to it and wrap both in a link. On failure nothing is
 * left behind: the perf fd is closed and the tracefs event (if the attachment used one) removed.
 */
export function perfLink(p: AttachableProgram, kind: string, target: string, attr: PerfAttr, pid: number, cpu: number, what: string, cookie: bigint | undefined, probe?: { file: string; group: string; event: string }): Link {
  const probeKeys = probe ? [probeEventKey(probe.file, probe.group, probe.event)] : [];
  let perf: Fd | undefined;
  try {
    perf = perfEventOpen(attr, pid, cpu, what);
    const link = attachPerfEvent(perf, p.fd.value, what, cookie);
    return new BaseLink(kind, p.name, target, link, { owned: [perf], probeEvents: probeKeys });
  } catch (e) {
    perf?.close();
    for (const k of probeKeys) removeProbeEvent(k);
    throw e;
  }
}
