// `bee-ts feature probe [kernel | dev IFACE] [full] [unprivileged] [macros [prefix P]]`: bpftool's
// sections, keys, text, JSON and #define forms, each answer from actually trying it. Where bpftool
// 7.1 is wrong on a recent kernel (every helper "available" for every program type; tracing "NOT
// available" where only fentry is locked down) bee-ts answers what the kernel really does.
// `bee-ts feature extras` lists bee-ts's own probes (attach mechanisms, BTF kinds, ...).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import zlib from 'node:zlib';
import { BtfKind } from '../btf/types.js';
import { vmlinuxBtf } from '../loader/btf-files.js';
import { sys } from '../syscall/backend.js';
import { Attr, Cmd, linkCreate } from '../syscall/bpf.js';
import { AttachType, MapType, ProgType } from '../syscall/constants.js';
import { BpfError, EBADF, ENOSYS } from '../syscall/errno.js';
import { btfFeatures } from '../loader/btf-features.js';
import { attachFeatures, haveMapType, haveMemcgAccounting, haveProgType, haveUprobeRefCtr, helperAvailable, linkFeatures, probeLoad } from '../syscall/features.js';
import { keyword } from './argv.js';
import { kernelHelperNames } from './builtins.js';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText } from './format.js';

export interface FeatureArgs {
  target: 'unspec' | 'kernel' | 'dev';
  ifname?: string;
  ifindex: number;
  full: boolean;
  unprivileged: boolean;
  /** #define output, with this prefix ('' without `prefix`). */
  macros?: string;
}

/** bpftool's `feature probe` words (its prefixes, its checks, its messages). */
export function parseFeatureArgs(words: string[]): FeatureArgs {
  const a: FeatureArgs = { target: 'unspec', ifindex: 0, full: false, unprivileged: false };
  for (let i = 0; i < words.length; i++) {
    const w = keyword(words[i], ['kernel', 'dev', 'full', 'macros', 'prefix', 'unprivileged']);
    if (w === 'kernel' || w === 'dev') {
      if (a.target !== 'unspec') throw new UsageError('feature probe: component to probe already specified');
      a.target = w;
      if (w === 'dev') {
        const name = words[++i];
        if (name === undefined) throw new UsageError("feature probe dev: missing interface name ('dev IFACE')");
        a.ifname = name;
      }
    } else if (w === 'full') a.full = true;
    else if (w === 'macros' && a.macros === undefined) a.macros = '';
    else if (w === 'prefix') {
      if (a.macros === undefined) throw new UsageError("feature probe: 'prefix' argument can only be use after 'macros'");
      if (a.macros !== '') throw new UsageError("feature probe: 'prefix' already defined");
      const p = words[++i];
      if (p === undefined) throw new UsageError('feature probe: prefix needs a value');
      a.macros = p;
    } else if (w === 'unprivileged') a.unprivileged = true;
    else throw new UsageError(`feature probe: expected no more arguments, 'kernel', 'dev', 'full', 'unprivileged', 'macros' or 'prefix', got: '${words[i]}'`);
  }
  return a;
}

const lower = (k: string) => k.toLowerCase();
/** Program and map types by bpftool's (libbpf's) names, in number order (newer ones included). */
const PROG_TYPES = Object.entries(ProgType).filter(([, v]) => v !== 0).sort((x, y) => x[1] - y[1]).map(([k, v]) => [lower(k), v] as const);
const MAP_TYPES = Object.entries(MapType).filter(([, v]) => v !== 0).sort((x, y) => x[1] - y[1]).map(([k, v]) => [lower(k), v] as const);
/** Helpers that write to the kernel log when probed: only with `full`, as bpftool. */
const DMESG_HELPERS = new Set(['bpf_trace_printk', 'bpf_trace_vprintk', 'bpf_probe_write_user']);

const kernelHelpers = () => kernelHelperNames().filter(([id]) => id > 0);

function vmlinuxOrNone(): ReturnType<typeof vmlinuxBtf> | undefined {
  try {
    return vmlinuxBtf();
  } catch {
    return undefined;
  }
}

/** A raw-tracepoint BTF target (typedef btf_trace_sys_enter) so tracing helper probes reach the call. */
function tracingTarget(): number {
  const btf = vmlinuxOrNone();
  return btf?.findIds('btf_trace_sys_enter', BtfKind.Typedef)[0] ?? 0;
}

