// SPDX-License-Identifier: Apache-2.0
/* sockredir: local TCP that skips the TCP/IP stack. A sockops program (on a cgroup v2) puts every
 * established IPv4 TCP socket of the cgroup into a SOCKHASH, keyed by its 4-tuple; an sk_msg
 * program on that SOCKHASH hands each message a socket sends straight to its local peer's
 * receive queue (bpf_msg_redirect_hash with BPF_F_INGRESS), so the bytes never become TCP
 * segments. Set `port` (rodata) to limit it to connections to or from one local port.
 * Attach: the sockops program to a cgroup, the sk_msg program to the map sock_hash (bee-ts does
 * this on its own: the object has one SOCKHASH). Globals count what happened. */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_endian.h"

#define AF_INET 2

struct sock_key {
	u32 local_ip4;
	u32 remote_ip4;
	u32 local_port;  /* host byte order */
	u32 remote_port; /* host byte order */
};

struct {
	__uint(type, BPF_MAP_TYPE_SOCKHASH);
	__uint(max_entries, 4096);
	__type(key, struct sock_key);
	__type(value, u32);
} sock_hash SEC(".maps");

const volatile u32 port = 0;
u64 sockets_added, msgs_redirected, bytes_redirected, redirect_misses;

SEC("sockops")
int add_established(struct bpf_sock_ops *skops)
{
	struct sock_key key = {};
	u32 rport;

	if (skops->family != AF_INET)
		return 1;
	if (skops->op != BPF_SOCK_OPS_ACTIVE_ESTABLISHED_CB && skops->op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB)
		return 1;
	rport = bpf_ntohl(skops->remote_port);
	if (port && skops->local_port != port && rport != port)
		return 1;
	key.local_ip4 = skops->local_ip4;
	key.remote_ip4 = skops->remote_ip4;
	key.local_port = skops->local_port;
	key.remote_port = rport;
	if (bpf_sock_hash_update(skops, &sock_hash, &key, BPF_ANY) == 0)
		__sync_fetch_and_add(&sockets_added, 1);
	return 1;
}

SEC("sk_msg")
int redirect_to_peer(struct sk_msg_md *msg)
{
	/* The peer's key is ours, mirrored. */
	struct sock_key peer = {
		.local_ip4 = msg->remote_ip4,
		.remote_ip4 = msg->local_ip4,
		.local_port = bpf_ntohl(msg->remote_port),
		.remote_port = msg->local_port,
	};
	u32 size = msg->size;

	if (bpf_msg_redirect_hash((void *)msg, &sock_hash, &peer, BPF_F_INGRESS) == SK_PASS) {
		__sync_fetch_and_add(&msgs_redirected, 1);
		__sync_fetch_and_add(&bytes_redirected, size);
	} else {
		__sync_fetch_and_add(&redirect_misses, 1);
	}
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
