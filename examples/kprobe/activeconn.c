// SPDX-License-Identifier: Apache-2.0
/* activeconn, kprobe flavour: tcp_set_state(sk, state) moves the gauge. */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "bpf_tracing.h"
#include "solo_types.h"

#define TCP_ESTABLISHED 1

struct pair {
	ipv4_addr saddr;
	ipv4_addr daddr;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct pair);
	__type(value, s64);
} gauge_active SEC(".maps");

SEC("kprobe/tcp_set_state")
int BPF_KPROBE(tcp_set_state, struct sock *sk, int state)
{
	int old = BPF_CORE_READ(sk, __sk_common.skc_state);
	int up = state == TCP_ESTABLISHED && old != TCP_ESTABLISHED;
	int down = old == TCP_ESTABLISHED && state != TCP_ESTABLISHED;
	if (!up && !down)
		return 0;
	struct pair key = {
		.saddr = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr),
		.daddr = BPF_CORE_READ(sk, __sk_common.skc_daddr),
	};
	s64 one = 1, *v = bpf_map_lookup_elem(&gauge_active, &key);
	if (up) {
		if (v)
			__sync_fetch_and_add(v, 1);
		else
			bpf_map_update_elem(&gauge_active, &key, &one, BPF_NOEXIST);
	} else if (v && __sync_fetch_and_add(v, -1) <= 1) {
		bpf_map_delete_elem(&gauge_active, &key);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