const CONFIG_OPTIONS = [
  'CONFIG_BPF', 'CONFIG_BPF_SYSCALL', 'CONFIG_HAVE_EBPF_JIT', 'CONFIG_BPF_JIT', 'CONFIG_BPF_JIT_ALWAYS_ON', 'CONFIG_DEBUG_INFO_BTF', 'CONFIG_DEBUG_INFO_BTF_MODULES',
  'CONFIG_CGROUPS', 'CONFIG_CGROUP_BPF', 'CONFIG_CGROUP_NET_CLASSID', 'CONFIG_SOCK_CGROUP_DATA',
  'CONFIG_BPF_EVENTS', 'CONFIG_KPROBE_EVENTS', 'CONFIG_UPROBE_EVENTS', 'CONFIG_TRACING', 'CONFIG_FTRACE_SYSCALLS', 'CONFIG_FUNCTION_ERROR_INJECTION', 'CONFIG_BPF_KPROBE_OVERRIDE',
  'CONFIG_NET', 'CONFIG_XDP_SOCKETS', 'CONFIG_LWTUNNEL_BPF', 'CONFIG_NET_ACT_BPF', 'CONFIG_NET_CLS_BPF', 'CONFIG_NET_CLS_ACT', 'CONFIG_NET_SCH_INGRESS', 'CONFIG_XFRM',
  'CONFIG_IP_ROUTE_CLASSID', 'CONFIG_IPV6_SEG6_BPF', 'CONFIG_BPF_LIRC_MODE2', 'CONFIG_BPF_STREAM_PARSER', 'CONFIG_NETFILTER_XT_MATCH_BPF', 'CONFIG_BPFILTER', 'CONFIG_BPFILTER_UMH',
  'CONFIG_TEST_BPF', 'CONFIG_HZ',
];
/** Only CONFIG_HZ goes into the #define form (bpf_jiffies64() conversions). */
const MACRO_CONFIG = new Set(['CONFIG_HZ']);

/** The kernel config: /boot/config-$(uname -r), else /proc/config.gz (bounded; gzip or plain). */
function kernelConfig(): Map<string, string> | undefined {
  for (const p of [`/boot/config-${os.release()}`, '/proc/config.gz']) {
    let raw: Buffer;
    try {
      raw = fs.readFileSync(p);
    } catch {
      continue;
    }
    let text: string;
    try {
      text = (raw[0] === 0x1f && raw[1] === 0x8b ? zlib.gunzipSync(raw, { maxOutputLength: 64 << 20 }) : raw).toString('utf8');
    } catch {
      continue;
    }
    const lines = text.split('\n');
    if (lines[1] !== '# Automatically generated file; DO NOT EDIT.') return undefined;
    const m = new Map<string, string>();
    for (const l of lines) {
      const eq = l.indexOf('=');
      if (!l.startsWith('CONFIG_') || eq < 0 || eq === l.length - 1) continue;
      const k = l.slice(0, eq);
      if (!m.has(k)) m.set(k, l.slice(eq + 1));
    }
    return m;
  }
  return undefined;
}

/** A /proc/sys integer as bpftool reads it (-1 when unreadable or not a number). */
function procInt(p: string): number {
  try {
    const line = fs.readFileSync(p, 'utf8').split('\n')[0]!;
    return /^-?\d+$/.test(line) ? Number(line) : -1;
  } catch {
    return -1;
  }
}

export interface ProbeReport {
  system?: { sysctls: [string, number][]; config: [string, string | null][] };
  syscall: boolean;
  progTypes: [string, boolean][];
  mapTypes: [string, boolean][];
  helpers: { type: string; supported: boolean; available: [string, boolean][] }[];
  misc: [key: string, plain: string, define: string, ok: boolean][];
}

const SYSCTLS: [string, string][] = [
  ['unprivileged_bpf_disabled', '/proc/sys/kernel/unprivileged_bpf_disabled'],
  ['bpf_jit_enable', '/proc/sys/net/core/bpf_jit_enable'],
  ['bpf_jit_harden', '/proc/sys/net/core/bpf_jit_harden'],
  ['bpf_jit_kallsyms', '/proc/sys/net/core/bpf_jit_kallsyms'],
  ['bpf_jit_limit', '/proc/sys/net/core/bpf_jit_limit'],
];

