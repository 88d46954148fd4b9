// SPDX-License-Identifier: Apache-2.0
/* execsnoop, kprobe flavour: the execve syscall wrapper (its argument is the user pt_regs). */
#include "vmlinux.h"
#include "bpf_helpers.h"
#include "bpf_core_read.h"
#include "bpf_tracing.h"

struct exec_event {
	u32 pid;
	char comm[16];
	char filename[128];
};

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 20);
	__type(value, struct exec_event);
} print_execs SEC(".maps");

SEC("kprobe/__x64_sys_execve")
int BPF_KPROBE(sys_execve, struct pt_regs *regs)
{
	struct exec_event *e = bpf_ringbuf_reserve(&print_execs, sizeof(*e), 0);
	if (!e)
		return 0;
	e->pid = bpf_get_current_pid_tgid() >> 32;
	bpf_get_current_comm(e->comm, sizeof(e->comm));
	const char *filename = (const char *)BPF_CORE_READ(regs, di);
	bpf_probe_read_user_str(e->filename, sizeof(e->filename), filename);
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "Dual MIT/GPL";
