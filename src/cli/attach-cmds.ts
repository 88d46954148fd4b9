// `bee-ts prog attach|detach PROG ATTACH_TYPE [MAP]` and `bee-ts cgroup attach|detach CGROUP
// ATTACH_TYPE PROG [multi|override]`: bpftool 7.1's grammar (its attach type names and prefixes,
// its argument checks and messages), BPF_PROG_ATTACH / BPF_PROG_DETACH, `null` under -j.
// Attachments made this way outlive the process (no link): detach them with the same command.
import fs from 'node:fs';
import { progAttach, progDetach } from '../syscall/bpf.js';
import { AttachType, attachTypeName } from '../syscall/constants.js';
import { BpfError, errnoMessage } from '../syscall/errno.js';
import type { Fd } from '../syscall/fd.js';
import { matchPrefix } from './argv.js';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText } from './format.js';
import { openMap, openProgs, parseSelector } from './objects.js';

const BPF_F_ALLOW_OVERRIDE = 1;
const BPF_F_ALLOW_MULTI = 2;

/** Attach types by number, as libbpf names them (`cgroup_inet_ingress`, `sk_msg_verdict`). */
const ALL_TYPES = [...new Set(Object.values(AttachType) as number[])].sort((a, b) => a - b);

/** bpftool's prog.c: the map (and netns) attach types, and their traditional prefixable names. */
const PROG_TYPES: [number, string | undefined][] = [
  [AttachType.SK_SKB_STREAM_PARSER, 'stream_parser'],
  [AttachType.SK_SKB_STREAM_VERDICT, 'stream_verdict'],
  [AttachType.SK_MSG_VERDICT, 'msg_verdict'],
  [AttachType.FLOW_DISSECTOR, undefined],
  [AttachType.SK_SKB_VERDICT, 'skb_verdict'],
];

/** bpftool's bpf_attach_type_input_str: the names `cgroup attach` took before libbpf's, prefixable. */
const INPUT_NAMES: Record<number, string> = {
  [AttachType.CGROUP_INET_INGRESS]: 'ingress',
  [AttachType.CGROUP_INET_EGRESS]: 'egress',
  [AttachType.CGROUP_INET_SOCK_CREATE]: 'sock_create',
  [AttachType.CGROUP_INET_SOCK_RELEASE]: 'sock_release',
  [AttachType.CGROUP_SOCK_OPS]: 'sock_ops',
  [AttachType.CGROUP_DEVICE]: 'device',
  [AttachType.CGROUP_INET4_BIND]: 'bind4',
  [AttachType.CGROUP_INET6_BIND]: 'bind6',
  [AttachType.CGROUP_INET4_CONNECT]: 'connect4',
  [AttachType.CGROUP_INET6_CONNECT]: 'connect6',
  [AttachType.CGROUP_INET4_POST_BIND]: 'post_bind4',
  [AttachType.CGROUP_INET6_POST_BIND]: 'post_bind6',
  [AttachType.CGROUP_INET4_GETPEERNAME]: 'getpeername4',
  [AttachType.CGROUP_INET6_GETPEERNAME]: 'getpeername6',
  [AttachType.CGROUP_INET4_GETSOCKNAME]: 'getsockname4',
  [AttachType.CGROUP_INET6_GETSOCKNAME]: 'getsockname6',
  [AttachType.CGROUP_UDP4_SENDMSG]: 'sendmsg4',
  [AttachType.CGROUP_UDP6_SENDMSG]: 'sendmsg6',
  [AttachType.CGROUP_SYSCTL]: 'sysctl',
  [AttachType.CGROUP_UDP4_RECVMSG]: 'recvmsg4',
  [AttachType.CGROUP_UDP6_RECVMSG]: 'recvmsg6',
  [AttachType.CGROUP_GETSOCKOPT]: 'getsockopt',
  [AttachType.CGROUP_SETSOCKOPT]: 'setsockopt',
  [AttachType.TRACE_RAW_TP]: 'raw_tp',
  [AttachType.TRACE_FENTRY]: 'fentry',
  [AttachType.TRACE_FEXIT]: 'fexit',
  [AttachType.MODIFY_RETURN]: 'mod_ret',
  [AttachType.SK_REUSEPORT_SELECT]: 'sk_skb_reuseport_select',
  [AttachType.SK_REUSEPORT_SELECT_OR_MIGRATE]: 'sk_skb_reuseport_select_or_migrate',
};

/** prog.c's parse_attach_type: an exact libbpf name, or a prefix of a traditional one, in number order. */
export function progAttachType(word: string): number | undefined {
  for (const [type, legacy] of PROG_TYPES) {
    if (word === attachTypeName(type)) return type;
    if (legacy && matchPrefix(word, [legacy])) return type;
  }
  return undefined;
}

