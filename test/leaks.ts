// What this process holds in the kernel, for leak checks: BPF and perf-event fds, BPF mmaps, BPF
// links bee-ts still tracks, tracefs probe events of this process, and pins whose name carries
// this process's pid. Only this process's own resources are counted (/proc/self, names with our
// pid), so other processes on the shared kernel cannot make a check fail.
import fs from 'node:fs';
import path from 'node:path';
import { liveLinkCount } from '../src/link/link.js';
import { tracefsRoot } from '../src/syscall/features.js';

export interface ResourceSnapshot {
  /** fd number → what it is (`anon_inode:bpf-map`, `anon_inode:[perf_event]`, ...). */
  fds: Map<string, string>;
  /** Lines of /proc/self/maps that map a BPF object (ring buffers, mmapable arrays). */
  mmaps: string[];
  links: number;
  probeEvents: string[];
  pins: string[];
}

const KERNEL_FD = /^anon_inode:(bpf|btf|\[perf_event\])/;

function kernelFds(): Map<string, string> {
  const out = new Map<string, string>();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (KERNEL_FD.test(target)) out.set(fd, target);
    } catch {
      /* closed while listing (the readdir fd itself) */
    }
  }
  return out;
}

function bpfMmaps(): string[] {
  return fs
    .readFileSync('/proc/self/maps', 'utf8')
    .split('\n')
    .filter((l) => /anon_inode:bpf/.test(l))
    .map((l) => l.split(/\s+/)[0]!);
}

function probeEvents(pid: number): string[] {
  const root = tracefsRoot();
  if (!root) return [];
  const out: string[] = [];
  for (const f of ['kprobe_events', 'uprobe_events']) {
    try {
      for (const l of fs.readFileSync(path.join(root, f), 'utf8').split('\n')) if (l.includes(`bee_ts_${pid}/`)) out.push(l);
    } catch {
      /* not root, or no such file: nothing of ours there */
    }
  }
  return out;
}

/** Pins under /sys/fs/bpf (4 levels deep) with this pid as a separate number in their path. */
function pins(pid: number, dir = '/sys/fs/bpf', depth = 0, out: string[] = []): string[] {
  if (depth > 4) return out;
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(dir, { withFileTypes: true });
  } catch {
    return out;
  }
  const mine = new RegExp(`(^|[^0-9])${pid}([^0-9]|$)`);
  for (const e of entries) {
    const p = path.join(dir, e.name);
    if (mine.test(e.name)) out.push(p);
    else if (e.isDirectory()) pins(pid, p, depth + 1, out);
  }
  return out;
}

export function snapshot(pid = process.pid): ResourceSnapshot {
  return { fds: kernelFds(), mmaps: bpfMmaps(), links: liveLinkCount(), probeEvents: probeEvents(pid), pins: pins(pid) };
}

/** What is held now and was not in `before`, one line per resource; empty when nothing leaked. */
export function leaksSince(before: ResourceSnapshot, now = snapshot()): string[] {
  const out: string[] = [];
  for (const [fd, what] of now.fds) if (before.fds.get(fd) !== what) out.push(`fd ${fd} (${what})`);
  const mm = new Set(before.mmaps);
  for (const m of now.mmaps) if (!mm.has(m)) out.push(`BPF mmap ${m}`);
  if (now.links > before.links) out.push(`${now.links - before.links} link(s) not closed`);
  for (const e of now.probeEvents) if (!before.probeEvents.includes(e)) out.push(`probe event ${e}`);
  for (const p of now.pins) if (!before.pins.includes(p)) out.push(`pin ${p}`);
  return out;
}
