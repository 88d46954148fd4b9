// Socket-side attach points:
//  - sk_msg / sk_skb (stream_parser, stream_verdict, verdict) on a SOCKMAP or SOCKHASH: a sockmap
//    BPF link (6.10+), else BPF_PROG_ATTACH to the map fd (detached with PROG_DETACH naming the
//    program);
//  - sk_lookup and flow_dissector on a network namespace: a netns BPF link (sk_lookup 5.9+,
//    flow_dissector 5.8+), flow_dissector falling back to PROG_ATTACH on the caller's own netns;
//  - socket filters and SO_REUSEPORT selectors on one socket: setsockopt(SO_ATTACH_BPF /
//    SO_ATTACH_REUSEPORT_EBPF), undone with SO_DETACH_BPF / SO_DETACH_REUSEPORT_BPF.
import fs from 'node:fs';
import { BeeTsError, NotSupportedError } from '../errors.js';
import { sys } from '../syscall/backend.js';
import { linkCreate, progAttach, progDetach } from '../syscall/bpf.js';
import { AttachType, ProgType } from '../syscall/constants.js';
import { BpfError, EBADF, EINVAL, ENOENT, ENOTSUPP, EOPNOTSUPP } from '../syscall/errno.js';
import { Fd } from '../syscall/fd.js';
import { AttachError, type AttachableProgram, defineHook } from './kinds.js';
import { BaseLink, type Link } from './link.js';

export type SockMapTarget = { readonly fd: Fd } | number;
export type AttachMode = 'auto' | 'link' | 'attach';

const SOL_SOCKET = 1;
const SO_ATTACH_BPF = 50;
const SO_DETACH_BPF = 27;
const SO_ATTACH_REUSEPORT_EBPF = 52;
const SO_DETACH_REUSEPORT_BPF = 68;

const SOCKMAP_ATTACH = new Set<number>([AttachType.SK_MSG_VERDICT, AttachType.SK_SKB_STREAM_PARSER, AttachType.SK_SKB_STREAM_VERDICT, AttachType.SK_SKB_VERDICT]);

/** Our own reference to an fd (so the detach works after the caller closed theirs). */
function dup(fd: number, what: string): Fd {
  const n = sys().dupCloexec(fd, 3);
  if (n < 0) throw new BpfError('fcntl(F_DUPFD_CLOEXEC)', -n, what);
  return new Fd(n, what);
}

/** A kernel without this BPF link type answers LINK_CREATE with EINVAL (or EOPNOTSUPP). */
const noLink = (e: unknown) => e instanceof BpfError && (e.errno === EINVAL || e.errno === EOPNOTSUPP || e.errno === ENOTSUPP);

/**
 * Attach through a BPF link where the kernel has one for this target, else with PROG_ATTACH
 * (detached by PROG_DETACH naming the program, through fds of our own).
 */
function linkOrAttach(p: AttachableProgram, kind: string, target: string, targetFd: number, attachType: number, mode: AttachMode, what: string, attachTargetFd = targetFd): Link {
  if (mode !== 'attach') {
    try {
      return new BaseLink(kind, p.name, target, linkCreate({ progFd: p.fd.value, targetFd, attachType }, `program '${p.name}': ${what}`));
    } catch (e) {
      if (mode === 'link' || !noLink(e)) throw e;
    }
  }
  const prog = dup(p.fd.value, `program ${p.name}`);
  const tgt = attachTargetFd ? dup(attachTargetFd, what) : undefined;
  try {
    progAttach(tgt?.value ?? 0, prog.value, attachType, 0, `program '${p.name}': ${what}`);
  } catch (e) {
    prog.close();
    tgt?.close();
    throw e;
  }
  return new BaseLink(kind, p.name, `${target} (prog attach)`, undefined, {
    owned: tgt ? [prog, tgt] : [prog],
    detach: () => {
      const r = progDetach(tgt?.value ?? 0, prog.value, attachType);
      if (r < 0 && -r !== ENOENT) throw new BpfError('BPF_PROG_DETACH', -r, `program '${p.name}': ${what}`);
    },
  });
}

