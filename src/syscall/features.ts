// Feature probes: each answers by actually trying (load a tiny program, create a tiny map, load
// a tiny BTF) and is cached per process. EINVAL/E2BIG/ENOTSUPP/EOPNOTSUPP mean "no"; EPERM is an
// error (we cannot tell), never "unsupported" (cilium's rule).
import fs from 'node:fs';
import { sys } from './backend.js';
import { type Attr, btfLoadRaw, linkCreate, mapCreate, progLoadRaw } from './bpf.js';
import { AttachType, BPF_F_MMAPABLE, MapType, ProgType } from './constants.js';
import { BpfError, EACCES, EBADF, ENODEV, ENOENT, EPERM, ESRCH } from './errno.js';

export type ProbeResult = boolean;

const cache = new Map<string, boolean>();

function cached(key: string, f: () => boolean): boolean {
  const hit = cache.get(key);
  if (hit !== undefined) return hit;
  const v = f();
  cache.set(key, v);
  return v;
}

/** `r0 = 0; exit` */
const RET0 = Uint8Array.from([0xb7, 0, 0, 0, 0, 0, 0, 0, 0x95, 0, 0, 0, 0, 0, 0, 0]);

function callHelper(id: number): Uint8Array {
  const b = Buffer.alloc(24);
  b[0] = 0x85; // call
  b.writeInt32LE(id, 4);
  b[8] = 0xb7; // r0 = 0
  b[16] = 0x95; // exit
  return b;
}

function tryLoad(type: number, insns: Uint8Array, expectedAttachType = 0): number {
  const r = progLoadRaw({ type, insns, license: 'GPL', expectedAttachType });
  if (r.fd >= 0) sys().close(r.fd);
  return r.fd;
}

/** A load that worked is a yes; EPERM means we cannot tell (an error); anything else is a no. */
function answer(what: string, r: number): boolean {
  if (r >= 0) return true;
  if (-r === EPERM || -r === EACCES) throw new BpfError(what, -r, 'feature probe');
  return false;
}

/** Program types that need an attach target at load time cannot be probed with a bare program. */
const PROG_PROBE_ATTACH: Partial<Record<number, number>> = {
  [ProgType.CGROUP_SOCK_ADDR]: AttachType.CGROUP_INET4_CONNECT,
  [ProgType.SK_LOOKUP]: AttachType.SK_LOOKUP,
  [ProgType.NETFILTER]: AttachType.NETFILTER,
  [ProgType.CGROUP_SOCKOPT]: AttachType.CGROUP_GETSOCKOPT,
};

export function haveProgType(type: number): boolean {
  return cached(`prog:${type}`, () => answer('BPF_PROG_LOAD', tryLoad(type, RET0, PROG_PROBE_ATTACH[type] ?? 0)));
}

export function haveMapType(type: number): boolean {
  return cached(`map:${type}`, () => {
    const page = sys().pageSize();
    let a = { type, keySize: 4, valueSize: 4, maxEntries: 1, flags: 0, mapExtra: 0n } as Parameters<typeof mapCreate>[0];
    switch (type) {
      case MapType.RINGBUF:
      case MapType.USER_RINGBUF:
        a = { ...a, keySize: 0, valueSize: 0, maxEntries: page };
        break;
      case MapType.QUEUE:
      case MapType.STACK:
        a = { ...a, keySize: 0 };
        break;
      case MapType.BLOOM_FILTER:
        a = { ...a, keySize: 0, mapExtra: 1n };
        break;
      case MapType.LPM_TRIE:
        a = { ...a, keySize: 8, flags: 1 /* NO_PREALLOC */ };
        break;
      case MapType.SK_STORAGE:
      case MapType.INODE_STORAGE:
      case MapType.TASK_STORAGE:
      case MapType.CGRP_STORAGE:
        // Local storage needs BTF for its value; EINVAL without it still proves the type is known
        // only if the kernel complains about BTF, which we cannot tell apart: report by creation.
        a = { ...a, maxEntries: 0, flags: 1 };
        break;
      case MapType.ARRAY_OF_MAPS:
      case MapType.HASH_OF_MAPS: {
        let inner;
        try {
          inner = mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1 });
        } catch (e) {
          if (e instanceof BpfError && (e.errno === EPERM || e.errno === EACCES)) throw e;
          return false;
        }
        try {
          mapCreate({ ...a, innerMapFd: inner.value }).close();
          return true;
        } catch (e) {
          if (e instanceof BpfError && (e.errno === EPERM || e.errno === EACCES)) throw e;
          return false;
        } finally {
          inner.close();
        }
      }
      case MapType.STRUCT_OPS:
        return false; // needs a vmlinux struct_ops type: not probed with a bare map
      case MapType.ARENA:
        a = { ...a, keySize: 0, valueSize: 0, maxEntries: 1, flags: 1 << 10 /* MMAPABLE */ };
        break;
      case MapType.CGROUP_STORAGE:
      case MapType.PERCPU_CGROUP_STORAGE:
        a = { ...a, keySize: 16, maxEntries: 0 };
        break;
      default:
        break;
    }
    try {
      mapCreate(a).close();
      return true;
    } catch (e) {
      if (e instanceof BpfError && (e.errno === EPERM || e.errno === EACCES)) throw e;
      return false;
    }
  });
}

