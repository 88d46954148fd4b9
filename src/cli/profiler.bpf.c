/* bee-ts's profiler for `bee-ts prog profile` (the counterpart of bpftool's skeleton/profiler.bpf.c,
 * written for bee-ts): an fentry and an fexit program, both attached to the profiled program's
 * function. At entry each selected perf counter of this CPU is read; at exit it is read again and
 * the difference (counter, enabled, running) is added up per metric, and the run counted. As in
 * bpftool, a run is counted only when every counter read at exit succeeded, and a metric's
 * difference is added only when its entry reading was taken (non-zero counter).
 *
 * Maps (sized by user space before load):
 *   events        perf event array, num_metric * num_cpu fds: metric m on CPU c at m * num_cpu + c
 *   entry_values  per-CPU, num_metric entries: the readings at entry
 *   sums          per-CPU, num_metric entries: the accumulated differences
 *   runs          per-CPU, one entry: the runs counted
 *
 * Built by scripts/build-profiler.mjs into src/cli/profiler-object.ts (a test checks it is fresh). */
typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;

struct bpf_perf_event_value {
	__u64 counter;
	__u64 enabled;
	__u64 running;
};

#include "bpf/bpf_helpers.h"

enum {
	BPF_MAP_TYPE_PERF_EVENT_ARRAY = 4,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
};

#define MAX_METRICS 4

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_perf_event_value);
} entry_values SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bpf_perf_event_value);
} sums SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

/* Set before load. */
const volatile __u32 num_cpu = 1;
const volatile __u32 num_metric = 1;

SEC("fentry/profiled")
int profile_entry(void *ctx)
{
	struct bpf_perf_event_value *slot[MAX_METRICS];
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 m;

	/* Find every slot first, so the counters are read back to back. */
	for (m = 0; m < num_metric && m < MAX_METRICS; m++) {
		__u32 key = m;

		slot[m] = bpf_map_lookup_elem(&entry_values, &key);
		if (!slot[m])
			return 0;
	}
	for (m = 0; m < num_metric && m < MAX_METRICS; m++) {
		struct bpf_perf_event_value now;

		if (bpf_perf_event_read_value(&events, cpu + m * num_cpu, &now, sizeof(now)))
			return 0;
		*slot[m] = now;
	}
	return 0;
}

static __always_inline void add_difference(__u32 m, const struct bpf_perf_event_value *now)
{
	struct bpf_perf_event_value *then, *sum;

	then = bpf_map_lookup_elem(&entry_values, &m);
	if (!then || !then->counter)
		return;
	sum = bpf_map_lookup_elem(&sums, &m);
	if (!sum)
		return;
	sum->counter += now->counter - then->counter;
	sum->enabled += now->enabled - then->enabled;
	sum->running += now->running - then->running;
}

SEC("fexit/profiled")
int profile_exit(void *ctx)
{
	struct bpf_perf_event_value now[MAX_METRICS];
	__u32 cpu = bpf_get_smp_processor_id();
	__u32 m, zero = 0;
	__u64 *count;

	/* Read every counter before touching the maps. */
	for (m = 0; m < num_metric && m < MAX_METRICS; m++)
		if (bpf_perf_event_read_value(&events, cpu + m * num_cpu, &now[m], sizeof(now[m])))
			return 0;
	count = bpf_map_lookup_elem(&runs, &zero);
	if (!count)
		return 0;
	*count += 1;
	for (m = 0; m < num_metric && m < MAX_METRICS; m++)
		add_difference(m, &now[m]);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
