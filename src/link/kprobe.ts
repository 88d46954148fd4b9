// kprobe / kretprobe (SEC("kprobe/<function>[+offset]")) and ksyscall / kretsyscall (a kprobe on
// the architecture's syscall wrapper): a perf event of the kprobe PMU, or a tracefs kprobe_events
// entry where there is no PMU (or options.legacy), with the program attached to it.
import fs from 'node:fs';
import { cstr } from '../syscall/bpf.js';
import { BpfError, EINVAL, ENOENT } from '../syscall/errno.js';
import { PERF_TYPE_TRACEPOINT, pmu } from '../syscall/perf.js';
import { AttachError, type AttachableProgram, defineHook } from './kinds.js';
import type { Link } from './link.js';
import { type PerfCookieOption, perfLink } from './perf.js';
import { splitTarget } from './symbols.js';
import { addProbeEvent } from './tracefs.js';

export interface KprobeOptions extends PerfCookieOption {
  /** kprobe: attach as a return probe. */
  retprobe?: boolean;
  /** Offset added to the symbol. */
  offset?: number;
  /** Use tracefs kprobe_events even when a PMU exists. */
  legacy?: boolean;
}

function attachKprobe(p: AttachableProgram, func: string, retprobe: boolean, o: KprobeOptions): Link {
  const { name, offset } = splitTarget(func);
  if (!name) throw new AttachError(p.name, `${retprobe ? 'kretprobe' : 'kprobe'} needs a function: SEC("${retprobe ? 'kretprobe' : 'kprobe'}/<function>") or { target }`);
  const off = offset + (o.offset ?? 0);
  if (retprobe && off) throw new AttachError(p.name, 'a kretprobe cannot have an offset');
  const pm = o.legacy ? undefined : pmu('kprobe');
  const what = `${retprobe ? 'kretprobe' : 'kprobe'} ${name}${off ? `+${off}` : ''}`;
  try {
    const kind = retprobe ? 'kretprobe' : 'kprobe';
    if (pm) {
      const attr = { type: pm.type, config: retprobe ? 1n << BigInt(pm.retprobeBit) : 0n, config1: cstr(name), config2: BigInt(off) };
      return perfLink(p, kind, name, attr, -1, 0, what, o.cookie);
    }
    const ev = addProbeEvent('kprobe', retprobe, `${name}${off ? `+${off}` : ''}`);
    return perfLink(p, kind, name, { type: PERF_TYPE_TRACEPOINT, config: BigInt(ev.id) }, -1, 0, what, o.cookie, ev);
  } catch (e) {
    if (e instanceof BpfError && (e.errno === ENOENT || e.errno === EINVAL))
      throw new AttachError(p.name, `cannot attach ${what}: ${e.code}: the function does not exist or cannot be probed (inlined, renamed like .isra/.constprop, or not in available_filter_functions)`);
    if (e instanceof Error && /kprobe_events/.test(e.message) && !fs.existsSync('/sys/bus/event_source/devices/kprobe'))
      throw new AttachError(p.name, `cannot attach ${what}: this kernel has no kprobes (CONFIG_KPROBES/CONFIG_KPROBE_EVENTS); use a tracepoint instead`);
    throw e;
  }
}

/** Syscall wrapper name for ksyscall: `__x64_sys_openat` on x86_64. */
function syscallWrapper(name: string): string {
  const prefix = process.arch === 'x64' ? '__x64_sys_' : process.arch === 'arm64' ? '__arm64_sys_' : 'sys_';
  return `${prefix}${name}`;
}

export const kprobeHook = defineHook('kprobe', 'target', (p, target, o: KprobeOptions) => attachKprobe(p, target, o.retprobe ?? false, o));
export const kretprobeHook = defineHook('kretprobe', 'target', (p, target, o: KprobeOptions) => attachKprobe(p, target, true, o));
export const ksyscallHook = defineHook('ksyscall', 'target', (p, target, o: KprobeOptions) => attachKprobe(p, syscallWrapper(target), false, o));
export const kretsyscallHook = defineHook('kretsyscall', 'target', (p, target, o: KprobeOptions) => attachKprobe(p, syscallWrapper(target), true, o));
