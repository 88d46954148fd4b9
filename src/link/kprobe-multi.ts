// kprobe.multi / kretprobe.multi (5.18+, fprobe) and kprobe.session (6.10+): one BPF link probing
// many kernel functions, named exactly or by a glob (`tcp_*`), with a BPF cookie per function.
// Globs are expanded against tracefs available_filter_functions (what fprobe can attach to), or
// /proc/kallsyms where that file cannot be read.
import fs from 'node:fs';
import { BeeTsError, NotSupportedError } from '../errors.js';
import { sys } from '../syscall/backend.js';
import { cstr, linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EINVAL, ENOENT, EOPNOTSUPP, ENOTSUPP, EPERM, ESRCH } from '../syscall/errno.js';
import { type AttachableProgram, defineHook } from './kinds.js';
import { BaseLink, type Link } from './link.js';

export type KprobeMultiMode = 'entry' | 'return' | 'session';
const BPF_F_KPROBE_MULTI_RETURN = 1;
/** Bound on the functions one glob may expand to (the kernel's own cap is MAX_KPROBE_MULTI_CNT, 1M). */
const MAX_FUNCS = 1 << 20;

function globRegExp(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`);
}

/** Function names matching a glob: available_filter_functions first, kallsyms text symbols otherwise. */
export function kernelFunctions(glob: string, read: (p: string) => string = (p) => fs.readFileSync(p, 'utf8')): string[] {
  const re = globRegExp(glob);
  const out = new Set<string>();
  let text: string | undefined;
  for (const f of ['/sys/kernel/tracing/available_filter_functions', '/sys/kernel/debug/tracing/available_filter_functions']) {
    try {
      text = read(f);
      break;
    } catch {
      /* next */
    }
  }
  if (text !== undefined) {
    for (const line of text.split('\n')) {
      const name = line.split(/\s/)[0];
      if (name && re.test(name) && !name.includes('.')) out.add(name);
    }
  } else {
    for (const line of read('/proc/kallsyms').split('\n')) {
      const [, type, name, mod] = line.split(/\s+/);
      if (!name || (type !== 't' && type !== 'T') || mod || name.includes('.') || !re.test(name)) continue;
      out.add(name);
    }
  }
  if (out.size > MAX_FUNCS) throw new BeeTsError('ATTACH', `kprobe.multi pattern '${glob}' matches ${out.size} functions (more than ${MAX_FUNCS})`);
  return [...out].sort();
}

export function attachKprobeMulti(p: AttachableProgram, pattern: string, mode: KprobeMultiMode, o: { cookies?: Record<string, bigint> } = {}): Link {
  const kind = mode === 'session' ? 'kprobe.session' : mode === 'return' ? 'kretprobe.multi' : 'kprobe.multi';
  if (!pattern) throw new BeeTsError('ATTACH', `program '${p.name}': ${kind} needs functions: SEC("${kind}/<function or glob>") or { target }`);
  const names = /[*?]/.test(pattern) ? kernelFunctions(pattern) : [pattern];
  if (!names.length) throw new BeeTsError('ATTACH', `program '${p.name}': no kernel function matches '${pattern}'`);
  const strings = names.map((n) => cstr(n));
  const syms = new BigUint64Array(strings.map((s) => sys().addressOf(s)));
  let cookies: BigUint64Array | undefined;
  if (o.cookies) {
    const unknown = Object.keys(o.cookies).filter((n) => !names.includes(n));
    if (unknown.length) throw new BeeTsError('ATTACH', `program '${p.name}': cookies for functions '${pattern}' does not match: ${unknown.join(', ')}`);
    cookies = new BigUint64Array(names.map((n) => o.cookies![n] ?? 0n));
  }
  const what = `${kind} ${pattern} (${names.length} function${names.length === 1 ? '' : 's'})`;
  try {
    const fd = linkCreate(
      {
        progFd: p.fd.value,
        targetFd: 0,
        attachType: mode === 'session' ? AttachType.TRACE_KPROBE_SESSION : AttachType.TRACE_KPROBE_MULTI,
        extra: (a) => {
          a.u32(16, mode === 'return' ? BPF_F_KPROBE_MULTI_RETURN : 0).u32(20, names.length).ptr(24, new Uint8Array(syms.buffer));
          if (cookies) a.ptr(40, new Uint8Array(cookies.buffer));
        },
      },
      `program '${p.name}': ${what}`,
    );
    // The strings must stay alive until the call returned: they are referenced here.
    strings.length = 0;
    return new BaseLink(kind, p.name, `${pattern} (${names.length <= 8 ? names.join(', ') : `${names.length} functions`})`, fd);
  } catch (e) {
    if (!(e instanceof BpfError)) throw e;
    const release = sys().uname().release;
    if (e.errno === EOPNOTSUPP || e.errno === ENOTSUPP) throw new NotSupportedError(`${kind} links (CONFIG_FPROBE)`, mode === 'session' ? '6.10' : '5.18', release, `program '${p.name}': this kernel has no fprobe`, { cause: e });
    if (e.errno === EINVAL && mode === 'session') throw new NotSupportedError('kprobe.session links', '6.10', release, `program '${p.name}': ${what}: EINVAL`, { cause: e });
    if (e.errno === EINVAL) throw new NotSupportedError(`${kind} links`, '5.18', release, `program '${p.name}': ${what}: EINVAL`, { cause: e });
    if (e.errno === ESRCH || e.errno === ENOENT) throw new BeeTsError('ATTACH', `program '${p.name}': ${what}: ${e.code}: a function does not exist or cannot be probed (inlined, or not in available_filter_functions)`, { cause: e });
    if (e.errno === EPERM) throw new BeeTsError('ATTACH', `program '${p.name}': ${what}: EPERM: this kernel refuses kernel function probes (lockdown, or no kprobe/fprobe support)`, { cause: e });
    throw e;
  }
}

export interface KprobeMultiOptions {
  /** kprobe.multi: attach as return probes. */
  retprobe?: boolean;
  /** A cookie per matched function name. */
  cookies?: Record<string, bigint>;
}

export const kprobeMultiHook = defineHook('kprobe.multi', 'target', (p, target, o: KprobeMultiOptions) => attachKprobeMulti(p, target, o.retprobe ? 'return' : 'entry', o));
export const kretprobeMultiHook = defineHook('kretprobe.multi', 'target', (p, target, o: KprobeMultiOptions) => attachKprobeMulti(p, target, 'return', o));
export const kprobeSessionHook = defineHook('kprobe.session', 'target', (p, target, o: KprobeMultiOptions) => attachKprobeMulti(p, target, 'session', o));
