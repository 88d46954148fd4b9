// Feature probes: each answers by actually trying (load a tiny program, create a tiny map, load
// a tiny BTF) and is cached per process. EINVAL/E2BIG/ENOTSUPP/EOPNOTSUPP mean "no"; EPERM is an
// error (we cannot tell), never "unsupported" (cilium's rule).
import fs from 'node:fs';
import { sys } from './backend.js';
import { type Attr, btfLoadRaw, linkCreate, mapCreate, progLoadRaw } from './bpf.js';
import { AttachType, BPF_F_MMAPABLE, BPF_F_NO_PREALLOC, BPF_F_SLEEPABLE, MapType, ProgType } from './constants.js';
import { BpfError, EACCES, EBADF, EINVAL, ENODEV, ENOENT, ENOTSUPP, EPERM, ESRCH } from './errno.js';

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

/**
 * How to load a probe program of each type: the attach type the kernel wants at load time,
 * BPF_F_SLEEPABLE for syscall programs (the kernel refuses them otherwise), and for the types
 * that need a BTF attach target, attach_btf_id 1 (never a valid target) and the verifier message
 * that proves the type is known (libbpf's probes; tracing is probed as tp_btf, which loads where
 * fentry is locked down).
 */
export function progProbeSpec(type: number): { expectedAttachType: number; flags: number; attachBtfId: number; knownIf?: { errno: number; log?: string } } {
  const s = { expectedAttachType: PROG_PROBE_ATTACH[type] ?? 0, flags: 0, attachBtfId: 0 };
  switch (type) {
    case ProgType.SYSCALL:
      return { ...s, flags: BPF_F_SLEEPABLE };
    case ProgType.STRUCT_OPS:
      return { ...s, knownIf: { errno: ENOTSUPP } }; // needs a kernel struct and member: ENOTSUPP when known
    case ProgType.TRACING:
      return { ...s, expectedAttachType: AttachType.TRACE_RAW_TP, attachBtfId: 1, knownIf: { errno: EINVAL, log: 'attach_btf_id 1 is not a' } };
    case ProgType.LSM:
      return { ...s, expectedAttachType: AttachType.LSM_MAC, attachBtfId: 1, knownIf: { errno: EINVAL, log: 'attach_btf_id 1 is not a' } };
    case ProgType.EXT:
      return { ...s, attachBtfId: 1, knownIf: { errno: EINVAL, log: 'Cannot replace kernel functions' } };
    default:
      return s;
  }
}

/** One probe load: whether it loaded, its errno, and (with `log`) the verifier's message. */
export function probeLoad(type: number, insns: Uint8Array, opts: { expectedAttachType?: number; flags?: number; attachBtfId?: number; ifindex?: number; log?: boolean } = {}): { ok: boolean; errno: number; log: string } {
  const logBuf = opts.log ? new Uint8Array(4096) : undefined;
  const r = progLoadRaw({ type, insns, license: 'GPL', expectedAttachType: opts.expectedAttachType ?? 0, flags: opts.flags ?? 0, attachBtfId: opts.attachBtfId ?? 0, ifindex: opts.ifindex ?? 0, logBuf, logLevel: logBuf ? 1 : 0 });
  if (r.fd >= 0) sys().close(r.fd);
  let log = '';
  if (logBuf) {
    const end = logBuf.indexOf(0);
    log = Buffer.from(logBuf.subarray(0, end < 0 ? logBuf.length : end)).toString('latin1');
  }
  return { ok: r.fd >= 0, errno: r.fd >= 0 ? 0 : -r.fd, log };
}

/**
 * Can this kernel load programs of `type`? A load that works is a yes; for the types that need
 * a target, the kernel's complaint about the (deliberately bad) target is a yes too. EPERM is an
 * error (we cannot tell) except where an LSM refuses the type itself (tracing, lsm, ext): those
 * cannot be loaded here, which is a no.
 */
export function haveProgType(type: number): boolean {
  return cached(`prog:${type}`, () => {
    const spec = progProbeSpec(type);
    const r = probeLoad(type, RET0, { ...spec, log: !!spec.knownIf?.log });
    if (r.ok) return true;
    if (spec.knownIf && r.errno === spec.knownIf.errno && (!spec.knownIf.log || r.log.includes(spec.knownIf.log))) return true;
    if (spec.attachBtfId && (r.errno === EPERM || r.errno === EACCES)) return false;
    return answer('BPF_PROG_LOAD', -r.errno);
  });
}

/** The verifier's ways of saying a helper does not exist or is not for this program type. */
const HELPER_REFUSED = ['invalid func ', 'unknown func ', 'cannot use helper', 'helper call is not allowed in probe'];

/**
 * Can a program of `progType` call helper `id`? Loads `call id; exit`: a helper is unavailable
 * when the verifier says so (6.18 says "program of this type cannot use helper", which libbpf 1.1
 * does not recognise, so bpftool 7.1 lists every helper for every type); any other outcome (a
 * load, or a complaint about the helper's arguments) means the helper was accepted for the type.
 * `attachBtfId` gives tracing programs a real target so the verifier reaches the call.
 */