const ins = (...words: [number, number, number, number][]) => {
  const b = Buffer.alloc(words.length * 8);
  words.forEach(([op, regs, off, imm], i) => {
    b[i * 8] = op;
    b[i * 8 + 1] = regs;
    b.writeInt16LE(off, i * 8 + 2);
    b.writeInt32LE(imm, i * 8 + 4);
  });
  return b;
};
const EXIT: [number, number, number, number] = [0x95, 0, 0, 0];
const mov0 = (imm: number): [number, number, number, number] => [0xb7, 0, 0, imm];

/** bpftool's misc probes: socket filters with 4097 instructions, a bounded loop, JLT, JMP32 JLT. */
function miscProbes(ifindex: number): ProbeReport['misc'] {
  const run = (insns: Uint8Array) => {
    const r = probeLoad(ProgType.SOCKET_FILTER, insns, { ifindex });
    return r.ok;
  };
  const large = Buffer.alloc(4097 * 8);
  for (let i = 0; i < 4096; i++) large.set(ins(mov0(1)), i * 8);
  large.set(ins(EXIT), 4096 * 8);
  return [
    ['have_large_insn_limit', 'Large program size limit', 'LARGE_INSN_LIMIT', run(large)],
    ['have_bounded_loops', 'Bounded loop support', 'BOUNDED_LOOPS', run(ins(mov0(10), [0x17, 0, 0, 1], [0x55, 0, -2, 0], EXIT))],
    ['have_v2_isa_extension', 'ISA extension v2', 'V2_ISA_EXTENSION', run(ins(mov0(0), [0xa5, 0, 1, 0], mov0(1), EXIT))],
    ['have_v3_isa_extension', 'ISA extension v3', 'V3_ISA_EXTENSION', run(ins(mov0(0), [0xa6, 0, 1, 0], mov0(1), EXIT))],
  ];
}

/** Offloaded probes (dev IFACE): a load or map create bound to the device, as bpftool does. */
function devProgType(type: number, ifindex: number): boolean {
  const r = probeLoad(type, ins(mov0(2), EXIT), { ifindex });
  return r.ok;
}

function devMapType(type: number, ifindex: number): boolean {
  const attr = new Attr(72).u32(0, type).u32(4, 4).u32(8, 4).u32(12, 1).u32(44, ifindex);
  const fd = sys().bpf(Cmd.MAP_CREATE, attr.buf, 72);
  if (fd >= 0) sys().close(fd);
  return fd >= 0;
}

function ifindexOf(name: string): number {
  try {
    return Number(fs.readFileSync(`/sys/class/net/${name.replace(/\//g, '')}/ifindex`, 'utf8').trim());
  } catch {
    return 0;
  }
}

export function probeKernel(a: FeatureArgs): ProbeReport {
  const dev = a.target === 'dev';
  if (dev) {
    a.ifindex = ifindexOf(a.ifname!);
    if (!a.ifindex) throw new UsageError(`feature probe: unrecognized netdevice '${a.ifname}': No such device`);
  }
  const r: ProbeReport = { syscall: false, progTypes: [], mapTypes: [], helpers: [], misc: [] };
  if (!dev) {
    const cfg = kernelConfig();
    if (!cfg) process.stderr.write('skipping kernel config, can\'t open file: No such file or directory\n');
    r.system = { sysctls: SYSCTLS.map(([k, p]) => [k, procInt(p)]), config: CONFIG_OPTIONS.map((k) => [k, cfg?.get(k) ?? null]) };
  }
  const raw = sys().bpf(Cmd.PROG_LOAD, new Attr(148).buf, 148);
  r.syscall = raw >= 0 || -raw !== ENOSYS;
  if (raw >= 0) sys().close(raw);
  if (!r.syscall) return r;
  const safe = (f: () => boolean) => {
    try {
      return f();
    } catch {
      return false; // EPERM: not loadable here
    }
  };
  const offloadable = (t: number) => t === ProgType.SCHED_CLS || t === ProgType.XDP;
  const supported = new Map<number, boolean>();
  for (const [name, t] of PROG_TYPES) {
    if (dev && !offloadable(t)) continue;
    const ok = dev ? devProgType(t, a.ifindex) : safe(() => haveProgType(t));
    supported.set(t, ok);
    r.progTypes.push([name, ok]);
  }
  for (const [name, t] of MAP_TYPES) {
    if (dev && t !== MapType.HASH && t !== MapType.ARRAY) continue;
    r.mapTypes.push([name, dev ? devMapType(t, a.ifindex) : safe(() => haveMapType(t))]);
  }
  const helpers = kernelHelpers().filter(([, n]) => a.full || !DMESG_HELPERS.has(n));
  const tracing = tracingTarget();
  for (const [name, t] of PROG_TYPES) {
    if (dev && !offloadable(t)) continue;
    const ok = supported.get(t) ?? false;
    // struct_ops helpers need a kernel struct and member to attach to; lsm/ext cannot load here
    // or need a target program: like bpftool, their helpers are not determined.
    const probeable = ok && t !== ProgType.STRUCT_OPS && t !== ProgType.EXT && t !== ProgType.LSM && (t !== ProgType.TRACING || tracing > 0);
    const available = helpers.map(([id, n]) => [n, probeable && safe(() => helperAvailable(t, id, { attachBtfId: t === ProgType.TRACING ? tracing : undefined, ifindex: a.ifindex }))] as [string, boolean]);
    r.helpers.push({ type: name, supported: ok, available });
  }
  r.misc = miscProbes(a.ifindex);
  return r;
}