/** sk_msg / sk_skb programs on a SOCKMAP or SOCKHASH. */
export function attachSockMap(p: AttachableProgram, map: SockMapTarget | undefined, mode: AttachMode = 'auto'): Link {
  const attachType = p.expectedAttachType;
  if (attachType === undefined || !SOCKMAP_ATTACH.has(attachType))
    throw new BeeTsError(
      'ATTACH',
      `program '${p.name}': section '${p.section}' names no sockmap hook; use sk_msg, sk_skb/stream_parser, sk_skb/stream_verdict or sk_skb/verdict, or set the hook before load with programSpec('${p.name}').setType(ProgType.SK_SKB, AttachType.SK_SKB_STREAM_VERDICT) (libbpf: bpf_program__set_expected_attach_type)`,
    );
  if (map === undefined) throw new BeeTsError('ATTACH', `program '${p.name}' (${p.section}) attaches to a SOCKMAP or SOCKHASH: pass { map: obj.map('<name>') }`);
  const mapFd = typeof map === 'number' ? map : map.fd.value;
  const hook = p.section;
  try {
    return linkOrAttach(p, 'sockmap', hook, mapFd, attachType, mode, `${hook} on sockmap fd ${mapFd}`);
  } catch (e) {
    if (mode === 'link' && noLink(e)) throw new NotSupportedError('sockmap BPF links', '6.10', sys().uname().release, `program '${p.name}'; use PROG_ATTACH (mode 'attach')`, { cause: e });
    throw e;
  }
}

/** sk_lookup / flow_dissector programs on a network namespace (default: this process's). */
export function attachNetns(p: AttachableProgram, netns: string | number | undefined, mode: AttachMode = 'auto'): Link {
  const attachType = p.type === ProgType.SK_LOOKUP ? AttachType.SK_LOOKUP : AttachType.FLOW_DISSECTOR;
  const path = typeof netns === 'string' ? netns : netns === undefined ? '/proc/self/ns/net' : `fd ${netns}`;
  let fd: number;
  let opened = false;
  if (typeof netns === 'number') fd = netns;
  else {
    try {
      fd = fs.openSync(path, 'r');
      opened = true;
    } catch (e) {
      throw new BeeTsError('ATTACH', `program '${p.name}': cannot open network namespace ${path}: ${(e as NodeJS.ErrnoException).code}`);
    }
  }
  const kind = attachType === AttachType.SK_LOOKUP ? 'sk_lookup' : 'flow_dissector';
  try {
    if (attachType === AttachType.SK_LOOKUP) {
      try {
        return linkOrAttach(p, kind, path, fd, attachType, mode === 'attach' ? 'link' : mode, `sk_lookup on netns ${path}`);
      } catch (e) {
        if (noLink(e)) throw new NotSupportedError('sk_lookup (netns BPF links)', '5.9', sys().uname().release, `program '${p.name}'`, { cause: e });
        throw e;
      }
    }
    // flow_dissector by PROG_ATTACH always means the calling thread's netns (target_fd 0).
    if (mode === 'attach' && path !== '/proc/self/ns/net') throw new BeeTsError('ATTACH', `program '${p.name}': flow_dissector without a link attaches to this process's own network namespace only`);
    return linkOrAttach(p, kind, path, fd, attachType, mode, `flow_dissector on netns ${path}`, 0);
  } finally {
    if (opened) fs.closeSync(fd);
  }
}

