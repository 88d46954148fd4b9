// Attach a loaded program by its section (libbpf's auto-attach) or with explicit options.
// Every attachment returns a disposable Link.
import { BeeTsError, NotSupportedError } from '../errors.js';
import fs from 'node:fs';
import type { AttachableProgram, AttachMap } from './kinds.js';
import { cstr, linkCreate, progAttach, progDetach, rawTracepointOpen } from '../syscall/bpf.js';
import { AttachType, ProgType } from '../syscall/constants.js';
import { BpfError, EINVAL, ENODEV, ENOENT, EOPNOTSUPP } from '../syscall/errno.js';
import { Fd as FdClass, type Fd } from '../syscall/fd.js';
import { sys } from '../syscall/backend.js';
import { BaseLink, type Link } from './link.js';
import { PERF_COUNT_SW_CPU_CLOCK, PERF_TYPE_SOFTWARE, PERF_TYPE_TRACEPOINT, type PerfAttr, perfEventOpen, pmu } from '../syscall/perf.js';
import { attachPerfEvent } from './perf.js';
import { resolveBinary, symbolOffset, symbolOffsets } from './symbols.js';
import { encodeUsdtSpec, readUsdtNotes, type UsdtNote } from './usdt.js';
import { NetlinkError } from '../syscall/netlink.js';
import { tcAttachNetlink, tcDetachNetlink, type TcDirection, XDP_FLAGS_REPLACE, XDP_FLAGS_UPDATE_IF_NOEXIST, xdpSetNetlink } from './tc.js';
import { addProbeEvent, probeEventKey, removeProbeEvent, tracepointId } from './tracefs.js';
export { attachStructOps } from './struct-ops.js';
import { attachIter, type IterOptions } from './iter.js';
import { type AttachMode, attachNetns, attachSockMap, attachToSocket, type SockMapTarget } from './sock.js';
import { attachKprobeMulti } from './kprobe-multi.js';
import { attachNetkit } from './netkit.js';
import { attachNetfilter, type NetfilterOptions } from './netfilter.js';

export class AttachError extends BeeTsError {
  constructor(
    readonly program: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super('ATTACH', `program '${program}': ${message}`, options);
  }
}

export interface AttachOptions {
  /** Override the target named by the section (function, `category/name`, `path:function`, interface...). */
  target?: string;
  /** kprobe/uprobe: attach as a return probe. */
  retprobe?: boolean;
  /** uprobe: only this process (default: all). */
  pid?: number;
  /** kprobe/uprobe: offset added to the symbol. */
  offset?: number;
  /** Use tracefs kprobe_events/uprobe_events even when a PMU exists. */
  legacy?: boolean;
  /** XDP/TC: interface name or index. */
  iface?: string | number;
  /** XDP flags (XDP_FLAGS_SKB_MODE = 2, DRV_MODE = 4). */
  xdpFlags?: number;
  /** XDP: a BPF link (5.9+), netlink (RTM_SETLINK), or auto: the link, netlink where links are missing. */
  xdpMode?: 'auto' | 'link' | 'netlink';
  /** TC: which hook (default: the section's, tc/egress → egress, else ingress). */
  tcDirection?: TcDirection;
  /** TC: a TCX link (6.6+), a netlink clsact bpf filter, or auto: TCX, netlink where TCX is missing. */
  tcMode?: 'auto' | 'tcx' | 'netlink';
  /** TC netlink filter priority (default: the kernel picks). */
  tcPriority?: number;
  /** cgroup programs: the cgroup v2 directory (default: the cgroup2 mount point). */
  cgroup?: string;
  /** perf_event programs: samples per second per CPU (default 99). */
  sampleFreq?: number;
  /** BPF cookie for perf-event based links (5.15+). */
  cookie?: bigint;
  /** uprobe.multi / kprobe.multi: a cookie per matched function name. */
  cookies?: Record<string, bigint>;
  /** iter/...: the one map, task or cgroup to walk (targets that take one). */
  iter?: IterOptions;
  /** sk_msg / sk_skb: the SOCKMAP or SOCKHASH (a BpfMap or its fd). */
  map?: SockMapTarget;
  /** sk_lookup / flow_dissector: the network namespace (a path like /run/netns/x, or an fd; default this process's). */
  netns?: string | number;
  /** sk_msg / sk_skb / sk_lookup / flow_dissector: a BPF link, PROG_ATTACH, or auto (the link where the kernel has it). */
  attachMode?: AttachMode;
  /** socket / sk_reuseport: the socket fd to attach to (setsockopt SO_ATTACH_BPF / SO_ATTACH_REUSEPORT_EBPF). */
  socket?: number;
  /** netfilter: the protocol family, hook and priority (in this process's network namespace). */
  netfilter?: NetfilterOptions;
}

