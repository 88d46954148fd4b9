// SPDX-License-Identifier: Apache-2.0
/* readlatency: a histogram of read(2) latency in microseconds (tracepoints sys_enter_read /
 * sys_exit_read). hist_ ring buffer: `le` is observed, the other fields are labels. */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "solo_types.h"

struct latency {
	char syscall[8]; /* a label: keep label values few (every distinct value is a series) */
	u64 le;          /* observed, in microseconds */
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
} hist_read_latency_us SEC(".maps");

SEC("tracepoint/syscalls/sys_enter_read")
int read_enter(void *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u64 ts = bpf_ktime_get_ns();
	bpf_map_update_elem(&start, &id, &ts, BPF_ANY);
	return 0;
}

SEC("tracepoint/syscalls/sys_exit_read")
int read_exit(void *ctx)
{
	u64 id = bpf_get_current_pid_tgid();
	u64 *ts = bpf_map_lookup_elem(&start, &id);
	if (!ts)
		return 0;
	u64 delta = bpf_ktime_get_ns() - *ts;
	bpf_map_delete_elem(&start, &id);
	struct latency *e = bpf_ringbuf_reserve(&hist_read_latency_us, sizeof(*e), 0);
	if (!e)
		return 0;
	__builtin_memcpy(e->syscall, "read\0\0\0", 8);
	e->le = delta / 1000;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
