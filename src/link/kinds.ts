// The attach contract. What src/link needs from a loaded program is a narrow interface of its
// own (the loader's Program satisfies it, and src/link imports nothing from src/loader), and an
// attach hook is a value: its kind name, its auto-attach rule and its attach function, with its
// own options type (libbpf's SEC_DEF(..., attach_fn)). Each hook lives in one file of this folder;
// the SEC() table (src/loader/sections.ts) names the hook of every section prefix.
import fs from 'node:fs';
import { BeeTsError } from '../errors.js';
import type { Fd } from '../syscall/fd.js';
import type { Link } from './link.js';

export class AttachError extends BeeTsError {
  constructor(
    readonly program: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('ATTACH', `program '${program}': ${message}`, options);
  }
}

/** A map the attach code writes into (USDT argument specs go into `__bpf_usdt_specs`). @internal */
export interface AttachMap {
  readonly maxEntries: number;
  updateRaw(key: Uint8Array, value: Uint8Array, flags?: number): void;
}

/** A loaded program, as attaching sees it (the loader's `Program` is one). @internal */
export interface AttachableProgram {
  readonly name: string;
  readonly section: string;
  readonly fd: Fd;
  /** The program type it was loaded as, and its expected attach type. */
  readonly type: number;
  readonly expectedAttachType: number | undefined;
  /** How its section attaches (the SEC() table's hook for the section; each hook has its own options type). */
  readonly hook: AttachHook<any>;
  readonly spec: {
    /** Section suffix after the type prefix: `syscalls/sys_enter_openat`, `tcp_v4_connect`, ... */
    readonly attachTarget: string;
    readonly progType: number;
  };
  /** The object the program came from: its maps by name (throws when there is none). */
  readonly object: {
    map(name: string): AttachMap;
    /** The object's SOCKMAP / SOCKHASH maps (sk_msg and sk_skb attach to the only one when none is named). */
    sockMaps?(): { name: string; fd: Fd }[];
  };
}

/** Options every hook takes: where to attach instead of the section's target. */
export interface TargetOption {
  /** Override the target named by the section (function, `category/name`, `path:function`, interface...). */
  target?: string;
}

/**
 * When a program attaches from its section alone (attachAll, `bee-ts run`, loadall):
 * `target` when the section names a target (`kprobe/do_sys_open`, not bare `kprobe`), `always`,
 * `never` (the attach point must come from options), or a rule of the hook's own.
 * @internal
 */
export type AutoAttachRule = 'target' | 'always' | 'never' | ((p: AttachableProgram) => boolean);

/** One attach kind: its name, its auto-attach rule and its attach function. @internal */
export interface AttachHook<O extends object = object, K extends string = string> {
  /** The kind name programs of this hook report (`ProgramSpec.attach`, `describe`). */
  readonly kind: K;
  /** Whether the program can attach with no options (see AutoAttachRule). */
  auto(p: AttachableProgram): boolean;
  /** Attach `p` at `target` (the section's suffix, or options.target). */
  attach(p: AttachableProgram, target: string, opts: O): Link;
}

/** Define a hook: `export const fooHook = defineHook('foo', 'target', (p, target, o: FooOptions) => ...)`. */
export function defineHook<K extends string, O extends object = object>(kind: K, auto: AutoAttachRule, attach: (p: AttachableProgram, target: string, opts: O) => Link): AttachHook<O, K> {
  const rule =
    typeof auto === 'function' ? auto : auto === 'target' ? (p: AttachableProgram) => p.spec.attachTarget !== '' : auto === 'always' ? () => true : () => false;
  return { kind, auto: rule, attach };
}

/** An interface name or index as an ifindex (XDP, TC, netkit). */
export function ifindexOf(iface: string | number | undefined, prog: string): number {
  if (iface === undefined) throw new AttachError(prog, 'needs an interface: pass { iface: "eth0" }');
  if (typeof iface === 'number') return iface;
  if (/^\d+$/.test(iface)) return Number(iface);
  try {
    return Number(fs.readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8').trim());
  } catch {
    throw new AttachError(prog, `network interface '${iface}' does not exist`);
  }
}