/** A socket filter (SO_ATTACH_BPF) or SO_REUSEPORT selector (SO_ATTACH_REUSEPORT_EBPF) on one socket. */
export function attachToSocket(p: AttachableProgram, socketFd: number): Link {
  const reuseport = p.type === ProgType.SK_REUSEPORT;
  if (!reuseport && p.type !== ProgType.SOCKET_FILTER) throw new BeeTsError('ATTACH', `program '${p.name}' (${p.section}) is not a socket filter (SEC("socket")) or SO_REUSEPORT program (SEC("sk_reuseport"))`);
  const [attach, detach, name] = reuseport ? [SO_ATTACH_REUSEPORT_EBPF, SO_DETACH_REUSEPORT_BPF, 'SO_ATTACH_REUSEPORT_EBPF'] : [SO_ATTACH_BPF, SO_DETACH_BPF, 'SO_ATTACH_BPF'];
  const r = sys().setsockoptInt(socketFd, SOL_SOCKET, attach, p.fd.value);
  if (r < 0) throw new BpfError(`setsockopt(${name})`, -r, `program '${p.name}' on socket fd ${socketFd}`);
  return new BaseLink(reuseport ? 'sk_reuseport' : 'socket_filter', p.name, `socket fd ${socketFd}`, undefined, {
    detach: () => {
      const d = sys().setsockoptInt(socketFd, SOL_SOCKET, detach, 0);
      // The socket may be closed (or the filter replaced) by now: nothing left to detach.
      if (d < 0 && -d !== EBADF && -d !== ENOENT) throw new BpfError(`setsockopt(${reuseport ? 'SO_DETACH_REUSEPORT_BPF' : 'SO_DETACH_BPF'})`, -d, `program '${p.name}' on socket fd ${socketFd}`);
    },
  });
}

export interface SockMapOptions {
  /** sk_msg / sk_skb: the SOCKMAP or SOCKHASH (a BpfMap or its fd; default: the object's only one). */
  map?: SockMapTarget;
  /** A BPF link, PROG_ATTACH, or auto (the link where the kernel has it). */
  attachMode?: AttachMode;
}

export interface NetnsOptions {
  /** sk_lookup / flow_dissector: the network namespace (a path like /run/netns/x, or an fd; default this process's). */
  netns?: string | number;
  /** A BPF link, PROG_ATTACH, or auto (the link where the kernel has it). */
  attachMode?: AttachMode;
}

export interface SocketOptions {
  /** socket / sk_reuseport: the socket fd to attach to (setsockopt SO_ATTACH_BPF / SO_ATTACH_REUSEPORT_EBPF). */
  socket?: number;
}

/** The object's one SOCKMAP/SOCKHASH, if it has exactly one (sk_msg / sk_skb attach there by default). */
function soleSockMap(p: AttachableProgram): { fd: Fd } | undefined {
  const maps = p.object.sockMaps?.() ?? [];
  if (maps.length > 1) throw new AttachError(p.name, `the object has ${maps.length} sockmaps (${maps.map((m) => m.name).join(', ')}): pass { map: obj.map('<name>') }`);
  return maps[0];
}

/** Automatic when the object has exactly one sockmap. */
export const sockMapHook = defineHook('sockmap', (p) => p.object.sockMaps?.().length === 1, (p, _target, o: SockMapOptions) => attachSockMap(p, o.map ?? soleSockMap(p), o.attachMode));
/** SEC("sk_skb"): no hook in the section, so never automatic (libbpf: SEC_NONE); attaches with the type set by setType(). */
export const sockMapExplicitHook = defineHook('sockmap', 'never', (p, _target, o: SockMapOptions) => attachSockMap(p, o.map ?? soleSockMap(p), o.attachMode));
export const netnsHook = defineHook('netns', 'never', (p, _target, o: NetnsOptions) => attachNetns(p, o.netns, o.attachMode));
export const socketHook = defineHook('socket', 'never', (p, _target, o: SocketOptions) => {
  if (o.socket === undefined) throw new AttachError(p.name, `a ${p.section} program attaches to a socket: pass { socket: fd } or use attachToSocket(fd)`);
  return attachToSocket(p, o.socket);
});