export function helperAvailable(progType: number, id: number, opts: { attachBtfId?: number; ifindex?: number } = {}): boolean {
  return cached(`helper2:${progType}:${id}:${opts.attachBtfId ?? 0}:${opts.ifindex ?? 0}`, () => {
    const spec = progProbeSpec(progType);
    const insns = Buffer.alloc(16);
    insns[0] = 0x85;
    insns.writeInt32LE(id, 4);
    insns[8] = 0x95;
    const r = probeLoad(progType, insns, { ...spec, attachBtfId: opts.attachBtfId ?? spec.attachBtfId, ifindex: opts.ifindex, log: true });
    if (r.ok) return true;
    // EACCES is the verifier's own rejection (arguments): the helper was accepted. EPERM: not here.
    if (r.errno === EPERM) return false;
    return !HELPER_REFUSED.some((m) => r.log.includes(m));
  });
}

/**
 * libbpf's BTF for local-storage map probes: int, struct bpf_spin_lock { int val; }, struct val
 * { int cnt; struct bpf_spin_lock l; } (sk, inode, task and cgroup storage need a BTF value).
 */
function localStorageBtf(): Uint8Array {
  const strs = Buffer.from('\0bpf_spin_lock\0val\0cnt\0l\0', 'latin1');
  const t = Buffer.alloc(16 + 24 + 36);
  let o = 0;
  const u32 = (v: number) => {
    t.writeUInt32LE(v >>> 0, o);
    o += 4;
  };
  u32(0), u32((1 << 24) | 0), u32(4), u32((1 << 24) | 32); // [1] int: signed, 32 bits
  u32(1), u32((4 << 24) | 1), u32(4), u32(15), u32(1), u32(0); // [2] struct bpf_spin_lock { int val; }
  u32(15), u32((4 << 24) | 2), u32(8), u32(19), u32(1), u32(0), u32(23), u32(2), u32(32); // [3] struct val
  const h = Buffer.alloc(24);
  h.writeUInt16LE(0xeb9f, 0);
  h[2] = 1;
  h.writeUInt32LE(24, 4);
  h.writeUInt32LE(0, 8);
  h.writeUInt32LE(t.length, 12);
  h.writeUInt32LE(t.length, 16);
  h.writeUInt32LE(strs.length, 20);
  return Buffer.concat([h, t, strs]);
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
        a = { ...a, keySize: 8, valueSize: 8, flags: BPF_F_NO_PREALLOC };
        break;
      case MapType.SK_STORAGE:
      case MapType.INODE_STORAGE:
      case MapType.TASK_STORAGE:
      case MapType.CGRP_STORAGE: {
        // Local storage needs a BTF value type (libbpf's probe BTF).
        const btfFd = btfLoadRaw(localStorageBtf());
        if (btfFd < 0) return answer('BPF_BTF_LOAD', btfFd);
        try {
          mapCreate({ ...a, valueSize: 8, maxEntries: 0, flags: BPF_F_NO_PREALLOC, btfFd, btfKeyTypeId: 1, btfValueTypeId: 3 }).close();
          return true;
        } catch (e) {
          if (e instanceof BpfError && (e.errno === EPERM || e.errno === EACCES)) throw e;
          return false;
        } finally {
          sys().close(btfFd);
        }
      }
      case MapType.STACK_TRACE:
        a = { ...a, valueSize: 8 }; // one u64 instruction pointer at least
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
        // btf_vmlinux_value_type_id 1 is no struct_ops type: a kernel that knows the map says ENOTSUPP.
        try {
          mapCreate({ ...a, btfVmlinuxValueTypeId: 1 }).close();
          return true;
        } catch (e) {
          if (e instanceof BpfError && (e.errno === EPERM || e.errno === EACCES)) throw e;
          return e instanceof BpfError && e.errno === ENOTSUPP;
        }
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

/** A uprobe.multi-style link on a path that is a directory: EBADF (or ENOENT) where the kind exists. */
function haveUprobeLink(key: string, attachType: number): boolean {
  const path = Buffer.from('/\0');
  const offsets = new BigUint64Array([0n]);
  return haveLinkKind(key, ProgType.KPROBE, attachType, 0, [EBADF, ENOENT], (a) => a.ptr(16, path).ptr(24, new Uint8Array(offsets.buffer)).u32(48, 1));
}

export const linkFeatures = {
  /** TCX links (6.6): ifindex 0 is no device. */
  tcx: () => haveLinkKind('tcx', ProgType.SCHED_CLS, AttachType.TCX_INGRESS, 0, [ENODEV]),
  /** uprobe.multi links (6.6): a path that is a directory (libbpf's probe). */
  uprobeMulti: () => haveUprobeLink('uprobe_multi', AttachType.TRACE_UPROBE_MULTI),
  /**
   * uprobe.session links (6.13): the same probe with the session attach type, which kernels
   * before 6.13 do not know (EINVAL). 6.10-6.12 also refuse bpf_session_is_return in uprobe
   * programs at load (it is for kprobe sessions there).
   */
  uprobeSession: () => haveUprobeLink('uprobe_session', AttachType.TRACE_UPROBE_SESSION),
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
