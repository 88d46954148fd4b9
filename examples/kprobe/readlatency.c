// SPDX-License-Identifier: Apache-2.0
/* readlatency, kprobe flavour: vfs_read entry/return, observed in microseconds. */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "bpf_tracing.h"
#include "solo_types.h"

struct latency {
	char op[8];
	u64 le;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 10240);
	__type(key, u64);
	__type(value, u64);
} start SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__type(value, struct latency);
} hist_vfs_read_us SEC(".maps");

SEC("kprobe/vfs_read")
int BPF_KPROBE(vfs_read_entry)
{
	u64 id = bpf_get_current_pid_tgid(), ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &id, &ts, BPF_ANY);
	return 0;
}

SEC("kretprobe/vfs_read")
int BPF_KRETPROBE(vfs_read_return)
{
	u64 id = bpf_get_current_pid_tgid();
	u64 *ts = bpf_map_lookup_elem(&start, &id);
	if (!ts)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&start, &id);
	struct latency *e = bpf_ringbuf_reserve(&hist_vfs_read_us, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memcpy(e->op, "vfs_read", 8);
	e->le = delta / 1000;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
