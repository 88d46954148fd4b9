// `bee-ts net attach|detach ATTACH_TYPE ...`: bpftool's syntax. xdp, xdpgeneric, xdpdrv and
// xdpoffload go through netlink (IFLA_XDP, as bpftool 7.1); tcx_ingress and tcx_egress, which
// bpftool 7.1 does not have, follow newer bpftool: BPF_PROG_ATTACH/DETACH on the interface, so
// the attachment outlives this process.
import fs from 'node:fs';
import os from 'node:os';
import { xdpSetNetlink, XDP_FLAGS_UPDATE_IF_NOEXIST } from '../link/tc.js';
import { progAttach, progDetach } from '../syscall/bpf.js';
import { AttachType } from '../syscall/constants.js';
import { BpfError, EINVAL, errnoMessage } from '../syscall/errno.js';
import { linkFeatures } from '../syscall/features.js';
import { keyword } from './argv.js';
import { CliExit, UsageError } from './errors.js';
import { globals, jsonText } from './format.js';
import { openProgs, parseSelector } from './objects.js';

const TYPES = ['xdp', 'xdpgeneric', 'xdpdrv', 'xdpoffload', 'tcx_ingress', 'tcx_egress'] as const;
type NetAttachType = (typeof TYPES)[number];
const XDP_MODE: Record<string, number> = { xdp: 0, xdpgeneric: 1 << 1, xdpdrv: 1 << 2, xdpoffload: 1 << 3 };

function parseType(w: string | undefined): NetAttachType {
  const t = keyword(w, TYPES);
  if (!t) throw new UsageError(`net attach/detach: invalid net attach/detach type: ${w ?? ''} (${TYPES.join(' | ')})`);
  return t as NetAttachType;
}

/** `dev NAME` → ifindex, as bpftool's net_parse_dev. */
function parseDev(words: string[]): { ifindex: number; name: string; rest: string[] } {
  const [kw, name, ...rest] = words;
  if (keyword(kw, ['dev']) !== 'dev' || name === undefined) throw new UsageError(`net attach/detach: expected 'dev NAME', got '${words.join(' ')}'`);
  let ifindex = 0;
  try {
    ifindex = Number(fs.readFileSync(`/sys/class/net/${name.replace(/\//g, '')}/ifindex`, 'utf8').trim());
  } catch {
    throw new CliExit(`invalid devname ${name}`);
  }
  return { ifindex, name, rest };
}

const failure = (what: string, type: string, e: unknown): never => {
  // bpftool's words, and on a kernel without TCX (its probe says so) which feature is missing.
  const noTcx = type.startsWith('tcx_') && e instanceof BpfError && e.errno === EINVAL && !linkFeatures.tcx();
  if (e instanceof BpfError) throw new CliExit(`interface ${type} ${what} failed: ${errnoMessage(e.errno)}${noTcx ? ` (this ${os.release()} kernel has no TCX: Linux 6.6 or later)` : ''}`);
  throw e;
};

/** net attach ATTACH_TYPE PROG dev NAME [overwrite] */
export function netAttach(args: string[]): void {
  const type = parseType(args[0]);
  const sel = parseSelector(args.slice(1), 'prog');
  const dev = parseDev(sel.rest);
  let overwrite = false;
  if (dev.rest.length) {
    if (dev.rest.length > 1 || keyword(dev.rest[0], ['overwrite']) !== 'overwrite') throw new UsageError(`net attach: expected 'overwrite', got: '${dev.rest.join(' ')}'?`);
    overwrite = true;
  }
  const fds = openProgs(sel);
  try {
    if (fds.length > 1) throw new CliExit('several programs match: use id N');
    const fd = fds[0]!.value;
    try {
      if (type in XDP_MODE) xdpSetNetlink(dev.ifindex, fd, XDP_MODE[type]! | (overwrite ? 0 : XDP_FLAGS_UPDATE_IF_NOEXIST));
      else progAttach(dev.ifindex, fd, type === 'tcx_ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS, 0, `${type} on ${dev.name}`);
    } catch (e) {
      failure('attach', type, e);
    }
  } finally {
    for (const f of fds) f.close();
  }
  if (globals.json) process.stdout.write(jsonText(null) + '\n');
}

/** net detach ATTACH_TYPE dev NAME */
export function netDetach(args: string[]): void {
  const type = parseType(args[0]);
  const dev = parseDev(args.slice(1));
  if (dev.rest.length) throw new UsageError(`net detach: unexpected '${dev.rest.join(' ')}'`);
  try {
    if (type in XDP_MODE) xdpSetNetlink(dev.ifindex, -1, XDP_MODE[type]! | XDP_FLAGS_UPDATE_IF_NOEXIST);
    else {
      const r = progDetach(dev.ifindex, 0, type === 'tcx_ingress' ? AttachType.TCX_INGRESS : AttachType.TCX_EGRESS);
      if (r < 0) throw new BpfError('BPF_PROG_DETACH', -r, `${type} on ${dev.name}`);
    }
  } catch (e) {
    failure('detach', type, e);
  }
  if (globals.json) process.stdout.write(jsonText(null) + '\n');
}
