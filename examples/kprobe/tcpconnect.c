// SPDX-License-Identifier: Apache-2.0
/* tcpconnect, kprobe flavour (bee's classic): tcp_v4_connect entry + return. */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "bpf_tracing.h"
#include "solo_types.h"

struct conn_key {
	ipv4_addr saddr;
	ipv4_addr daddr;
	port dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, u32);
	__type(value, struct sock *);
} sockets SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct conn_key);
	__type(value, u64);
} counter_connections SEC(".maps");

SEC("kprobe/tcp_v4_connect")
int BPF_KPROBE(tcp_v4_connect, struct sock *sk)
{
	u32 tid = bpf_get_current_pid_tgid();
	bpf_map_update_elem(&sockets, &tid, &sk, BPF_ANY);
	return 0;
}

SEC("kretprobe/tcp_v4_connect")
int BPF_KRETPROBE(tcp_v4_connect_ret, int ret)
{
	u32 tid = bpf_get_current_pid_tgid();
	struct sock **skp = bpf_map_lookup_elem(&sockets, &tid);
	if (!skp)
		return 0;
	struct sock *sk = *skp;
	bpf_map_delete_elem(&sockets, &tid);
	if (ret != 0)
		return 0;
	/* Zeroed first: the key has 2 bytes of tail padding, and garbage there would split one
	 * connection pair into several hash entries. */
	struct conn_key key = {};
	key.saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
	key.daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr);
	key.dport = BPF_CORE_READ(sk, __sk_common.skc_dport);
	u64 one = 1, *v = bpf_map_lookup_elem(&counter_connections, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counter_connections, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
