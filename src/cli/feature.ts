// `bee-ts feature probe`: what this kernel offers, each answer from actually trying it.
import { btfFeatures } from '../loader/btf-features.js';
import { haveMapType, haveMemcgAccounting, haveProgType, attachFeatures, haveUprobeRefCtr, linkFeatures } from '../syscall/features.js';
import { MapType, ProgType } from '../syscall/constants.js';
import { sys } from '../syscall/backend.js';
import { Attr, Cmd, linkCreate } from '../syscall/bpf.js';
import { BpfError, EBADF, ENOSYS } from '../syscall/errno.js';
import { AttachType } from '../syscall/constants.js';

function probeSafe(f: () => boolean): boolean | string {
  try {
    return f();
  } catch (e) {
    return e instanceof Error ? e.message.split('\n')[0]! : String(e);
  }
}

/** BPF links exist (5.7+) if LINK_CREATE is a known command: a bad fd gives EBADF, not EINVAL. */
function haveBpfLinks(): boolean {
  try {
    linkCreate({ progFd: -1 >>> 0, targetFd: -1 >>> 0, attachType: AttachType.CGROUP_INET_INGRESS });
    return true;
  } catch (e) {
    if (e instanceof BpfError) return e.errno === EBADF;
    throw e;
  }
}

function haveSyscall(): boolean {
  const r = sys().bpf(Cmd.MAP_GET_NEXT_ID, new Attr(12).buf, 12);
  return r >= 0 || -r !== ENOSYS;
}

export interface FeatureReport {
  syscall_config: Record<string, boolean | string>;
  program_types: Record<string, boolean | string>;
  map_types: Record<string, boolean | string>;
  attach: Record<string, boolean | string>;
  btf: Record<string, boolean | string>;
  misc: Record<string, boolean | string>;
}

export function probeFeatures(): FeatureReport {
  const r: FeatureReport = { syscall_config: {}, program_types: {}, map_types: {}, attach: {}, btf: {}, misc: {} };
  r.syscall_config.have_bpf_syscall = probeSafe(haveSyscall);
  for (const [name, v] of Object.entries(ProgType)) {
    if (v === 0) continue;
    r.program_types[`have_${name.toLowerCase()}_prog_type`] = probeSafe(() => haveProgType(v));
  }
  for (const [name, v] of Object.entries(MapType)) {
    if (v === 0) continue;
    r.map_types[`have_${name.toLowerCase()}_map_type`] = probeSafe(() => haveMapType(v));
  }
  r.attach.have_kprobe_pmu = attachFeatures.kprobePmu();
  r.attach.have_uprobe_pmu = attachFeatures.uprobePmu();
  r.attach.have_tracefs = attachFeatures.tracefs();
  r.attach.have_tracefs_kprobe_events = attachFeatures.tracefsKprobes();
  r.attach.have_tracefs_uprobe_events = attachFeatures.tracefsUprobes();
  r.attach.have_bpf_links = probeSafe(haveBpfLinks);
  r.attach.have_perf_link = probeSafe(havePerfLink);
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
  r.misc.have_ringbuf = r.map_types.have_ringbuf_map_type!;
  r.misc.have_memcg_accounting = probeSafe(haveMemcgAccounting);
  return r;
}

/** Perf links (5.15+): LINK_CREATE with attach type PERF_EVENT on a non-perf fd says EBADF/EINVAL apart. */
function havePerfLink(): boolean {
  try {
    linkCreate({ progFd: -1 >>> 0, targetFd: -1 >>> 0, attachType: AttachType.PERF_EVENT });
    return true;
  } catch (e) {
    if (e instanceof BpfError) return e.errno === EBADF;
    throw e;
  }
}

export function featureText(r: FeatureReport): string {
  const yes = (v: boolean | string) => (v === true ? 'is available' : v === false ? 'is NOT available' : `could not be probed (${v})`);
  const lines: string[] = [];
  lines.push('Scanning system call availability...');
  lines.push(`bpf() syscall ${r.syscall_config.have_bpf_syscall === true ? 'is available' : 'is NOT available'}`, '');
  lines.push('Scanning eBPF program types...');
  for (const [k, v] of Object.entries(r.program_types)) lines.push(`eBPF program_type ${k.replace(/^have_|_prog_type$/g, '')} ${yes(v)}`);
  lines.push('', 'Scanning eBPF map types...');
  for (const [k, v] of Object.entries(r.map_types)) lines.push(`eBPF map_type ${k.replace(/^have_|_map_type$/g, '')} ${yes(v)}`);
  lines.push('', 'Scanning attach mechanisms...');
  const attachNames: Record<string, string> = {
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
  };
  for (const [k, v] of Object.entries(r.attach)) lines.push(`${attachNames[k] ?? k} ${yes(v)}`);
  lines.push('', 'Scanning BTF kinds...');
  for (const [k, v] of Object.entries(r.btf)) lines.push(`${k.replace(/^have_/, '').toUpperCase().replace('BTF_', 'BTF ')} ${yes(v)}`);
  lines.push('', 'Scanning miscellaneous eBPF features...');
  lines.push(`ring buffer ${yes(r.misc.have_ringbuf!)}`);
  lines.push(`memcg-based memory accounting ${yes(r.misc.have_memcg_accounting!)}`);
  return lines.join('\n') + '\n';
}