/** cgroup.c's parse_attach_type: any exact libbpf name first, then a prefix of an input name. */
export function cgroupAttachType(word: string): number | undefined {
  for (const type of ALL_TYPES) if (word === attachTypeName(type)) return type;
  for (const type of ALL_TYPES) if (matchPrefix(word, [INPUT_NAMES[type] ?? attachTypeName(type)])) return type;
  return undefined;
}

function oneProg(words: string[]): { fd: Fd; rest: string[] } {
  const sel = parseSelector(words, 'prog');
  const fds = openProgs(sel);
  if (fds.length > 1) {
    for (const f of fds) f.close();
    throw new CliExit(`several programs match ${sel.how} '${sel.what}': use id N`);
  }
  return { fd: fds[0]!, rest: sel.rest };
}

const done = () => {
  if (globals.json) process.stdout.write(jsonText(null) + '\n');
};

const failed = (what: string, e: unknown): never => {
  if (e instanceof BpfError) throw new CliExit(`${what}: ${errnoMessage(e.errno)}`);
  throw e;
};

/** prog attach|detach PROG ATTACH_TYPE [MAP]: sk_skb/sk_msg programs on a sockmap or sockhash, a flow dissector on this network namespace. */
export function progAttachCmd(args: string[], detach: boolean): void {
  const cmd = detach ? 'detach' : 'attach';
  if (args.length < 3) throw new UsageError(`'${cmd}' needs at least 3 arguments, ${args.length} found (prog ${cmd} PROG ATTACH_TYPE [MAP])`);
  const prog = oneProg(args);
  let map: Fd | undefined;
  try {
    const [typeWord, ...mapWords] = prog.rest;
    const type = progAttachType(typeWord ?? '');
    if (type === undefined)
      throw new UsageError(`invalid attach/detach type '${typeWord ?? ''}' (${PROG_TYPES.map(([t]) => attachTypeName(t)).join(' | ')})`);
    // The flow dissector attaches to the caller's network namespace: no target.
    let target = 0;
    if (type !== AttachType.FLOW_DISSECTOR) {
      if (mapWords.length < 2) throw new UsageError(`'${typeWord}' needs at least 2 arguments, ${mapWords.length} found (the MAP: id N | pinned PATH | name NAME)`);
      map = openMap(parseSelector(mapWords, 'map'));
      target = map.value;
    }
    try {
      if (detach) {
        const r = progDetach(target, prog.fd.value, type);
        if (r < 0) throw new BpfError('BPF_PROG_DETACH', -r, `${attachTypeName(type)} program`);
      } else progAttach(target, prog.fd.value, type, 0, `${attachTypeName(type)} program`);
    } catch (e) {
      failed(detach ? 'failed prog detach from map' : 'failed prog attach to map', e);
    }
  } finally {
    map?.close();
    prog.fd.close();
  }
  done();
}

/** cgroup attach CGROUP ATTACH_TYPE PROG [multi] [override]; cgroup detach CGROUP ATTACH_TYPE PROG. */
export function cgroupAttachCmd(args: string[], detach: boolean): void {
  const cmd = detach ? 'detach' : 'attach';
  if (args.length < 4) throw new UsageError(`too few parameters for cgroup ${cmd} (cgroup ${cmd} CGROUP ATTACH_TYPE PROG${detach ? '' : ' [multi|override]'})`);
  const [dir, typeWord, ...progWords] = args as [string, string, ...string[]];
  let cg: number;
  try {
    cg = fs.openSync(dir, fs.constants.O_RDONLY);
  } catch (e) {
    throw new CliExit(`can't open cgroup ${dir} (${(e as NodeJS.ErrnoException).code})`);
  }
  try {
    const type = cgroupAttachType(typeWord);
    if (type === undefined) throw new UsageError(`invalid attach type '${typeWord}' (cgroup_inet_ingress, cgroup_inet_egress, cgroup_sock_ops, ... as in 'bee-ts cgroup attach --help')`);
    const prog = oneProg(progWords);
    try {
      let flags = 0;
      for (const w of prog.rest) {
        if (detach) throw new UsageError(`cgroup detach: unexpected '${w}' (cgroup detach CGROUP ATTACH_TYPE PROG)`);
        if (matchPrefix(w, ['multi'])) flags |= BPF_F_ALLOW_MULTI;
        else if (matchPrefix(w, ['override'])) flags |= BPF_F_ALLOW_OVERRIDE;
        else throw new UsageError(`unknown option: ${w} (multi | override)`);
      }
      try {
        if (detach) {
          const r = progDetach(cg, prog.fd.value, type);
          if (r < 0) throw new BpfError('BPF_PROG_DETACH', -r, `cgroup ${dir}`);
        } else progAttach(cg, prog.fd.value, type, flags, `cgroup ${dir}`);
      } catch (e) {
        failed(detach ? 'failed to detach program' : 'failed to attach program', e);
      }
    } finally {
      prog.fd.close();
    }
  } finally {
    fs.closeSync(cg);
  }
  done();
}
