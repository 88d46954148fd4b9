// `link show|list [LINK]`, `link pin LINK FILE`, `link detach LINK`: bpftool's layout and keys.
import { linkDetach, objPin } from '../syscall/bpf.js';
import { attachTypeName, linkTypeName } from '../syscall/constants.js';
import { BpfError, EOPNOTSUPP } from '../syscall/errno.js';
import { linkInfo } from '../syscall/info.js';
import { UsageError } from './errors.js';
import { openLink, parseSelector, pinnedLines, pinsOf, showObjects } from './objects.js';

export function linkJson(fd: number): Record<string, unknown> {
  const i = linkInfo(fd);
  const o: Record<string, unknown> = { id: i.id, type: linkTypeName(i.type), prog_id: i.progId };
  const d = { ...i.details };
  if (typeof d.attach_type === 'number') d.attach_type = attachTypeName(d.attach_type);
  const r = { ...o, ...d };
  pinsOf('link', i.id, r);
  return r;
}

export function linkText(o: Record<string, unknown>): string {
  let s = `${o.id}: ${o.type}  prog ${o.prog_id}  \n`;
  const extra: string[] = [];
  if (o.tp_name !== undefined) extra.push(`tp '${o.tp_name}'`);
  if (o.cgroup_id !== undefined) extra.push(`cgroup_id ${o.cgroup_id}`);
  if (o.netns_ino !== undefined) extra.push(`netns_ino ${o.netns_ino}`);
  if (o.ifindex !== undefined) extra.push(`ifindex ${o.ifindex}`);
  if (o.attach_type !== undefined) extra.push(`attach_type ${o.attach_type}`);
  if (o.event_type !== undefined) extra.push(`event_type ${o.event_type}`);
  if (o.func !== undefined) extra.push(`func ${o.func}+${o.offset}`);
  if (o.file !== undefined) extra.push(`file ${o.file}+${o.offset}`);
  if (o.tracepoint !== undefined) extra.push(`tracepoint ${o.tracepoint}`);
  if (extra.length) s += `\t${extra.join('  ')}  \n`;
  return s + pinnedLines(o);
}

export function linkShow(args: string[], json: boolean): void {
  showObjects('link', args, json, openLink, linkJson, linkText);
}

/** link pin LINK FILE: keep a link (and its attachment) after every fd to it is closed. */
export function linkPin(args: string[]): void {
  const sel = parseSelector(args, 'link');
  const file = sel.rest[0];
  if (!file || sel.rest.length > 1) throw new UsageError('link pin LINK FILE');
  const fd = openLink(sel);
  try {
    objPin(fd.value, file, `pin link ${sel.what} at ${file}`);
  } finally {
    fd.close();
  }
}

/** link detach LINK: BPF_LINK_DETACH, even while the link is pinned or held open elsewhere. */
export function linkDetachCmd(args: string[]): void {
  const sel = parseSelector(args, 'link');
  if (sel.rest.length) throw new UsageError('link detach LINK');
  const fd = openLink(sel);
  try {
    const r = linkDetach(fd.value);
    if (r < 0) throw new BpfError('BPF_LINK_DETACH', -r, `link ${sel.what}`, -r === EOPNOTSUPP ? 'this kind of link cannot be detached (raw tracepoint, tracing): remove its pins and close its fds instead' : undefined);
  } finally {
    fd.close();
  }
}