const SYSCTL_TEXT: Record<string, (v: number) => string> = {
  unprivileged_bpf_disabled: (v) =>
    ({ 0: 'bpf() syscall for unprivileged users is enabled', 1: 'bpf() syscall restricted to privileged users (without recovery)', 2: 'bpf() syscall restricted to privileged users (admin can change)', [-1]: 'Unable to retrieve required privileges for bpf() syscall' })[v] ??
    `bpf() syscall restriction has unknown value ${v}`,
  bpf_jit_enable: (v) => ({ 0: 'JIT compiler is disabled', 1: 'JIT compiler is enabled', 2: 'JIT compiler is enabled with debugging traces in kernel logs', [-1]: 'Unable to retrieve JIT-compiler status' })[v] ?? `JIT-compiler status has unknown value ${v}`,
  bpf_jit_harden: (v) =>
    ({ 0: 'JIT compiler hardening is disabled', 1: 'JIT compiler hardening is enabled for unprivileged users', 2: 'JIT compiler hardening is enabled for all users', [-1]: 'Unable to retrieve JIT hardening status' })[v] ?? `JIT hardening status has unknown value ${v}`,
  bpf_jit_kallsyms: (v) => ({ 0: 'JIT compiler kallsyms exports are disabled', 1: 'JIT compiler kallsyms exports are enabled for root', [-1]: 'Unable to retrieve JIT kallsyms export status' })[v] ?? `JIT kallsyms exports status has unknown value ${v}`,
  bpf_jit_limit: (v) => (v === -1 ? 'Unable to retrieve global memory limit for JIT compiler for unprivileged users' : `Global memory limit for JIT compiler for unprivileged users is ${v} bytes`),
};

/** bpftool's JSON object (keys in its order; booleans; config values as strings or null). */
export function featureJson(r: ProbeReport): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (r.system) o.system_config = Object.fromEntries([...r.system.sysctls, ...r.system.config]);
  o.syscall_config = { have_bpf_syscall: r.syscall };
  if (!r.syscall) return o;
  o.program_types = Object.fromEntries(r.progTypes.map(([n, ok]) => [`have_${n}_prog_type`, ok]));
  o.map_types = Object.fromEntries(r.mapTypes.map(([n, ok]) => [`have_${n}_map_type`, ok]));
  o.helpers = Object.fromEntries(r.helpers.map((h) => [`${h.type}_available_helpers`, h.available.filter(([, ok]) => ok).map(([n]) => n)]));
  o.misc = Object.fromEntries(r.misc.map(([k, , , ok]) => [k, ok]));
  return o;
}

export function featureText(r: ProbeReport): string {
  const L: string[] = [];
  const avail = (name: string, ok: boolean) => `${name} is ${ok ? '' : 'NOT '}available`;
  if (r.system) {
    L.push('Scanning system configuration...');
    for (const [k, v] of r.system.sysctls) L.push(SYSCTL_TEXT[k]!(v));
    for (const [k, v] of r.system.config) L.push(v === null ? `${k} is not set` : `${k} is set to ${v}`);
    L.push('');
  }
  L.push('Scanning system call availability...', avail('bpf() syscall', r.syscall), '');
  if (!r.syscall) return L.join('\n') + '\n';
  L.push('Scanning eBPF program types...', ...r.progTypes.map(([n, ok]) => avail(`eBPF program_type ${n}`, ok)), '');
  L.push('Scanning eBPF map types...', ...r.mapTypes.map(([n, ok]) => avail(`eBPF map_type ${n}`, ok)), '');
  L.push('Scanning eBPF helper functions...');
  for (const h of r.helpers) {
    const got = h.available.filter(([, ok]) => ok);
    L.push(`eBPF helpers supported for program type ${h.type}:${got.map(([n]) => `\n\t- ${n}`).join('')}`);
    if (!got.length) L.push(h.supported ? '\tCould not determine which helpers are available' : '\tProgram type not supported');
  }
  L.push('', 'Scanning miscellaneous eBPF features...', ...r.misc.map(([, plain, , ok]) => avail(plain, ok)), '');
  return L.join('\n') + '\n';
}

