// SPDX-License-Identifier: Apache-2.0
/* activeconn: a gauge of established TCP connections per address pair (tracepoint
 * sock/inet_sock_set_state). Entries go away when their count drops to zero. */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "solo_types.h"

#define AF_INET 2
#define IPPROTO_TCP 6
#define TCP_ESTABLISHED 1

struct pair {
	ipv4_addr saddr;
	ipv4_addr daddr;
	u16 dport;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8192);
	__type(key, struct pair);
	__type(value, s64);
} gauge_active SEC(".maps");

SEC("tracepoint/sock/inet_sock_set_state")
int trace_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	if (ctx->family != AF_INET || ctx->protocol != IPPROTO_TCP)
		return 0;
	int up = ctx->newstate == TCP_ESTABLISHED;
	int down = ctx->oldstate == TCP_ESTABLISHED && !up;
	if (!up && !down)
		return 0;
	struct pair key = {};
	__builtin_memcpy(&key.saddr, ctx->saddr, 4);
	__builtin_memcpy(&key.daddr, ctx->daddr, 4);
	key.dport = ctx->dport;
	s64 one = 1, *v = bpf_map_lookup_elem(&gauge_active, &key);
	if (up) {
		if (v)
			__sync_fetch_and_add(v, 1);
		else
			bpf_map_update_elem(&gauge_active, &key, &one, BPF_NOEXIST);
	} else if (v) {
		if (__sync_fetch_and_add(v, -1) <= 1)
			bpf_map_delete_elem(&gauge_active, &key);
	}
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