/** BPF_F_MMAPABLE arrays (5.5+), so global data can be read and written through mmap. */
export function haveMmapableArrays(): boolean {
  return cached('mmapable', () => {
    try {
      mapCreate({ type: MapType.ARRAY, keySize: 4, valueSize: 4, maxEntries: 1, flags: BPF_F_MMAPABLE }).close();
      return true;
    } catch {
      // Without it globals go through map lookups: any failure here just means "no".
      return false;
    }
  });
}

/** Memory for BPF objects is charged to the memcg (5.11+), so RLIMIT_MEMLOCK does not matter. */
export function haveMemcgAccounting(): boolean {
  // bpf_ktime_get_coarse_ns (helper 160) arrived in the same release as memcg accounting.
  return cached('memcg', () => answer('BPF_PROG_LOAD', tryLoad(ProgType.SOCKET_FILTER, callHelper(160))));
}

export function haveHelper(progType: number, helperId: number): boolean {
  return cached(`helper:${progType}:${helperId}`, () => {
    const r = progLoadRaw({ type: progType, insns: callHelper(helperId), license: 'GPL', expectedAttachType: PROG_PROBE_ATTACH[progType] ?? 0 });
    if (r.fd >= 0) {
      sys().close(r.fd);
      return true;
    }
    if (-r.fd === EPERM || -r.fd === EACCES) throw new BpfError('BPF_PROG_LOAD', -r.fd, 'feature probe');
    return false;
  });
}

/**
 * Does the kernel accept this raw BTF blob? (The blobs themselves are built above the seam: see
 * src/loader/btf-features.ts, which knows the BTF encoder.)
 */
export function btfProbe(key: string, raw: () => Uint8Array): boolean {
  return cached(`btf:${key}`, () => {
    const fd = btfLoadRaw(raw());
    if (fd >= 0) {
      sys().close(fd);
      return true;
    }
    if (-fd === EPERM || -fd === EACCES) throw new BpfError('BPF_BTF_LOAD', -fd, 'feature probe');
    return false;
  });
}

function fileExists(p: string): boolean {
  try {
    fs.accessSync(p);
    return true;
  } catch {
    return false;
  }
}

export function tracefsRoot(): string | undefined {
  for (const p of ['/sys/kernel/tracing', '/sys/kernel/debug/tracing']) if (fileExists(`${p}/events`)) return p;
  return undefined;
}

export const attachFeatures = {
  kprobePmu: () => fileExists('/sys/bus/event_source/devices/kprobe/type'),
  uprobePmu: () => fileExists('/sys/bus/event_source/devices/uprobe/type'),
  tracefs: () => tracefsRoot() !== undefined,
  tracefsKprobes: () => {
    const t = tracefsRoot();
    return t !== undefined && fileExists(`${t}/kprobe_events`);
  },
  tracefsUprobes: () => {
    const t = tracefsRoot();
    return t !== undefined && fileExists(`${t}/uprobe_events`);
  },
};

/** For tests: forget cached answers. */
export function resetFeatureCache(): void {
  cache.clear();
}

/**
 * A kind of BPF link: load a tiny program of `progType` (with `attachType` expected), then
 * LINK_CREATE it against a target that cannot work. A kernel that knows the link kind rejects
 * the target (`yesErrno`); one that does not rejects the attach type with EINVAL.
 */
function haveLinkKind(key: string, progType: number, attachType: number, target: number, yesErrno: number[], extra?: (a: Attr) => void): boolean {
  return cached(`link:${key}`, () => {
    const r = progLoadRaw({ type: progType, insns: RET0, license: 'GPL', expectedAttachType: attachType });
    if (r.fd < 0) return answer('BPF_PROG_LOAD', r.fd); // the program itself is unknown: no
    try {
      linkCreate({ progFd: r.fd, targetFd: target, attachType, extra }, 'feature probe').close();
      return true;
    } catch (e) {
      if (!(e instanceof BpfError)) throw e;
      return answer('BPF_LINK_CREATE', -e.errno) || yesErrno.includes(e.errno);
    } finally {
      sys().close(r.fd);
    }
  });
}

export const linkFeatures = {
  /** TCX links (6.6): ifindex 0 is no device. */
  tcx: () => haveLinkKind('tcx', ProgType.SCHED_CLS, AttachType.TCX_INGRESS, 0, [ENODEV]),
  /** uprobe.multi links (6.6): a path that is a directory (libbpf's probe). */
  uprobeMulti: () => {
    const path = Buffer.from('/\0');
    const offsets = new BigUint64Array([0n]);
    return haveLinkKind('uprobe_multi', ProgType.KPROBE, AttachType.TRACE_UPROBE_MULTI, 0, [EBADF, ENOENT], (a) =>
      a.ptr(16, path).ptr(24, new Uint8Array(offsets.buffer)).u32(48, 1),
    );
  },
  /** kprobe.multi links (5.18, CONFIG_FPROBE): a symbol that does not exist. */
  kprobeMulti: () => {
    const sym = Buffer.from('bee_ts_no_such_symbol\0');
    const syms = new BigUint64Array([sys().addressOf(sym)]);
    return haveLinkKind('kprobe_multi', ProgType.KPROBE, AttachType.TRACE_KPROBE_MULTI, 0, [ENOENT, ESRCH], (a) =>
      a.u32(16, 0).u32(20, 1).ptr(24, new Uint8Array(syms.buffer)),
    );
  },
};

/** USDT semaphores: the uprobe PMU takes a ref_ctr_offset (4.20). */
export function haveUprobeRefCtr(): boolean {
  return fs.existsSync('/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset');
}