export function featureMacros(r: ProbeReport, p: string): string {
  const L: string[] = [];
  const def = (name: string, ok: boolean) => `#define ${p}${ok ? '' : 'NO_'}HAVE_${name}`;
  if (r.system) {
    L.push('/*** Misc kernel config items ***/');
    for (const [k, v] of r.system.config) if (MACRO_CONFIG.has(k)) L.push(v === null ? `/* ${p}${k} is not set */` : `#define ${p}${k} ${v}`);
    L.push('');
  }
  L.push('/*** System call availability ***/', def('BPF_SYSCALL', r.syscall), '');
  if (!r.syscall) return L.join('\n') + '\n';
  L.push('/*** eBPF program types ***/', ...r.progTypes.map(([n, ok]) => def(`${n.toUpperCase()}_PROG_TYPE`, ok)), '');
  L.push('/*** eBPF map types ***/', ...r.mapTypes.map(([n, ok]) => def(`${n.toUpperCase()}_MAP_TYPE`, ok)), '');
  L.push(
    '/*** eBPF helper functions ***/',
    '/*',
    ` * Use ${p}HAVE_PROG_TYPE_HELPER(prog_type_name, helper_name)`,
    ' * to determine if <helper_name> is available for <prog_type_name>,',
    ' * e.g.',
    ` *	#if ${p}HAVE_PROG_TYPE_HELPER(xdp, bpf_redirect)`,
    ' *		// do stuff with this helper',
    ' *	#elif',
    ' *		// use a workaround',
    ' *	#endif',
    ' */',
    `#define ${p}HAVE_PROG_TYPE_HELPER(prog_type, helper)	\\`,
    `	${p}BPF__PROG_TYPE_ ## prog_type ## __HELPER_ ## helper`,
  );
  for (const h of r.helpers) for (const [n, ok] of h.available) L.push(`#define ${p}BPF__PROG_TYPE_${h.type}__HELPER_${n} ${ok ? 1 : 0}`);
  L.push('', '/*** eBPF misc features ***/', ...r.misc.map(([, , d, ok]) => def(d, ok)), '');
  return L.join('\n') + '\n';
}

/**
 * `unprivileged`: the same probes from a process without privileges (uid and gid nobody, no
 * capabilities), whose output is relayed. bpftool drops its capabilities instead; the answers are
 * the ones an unprivileged user gets either way.
 */
