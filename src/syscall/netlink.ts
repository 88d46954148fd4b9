// rtnetlink, as far as attaching BPF needs it: the clsact qdisc and `bpf` filters (TC on kernels
// without TCX links, < 6.6) and IFLA_XDP (XDP on kernels without XDP links, < 5.9). Message
// layouts from include/uapi/linux/{netlink,rtnetlink,pkt_sched,pkt_cls,if_link}.h. Everything
// goes through the syscall seam (socket, setsockopt, write, read).
import { sys } from './backend.js';
import { BpfError } from './errno.js';
import { FdError } from './fd.js';

const AF_NETLINK = 16;
const SOCK_RAW = 3;
const SOCK_CLOEXEC = 0x80000;
const NETLINK_ROUTE = 0;
const SOL_NETLINK = 270;
const NETLINK_CAP_ACK = 10;
const NETLINK_EXT_ACK = 11;

export const NLM_F_REQUEST = 0x1;
export const NLM_F_ACK = 0x4;
export const NLM_F_ECHO = 0x8;
export const NLM_F_DUMP = 0x300;
export const NLM_F_EXCL = 0x200;
export const NLM_F_CREATE = 0x400;
const NLM_F_ACK_TLVS = 0x200; // on NLMSG_ERROR: extended-ack attributes follow
const NLMSG_ERROR = 2;
const NLMSG_DONE = 3;
const NLMSGERR_ATTR_MSG = 1;
const NLA_F_NESTED = 0x8000;

export const RTM_NEWLINK = 16;
export const RTM_GETLINK = 18;
export const RTM_SETLINK = 19;
export const RTM_GETQDISC = 38;
export const RTM_NEWQDISC = 36;
export const RTM_DELQDISC = 37;
export const RTM_NEWTFILTER = 44;
export const RTM_DELTFILTER = 45;
export const RTM_GETTFILTER = 46;

export const TCA_KIND = 1;
export const TCA_OPTIONS = 2;
export const TCA_BPF_FD = 6;
export const TCA_BPF_NAME = 7;
export const TCA_BPF_FLAGS = 8;
export const TCA_BPF_ID = 11;
export const TCA_BPF_FLAG_ACT_DIRECT = 1;
export const TC_H_CLSACT = 0xfffffff1;
export const TC_H_MIN_INGRESS = 0xfff2;
export const TC_H_MIN_EGRESS = 0xfff3;
export const ETH_P_ALL = 0x0003;
export const IFLA_IFNAME = 3;
export const IFLA_XDP = 43;
export const IFLA_XDP_ATTACHED = 2;
export const IFLA_XDP_PROG_ID = 4;
export const IFLA_XDP_DRV_PROG_ID = 5;
export const IFLA_XDP_SKB_PROG_ID = 6;
export const IFLA_XDP_HW_PROG_ID = 7;
export const TC_H_INGRESS = 0xfffffff1;
export const IFLA_XDP_FD = 1;
export const IFLA_XDP_FLAGS = 3;
export const IFLA_XDP_EXPECTED_FD = 8;

/** TC_H_MAKE: major in the high 16 bits, minor in the low 16. */
export const tcHandle = (major: number, minor: number) => ((major & 0xffff0000) | (minor & 0xffff)) >>> 0;

/** A netlink attribute: a number type and bytes, or nested attributes. */
export type Attr = [type: number, value: Uint8Array | Attr[]];

export const u32Attr = (type: number, v: number): Attr => {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, v >>> 0, true);
  return [type, b];
};
export const strAttr = (type: number, s: string): Attr => [type, new TextEncoder().encode(`${s}\0`)];

const align4 = (n: number) => (n + 3) & ~3;

function attrsSize(attrs: Attr[]): number {
  let n = 0;
  for (const [, v] of attrs) n += align4(4 + (v instanceof Uint8Array ? v.length : attrsSize(v)));
  return n;
}

function writeAttrs(dv: DataView, off: number, attrs: Attr[]): number {
  for (const [type, v] of attrs) {
    const start = off;
    off += 4;
    if (v instanceof Uint8Array) {
      new Uint8Array(dv.buffer, dv.byteOffset + off, v.length).set(v);
      off += v.length;
    } else {
      off = writeAttrs(dv, off, v);
    }
    dv.setUint16(start, off - start, true);
    dv.setUint16(start + 2, v instanceof Uint8Array ? type : type | NLA_F_NESTED, true);
    off = align4(off);
  }
  return off;
}

/** A string attribute's text (up to its NUL); undefined for a missing attribute. */
export const attrString = (b: Uint8Array | undefined): string | undefined => (b ? new TextDecoder().decode(b).replace(/\0.*$/s, '') : undefined);

/** Parse attributes in buf[off, end) into type → payload (the first of each type). */
export function parseAttrs(buf: Uint8Array, off: number, end: number): Map<number, Uint8Array> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out = new Map<number, Uint8Array>();
  while (off + 4 <= end) {
    const len = dv.getUint16(off, true);
    const type = dv.getUint16(off + 2, true) & 0x3fff;
    if (len < 4 || off + len > end) break;
    if (!out.has(type)) out.set(type, buf.subarray(off + 4, off + len));
    off += align4(len);
  }
  return out;
}

