// `bee-ts net list [dev NAME]`: like `bpftool net list`, the BPF programs on this network
// namespace's interfaces — XDP (RTM_GETLINK: netlink attachments and XDP links alike), TC
// filters on clsact/ingress qdiscs (RTM_GETTFILTER), TCX links (BPF_PROG_QUERY, 6.6+; bpftool
// 7.1 does not show these), and the netns flow dissector (BPF_PROG_QUERY).
import fs from 'node:fs';
import { netDevices, qdiscKinds, tcListFilters } from '../link/tc.js';
import { fdById, progQuery } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EINVAL, ENOENT, EOPNOTSUPP } from '../syscall/errno.js';
import { progInfo } from '../syscall/info.js';
import { RtNetlink } from '../syscall/netlink.js';
import { UsageError } from './errors.js';

export interface NetXdp {
  devname: string;
  ifindex: number;
  mode: string;
  id: number;
}
export interface NetTc {
  devname: string;
  ifindex: number;
  kind: string;
  name?: string;
  id?: number;
  link_id?: number;
}
export interface NetList {
  xdp: NetXdp[];
  tc: NetTc[];
  flow_dissector: { id: number }[];
}

function progName(id: number): string | undefined {
  try {
    using fd = fdById('prog', id);
    return progInfo(fd.value).name;
  } catch {
    return undefined;
  }
}

/** Errors that mean "nothing of this kind here" (no qdisc, no TCX on this kernel). */
const absent = (e: unknown) => e instanceof BpfError && [ENOENT, EINVAL, EOPNOTSUPP].includes(e.errno);

export function netList(dev?: string): NetList {
  using nl = new RtNetlink(); // one socket for the whole listing
  const devices = netDevices(nl).filter((d) => dev === undefined || d.name === dev);
  if (dev !== undefined && devices.length === 0) throw new UsageError(`net list: no interface '${dev}' in this network namespace`);
  const out: NetList = { xdp: [], tc: [], flow_dissector: [] };
  for (const d of devices) {
    for (const x of d.xdp) out.xdp.push({ devname: d.name, ifindex: d.ifindex, mode: x.mode, id: x.id });
    let kinds: string[] = [];
    try {
      kinds = qdiscKinds(nl, d.ifindex);
    } catch (e) {
      if (!absent(e)) throw e;
    }
    const hooks: [string, 'ingress' | 'egress' | 'ingress-qdisc'][] = [];
    if (kinds.includes('clsact')) hooks.push(['clsact/ingress', 'ingress'], ['clsact/egress', 'egress']);
    else if (kinds.includes('ingress')) hooks.push(['ingress', 'ingress-qdisc']);
    for (const [kind, hook] of hooks) {
      let filters: ReturnType<typeof tcListFilters> = [];
      try {
        filters = tcListFilters(nl, d.ifindex, hook);
      } catch (e) {
        if (!absent(e)) throw e;
      }
      for (const f of filters) if (f.kind === 'bpf') out.tc.push({ devname: d.name, ifindex: d.ifindex, kind, name: f.name, id: f.id });
    }
    for (const [kind, type] of [['tcx/ingress', AttachType.TCX_INGRESS], ['tcx/egress', AttachType.TCX_EGRESS]] as const) {
      try {
        const q = progQuery(d.ifindex, type, `TCX programs on ${d.name}`, 64, 0, true);
        q.progIds.forEach((id, i) => out.tc.push({ devname: d.name, ifindex: d.ifindex, kind, name: progName(id), id, link_id: q.linkIds[i] || undefined }));
      } catch (e) {
        if (!absent(e)) throw e;
      }
    }
  }
  try {
    using ns = { fd: fs.openSync('/proc/self/ns/net', 'r'), [Symbol.dispose]() { fs.closeSync(this.fd); } };
    for (const id of progQuery(ns.fd, AttachType.FLOW_DISSECTOR, 'flow dissector of this netns').progIds) out.flow_dissector.push({ id });
  } catch (e) {
    if (!absent(e)) throw e;
  }
  return out;
}

/** bpftool's plain layout: a section per kind, `dev(ifindex) mode id N` lines, a blank line after each. */
export function netText(n: NetList): string {
  const lines: string[] = ['xdp:'];
  for (const x of n.xdp) lines.push(`${x.devname}(${x.ifindex}) ${x.mode} id ${x.id}`);
  lines.push('', 'tc:');
  for (const t of n.tc) {
    if (t.kind.startsWith('tcx/')) lines.push(`${t.devname}(${t.ifindex}) ${t.kind} ${t.name ?? ''} prog_id ${t.id}${t.link_id ? ` link_id ${t.link_id}` : ''}`);
    else lines.push(`${t.devname}(${t.ifindex}) ${t.kind}${t.name !== undefined ? ` ${t.name}` : ''}${t.id !== undefined ? ` id ${t.id}` : ''}`);
  }
  lines.push('', 'flow_dissector:');
  // bpftool ends the section with one newline: after the `id N` it printed, or after the header.
  for (const f of n.flow_dissector) lines.push(`id ${f.id}`);
  lines.push(...(n.flow_dissector.length ? [''] : ['', '']));
  return lines.join('\n');
}
