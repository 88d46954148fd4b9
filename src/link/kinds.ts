// What src/link needs from a loaded program, as a narrow interface of its own: the loader's
// Program satisfies it, and src/link imports nothing from src/loader.
import type { Fd } from '../syscall/fd.js';

/** How a section auto-attaches: the SEC() table (src/loader/sections.ts) names one per prefix. */
export type AttachKind =
  | 'kprobe'
  | 'kretprobe'
  | 'kprobe.multi'
  | 'kretprobe.multi'
  | 'kprobe.session'
  | 'ksyscall'
  | 'kretsyscall'
  | 'uprobe'
  | 'uretprobe'
  | 'uprobe.multi'
  | 'uretprobe.multi'
  | 'usdt'
  | 'tracepoint'
  | 'raw_tracepoint'
  | 'tracing'
  | 'lsm'
  | 'iter'
  | 'xdp'
  | 'tcx'
  | 'netkit'
  | 'cgroup'
  | 'perf_event'
  | 'struct_ops'
  | 'sockmap'
  | 'netns'
  | 'socket'
  | 'uprobe.session'
  | 'netfilter'
  | 'none';

/** A map the attach code writes into (USDT argument specs go into `__bpf_usdt_specs`). */
export interface AttachMap {
  readonly maxEntries: number;
  updateRaw(key: Uint8Array, value: Uint8Array, flags?: number): void;
}

/** A loaded program, as attaching sees it. */
export interface AttachableProgram {
  readonly name: string;
  readonly section: string;
  readonly fd: Fd;
  /** The program type it was loaded as, and its expected attach type. */
  readonly type: number;
  readonly expectedAttachType: number | undefined;
  readonly spec: {
    readonly attach: AttachKind;
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
