// SPDX-License-Identifier: Apache-2.0
/* opensnoop: print every file open (tracepoint: runs on kernels without kprobes).
 * Run: sudo npx bee-ts run examples/opensnoop.o */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "solo_types.h"

struct event {
	u32 pid;
	u32 uid;
	char comm[16];
	char fname[128];
	s32 flags;
};

/* print_: each record becomes a JSON line / TUI row. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__type(value, struct event);
} print_opens SEC(".maps");

/* Set with --set target_pid=N to watch one process. */
const volatile u32 target_pid = 0;

SEC("tracepoint/syscalls/sys_enter_openat")
int trace_openat(struct trace_event_raw_sys_enter *ctx)
{
	u32 pid = bpf_get_current_pid_tgid() >> 32;
	if (target_pid && pid != target_pid)
		return 0;
	struct event *e = bpf_ringbuf_reserve(&print_opens, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = pid;
	e->uid = bpf_get_current_uid_gid();
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	bpf_probe_read_user_str(e->fname, sizeof(e->fname), (const char *)ctx->args[1]);
	e->flags = ctx->args[2];
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