function ifindexOf(iface: string | number | undefined, prog: string): number {
  if (iface === undefined) throw new AttachError(prog, 'needs an interface: pass { iface: "eth0" }');
  if (typeof iface === 'number') return iface;
  if (/^\d+$/.test(iface)) return Number(iface);
  try {
    return Number(fs.readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8').trim());
  } catch {
    throw new AttachError(prog, `network interface '${iface}' does not exist`);
  }
}

function splitTarget(t: string): { name: string; offset: number } {
  const m = /^(.*?)(?:\+(0x[0-9a-f]+|\d+))?$/i.exec(t)!;
  return { name: m[1]!, offset: m[2] ? Number(m[2]) : 0 };
}

/**
 * Open a perf event, attach the program to it and wrap both in a link. On failure nothing is
 * left behind: the perf fd is closed and the tracefs event (if the attachment used one) removed.
 */
function perfLink(p: AttachableProgram, kind: string, target: string, attr: PerfAttr, pid: number, cpu: number, what: string, o: AttachOptions, probe?: { file: string; group: string; event: string }): Link {
  const probeKeys = probe ? [probeEventKey(probe.file, probe.group, probe.event)] : [];
  let perf: Fd | undefined;
  try {
    perf = perfEventOpen(attr, pid, cpu, what);
    const link = attachPerfEvent(perf, p.fd.value, what, o.cookie);
    return new BaseLink(kind, p.name, target, link, { owned: [perf], probeEvents: probeKeys });
  } catch (e) {
    perf?.close();
    for (const k of probeKeys) removeProbeEvent(k);
    throw e;
  }
}

function attachKprobe(p: AttachableProgram, func: string, retprobe: boolean, o: AttachOptions): Link {
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
      return perfLink(p, kind, name, attr, -1, 0, what, o);
    }
    const ev = addProbeEvent('kprobe', retprobe, `${name}${off ? `+${off}` : ''}`);
    return perfLink(p, kind, name, { type: PERF_TYPE_TRACEPOINT, config: BigInt(ev.id) }, -1, 0, what, o, ev);
  } catch (e) {
    if (e instanceof BpfError && (e.errno === ENOENT || e.errno === EINVAL))
      throw new AttachError(p.name, `cannot attach ${what}: ${e.code}: the function does not exist or cannot be probed (inlined, renamed like .isra/.constprop, or not in available_filter_functions)`);
    if (e instanceof Error && /kprobe_events/.test(e.message) && !fs.existsSync('/sys/bus/event_source/devices/kprobe'))
      throw new AttachError(p.name, `cannot attach ${what}: this kernel has no kprobes (CONFIG_KPROBES/CONFIG_KPROBE_EVENTS); use a tracepoint instead`);
    throw e;
  }
}

/** A uprobe perf event watches one process (pid, any CPU) or every process (pid -1, one CPU's event serves all). */
function uprobeScope(o: AttachOptions): { pid: number; cpu: number } {
  const pid = o.pid ?? -1;
  return { pid, cpu: pid === -1 ? 0 : -1 };
}

function attachUprobe(p: AttachableProgram, spec: string, retprobe: boolean, o: AttachOptions): Link {
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
    return perfLink(p, kind, `${binary}:${name}`, attr, pid, cpu, what, o);
  }
  const ev = addProbeEvent('uprobe', retprobe, `${binary}:0x${off.toString(16)}`);
  return perfLink(p, kind, `${binary}:${name}`, { type: PERF_TYPE_TRACEPOINT, config: BigInt(ev.id) }, pid, cpu, what, o, ev);
}

/**
 * uprobe.multi (6.6+): one BPF link probing every function of a binary that matches a glob
 * (`libc.so.6:getp*id`), optionally one cookie per function, optionally one process.
 */
