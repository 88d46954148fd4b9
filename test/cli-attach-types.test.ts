// bpftool 7.1's attach type words for prog attach and cgroup attach: exact libbpf names, or
// prefixes of the traditional names in attach type order.
import { describe, expect, it } from 'vitest';
import { cgroupAttachType, progAttachType } from '../src/cli/attach-cmds.js';
import { AttachType } from '../src/syscall/constants.js';

describe('attach type words', () => {
  it('prog attach: libbpf names exactly, traditional names by prefix, nothing else', () => {
    expect(progAttachType('sk_msg_verdict')).toBe(AttachType.SK_MSG_VERDICT);
    expect(progAttachType('sk_skb_stream_parser')).toBe(AttachType.SK_SKB_STREAM_PARSER);
    expect(progAttachType('flow_dissector')).toBe(AttachType.FLOW_DISSECTOR);
    expect(progAttachType('s')).toBe(AttachType.SK_SKB_STREAM_PARSER); // stream_parser comes first
    expect(progAttachType('stream_v')).toBe(AttachType.SK_SKB_STREAM_VERDICT);
    expect(progAttachType('msg')).toBe(AttachType.SK_MSG_VERDICT);
    expect(progAttachType('skb')).toBe(AttachType.SK_SKB_VERDICT);
    expect(progAttachType('flow')).toBeUndefined(); // libbpf's names are never prefixes
    expect(progAttachType('sk_skb_verdic')).toBeUndefined();
    expect(progAttachType('cgroup_inet_ingress')).toBeUndefined();
  });

  it('cgroup attach: any libbpf name exactly, then prefixes of the input names (or libbpf names) in type order', () => {
    expect(cgroupAttachType('cgroup_inet_egress')).toBe(AttachType.CGROUP_INET_EGRESS);
    expect(cgroupAttachType('xdp')).toBe(AttachType.XDP); // the kernel refuses it, not the parser
    expect(cgroupAttachType('i')).toBe(AttachType.CGROUP_INET_INGRESS);
    expect(cgroupAttachType('e')).toBe(AttachType.CGROUP_INET_EGRESS);
    expect(cgroupAttachType('s')).toBe(AttachType.CGROUP_INET_SOCK_CREATE);
    expect(cgroupAttachType('sock_o')).toBe(AttachType.CGROUP_SOCK_OPS);
    expect(cgroupAttachType('cgroup_inet4_c')).toBeUndefined(); // it has an input name (connect4): only that is a prefix
    expect(cgroupAttachType('con')).toBe(AttachType.CGROUP_INET4_CONNECT);
    expect(cgroupAttachType('lsm_c')).toBe(AttachType.LSM_CGROUP); // no input name: libbpf's is the prefix
    expect(cgroupAttachType('mod_ret')).toBe(AttachType.MODIFY_RETURN);
    expect(cgroupAttachType('egress2')).toBeUndefined();
  });
});
