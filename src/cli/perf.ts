// `bee-ts perf list|show`: like bpftool perf, every BPF program attached to a perf event or raw
// tracepoint that some process holds an fd to, found by walking /proc/<pid>/fd in the order the
// kernel lists them and asking BPF_TASK_FD_QUERY about each fd.
import fs from 'node:fs';
import { taskFdQuery, type TaskFdQuery } from '../syscall/bpf.js';

const FD_TYPES = ['raw_tracepoint', 'tracepoint', 'kprobe', 'kretprobe', 'uprobe', 'uretprobe'];

export interface PerfEntry {
  pid: number;
  fd: number;
  q: TaskFdQuery;
}

function numericEntries(dir: string): number[] {
  let d: fs.Dir;
  try {
    d = fs.opendirSync(dir);
  } catch {
    return [];
  }
  const out: number[] = [];
  try {
    for (let e = d.readSync(); e; e = d.readSync()) if (/^\d+$/.test(e.name)) out.push(Number(e.name));
  } catch {
    // the process exited while we read it
  } finally {
    d.closeSync();
  }
  return out;
}

export function perfList(): PerfEntry[] {
  const out: PerfEntry[] = [];
  for (const pid of numericEntries('/proc'))
    for (const fd of numericEntries(`/proc/${pid}/fd`)) {
      const q = taskFdQuery(pid, fd);
      if (q) out.push({ pid, fd, q });
    }
  return out;
}

/** bpftool's JSON object for one entry (its keys, in its order). */
export function perfJson(e: PerfEntry): Record<string, unknown> {
  const o: Record<string, unknown> = { pid: e.pid, fd: e.fd, prog_id: e.q.progId };
  const type = FD_TYPES[e.q.fdType];
  if (type === undefined) return o;
  o.fd_type = type;
  if (e.q.fdType <= 1) o.tracepoint = e.q.name;
  else if (e.q.fdType <= 3) {
    if (e.q.name) Object.assign(o, { func: e.q.name, offset: e.q.probeOffset });
    else o.addr = e.q.probeAddr;
  } else Object.assign(o, { filename: e.q.name, offset: e.q.probeOffset });
  return o;
}

export function perfText(e: PerfEntry): string {
  const head = `pid ${e.pid}  fd ${e.fd}: prog_id ${e.q.progId}  `;
  const type = FD_TYPES[e.q.fdType];
  if (type === undefined) return head;
  if (e.q.fdType <= 1) return `${head}${type}  ${e.q.name}\n`;
  if (e.q.fdType <= 3) return `${head}${type}  ${e.q.name ? `func ${e.q.name}  offset ${e.q.probeOffset}` : `addr ${e.q.probeAddr}`}\n`;
  return `${head}${type}  filename ${e.q.name}  offset ${e.q.probeOffset}\n`;
}