function probeUnprivileged(words: string[]): string {
  const cli = process.argv[1]!;
  const args = [cli, ...(globals.pretty ? ['-p'] : globals.json ? ['-j'] : []), 'feature', 'probe', ...words.filter((w) => keyword(w, ['unprivileged']) !== 'unprivileged')];
  const r = spawnSync(process.execPath, args, { uid: 65534, gid: 65534, encoding: 'utf8', maxBuffer: 1 << 26, timeout: 120_000, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', BEE_TS_FEATURE_UNPRIVILEGED: '1' } });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new CliExit(`unprivileged probe failed: ${(r.stderr || r.stdout).trim()}`);
  return r.stdout;
}

export function featureProbeCommand(words: string[]): void {
  const a = parseFeatureArgs(words);
  if (a.unprivileged && process.geteuid?.() === 0) return void process.stdout.write(probeUnprivileged(words));
  if (!a.unprivileged && process.geteuid?.() !== 0 && !process.env.BEE_TS_FEATURE_UNPRIVILEGED)
    throw new UsageError("full feature probing requires root privileges; run as root or use 'unprivileged'");
  const r = probeKernel(a);
  if (globals.json) process.stdout.write(jsonText(featureJson(r)) + '\n');
  else process.stdout.write(a.macros !== undefined ? featureMacros(r, a.macros) : featureText(r));
}

// ---- bee-ts's own probes (feature extras) ----

function probeSafe(f: () => boolean): boolean | string {
  try {
    return f();
  } catch (e) {
    return e instanceof Error ? e.message.split('\n')[0]! : String(e);
  }
}

/** BPF links exist (5.7+) if LINK_CREATE is a known command: a bad fd gives EBADF, not EINVAL. */
function haveLinkCreate(attachType: number): boolean {
  try {
    linkCreate({ progFd: -1 >>> 0, targetFd: -1 >>> 0, attachType });
    return true;
  } catch (e) {
    if (e instanceof BpfError) return e.errno === EBADF;
    throw e;
  }
}

export interface ExtrasReport {
  attach: Record<string, boolean | string>;
  btf: Record<string, boolean | string>;
  misc: Record<string, boolean | string>;
}

/** What bee-ts itself relies on beyond bpftool's list: attach mechanisms, BTF kinds, accounting. */
export function probeExtras(): ExtrasReport {
  const r: ExtrasReport = { attach: {}, btf: {}, misc: {} };
  r.attach.have_kprobe_pmu = attachFeatures.kprobePmu();
  r.attach.have_uprobe_pmu = attachFeatures.uprobePmu();
  r.attach.have_tracefs = attachFeatures.tracefs();
  r.attach.have_tracefs_kprobe_events = attachFeatures.tracefsKprobes();
  r.attach.have_tracefs_uprobe_events = attachFeatures.tracefsUprobes();
  r.attach.have_bpf_links = probeSafe(() => haveLinkCreate(AttachType.CGROUP_INET_INGRESS));
  r.attach.have_perf_link = probeSafe(() => haveLinkCreate(AttachType.PERF_EVENT));
  r.attach.have_tcx_link = probeSafe(linkFeatures.tcx);
  r.attach.have_uprobe_multi_link = probeSafe(linkFeatures.uprobeMulti);
  r.attach.have_kprobe_multi_link = probeSafe(linkFeatures.kprobeMulti);
  r.attach.have_uprobe_ref_ctr = probeSafe(haveUprobeRefCtr);
  r.btf.have_btf = probeSafe(btfFeatures.base);
  r.btf.have_btf_func = probeSafe(btfFeatures.func);
  r.btf.have_btf_func_global = probeSafe(btfFeatures.funcGlobal);
  r.btf.have_btf_datasec = probeSafe(btfFeatures.datasec);
  r.btf.have_btf_float = probeSafe(btfFeatures.float);
  r.btf.have_btf_decl_tag = probeSafe(btfFeatures.declTag);
  r.btf.have_btf_type_tag = probeSafe(btfFeatures.typeTag);
  r.btf.have_btf_enum64 = probeSafe(btfFeatures.enum64);
  r.misc.have_ringbuf = probeSafe(() => haveMapType(MapType.RINGBUF));
  r.misc.have_memcg_accounting = probeSafe(haveMemcgAccounting);
  return r;
}

export function extrasText(r: ExtrasReport): string {
  const yes = (v: boolean | string) => (v === true ? 'is available' : v === false ? 'is NOT available' : `could not be probed (${v})`);
  const names: Record<string, string> = {
    have_kprobe_pmu: 'kprobe PMU (perf_event_open)',
    have_uprobe_pmu: 'uprobe PMU (perf_event_open)',
    have_tracefs: 'tracefs',
    have_tracefs_kprobe_events: 'tracefs kprobe_events',
    have_tracefs_uprobe_events: 'tracefs uprobe_events',
    have_bpf_links: 'BPF links (BPF_LINK_CREATE)',
    have_perf_link: 'perf event BPF links',
    have_tcx_link: 'TCX links (else TC attaches through netlink)',
    have_uprobe_multi_link: 'uprobe.multi links',
    have_kprobe_multi_link: 'kprobe.multi links',
    have_uprobe_ref_ctr: 'uprobe ref_ctr_offset (USDT semaphores)',
    have_ringbuf: 'ring buffer',
    have_memcg_accounting: 'memcg-based memory accounting',
  };
  const lines = ['Scanning attach mechanisms...'];
  for (const [k, v] of Object.entries(r.attach)) lines.push(`${names[k] ?? k} ${yes(v)}`);
  lines.push('', 'Scanning BTF kinds...');
  for (const [k, v] of Object.entries(r.btf)) lines.push(`${k.replace(/^have_/, '').toUpperCase().replace('BTF_', 'BTF ')} ${yes(v)}`);
  lines.push('', 'Scanning bee-ts runtime features...');
  for (const [k, v] of Object.entries(r.misc)) lines.push(`${names[k] ?? k} ${yes(v)}`);
  return lines.join('\n') + '\n';
}
