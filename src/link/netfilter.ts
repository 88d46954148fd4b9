// Netfilter hooks (SEC("netfilter"), 6.4+): a BPF link on one protocol family's hook at a
// priority, in the calling process's network namespace (BPF_LINK_CREATE with BPF_NETFILTER).
// The program returns a verdict: NF_DROP (0) or NF_ACCEPT (1).
import { BeeTsError, NotSupportedError } from '../errors.js';
import { sys } from '../syscall/backend.js';
import { linkCreate } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EINVAL, EOPNOTSUPP } from '../syscall/errno.js';
import { type AttachableProgram, defineHook } from './kinds.js';
import { BaseLink, type Link } from './link.js';
import { kernelAtLeast } from './netkit.js';

/** Where a netfilter program runs (libbpf's bpf_netfilter_opts). */
export interface NetfilterOptions {
  /** Protocol family: NFPROTO_IPV4 (2) or NFPROTO_IPV6 (10). */
  pf: 'ipv4' | 'ipv6' | number;
  /** The hook: NF_INET_PRE_ROUTING (0) ... NF_INET_POST_ROUTING (4). */
  hook: 'prerouting' | 'input' | 'forward' | 'output' | 'postrouting' | number;
  /** Order among the hook's functions (lower runs first; not INT_MIN or INT_MAX). Default 0. */
  priority?: number;
  /** BPF_F_NETFILTER_IP_DEFRAG (6.6+): see whole datagrams, defragmented. */
  defrag?: boolean;
}

const PF = { ipv4: 2, ipv6: 10 } as const;
const HOOK = { prerouting: 0, input: 1, forward: 2, output: 3, postrouting: 4 } as const;

export function attachNetfilter(p: AttachableProgram, o: NetfilterOptions | undefined): Link {
  if (!o) throw new BeeTsError('ATTACH', `program '${p.name}' (${p.section}) needs a hook: pass { netfilter: { pf: 'ipv4', hook: 'input', priority: 0 } }`);
  const pf = typeof o.pf === 'number' ? o.pf : PF[o.pf];
  const hook = typeof o.hook === 'number' ? o.hook : HOOK[o.hook];
  const priority = o.priority ?? 0;
  if (pf === undefined || hook === undefined || !Number.isInteger(priority) || priority <= -0x80000000 || priority >= 0x7fffffff)
    throw new BeeTsError('ATTACH', `program '${p.name}': netfilter hook ${JSON.stringify(o)}: pf is ipv4|ipv6, hook is prerouting|input|forward|output|postrouting, priority an integer above INT_MIN and below INT_MAX`);
  const where = `${typeof o.pf === 'number' ? `pf ${pf}` : o.pf} ${typeof o.hook === 'number' ? `hook ${hook}` : o.hook} priority ${priority}`;
  try {
    const fd = linkCreate(
      { progFd: p.fd.value, targetFd: 0, attachType: AttachType.NETFILTER, extra: (a) => a.u32(16, pf).u32(20, hook).u32(24, priority >>> 0).u32(28, o.defrag ? 1 : 0) },
      `program '${p.name}': netfilter ${where}`,
    );
    return new BaseLink('netfilter', p.name, where, fd);
  } catch (e) {
    if (e instanceof BpfError && (e.errno === EINVAL || e.errno === EOPNOTSUPP)) {
      if (!kernelAtLeast(6, 4)) throw new NotSupportedError('netfilter links', '6.4', sys().uname().release, `program '${p.name}'`, { cause: e });
      if (o.defrag && !kernelAtLeast(6, 6)) throw new NotSupportedError('netfilter links with IP defragmentation', '6.6', sys().uname().release, `program '${p.name}'`, { cause: e });
      if (e.errno === EOPNOTSUPP) throw new BeeTsError('NOT_SUPPORTED', `program '${p.name}': this kernel has no netfilter BPF links (CONFIG_NETFILTER_BPF_LINK): ${e.code}`, { cause: e });
    }
    throw e;
  }
}

export interface NetfilterAttachOptions {
  /** netfilter: the protocol family, hook and priority (in this process's network namespace). */
  netfilter?: NetfilterOptions;
}

/** SEC("netfilter") names no hook: as in libbpf, never automatic. */
export const netfilterHook = defineHook('netfilter', 'never', (p, _target, o: NetfilterAttachOptions) => attachNetfilter(p, o.netfilter));
