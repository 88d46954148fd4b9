// Lightweight tunnels (lwt_in, lwt_out, lwt_xmit; 4.10+): the program runs for packets that take
// one route, as that route's encapsulation (RTA_ENCAP of type LWTUNNEL_ENCAP_BPF), on input, on
// output, or at transmit. Attaching adds the route (RTM_NEWROUTE, never replacing one that exists)
// in this process's network namespace; detaching deletes it. iproute2's
// `ip route add PREFIX encap bpf xmit obj x.o sec lwt_xmit dev DEV` does the same; libbpf has no
// attach for these sections. lwt_seg6local programs (4.18+) are an SRv6 End.BPF action: the route
// is a seg6local encapsulation (LWTUNNEL_ENCAP_SEG6_LOCAL) whose action runs the program for packets
// whose active segment is the route's address, as `ip -6 route add ADDR encap seg6local action
// End.BPF endpoint fd N dev DEV` adds it.
import { NotSupportedError } from '../errors.js';
import { sys } from '../syscall/backend.js';
import { ProgType } from '../syscall/constants.js';
import { type Attr, NetlinkError, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, RtNetlink, strAttr, u32Attr } from '../syscall/netlink.js';
import { AttachError, type AttachableProgram, defineHook, ifindexOf } from './kinds.js';
import { BaseLink, type Link } from './link.js';

export interface LwtRoute {
  /** The destination the route covers (lwt_seg6local: the SRv6 segment, IPv6): `198.18.0.0/15`, `2001:db8::/64`, or one address (a /32 or /128). */
  route: string;
  /** The device the route goes through (name or ifindex). */
  dev: string | number;
  /** The routing table (default 254, main). */
  table?: number;
  /** lwt_xmit: bytes of headroom the program may push (LWT_BPF_XMIT_HEADROOM, at most 256). */
  headroom?: number;
}

export interface LwtOptions {
  /** lwt_in / lwt_out / lwt_xmit: the route to add with the program as its encapsulation. */
  lwt?: LwtRoute;
}

const RTM_NEWROUTE = 24;
const RTM_DELROUTE = 25;
const RTA_DST = 1;
const RTA_OIF = 4;
const RTA_TABLE = 15;
const RTA_ENCAP_TYPE = 21;
const RTA_ENCAP = 22;
const LWTUNNEL_ENCAP_BPF = 6;
const LWTUNNEL_ENCAP_SEG6_LOCAL = 7;
const SEG6_LOCAL_ACTION = 1;
const SEG6_LOCAL_BPF = 8;
const SEG6_LOCAL_ACTION_END_BPF = 15;
const LWT_BPF_PROG_FD = 1;
const LWT_BPF_PROG_NAME = 2;
const LWT_BPF_XMIT_HEADROOM = 4;
const LWT_BPF_MAX_HEADROOM = 256;
const RT_TABLE_MAIN = 254;
const RTPROT_BOOT = 3;
const RT_SCOPE_LINK = 253;
const RT_SCOPE_NOWHERE = 255;
const RTN_UNICAST = 1;

/** Which encapsulation hook a program type runs at (LWT_BPF_IN, _OUT, _XMIT). */
const DIRECTION = new Map<number, [number, string]>([
  [ProgType.LWT_IN, [1, 'in']],
  [ProgType.LWT_OUT, [2, 'out']],
  [ProgType.LWT_XMIT, [3, 'xmit']],
]);