function attachUprobeMulti(p: AttachableProgram, spec: string, retprobe: boolean, o: AttachOptions, session = false): Link {
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

/** Spec ids handed out per __bpf_usdt_specs map (an object's USDT attachments share it). */
const usdtNextSpec = new WeakMap<object, number>();

/**
 * usdt (usdt.bpf.h): a uprobe on every site of `<binary>:<provider>:<name>`, each with its
 * argument spec in __bpf_usdt_specs under a fresh id that the attachment's BPF cookie carries.
 * Semaphores are bumped by the kernel (ref_ctr_offset) while attached.
 */
function attachUsdt(p: AttachableProgram, target: string, o: AttachOptions): Link {
  const parts = target.split(':');
  if (parts.length < 3 || !parts.at(-1) || !parts.at(-2)) throw new AttachError(p.name, `usdt target '${target}' must be <binary>:<provider>:<name> (SEC("usdt/...") or { target })`);
  const name = parts.pop()!;
  const provider = parts.pop()!;
  let binary: string;
  let sites: UsdtNote[];
  try {
    binary = resolveBinary(parts.join(':'));
    const all = readUsdtNotes(binary);
    sites = all.filter((n) => n.provider === provider && n.name === name);
    if (!sites.length) {
      const have = [...new Set(all.map((n) => `${n.provider}:${n.name}`))];
      throw new AttachError(p.name, `no USDT probe ${provider}:${name} in ${binary} (${have.length ? `it has ${have.slice(0, 10).join(', ')}${have.length > 10 ? ', ...' : ''}` : 'it has no .note.stapsdt'})`);
    }
  } catch (e) {
    if (e instanceof AttachError) throw e;
    throw new AttachError(p.name, (e as Error).message, { cause: e });
  }
  let specs: AttachMap;
  try {
    specs = p.object.map('__bpf_usdt_specs');
  } catch {
    throw new AttachError(p.name, `the object has no __bpf_usdt_specs map: write the handler with BPF_USDT from usdt.bpf.h`);
  }
  const pm = pmu('uprobe');
  if (!pm) throw new AttachError(p.name, 'USDT needs the uprobe PMU (/sys/bus/event_source/devices/uprobe)');
  const refCtr = fs.existsSync('/sys/bus/event_source/devices/uprobe/format/ref_ctr_offset');
  const links: Link[] = [];
  const { pid, cpu } = uprobeScope(o);
  try {
    for (const site of sites) {
      if (site.semaOffset && !refCtr) throw new AttachError(p.name, `USDT ${provider}:${name} has a semaphore, and this kernel's uprobe PMU has no ref_ctr_offset (4.20+)`);
      const id = usdtNextSpec.get(specs) ?? 0;
      if (id >= specs.maxEntries) throw new AttachError(p.name, `more than ${specs.maxEntries} USDT sites in one object (BPF_USDT_MAX_SPEC_CNT)`);
      usdtNextSpec.set(specs, id + 1);
      const key = new Uint8Array(4);
      new DataView(key.buffer).setInt32(0, id, true);
      specs.updateRaw(key, encodeUsdtSpec(site.args, o.cookie ?? 0n));
      const attr = { type: pm.type, config: BigInt(site.semaOffset) << 32n, config1: cstr(binary), config2: BigInt(site.offset) };
      links.push(perfLink(p, 'usdt', `${binary}:${provider}:${name}`, attr, pid, cpu, `usdt ${provider}:${name} at ${binary}+0x${site.offset.toString(16)}`, { ...o, cookie: BigInt(id) }));
    }
  } catch (e) {
    for (const l of links) l.close();
    if (e instanceof BpfError && e.errno === EINVAL && !links.length) throw new NotSupportedError('USDT (BPF cookies on perf-event links)', '5.15', sys().uname().release, `program '${p.name}': ${(e as Error).message}`, { cause: e });
    throw e;
  }
  return new BaseLink('usdt', p.name, `${binary}:${provider}:${name} (${sites.length} site${sites.length === 1 ? '' : 's'})`, undefined, {
    detach: () => {
      for (const l of links) l.close();
    },
  });
}

function attachTracepoint(p: AttachableProgram, target: string, o: AttachOptions): Link {
  const parts = target.split('/');
  if (parts.length !== 2 || !parts[0] || !parts[1]) throw new AttachError(p.name, `tracepoint '${target}' must be <category>/<name> (e.g. syscalls/sys_enter_openat)`);
  let id: number;
  try {
    id = tracepointId(parts[0], parts[1]);
  } catch (e) {
    throw new AttachError(p.name, (e as Error).message, { cause: e });
  }
  return perfLink(p, 'tracepoint', target, { type: PERF_TYPE_TRACEPOINT, config: BigInt(id) }, -1, 0, `tracepoint ${target}`, o);
}

function attachRawTracepoint(p: AttachableProgram, target: string): Link {
  if (!target) throw new AttachError(p.name, 'raw tracepoint needs a name: SEC("raw_tp/<name>")');
  try {
    const fd = rawTracepointOpen(target, p.fd.value, `raw tracepoint ${target}`);
    return new BaseLink('raw_tracepoint', p.name, target, fd);
  } catch (e) {
    if (e instanceof BpfError && e.errno === ENOENT) throw new AttachError(p.name, `raw tracepoint '${target}' does not exist`);
    throw e;
  }
}

function attachTracing(p: AttachableProgram, kind: string): Link {
  const attachType = p.expectedAttachType ?? 0;
  let fd: Fd;
  try {
    fd = linkCreate({ progFd: p.fd.value, targetFd: 0, attachType }, `${kind} ${p.section}`);
  } catch (e) {
    if (!(e instanceof BpfError) || (e.errno !== EINVAL && e.errno !== EOPNOTSUPP)) throw e;
    fd = rawTracepointOpen(null, p.fd.value, `${kind} ${p.section}`);
  }
  return new BaseLink(kind, p.name, p.spec.attachTarget, fd);
}

function attachPerfEventProg(p: AttachableProgram, o: AttachOptions): Link {
  const ncpu = sys().numPossibleCpus();
  const perfs: Fd[] = [];
  const links: Fd[] = [];
  try {
    for (let cpu = 0; cpu < ncpu; cpu++) {
      let perf: Fd;
      try {
        perf = perfEventOpen({ type: PERF_TYPE_SOFTWARE, config: BigInt(PERF_COUNT_SW_CPU_CLOCK), samplePeriod: BigInt(o.sampleFreq ?? 99), freq: true }, -1, cpu, `perf_event cpu ${cpu}`);
      } catch (e) {
        if (e instanceof BpfError && e.errno === ENODEV /* offline CPU */) continue;
        throw e;
      }
      perfs.push(perf);
      const l = attachPerfEvent(perf, p.fd.value, `perf_event cpu ${cpu}`, o.cookie);
      if (l) links.push(l);
    }
  } catch (e) {
    for (const f of [...links, ...perfs]) f.close();
    throw e;
  }
  return new BaseLink('perf_event', p.name, `cpu-clock ${o.sampleFreq ?? 99} Hz on ${perfs.length} CPUs`, links[0], { owned: [...links.slice(1), ...perfs] });
}

/** A kernel without this kind of BPF link answers LINK_CREATE with EINVAL: then netlink does it. */
const noSuchLink = (e: unknown) => e instanceof BpfError && e.errno === EINVAL;

function attachXdp(p: AttachableProgram, o: AttachOptions): Link {
  const ifindex = ifindexOf(o.iface ?? (p.spec.attachTarget || undefined), p.name);
  const target = String(o.iface ?? ifindex);
  const mode = o.xdpMode ?? 'auto';
  if (mode !== 'netlink') {
    try {
      const fd = linkCreate({ progFd: p.fd.value, targetFd: ifindex, attachType: AttachType.XDP, flags: o.xdpFlags ?? 0 }, `XDP on ifindex ${ifindex}`);
      return new BaseLink('xdp', p.name, target, fd);
    } catch (e) {
      if (mode === 'link' || !noSuchLink(e)) throw e;
    }
  }
  // Netlink: only where nothing is attached yet; detach only if ours is still the one attached.
  const flags = o.xdpFlags ?? 0;
  xdpSetNetlink(ifindex, p.fd.value, flags | XDP_FLAGS_UPDATE_IF_NOEXIST);
  // The link keeps its own reference to the program: the detach names it (expected fd), and the
  // program's own fd may be closed first.
  const dup = sys().dupCloexec(p.fd.value, 3);
  if (dup < 0) {
    xdpSetNetlink(ifindex, -1, flags);
    throw new BpfError('fcntl(F_DUPFD_CLOEXEC)', -dup, `program '${p.name}'`);
  }
  const own = new FdClass(dup, 'prog');
  const detach = () => {
    try {
      xdpSetNetlink(ifindex, -1, (flags & ~XDP_FLAGS_UPDATE_IF_NOEXIST) | XDP_FLAGS_REPLACE, own.value);
    } catch (e) {
      if (e instanceof NetlinkError && e.errno === ENODEV /* the interface is gone */) return;
      throw e;
    }
  };
  return new BaseLink('xdp', p.name, `${target} (netlink)`, undefined, { owned: [own], detach });
}

function attachTc(p: AttachableProgram, o: AttachOptions): Link {
  const ifindex = ifindexOf(o.iface, p.name);
  const direction: TcDirection = o.tcDirection ?? (p.expectedAttachType === AttachType.TCX_EGRESS ? 'egress' : 'ingress');
  const mode = o.tcMode ?? 'auto';
  const where = `${o.iface ?? ifindex} ${direction}`;
  if (mode !== 'netlink') {
    try {
      const attachType = direction === 'egress' ? AttachType.TCX_EGRESS : AttachType.TCX_INGRESS;
      const fd = linkCreate({ progFd: p.fd.value, targetFd: ifindex, attachType }, `TCX on ifindex ${ifindex}`);
      return new BaseLink('tcx', p.name, where, fd);
    } catch (e) {
      if (mode === 'tcx' || !noSuchLink(e)) throw e;
    }
  }
  const filter = tcAttachNetlink(p.fd.value, p.name, ifindex, direction, { priority: o.tcPriority });
  return new BaseLink('tc', p.name, `${where} (clsact, prio ${filter.priority} handle 0x${filter.handle.toString(16)})`, undefined, { detach: () => tcDetachNetlink(filter) });
}

/** Where cgroup v2 is mounted (/sys/fs/cgroup, or /sys/fs/cgroup/unified on hybrid systems). */
export function cgroup2Root(): string {
  try {
    for (const line of fs.readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const f = line.split(' ');
      if (f[2] === 'cgroup2') return f[1]!;
    }
  } catch {
    /* fall through */
  }
  return '/sys/fs/cgroup';
}

function attachCgroup(p: AttachableProgram, o: AttachOptions): Link {
  const dir = o.cgroup ?? cgroup2Root();
  let cg: number;
  try {
    cg = fs.openSync(dir, 'r');
  } catch (e) {
    throw new AttachError(p.name, `cannot open cgroup ${dir}: ${(e as NodeJS.ErrnoException).code}`);
  }
  const attachType = p.expectedAttachType ?? 0;
  try {
    const fd = linkCreate({ progFd: p.fd.value, targetFd: cg, attachType }, `cgroup ${dir}`);
    return new BaseLink('cgroup', p.name, dir, fd);
  } catch (e) {
    if (!(e instanceof BpfError) || (e.errno !== EINVAL && e.errno !== EOPNOTSUPP)) throw e;
    // No cgroup links (before 5.7): the attachment lives on the cgroup until detached.
    progAttach(cg, p.fd.value, attachType, 2 /* BPF_F_ALLOW_MULTI */, `cgroup ${dir}`);
    const progFd = p.fd.value;
    const cgFd = fs.openSync(dir, 'r');
    return new BaseLink('cgroup', p.name, dir, undefined, {
      detach: () => {
        progDetach(cgFd, progFd, attachType);
        fs.closeSync(cgFd);
      },
    });
  } finally {
    fs.closeSync(cg);
  }
}

/** Syscall wrapper name for ksyscall: `__x64_sys_openat` on x86_64. */
function syscallWrapper(name: string): string {
  const prefix = process.arch === 'x64' ? '__x64_sys_' : process.arch === 'arm64' ? '__arm64_sys_' : 'sys_';
  return `${prefix}${name}`;
}

/** Attach by the program's section, like libbpf's bpf_program__attach. */
export function attachProgram(p: AttachableProgram, o: AttachOptions = {}): Link {
  const target = o.target ?? p.spec.attachTarget;
  switch (p.spec.attach) {
    case 'kprobe':
      return attachKprobe(p, target, o.retprobe ?? false, o);
    case 'kretprobe':
      return attachKprobe(p, target, true, o);
    case 'ksyscall':
      return attachKprobe(p, syscallWrapper(target), false, o);
    case 'kretsyscall':
      return attachKprobe(p, syscallWrapper(target), true, o);
    case 'uprobe':
      return attachUprobe(p, target, o.retprobe ?? false, o);
    case 'uretprobe':
      return attachUprobe(p, target, true, o);
    case 'uprobe.multi':
      return attachUprobeMulti(p, target, false, o);
    case 'uretprobe.multi':
      return attachUprobeMulti(p, target, true, o);
    case 'uprobe.session':
      return attachUprobeMulti(p, target, false, o, true);
    case 'usdt':
      return attachUsdt(p, target, o);
    case 'tracepoint':
      return attachTracepoint(p, target, o);
    case 'raw_tracepoint':
      return attachRawTracepoint(p, target);
    case 'tracing':
      return attachTracing(p, p.section.split('/')[0]!);
    case 'lsm':
      return attachTracing(p, 'lsm');
    case 'perf_event':
      return attachPerfEventProg(p, o);
    case 'xdp':
      return attachXdp(p, o);
    case 'tcx':
      return attachTc(p, o);
    case 'cgroup':
      return attachCgroup(p, o);
    case 'kprobe.multi':
      return attachKprobeMulti(p, target, o.retprobe ? 'return' : 'entry', o);
    case 'kretprobe.multi':
      return attachKprobeMulti(p, target, 'return', o);
    case 'kprobe.session':
      return attachKprobeMulti(p, target, 'session', o);
    case 'netkit': {
      const ifindex = ifindexOf(o.iface, p.name);
      return attachNetkit(p, ifindex, String(o.iface));
    }
    case 'iter':
      return attachIter(p, o.iter);
    case 'sockmap':
      return attachSockMap(p, o.map ?? soleSockMap(p), o.attachMode);
    case 'netns':
      return attachNetns(p, o.netns, o.attachMode);
    case 'socket':
      if (o.socket === undefined) throw new AttachError(p.name, `a ${p.section} program attaches to a socket: pass { socket: fd } or use attachToSocket(fd)`);
      return attachToSocket(p, o.socket);
    case 'netfilter':
      return attachNetfilter(p, o.netfilter);
    case 'struct_ops':
      throw new AttachError(p.name, `struct_ops programs are registered through the struct_ops map that names them: obj.registerStructOps('<map>') (or attachAll)`);
    default:
      // Legacy SEC("tc")/SEC("classifier") programs: TC with an interface (and a direction) given.
      if (p.spec.progType === ProgType.SCHED_CLS && o.iface !== undefined) return attachTc(p, o);
      throw new AttachError(p.name, `section '${p.section}' has no automatic attach point (${p.spec.attach}); attach it explicitly`);
  }
}

/** The object's one SOCKMAP/SOCKHASH, if it has exactly one (sk_msg / sk_skb attach there by default). */
function soleSockMap(p: AttachableProgram): { fd: Fd } | undefined {
  const maps = p.object.sockMaps?.() ?? [];
  if (maps.length > 1) throw new AttachError(p.name, `the object has ${maps.length} sockmaps (${maps.map((m) => m.name).join(', ')}): pass { map: obj.map('<name>') }`);
  return maps[0];
}

/** Whether a program can auto-attach from its section alone (no target → needs options). */
export function canAutoAttach(p: AttachableProgram): boolean {
  switch (p.spec.attach) {
    case 'kprobe':
    case 'kretprobe':
    case 'ksyscall':
    case 'kretsyscall':
    case 'uprobe':
    case 'uretprobe':
    case 'uprobe.multi':
    case 'uretprobe.multi':
    case 'uprobe.session':
    case 'kprobe.multi':
    case 'kretprobe.multi':
    case 'kprobe.session':
    case 'usdt':
    case 'tracepoint':
    case 'raw_tracepoint':
    case 'xdp':
      return p.spec.attachTarget !== '';
    case 'tracing':
    case 'lsm':
    case 'cgroup':
    case 'iter':
      return true;
    case 'sockmap':
      return p.object.sockMaps?.().length === 1;
    // perf_event: the section names no event, and libbpf has no auto-attach for it (a default
    // sampler would silently sample the wrong event); attach({ sampleFreq }) is explicit.
    default:
      return false;
  }
}