/** struct tcmsg: family, pad, ifindex, handle, parent, info (20 bytes). */
export function tcmsg(ifindex: number, handle: number, parent: number, info: number): Uint8Array {
  const b = new Uint8Array(20);
  const dv = new DataView(b.buffer);
  dv.setInt32(4, ifindex, true);
  dv.setUint32(8, handle >>> 0, true);
  dv.setUint32(12, parent >>> 0, true);
  dv.setUint32(16, info >>> 0, true);
  return b;
}

/** struct ifinfomsg: family, pad, type, index, flags, change (16 bytes). */
export function ifinfomsg(ifindex: number): Uint8Array {
  const b = new Uint8Array(16);
  new DataView(b.buffer).setInt32(4, ifindex, true);
  return b;
}

export interface NetlinkMessage {
  type: number;
  flags: number;
  /** The message after its 16-byte header. */
  payload: Uint8Array;
}

export class NetlinkError extends BpfError {
  constructor(op: string, errno: number, subject: string, readonly extack?: string) {
    super(op, errno, subject, undefined, extack ? `  kernel: ${extack}` : undefined);
    this.name = 'NetlinkError';
  }
}

/** One rtnetlink socket; requests are answered synchronously (netlink to the kernel does not block long). */
export class RtNetlink implements Disposable {
  private fd: number;
  private seq = Math.floor(Date.now() / 1000) >>> 0;
  private readonly rbuf = new Uint8Array(64 * 1024);

  constructor() {
    const s = sys();
    const fd = s.socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (fd < 0) throw new BpfError('socket', -fd, 'netlink (NETLINK_ROUTE) socket');
    this.fd = fd;
    // Ask for the kernel's error text (extended ack) and short acks; both optional (old kernels).
    s.setsockoptInt(fd, SOL_NETLINK, NETLINK_EXT_ACK, 1);
    s.setsockoptInt(fd, SOL_NETLINK, NETLINK_CAP_ACK, 1);
  }

  /**
   * Send one request and collect the replies up to its ACK (or NLMSG_DONE for a dump). A negative
   * ACK throws a NetlinkError carrying the kernel's extended-ack message when it gave one.
   */
  request(type: number, flags: number, header: Uint8Array, attrs: Attr[], what: string): NetlinkMessage[] {
    if (this.fd < 0) throw new FdError('netlink socket is closed');
    const s = sys();
    const seq = (this.seq = (this.seq + 1) >>> 0);
    const len = 16 + align4(header.length) + attrsSize(attrs);
    const msg = new Uint8Array(len);
    const dv = new DataView(msg.buffer);
    dv.setUint32(0, len, true);
    dv.setUint16(4, type, true);
    dv.setUint16(6, flags | NLM_F_REQUEST, true);
    dv.setUint32(8, seq, true);
    msg.set(header, 16);
    writeAttrs(dv, 16 + align4(header.length), attrs);
    const w = s.write(this.fd, msg, len);
    if (w < 0) throw new NetlinkError('netlink send', -w, what);
    const out: NetlinkMessage[] = [];
    for (;;) {
      const n = s.read(this.fd, this.rbuf, this.rbuf.length);
      if (n < 0) throw new NetlinkError('netlink recv', -n, what);
      const rv = new DataView(this.rbuf.buffer, 0, n);
      let off = 0;
      while (off + 16 <= n) {
        const mlen = rv.getUint32(off, true);
        const mtype = rv.getUint16(off + 4, true);
        const mflags = rv.getUint16(off + 6, true);
        const mseq = rv.getUint32(off + 8, true);
        if (mlen < 16 || off + mlen > n) break;
        const payload = this.rbuf.slice(off + 16, off + mlen);
        off += align4(mlen);
        if (mseq !== seq) continue; // a stale reply to an earlier request
        if (mtype === NLMSG_ERROR) {
          const pv = new DataView(payload.buffer, payload.byteOffset, payload.byteLength);
          const err = pv.getInt32(0, true);
          if (err === 0) return out;
          let extack: string | undefined;
          if (mflags & NLM_F_ACK_TLVS) {
            // With NETLINK_CAP_ACK the echoed request is only its 16-byte header.
            const origLen = pv.getUint32(4, true);
            const tlvStart = 4 + (mflags & 0x100 /* NLM_F_CAPPED */ ? 16 : align4(origLen));
            const m = parseAttrs(payload, tlvStart, payload.length).get(NLMSGERR_ATTR_MSG);
            extack = attrString(m);
          }
          throw new NetlinkError('netlink', -err, what, extack);
        }
        if (mtype === NLMSG_DONE) return out;
        // A lone reply (an echo) is followed by the ACK; a dump ends with NLMSG_DONE.
        out.push({ type: mtype, flags: mflags, payload });
      }
    }
  }

  close(): void {
    if (this.fd >= 0) sys().close(this.fd);
    this.fd = -1;
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