/** An address as bytes (network order) and its family. */
function addressBytes(a: string): { family: number; bytes: Uint8Array } | undefined {
  // node:net on first use: loading it (with its stream and socket bindings) costs ~2 ms of CPU in
  // every process that loads an object (the SEC() table imports every hook), and only lwt routes use it.
  const net = process.getBuiltinModule('node:net');
  if (net.isIPv4(a)) return { family: 2, bytes: Uint8Array.from(a.split('.').map(Number)) };
  if (!net.isIPv6(a) || a.includes('.')) return undefined; // IPv4-mapped forms: not here
  const [head, tail] = a.includes('::') ? a.split('::') : [a, undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const bytes = new Uint8Array(16);
  groups.forEach((g, i) => new DataView(bytes.buffer).setUint16(i * 2, parseInt(g, 16)));
  return { family: 10, bytes };
}

function rtmsg(family: number, dstLen: number, table: number, scope: number): Uint8Array {
  // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type; u32 flags
  return Uint8Array.from([family, dstLen, 0, 0, table < 256 ? table : 0, RTPROT_BOOT, scope, RTN_UNICAST, 0, 0, 0, 0]);
}

function attachLwt(p: AttachableProgram, o: LwtOptions): Link {
  const seg6 = p.type === ProgType.LWT_SEG6LOCAL;
  const dir = seg6 ? [0, 'seg6local End.BPF'] as const : DIRECTION.get(p.type);
  if (!dir) throw new AttachError(p.name, `section '${p.section}' is not an lwt_in, lwt_out, lwt_xmit or lwt_seg6local program`);
  const [hook, hookName] = dir;
  const r = o.lwt;
  if (!r) throw new AttachError(p.name, `an ${p.section} program runs as a route's encapsulation: pass { lwt: { route: '198.18.0.1/32', dev: 'eth0' } }`);
  const [addr, lenText] = r.route.split('/');
  const dst = addressBytes(addr ?? '');
  if (seg6 && dst && dst.family !== 10) throw new AttachError(p.name, `an lwt_seg6local program is an SRv6 End.BPF route: '${r.route}' must be an IPv6 address or prefix`);
  const maxLen = dst ? dst.bytes.length * 8 : 0;
  const dstLen = lenText === undefined ? maxLen : /^\d+$/.test(lenText) ? Number(lenText) : -1;
  if (!dst || dstLen < 0 || dstLen > maxLen) throw new AttachError(p.name, `lwt route '${r.route}' must be an IPv4 or IPv6 prefix (198.18.0.0/15, 2001:db8::/64) or address`);
  const table = r.table ?? RT_TABLE_MAIN;
  if (!Number.isInteger(table) || table < 1 || table > 0xffffffff) throw new AttachError(p.name, `lwt routing table ${table} must be an integer from 1 to 2^32-1`);
  if (r.headroom !== undefined && (hookName !== 'xmit' || !Number.isInteger(r.headroom) || r.headroom < 0 || r.headroom > LWT_BPF_MAX_HEADROOM))
    throw new AttachError(p.name, `lwt headroom ${r.headroom}: only lwt_xmit programs take one, from 0 to ${LWT_BPF_MAX_HEADROOM} bytes`);
  const ifindex = ifindexOf(r.dev, p.name);
  const prog: Attr[] = [u32Attr(LWT_BPF_PROG_FD, p.fd.value), strAttr(LWT_BPF_PROG_NAME, p.name)];
  const encap: Attr[] = seg6 ? [u32Attr(SEG6_LOCAL_ACTION, SEG6_LOCAL_ACTION_END_BPF), [SEG6_LOCAL_BPF, prog]] : [[hook, prog]];
  if (r.headroom !== undefined) encap.push(u32Attr(LWT_BPF_XMIT_HEADROOM, r.headroom));
  const encapType = new Uint8Array(2);
  new DataView(encapType.buffer).setUint16(0, seg6 ? LWTUNNEL_ENCAP_SEG6_LOCAL : LWTUNNEL_ENCAP_BPF, true);
  const key: Attr[] = [[RTA_DST, dst.bytes], u32Attr(RTA_OIF, ifindex), u32Attr(RTA_TABLE, table)];
  const where = `${addr}/${dstLen} dev ${r.dev}${table !== RT_TABLE_MAIN ? ` table ${table}` : ''} ${hookName}`;
  {
    using nl = new RtNetlink();
    try {
      nl.request(RTM_NEWROUTE, NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL, rtmsg(dst.family, dstLen, table, RT_SCOPE_LINK), [...key, [RTA_ENCAP_TYPE, encapType], [RTA_ENCAP, encap]], `program '${p.name}': lwt route ${where}`);
    } catch (e) {
      if (e instanceof NetlinkError && e.code === 'EEXIST') throw new AttachError(p.name, `a route to ${addr}/${dstLen} already exists in table ${table}: lwt programs attach by adding their own route`, { cause: e });
      if (e instanceof NetlinkError && e.code === 'EOPNOTSUPP')
        throw seg6
          ? new NotSupportedError('SRv6 End.BPF routes (CONFIG_IPV6_SEG6_LWTUNNEL, CONFIG_IPV6_SEG6_BPF)', '4.18', sys().uname().release, `program '${p.name}': seg6local route ${where}`, { cause: e })
          : new NotSupportedError('BPF lightweight tunnels (CONFIG_LWTUNNEL_BPF)', '4.10', sys().uname().release, `program '${p.name}': lwt route ${where}`, { cause: e });
      throw e;
    }
  }
  return new BaseLink('lwt', p.name, where, undefined, {
    detach: () => {
      using nl = new RtNetlink();
      try {
        nl.request(RTM_DELROUTE, NLM_F_ACK, rtmsg(dst.family, dstLen, table, RT_SCOPE_NOWHERE), key, `program '${p.name}': delete lwt route ${where}`);
      } catch (e) {
        // The route (or its device) is already gone: nothing left to detach.
        if (e instanceof NetlinkError && (e.code === 'ESRCH' || e.code === 'ENODEV')) return;
        throw e;
      }
    },
  });
}

/** SEC("lwt_in"), "lwt_out", "lwt_xmit", "lwt_seg6local": the route comes from { lwt }, never automatic. */
export const lwtHook = defineHook('lwt', 'never', (p, _target, o: LwtOptions) => attachLwt(p, o));
