// uprobe.multi / uretprobe.multi (6.6+) and uprobe.session (6.13+): one BPF link probing every
// function of a binary that matches a glob (`libc.so.6:getp*id`), optionally one cookie per
// function, optionally one process.
import { NotSupportedError } from '../errors.js';
import { sys } from '../syscall/backend.js';
import { cstr, linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EINVAL } from '../syscall/errno.js';
import { AttachError, type AttachableProgram, defineHook } from './kinds.js';
import { BaseLink, type Link } from './link.js';
import { resolveBinary, symbolOffsets } from './symbols.js';

export interface UprobeMultiOptions {
  /** Only this process (default: all). */
  pid?: number;
  /** Offset added to every matched function. */
  offset?: number;
  /** A cookie per matched function name. */
  cookies?: Record<string, bigint>;
}

function attachUprobeMulti(p: AttachableProgram, spec: string, retprobe: boolean, o: UprobeMultiOptions, session = false): Link {
  const base = session ? 'uprobe.session' : retprobe ? 'uretprobe.multi' : 'uprobe.multi';
  const i = spec.lastIndexOf(':');
  if (i <= 0) throw new AttachError(p.name, `${base} target '${spec}' must be <binary>:<function glob>`);
  let binary: string;
  let funcs: { name: string; offset: number }[];
  const pattern = spec.slice(i + 1);
  try {
    binary = resolveBinary(spec.slice(0, i));
    funcs = symbolOffsets(binary, pattern);
  } catch (e) {
    throw new AttachError(p.name, (e as Error).message, { cause: e });
  }
  if (funcs.length === 0) throw new AttachError(p.name, `no function in ${binary} matches '${pattern}'`);
  const offsets = new BigUint64Array(funcs.map((f) => BigInt(f.offset + (o.offset ?? 0))));
  let cookies: BigUint64Array | undefined;
  if (o.cookies) {
    cookies = new BigUint64Array(funcs.map((f) => BigInt(o.cookies![f.name] ?? 0n)));
    const unknown = Object.keys(o.cookies).filter((n) => !funcs.some((f) => f.name === n));
    if (unknown.length) throw new AttachError(p.name, `cookies for functions the pattern '${pattern}' does not match: ${unknown.join(', ')}`);
  }
  const path = cstr(binary);
  const what = `${base} ${binary}:${pattern} (${funcs.length} function${funcs.length === 1 ? '' : 's'})`;
  let fd;
  try {
    fd = linkCreate(
      {
        progFd: p.fd.value,
        targetFd: 0,
        // A session program runs at entry and (when it returns 0) at return: its own attach type (6.13+).
        attachType: session ? AttachType.TRACE_UPROBE_SESSION : AttachType.TRACE_UPROBE_MULTI,
        extra: (a) => {
          a.ptr(16, path).ptr(24, new Uint8Array(offsets.buffer));
          if (cookies) a.ptr(40, new Uint8Array(cookies.buffer));
          a.u32(48, funcs.length).u32(52, retprobe ? 1 /* BPF_F_UPROBE_MULTI_RETURN */ : 0).u32(56, o.pid ?? 0);
        },
      },
      what,
    );
  } catch (e) {
    if (e instanceof BpfError && e.errno === EINVAL && session) throw new NotSupportedError('uprobe.session links', '6.13', sys().uname().release, `program '${p.name}': ${what}: EINVAL; use a uprobe.multi and a uretprobe.multi program`, { cause: e });
    if (e instanceof BpfError && e.errno === EINVAL) throw new NotSupportedError('uprobe.multi links', '6.6', sys().uname().release, `program '${p.name}': ${what}: EINVAL; use uprobe/ sections, one per function`, { cause: e });
    throw e;
  }
  return new BaseLink(base, p.name, `${binary}:${pattern} (${funcs.map((f) => f.name).join(', ')})`, fd);
}

export const uprobeMultiHook = defineHook('uprobe.multi', 'target', (p, target, o: UprobeMultiOptions) => attachUprobeMulti(p, target, false, o));
export const uretprobeMultiHook = defineHook('uretprobe.multi', 'target', (p, target, o: UprobeMultiOptions) => attachUprobeMulti(p, target, true, o));
export const uprobeSessionHook = defineHook('uprobe.session', 'target', (p, target, o: UprobeMultiOptions) => attachUprobeMulti(p, target, false, o, true));
