// SPDX-License-Identifier: Apache-2.0
/* tcpconnect: count TCP connection attempts by address pair (tracepoint sock/inet_sock_set_state,
 * on the transition to SYN_SENT). Metrics: ebpf_solo_io_counter_connections{daddr,dport,saddr}. */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "solo_types.h"

#define AF_INET 2
#define IPPROTO_TCP 6
#define TCP_SYN_SENT 2

struct conn_key {
	ipv4_addr saddr;
	ipv4_addr daddr;
	u16 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct conn_key);
	__type(value, u64);
} counter_connections SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int trace_connect(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->family != AF_INET || ctx->protocol != IPPROTO_TCP || ctx->newstate != TCP_SYN_SENT)
		return 0;
	struct conn_key key = {};
	__builtin_memcpy(&key.saddr, ctx->saddr, 4);
	__builtin_memcpy(&key.daddr, ctx->daddr, 4);
	key.dport = ctx->dport; /* the tracepoint already holds it in host order */
	u64 one = 1, *v = bpf_map_lookup_elem(&counter_connections, &key);
	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(&counter_connections, &key, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
