// uprobe / uretprobe (SEC("uprobe/<binary>:<function>[+offset]")): a perf event of the uprobe
// PMU at the function's file offset, or a tracefs uprobe_events entry where there is no PMU (or
// options.legacy), for one process or all of them.
import { cstr } from '../syscall/bpf.js';
import { PERF_TYPE_TRACEPOINT, pmu } from '../syscall/perf.js';
import { AttachError, type AttachableProgram, defineHook } from './kinds.js';
import type { Link } from './link.js';
import { type PerfCookieOption, perfLink } from './perf.js';
import { resolveBinary, splitTarget, symbolOffset } from './symbols.js';
import { addProbeEvent } from './tracefs.js';

export interface UprobeOptions extends PerfCookieOption {
  /** uprobe: attach as a return probe. */
  retprobe?: boolean;
  /** Only this process (default: all). */
  pid?: number;
  /** Offset added to the symbol. */
  offset?: number;
  /** Use tracefs uprobe_events even when a PMU exists. */
  legacy?: boolean;
}

/** A uprobe perf event watches one process (pid, any CPU) or every process (pid -1, one CPU's event serves all). */
export function uprobeScope(o: { pid?: number }): { pid: number; cpu: number } {
  const pid = o.pid ?? -1;
  return { pid, cpu: pid === -1 ? 0 : -1 };
}

function attachUprobe(p: AttachableProgram, spec: string, retprobe: boolean, o: UprobeOptions): Link {
  // SEC("uprobe//usr/lib/libc.so.6:malloc") or { target: "libc.so.6:malloc" }
  const i = spec.lastIndexOf(':');
  if (i <= 0) throw new AttachError(p.name, `uprobe target '${spec}' must be <binary>:<function>[+offset]`);
  const binary = resolveBinary(spec.slice(0, i));
  const { name, offset } = splitTarget(spec.slice(i + 1));
  let off: number;
  if (/^(0x[0-9a-f]+|\d+)$/i.test(name)) off = Number(name);
  else {
    try {
      off = symbolOffset(binary, name);
    } catch (e) {
      throw new AttachError(p.name, (e as Error).message, { cause: e });
    }
  }
  off += offset + (o.offset ?? 0);
  const { pid, cpu } = uprobeScope(o);
  const what = `${retprobe ? 'uretprobe' : 'uprobe'} ${binary}:${name} (offset 0x${off.toString(16)})`;
  const pm = o.legacy ? undefined : pmu('uprobe');
  const kind = retprobe ? 'uretprobe' : 'uprobe';
  if (pm) {
    const attr = { type: pm.type, config: retprobe ? 1n << BigInt(pm.retprobeBit) : 0n, config1: cstr(binary), config2: BigInt(off) };
    return perfLink(p, kind, `${binary}:${name}`, attr, pid, cpu, what, o.cookie);
  }
  const ev = addProbeEvent('uprobe', retprobe, `${binary}:0x${off.toString(16)}`);
  return perfLink(p, kind, `${binary}:${name}`, { type: PERF_TYPE_TRACEPOINT, config: BigInt(ev.id) }, pid, cpu, what, o.cookie, ev);
}

export const uprobeHook = defineHook('uprobe', 'target', (p, target, o: UprobeOptions) => attachUprobe(p, target, o.retprobe ?? false, o));
export const uretprobeHook = defineHook('uretprobe', 'target', (p, target, o: UprobeOptions) => attachUprobe(p, target, true, o));
